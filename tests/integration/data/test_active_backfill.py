"""The ACTIVESNIPES backfill the deploy runs (common/data/active_backfill.py), on moto's server
with the template's tables: snipes stored before their stack kept the sets get into them once,
ended ones never, and a second run writes nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from common.data.active_backfill import _add, backfill_active_sets
from common.data.bids import BidsRepository
from common.data.dynamo import to_item
from common.models import BidEntity, BidStatus

pytestmark = pytest.mark.integration
END = 1_900_000_000


def _legacy(user: str, bid_id: str, status: BidStatus) -> BidEntity:
    """A snipe as a stack that kept no sets stored it: the snipe alone."""
    bid = BidEntity(
        userId=user,
        bidId=bid_id,
        ebayItemId=f"item-{bid_id}",
        itemId=f"v1|item-{bid_id}|0",
        maxBidAmount=5_000,
        currency="USD",
        leadSeconds=5,
        status=status,
        auctionEndTime=END,
        itemTitle="An old lot",
        createdAt=1,
        updatedAt=1,
    )
    boto3.client("dynamodb").put_item(
        TableName=os.environ["BIDS_TABLE"], Item=to_item(bid.to_item())
    )
    return bid


@contextmanager
def writes(client: Any) -> Iterator[list[str]]:
    """The write calls made through ``client``, by operation."""
    made: list[str] = []

    def note(model: Any, **_: Any) -> None:
        if model.name in ("TransactWriteItems", "UpdateItem", "PutItem", "BatchWriteItem"):
            made.append(model.name)

    client.meta.events.register("before-call.dynamodb", note)
    yield made
    client.meta.events.unregister("before-call.dynamodb", note)


@pytest.fixture
def tables(clean_tables: Any) -> tuple[Any, str, str, BidsRepository]:
    client = boto3.client("dynamodb")
    users, bids = os.environ["USERS_TABLE"], os.environ["BIDS_TABLE"]
    return client, users, bids, BidsRepository(bids, users, os.environ["BID_HISTORY_TABLE"], client)


def test_snipes_from_before_the_sets_get_into_them_once(tables):
    client, users_and_app_state_table, bids_table, repo = tables
    # Given two users' active snipes stored before the sets existed, and finished ones
    ann = [_legacy("ann", f"170000000000{n}aaaaaaaaaa", BidStatus.PENDING) for n in range(3)]
    bob = _legacy("bob", "1700000000009aaaaaaaaaa", BidStatus.PLACED)
    _legacy("ann", "1600000000000aaaaaaaaaa", BidStatus.WON)
    _legacy("bob", "1600000000001aaaaaaaaaa", BidStatus.CANCELLED)
    # the reads that follow what is active do not see them
    assert repo.active_snipes("ann") == []
    assert repo.active_count("bob") == 0
    # When the deploy's backfill runs (two snipes a page of the index)
    report = backfill_active_sets(client, users_and_app_state_table, bids_table, page_size=2)
    # Then every active snipe is in its owner's set, and no finished one
    assert (report.active, report.added, report.ended) == (4, 4, 0)
    assert sorted(b.bidId for b in repo.active_snipes("ann")) == sorted(b.bidId for b in ann)
    assert [b.bidId for b in repo.active_snipes("bob")] == [bob.bidId]
    page, _ = repo.active_page("ann", [BidStatus.PENDING], 10, None)
    assert [b.bidId for b in page] == sorted((b.bidId for b in ann), reverse=True)
    # (the count of writes sees them)
    with writes(client) as made:
        _add(client, users_and_app_state_table, bids_table, "bob", bob.bidId)
    assert made == ["TransactWriteItems"]
    # When it runs again (each deploy runs it)
    with writes(client) as made:
        again = backfill_active_sets(client, users_and_app_state_table, bids_table)
    # Then it read the active snipes and their owners' sets, and wrote nothing
    assert (again.active, again.added, made) == (4, 0, [])
    assert repo.active_count("ann") == 3


def test_a_snipe_that_ended_or_whose_account_is_going_is_not_added(tables):
    client, users_and_app_state_table, bids_table, repo = tables
    # Given a snipe that ended after the index listed it (the index is eventually consistent)
    ended = _legacy("ann", "1700000000000aaaaaaaaaa", BidStatus.LOST)
    # and an active snipe of an account whose deletion began
    going = _legacy("bob", "1700000000001aaaaaaaaaa", BidStatus.PENDING)
    client.put_item(
        TableName=users_and_app_state_table, Item={"userId": {"S": "bob"}, "deletedAt": {"N": "1"}}
    )
    # When the backfill comes to each / Then neither is added, and no set is made for them
    assert _add(client, users_and_app_state_table, bids_table, "ann", ended.bidId) is False
    assert _add(client, users_and_app_state_table, bids_table, "bob", going.bidId) is False
    assert repo.active_count("ann") == repo.active_count("bob") == 0
    report = backfill_active_sets(client, users_and_app_state_table, bids_table)
    assert (report.active, report.added, report.ended) == (1, 0, 1)
