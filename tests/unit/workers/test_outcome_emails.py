"""What the LOST email tells the user, against what happened at eBay (workers/logic/emails.py)."""

from __future__ import annotations

import pytest

from common.models import BidEntity, BidStatus, UserEntity
from common.notifier_client import NotificationKind
from workers.logic.emails import render
from workers.logic.snipe_engine import RESERVE_NOT_MET_REASON

USER = UserEntity(userId="u1", email="u1@example.com", createdAt=1, updatedAt=1)


def lost(final_price: int, reason: str | None = None) -> BidEntity:
    return BidEntity(
        userId="u1",
        bidId="b1",
        ebayItemId="1",
        itemId="v1|1|0",
        maxBidAmount=3000,
        currency="USD",
        leadSeconds=3,
        status=BidStatus.LOST,
        auctionEndTime=1_900_000_000,
        itemTitle="Leica M3",
        finalPrice=final_price,
        failureReason=reason,
        createdAt=1,
        updatedAt=1,
    )


def test_a_loss_below_the_reserve_says_nothing_sold_and_no_price_beat_the_maximum():
    # Given a snipe that led at $10.00 with a $30.00 maximum, below the seller's reserve
    bid = lost(1000, RESERVE_NOT_MET_REASON)
    # When its LOST email is written
    email = render(NotificationKind.LOST, USER, "https://d.example", bid)
    # Then it says the reserve was not met and the item not sold, never that it sold above
    # the maximum
    assert "reserve" in email.text_body
    assert "sold for" not in email.text_body
    assert "above your maximum" not in email.text_body
    assert not email.subject.startswith("Outbid")


@pytest.mark.parametrize(
    ("final_price", "above"), [(3500, True), (3000, False)], ids=["outbid", "equal-bid-first"]
)
def test_a_loss_says_above_the_maximum_only_when_the_price_was(final_price, above):
    # Given a snipe with a $30.00 maximum that another bidder won
    bid = lost(final_price)
    # When its LOST email is written
    email = render(NotificationKind.LOST, USER, "https://d.example", bid)
    # Then it names the price, and says it was above the maximum only if it was
    assert "sold for" in email.text_body
    assert ("above your maximum" in email.text_body) is above
