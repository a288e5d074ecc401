"""rest/logic/marketplace_deletion.py's cancel of a closed eBay account's snipes, on the
in-memory repositories: every unsealed PENDING or ARMED snipe goes, a sealed one finishes."""

from __future__ import annotations

from common.models import BidStatus, UserEntity
from rest.logic.marketplace_deletion import CANCEL_REASON, cancel_pending_snipes
from tests.memory import MemoryStores, add_snipe

USER = "u1"
NOW = 1_900_000_000.0
END = int(NOW) + 120
CREATED = int(NOW * 1000)


def test_a_closed_ebay_accounts_unsealed_snipes_are_cancelled_and_a_sealed_one_is_left():
    # Given a linked user with a pending snipe, a claimed one and a sealed one
    stores = MemoryStores()
    stores.users.create(UserEntity(userId=USER, email="u1@example.com", createdAt=1, updatedAt=1))
    stores.users.link(USER, "ebay-u1")
    pending = add_snipe(stores, "b1", end=END, created_at=CREATED)
    claimed, sealed = (
        stores.bids.replace(
            bid,
            bid.model_copy(update={"status": BidStatus.ARMED, "executionId": "x"}),
            [BidStatus.PENDING],
        )
        for bid in (
            add_snipe(stores, "b2", end=END, created_at=CREATED),
            add_snipe(stores, "b3", end=END, created_at=CREATED),
        )
    )
    stores.bids.seal(sealed, "x", int(NOW * 1000))
    # When eBay's notice cancels the user's pending snipes
    cancelled = cancel_pending_snipes(USER, stores.bids, 30, lambda: NOW)
    # Then the two unsealed ones are CANCELLED for it, and the sealed one bids on
    assert cancelled == 2
    for bid in (pending, claimed):
        stored = stores.bids.require(USER, bid.bidId)
        assert (stored.status, stored.cancelReason) == (BidStatus.CANCELLED, CANCEL_REASON)
    assert stores.bids.require(USER, sealed.bidId).status is BidStatus.ARMED
