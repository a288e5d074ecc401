"""Reads that follow what is active, not a user's history (issue 15 item 6): the WebSocket's
sync, the wish list's flags, GET /groups, the unlink's count, the eBay account deletion's
cancels and the executor's group look-ups find the active snipes through the set of their ids
(common/data/active_snipes.py), against moto's tables (from template.yaml). DynamoDB's items
read are counted from its answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from common.data.dynamo import default_client, to_item
from common.models import ACTIVE_STATUSES, BidEntity, BidStatus
from realtime import actions
from rest import bids
from rest.logic.ebay_auth import count_active_snipes
from rest.logic.marketplace_deletion import cancel_pending_snipes
from rest.logic.wishlist import active_snipes_by_item
from tests import stack_env
from tests.integration.rest import ebay_link_helpers as ebay
from tests.integration.rest.conftest import make_call
from tests.integration.rest.test_rest_groups import _set_status, _snipe
from tests.stack_env import get_settings

call = make_call(bids.handler)
pytestmark = pytest.mark.integration
HISTORY = 300


@contextmanager
def items_read() -> Iterator[list[int]]:
    """Counts the items DynamoDB reads for the product's calls: a Query's ScannedCount (what a
    filter drops is read and paid for), a BatchGetItem's items, a GetItem's item."""
    counted: list[int] = []

    def count(parsed: dict[str, Any], **_: Any) -> None:
        responses = parsed.get("Responses")
        batch = sum(len(v) for v in responses.values()) if isinstance(responses, dict) else 0
        counted.append(int(parsed.get("ScannedCount", 0)) + batch + ("Item" in parsed))

    events = default_client().meta.events
    events.register("after-call.dynamodb", count)
    try:
        yield counted
    finally:
        events.unregister("after-call.dynamodb", count)


def _finished_history(user: str, first: int, end: int) -> None:
    """Finished snipes of ``user``, numbered ``first`` to ``end``: what years of sniping leave
    in the Bids table."""
    table = get_settings().bids_table
    client = boto3.client("dynamodb")
    for i in range(first, end):
        bid = BidEntity(
            userId=user,
            bidId=f"1800000000{i:03d}aaaaaaaaaa",
            ebayItemId=str(150_000_000_000 + i),
            itemId=f"v1|{150_000_000_000 + i}|0",
            maxBidAmount=5_000,
            currency="USD",
            leadSeconds=6,
            groupId="cameras",
            status=BidStatus.LOST if i % 2 else BidStatus.CANCELLED,
            auctionEndTime=1_800_000_000 + i,
            itemTitle="Old lot",
            createdAt=1_800_000_000_000,
            updatedAt=1_800_000_000_000,
        )
        client.put_item(TableName=table, Item=to_item(bid.to_item()))


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def post(self, connection_id: str, data: bytes) -> bool:
        self.messages.append(json.loads(data))
        return True


def _sync_event(user: str) -> dict[str, Any]:
    return {
        "requestContext": {
            "routeKey": "$default",
            "eventType": "MESSAGE",
            "connectionId": "abc=",
            "requestId": "req-1",
            "authorizer": {"userId": user, "principalId": user},
        },
        "body": '{"action": "sync"}',
    }


def _no_refresh(user_id: str) -> Any:
    raise AssertionError("sync refreshed prices")


def _hot_reads(user: str) -> tuple[dict[str, int], list[dict[str, Any]], dict[str, Any]]:
    """Items DynamoDB read for sync, the wish list's flags and GET /groups; the snapshot and
    the groups they answered."""
    sent = Sent()
    with items_read() as sync_reads:
        actions.respond(_sync_event(user), stack_env.bids_repo, sent, lambda: 1, _no_refresh)
    with items_read() as flag_reads:
        active_snipes_by_item(user, stack_env.bids_repo())
    with items_read() as group_reads:
        status, groups = call("GET", "/groups", user=user)
    assert status == 200, groups
    reads = {"sync": sum(sync_reads), "flags": sum(flag_reads), "groups": sum(group_reads)}
    return reads, sent.messages, groups


def test_hot_reads_cost_the_active_snipes_not_the_history(rest_env, new_auction):
    # Given a user with 300 finished snipes, two active ones in a group, and a third that won
    _finished_history("user-a", 0, HISTORY)
    later = _snipe(new_auction(endsInSeconds=3600)["legacyItemId"], 5_000, "cameras")
    sooner = _snipe(new_auction(endsInSeconds=1800)["legacyItemId"], 7_000, "cameras")
    _set_status(_snipe(new_auction()["legacyItemId"], 3_000, "cameras"), "WON")
    # When sync, the wish list's flags and GET /groups run
    reads, [snapshot], groups = _hot_reads("user-a")
    # Then the snapshot holds the two active snipes, soonest ending first, and the group counts
    # them, its win and the snipes that bid
    assert [s["bidId"] for s in snapshot["data"]["snipes"]] == [sooner["bidId"], later["bidId"]]
    [group] = groups["items"]
    assert (group["active"], group["won"], group["snipes"]) == (2, 1, 3)
    # and sync and the flags read three items: the set and the two snipes
    assert (reads["sync"], reads["flags"]) == (3, 3)
    # When the history grows by another 300 finished snipes
    _finished_history("user-a", HISTORY, 2 * HISTORY)
    # Then none of the three reads more than before
    assert _hot_reads("user-a")[0] == reads
    # while the history's query, as these reads were made before, reads every snipe ever made
    with items_read() as history_reads:
        start = None
        while True:
            _page, start = stack_env.bids_repo().query(
                "user-a", sorted(ACTIVE_STATUSES), 100, start
            )
            if not start:
                break
    assert sum(history_reads) == 2 * HISTORY + 3


def test_a_snipe_is_in_the_read_as_soon_as_it_is_created_and_out_once_it_ends(
    rest_env, new_auction
):
    # Given a user's new snipe (the set and the snipe read strongly consistently)
    created = _snipe(new_auction()["legacyItemId"], 5_000, None)
    repo = stack_env.bids_repo()
    # When it is read at once / Then it is there
    assert [b.bidId for b in repo.active_snipes("user-a")] == [created["bidId"]]
    # When the user cancels it
    status, _ = call(
        "DELETE",
        f"/bids/{created['bidId']}",
        route="/bids/{bidId}",
        path_parameters={"bidId": created["bidId"]},
        user="user-a",
    )
    # Then it has left the read, and the set
    assert status in (200, 204)
    assert repo.active_snipes("user-a") == []
    assert stack_env.bids_repo().get("user-a", created["bidId"]).status is BidStatus.CANCELLED


def test_unlink_counts_the_active_snipes_without_reading_the_history(rest_env, new_auction):
    # Given a linked user with 300 finished snipes and one active one
    ebay.link("user-a", "sniper_sam")
    _finished_history("user-a", 0, HISTORY)
    _snipe(new_auction()["legacyItemId"], 5_000, None)
    # When the unlink's count runs
    with items_read() as reads:
        pending = count_active_snipes("user-a", stack_env.bids_repo())
    # Then it counts the active snipe, reading one item (the set), not the 301 snipes
    assert (pending, sum(reads)) == (1, 1)
    # and the unlink reports it
    assert ebay.call("DELETE", "/ebay/auth/unlink") == (200, {"unlinked": True, "pendingSnipes": 1})


def test_an_ebay_account_deletion_cancels_the_pending_snipes_without_reading_the_history(
    rest_env, new_auction
):
    # Given a user with 300 finished snipes and one pending
    _finished_history("user-a", 0, HISTORY)
    pending = _snipe(new_auction()["legacyItemId"], 5_000, None)
    # When eBay's account deletion notice cancels their pending snipes
    with items_read() as reads:
        cancelled = cancel_pending_snipes("user-a", stack_env.bids_repo(), 30)
    # Then the pending one is cancelled, read with the set: two items, not 301
    assert (cancelled, sum(reads)) == (1, 2)
    assert stack_env.bids_repo().require("user-a", pending["bidId"]).status is BidStatus.CANCELLED
