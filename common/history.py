"""The one way a snipe's change becomes a BidHistory row."""

from __future__ import annotations

from typing import Any

from common.clock import new_id
from common.models import BidEntity, HistoryAction, HistoryEntity


def history_entry(
    bid: BidEntity, action: HistoryAction, now: int, ttl_days: int, details: dict[str, Any]
) -> HistoryEntity:
    """The row recording ``action`` on ``bid`` (as it is after the change) at ``now`` (epoch
    ms), kept ``ttl_days``; its id sorts by ``now``, not by when it was made."""
    return HistoryEntity(
        userId=bid.userId,
        historyId=new_id(lambda: now / 1000),
        originalBidId=bid.bidId,
        action=action,
        timestamp=now,
        ebayItemId=bid.ebayItemId,
        status=bid.status,
        details=details,
        ttl=now // 1000 + ttl_days * 86_400,
    )
