"""One contract for the reconciler's data ports, run against the fakes the unit tests use and
against DynamoDB (moto's tables from template.yaml), so the fakes cannot drift."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from common.data.dynamo import to_item
from common.data.reconcile import (
    ActiveSnipePages,
    ReconcileMark,
    ReconcileMarks,
    reconcile_mark_key,
)
from common.data.users import UsersRepository
from common.models import BidEntity, BidStatus
from tests.reconcile_fakes import NOW, FakeActiveSnipes, FakeMarks, snipe
from tests.stack_env import get_settings

KINDS = ["fake", "dynamodb"]


def _index(kind: str) -> tuple[Any, Callable[[BidEntity], None]]:
    """The index port, and how a test stores a snipe for it."""
    if kind == "fake":
        fake = FakeActiveSnipes()
        return fake, fake.bids.append
    table = get_settings().bids_table

    def put(bid: BidEntity) -> None:
        boto3.client("dynamodb").put_item(TableName=table, Item=to_item(bid.to_item()))

    return ActiveSnipePages(table), put


def _marks(kind: str) -> Any:
    return (
        FakeMarks() if kind == "fake" else ReconcileMarks(get_settings().users_and_app_state_table)
    )


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, clean_tables: Any) -> str:
    return str(request.param)


def _read_all(index: Any, start: int, end: int, limit: int) -> list[list[str]]:
    pages, key = [], None
    while True:
        page, key = index.ending_between(start, end, limit, key)
        pages.append([b.bidId for b in page])
        if key is None:
            return pages


def test_the_index_pages_through_active_snipes_in_a_range_soonest_first(kind: str):
    # Given active snipes ending at five instants, one outside the range, and a final one
    index, put = _index(kind)
    for i, status in enumerate(
        [BidStatus.PLACED, BidStatus.PENDING, BidStatus.ARMED, BidStatus.PENDING, BidStatus.LOST]
    ):
        put(snipe(f"b{i}", status=status, auctionEndTime=NOW + 10 * i))
    put(snipe("later", auctionEndTime=NOW + 1000))
    # When it is read two at a time over [NOW, NOW + 40]
    pages = _read_all(index, NOW, NOW + 40, 2)
    # Then every active snipe in the range comes once, soonest first, at most two a page
    assert [b for page in pages for b in page] == ["b0", "b1", "b2", "b3"]
    assert all(len(page) <= 2 for page in pages)
    assert pages[0] == ["b0", "b1"]


def test_an_empty_range_is_one_empty_page(kind: str):
    index, _ = _index(kind)
    assert index.ending_between(0, NOW, 100) == ([], None)


def test_a_mark_is_recorded_only_over_what_was_read(kind: str):
    # Given no mark for the snipe yet
    marks = _marks(kind)
    bid = snipe("b1")
    first = ReconcileMark(attempts=1, invoked_at=NOW, next_at=NOW + 45)
    assert marks.get("b1", "WAKE") is None
    # When two runs that both read "no mark" record their first attempt
    # Then one wins
    assert marks.record(bid, "WAKE", None, first, NOW + 86400)
    assert not marks.record(bid, "WAKE", None, first, NOW + 86400)
    assert marks.get("b1", "WAKE") == first
    # When two runs that both read the first attempt record the second
    second = ReconcileMark(attempts=2, invoked_at=NOW + 60, next_at=NOW + 105)
    assert marks.record(bid, "WAKE", first, second, NOW + 86400)
    assert not marks.record(bid, "WAKE", first, second, NOW + 86400)
    # Then the second is stored, and a mark of another kind is apart
    assert marks.get("b1", "WAKE") == second
    assert marks.get("b1", "SETTLE") is None


def test_marks_are_found_and_deleted_with_their_owners_account(clean_tables: Any):
    # Given a mark on a user's snipe in the Users table
    marks = ReconcileMarks(get_settings().users_and_app_state_table)
    mark = ReconcileMark(attempts=1, invoked_at=NOW, next_at=NOW + 900)
    assert marks.record(snipe("b1", userId="owner-1"), "SETTLE", None, mark, NOW + 86400)
    users = UsersRepository(get_settings().users_and_app_state_table)
    # When the account's deletion looks for what the user owns
    keys = users.owned_keys("owner-1")
    # Then the mark is among them, and it expires through TTL in any case
    assert reconcile_mark_key("b1", "SETTLE") in keys
    item = boto3.client("dynamodb").get_item(
        TableName=get_settings().users_and_app_state_table,
        Key={"userId": {"S": reconcile_mark_key("b1", "SETTLE")}},
    )["Item"]
    assert int(item["ttl"]["N"]) == NOW + 86400
