from __future__ import annotations

from common.history import history_entry
from common.models import BidEntity, BidStatus, HistoryAction


def test_a_history_entry_records_the_snipe_as_it_is_after_the_change() -> None:
    # Given a snipe just cancelled at a known instant
    now = 1_700_000_000_123
    bid = BidEntity(
        userId="user-a",
        bidId="bid-1",
        ebayItemId="123456789012",
        itemId="v1|123456789012|0",
        itemTitle="A lamp",
        maxBidAmount=5000,
        currency="USD",
        leadSeconds=6,
        status=BidStatus.CANCELLED,
        auctionEndTime=1_700_000_600,
        createdAt=now,
        updatedAt=now,
    )
    # When its history entry is made
    entry = history_entry(bid, HistoryAction.CANCEL, now, 30, {"reason": "USER"})
    # Then it names the snipe, its status, the instant, and expires after the days given
    assert (entry.userId, entry.originalBidId, entry.ebayItemId) == (
        "user-a",
        "bid-1",
        bid.ebayItemId,
    )
    assert entry.status is BidStatus.CANCELLED
    assert entry.action is HistoryAction.CANCEL
    assert entry.timestamp == now
    assert entry.historyId.startswith(f"{now:013d}")
    assert entry.ttl == now // 1000 + 30 * 86_400
    assert entry.details == {"reason": "USER"}
