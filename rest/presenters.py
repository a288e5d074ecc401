"""Stored entities → output models."""

from __future__ import annotations

from common.models import BidEntity, HistoryEntity
from rest.schemas.bids import BidOut
from rest.schemas.history import HistoryOut


def bid_out(bid: BidEntity) -> BidOut:
    return BidOut(
        fireAt=bid.fire_at,
        auctionEndMs=bid.end_ms,
        **bid.model_dump(include=set(BidOut.model_fields) - {"fireAt", "auctionEndMs"}),
    )


def history_out(entry: HistoryEntity) -> HistoryOut:
    return HistoryOut(
        historyId=entry.historyId,
        bidId=entry.originalBidId,
        action=entry.action,
        status=entry.status,
        ebayItemId=entry.ebayItemId,
        timestamp=entry.timestamp,
        details=entry.details,
    )
