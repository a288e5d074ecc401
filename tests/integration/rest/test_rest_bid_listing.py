"""GET /bids a page at a time, through the bids function's handler and moto's tables (from
template.yaml): active snipes by default, read through the set of active snipes; finished ones
with a status filter, a bounded read per page; cursors bound to their user and listing. Items
DynamoDB reads are counted from its answers (issue 15 item 6)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from common.data.bids import LIST_READ_BUDGET
from rest import bids
from tests.integration.rest.conftest import make_call
from tests.integration.rest.test_active_snipe_reads import _finished_history, items_read
from tests.integration.rest.test_rest_groups import _set_status, _snipe
from tests.stack_env import get_settings

call = make_call(bids.handler)
pytestmark = pytest.mark.integration
FINISHED = "WON,LOST,CANCELLED,FAILED"


def _list(user: str = "user-a", **query: str) -> dict[str, Any]:
    status, body = call("GET", "/bids", query=query, user=user)
    assert status == 200, body
    return dict(body)


def _pages(**query: str) -> list[list[str]]:
    """Every page's bidIds, following nextCursor to its end."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        body = _list(**query, **({"cursor": cursor} if cursor else {}))
        pages.append([b["bidId"] for b in body["items"]])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages


def _store_status(bid_id: str, status: str) -> None:
    """The executor's move between active statuses (PENDING -> ARMED): still in the set."""
    boto3.client("dynamodb").update_item(
        TableName=get_settings().bids_table,
        Key={"userId": {"S": "user-a"}, "bidId": {"S": bid_id}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )


def test_the_list_is_the_active_snipes_unless_a_status_asks_for_the_record(rest_env, new_auction):
    # Given three active snipes and two that finished (one won, one cancelled)
    active = [_snipe(new_auction()["legacyItemId"], 5_000, None)["bidId"] for _ in range(3)]
    won = _snipe(new_auction()["legacyItemId"], 5_000, None)
    cancelled = _snipe(new_auction()["legacyItemId"], 5_000, None)
    _set_status(won, "WON")
    _set_status(cancelled, "CANCELLED")
    newest_first = sorted(active, reverse=True)
    # When the list is read without a status, two at a time
    # Then it pages through the active ones, newest first, and ends
    assert _pages(limit="2") == [newest_first[:2], newest_first[2:]]
    # When the finished ones are asked for / Then those come, newest first
    assert _pages(status=FINISHED) == [[cancelled["bidId"], won["bidId"]]]
    # When a filter names active and finished statuses / Then both come from the record
    assert _pages(status="PENDING,WON", limit="10") == [[won["bidId"], *newest_first]]


def test_a_status_filter_inside_the_active_ones_keeps_to_the_set(rest_env, new_auction):
    # Given four active snipes, two of them armed by the executor
    ids = sorted(
        (_snipe(new_auction()["legacyItemId"], 5_000, None)["bidId"] for _ in range(4)),
        reverse=True,
    )
    for bid_id in ids[1::2]:
        _store_status(bid_id, "ARMED")
    # When only the armed ones are listed, one at a time
    # Then each page holds one, newest first, and the last page ends the listing
    assert [page for page in _pages(status="ARMED", limit="1") if page] == [[ids[1]], [ids[3]]]
    assert _list(status="PENDING,ARMED")["items"][0]["bidId"] == ids[0]


def test_a_page_reads_what_it_shows_not_the_history(rest_env, new_auction):
    # Given a user with 600 finished snipes and three active ones
    _finished_history("user-a", 0, 600)
    active = sorted(
        (_snipe(new_auction()["legacyItemId"], 5_000, None)["bidId"] for _ in range(3)),
        reverse=True,
    )
    # When the first page of two active snipes is read
    with items_read() as first_reads:
        first = _list(limit="2")
    # Then it shows the two newest and reads three items: the set and those two
    assert [b["bidId"] for b in first["items"]] == active[:2]
    assert sum(first_reads) == 3
    # and the next page reads the set and the last one
    with items_read() as second_reads:
        second = _list(limit="2", cursor=first["nextCursor"])
    assert ([b["bidId"] for b in second["items"]], second["nextCursor"]) == (active[2:], None)
    assert sum(second_reads) == 2
    # When a page of finished ones is read
    with items_read() as finished_reads:
        finished = _list(status="LOST", limit="100")
    # Then it is full and read at most the budget, far from the 603 snipes
    assert len(finished["items"]) == 100
    assert {b["status"] for b in finished["items"]} == {"LOST"}
    assert finished["nextCursor"]
    assert sum(finished_reads) <= LIST_READ_BUDGET


def test_a_cursor_is_good_only_for_its_user_and_its_kind_of_listing(rest_env, new_auction):
    # Given a page of active snipes and one of finished ones, each with a next page
    for _ in range(2):
        _snipe(new_auction()["legacyItemId"], 5_000, None)
    for _ in range(2):
        _set_status(_snipe(new_auction()["legacyItemId"], 5_000, None), "LOST")
    active_cursor = _list(limit="1")["nextCursor"]
    finished_cursor = _list(status="LOST", limit="1")["nextCursor"]
    assert active_cursor
    assert finished_cursor
    # When a cursor is sent to the other listing, by another user, or altered
    refused = [
        ({"cursor": active_cursor, "status": "LOST"}, "user-a", 400),
        ({"cursor": finished_cursor}, "user-a", 400),
        ({"cursor": active_cursor}, "user-b", 400),
        ({"cursor": ("A" if active_cursor[0] != "A" else "B") + active_cursor[1:]}, "user-a", 400),
        ({"cursor": "not a cursor"}, "user-a", 422),
    ]
    for query, user, expected in refused:
        status, body = call("GET", "/bids", query=query, user=user)
        # Then it is refused naming the cursor (422 when it has not even a cursor's shape),
        # never answered with another listing's data
        assert status == expected, (query, body)
        assert body["error"]["details"][0]["field"] == "cursor"
    # and a limit out of range names the limit
    for limit in ("0", "101", "ten"):
        status, body = call("GET", "/bids", query={"limit": limit})
        assert status == 422
        assert body["error"]["details"][0]["field"] == "limit"
