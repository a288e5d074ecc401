"""Stored entities → output models."""

from __future__ import annotations

from common.models import BidEntity, HistoryEntity, UserEntity
from rest.schemas import BidOut, EbayLinkSummary, HistoryOut, PreferencesOut, ProfileOut


def profile_out(user: UserEntity) -> ProfileOut:
    return ProfileOut(
        userId=user.userId,
        email=user.email,
        displayName=user.displayName,
        preferences=PreferencesOut(**user.preferences.model_dump()),
        isActive=user.isActive,
        ebay=EbayLinkSummary(isLinked=bool(user.ebayAccountId), accountId=user.ebayAccountId),
        createdAt=user.createdAt,
        updatedAt=user.updatedAt,
    )


def bid_out(bid: BidEntity) -> BidOut:
    return BidOut(
        fireAt=bid.fire_at,
        **bid.model_dump(include=set(BidOut.model_fields) - {"fireAt"}),
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
