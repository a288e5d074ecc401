"""Everything a user can do to their snipes is written to BidHistory, in the same transaction.

The actions are every route of the template that changes something (POST, PUT, DELETE): the
snipe routes must each write their entry in the DynamoDB transaction that changes the snipe;
every other route must not write to the Bids table at all (account deletion excepted: it
removes the snipes and their history together, tests/e2e/test_account_deletion.py).
The DynamoDB calls are recorded at the client the handlers use (botocore's parameter event).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from common.data.dynamo import default_client
from local.template import load_yaml
from rest import bids, ebay_auth, history, users
from rest.schemas.bids import UpdateBidRequest
from tests.integration.rest.conftest import make_call
from tests.integration.rest.ebay_link_helpers import auth_url, callback, consent, link
from tests.stack_env import get_settings

pytestmark = pytest.mark.integration

call_bids = make_call(bids.handler)
call_history = make_call(history.handler)
call_users = make_call(users.handler)
call_ebay = make_call(ebay_auth.handler)
TEMPLATE = load_yaml(Path(__file__).resolve().parents[3] / "template.yaml")
MUTATING = {"POST", "PUT", "DELETE", "PATCH"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@dataclass(frozen=True)
class SnipeAction:
    method: str
    route: str
    body: dict[str, Any] | None
    action: str  # the BidHistory action it writes
    details: dict[str, Any]  # what the entry's details must hold


SNIPE_ACTIONS = {
    "create": SnipeAction("POST", "/bids", None, "CREATE", {"maxBidAmount": 5000}),
    "raise the maximum": SnipeAction(
        "PUT",
        "/bids/{bidId}",
        {"maxBidAmount": 7000},
        "UPDATE",
        {"maxBidAmount": {"from": 5000, "to": 7000}},
    ),
    "change the lead time": SnipeAction(
        "PUT", "/bids/{bidId}", {"leadSeconds": 3}, "UPDATE", {"leadSeconds": {"from": 6, "to": 3}}
    ),
    "change both": SnipeAction(
        "PUT",
        "/bids/{bidId}",
        {"maxBidAmount": 4000, "leadSeconds": 9},
        "UPDATE",
        {"maxBidAmount": {"from": 5000, "to": 4000}, "leadSeconds": {"from": 6, "to": 9}},
    ),
    "cancel": SnipeAction("DELETE", "/bids/{bidId}", None, "CANCEL", {"reason": "USER"}),
}
# Routes that change something else than snipes: they must leave the Bids table alone.
OTHER_ROUTES = {
    ("PUT", "/users/profile"),
    ("PUT", "/users/preferences"),
    ("POST", "/ebay/auth/callback"),
    ("DELETE", "/ebay/auth/unlink"),
    # In the bids function, but a group's rule lives on the group's item in the Users table.
    ("PUT", "/groups/{groupId}"),
}
DELETES_EVERYTHING = ("DELETE", "/users/account")
# eBay's account-deletion notice ends the eBay user's snipes with their history entries;
# tests/e2e/test_marketplace_account_deletion.py and tests/integration/sniping/
# test_ebay_deletion_seal.py check those.
EBAY_NOTICE = ("POST", "/notifications/marketplace-account-deletion")


def _mutating_routes(function: str | None = None) -> set[tuple[str, str]]:
    routes = set()
    for name, resource in TEMPLATE["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function" or function not in (None, name):
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            props = event["Properties"]
            if event["Type"] == "HttpApi" and props["Method"].upper() in MUTATING:
                routes.add((props["Method"].upper(), props["Path"]))
    return routes


def test_the_action_list_covers_every_route_and_field_that_changes_something():
    # Then every snipe route that changes something is in the list of snipe actions
    snipe_routes = _mutating_routes("BidsFunction") - OTHER_ROUTES
    assert {(a.method, a.route) for a in SNIPE_ACTIONS.values()} == snipe_routes
    # and every field a snipe update can change is changed by one of them
    changed = {field for a in SNIPE_ACTIONS.values() if a.method == "PUT" for field in a.body or {}}
    assert changed == set(UpdateBidRequest.model_fields)
    # and every other route that changes something is checked below
    others = _mutating_routes() - snipe_routes
    assert others == OTHER_ROUTES | {DELETES_EVERYTHING, EBAY_NOTICE}


@pytest.fixture
def dynamodb_writes(rest_env) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(operation, parameters) of every DynamoDB call the handlers make from now on."""
    calls: list[tuple[str, dict[str, Any]]] = []
    client = default_client()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params))

    client.meta.events.register("provide-client-params.dynamodb.*", record)
    yield calls
    client.meta.events.unregister("provide-client-params.dynamodb.*", record)


def _bids_writes(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The calls that write to the Bids table."""
    table = get_settings().bids_table

    def tables(operation: str, params: dict[str, Any]) -> set[str]:
        if operation == "BatchWriteItem":
            return set(params["RequestItems"])
        if operation == "TransactWriteItems":
            return {next(iter(i.values()))["TableName"] for i in params["TransactItems"]}
        return {params["TableName"]} if operation in WRITES else set()

    return [(op, params) for op, params in calls if table in tables(op, params)]


def _history_puts(params: dict[str, Any]) -> list[dict[str, Any]]:
    table = get_settings().bid_history_table
    return [
        item["Put"]["Item"]
        for item in params.get("TransactItems", [])
        if "Put" in item and item["Put"]["TableName"] == table
    ]


def _trail(bid_id: str) -> list[dict[str, Any]]:
    status, body = call_history(
        "GET",
        f"/bid-history/{bid_id}",
        route="/bid-history/{bidId}",
        path_parameters={"bidId": bid_id},
    )
    assert status == 200, body
    return list(body["items"])


@pytest.mark.parametrize("name", sorted(SNIPE_ACTIONS))
def test_each_snipe_action_writes_its_history_entry_in_the_same_transaction(
    name: str, dynamodb_writes: list[tuple[str, dict[str, Any]]], new_auction
):
    action = SNIPE_ACTIONS[name]
    item = new_auction()["legacyItemId"]
    create = {"ebayItemId": item, "maxBidAmount": 5000, "leadSeconds": 6}
    # Given the user's snipe (unless the action creates it)
    bid_id = None
    if action.method != "POST":
        status, body = call_bids("POST", "/bids", body=create)
        assert status == 201, body
        bid_id = body["bidId"]
    trail_before = _trail(bid_id) if bid_id else []
    dynamodb_writes.clear()
    # When the user takes the action
    path = action.route.replace("{bidId}", bid_id or "")
    status, body = call_bids(
        action.method,
        path,
        route=action.route,
        path_parameters={"bidId": bid_id} if bid_id else None,
        body=create if action.method == "POST" else action.body,
    )
    assert status in (200, 201), body
    bid_id = bid_id or body["bidId"]
    # Then every write to the Bids table was a transaction that also put the history entry
    writes = _bids_writes(dynamodb_writes)
    assert writes
    for operation, params in writes:
        assert operation == "TransactWriteItems"
        [entry] = _history_puts(params)
        assert entry["originalBidId"]["S"] == bid_id
        assert entry["action"]["S"] == action.action
    # and the snipe's trail has exactly that one entry more, saying what changed
    trail = _trail(bid_id)
    assert len(trail) == len(trail_before) + 1
    newest = trail[0]
    assert newest["action"] == action.action
    assert newest["status"] == body["status"]
    assert action.details.items() <= newest["details"].items()


@pytest.fixture
def other_route_calls(new_auction, ebay_sim) -> dict[tuple[str, str], Callable[[], Any]]:
    ebay_username = f"history_{uuid.uuid4().hex[:8]}"

    def link_account() -> tuple[int, Any]:
        code, state = consent(auth_url()["authUrl"], ebay_username)
        return callback(code, state)

    return {
        ("PUT", "/users/profile"): lambda: call_users(
            "PUT", "/users/profile", body={"displayName": "Ann"}
        ),
        ("PUT", "/users/preferences"): lambda: call_users(
            "PUT", "/users/preferences", body={"defaultLeadSeconds": 9}
        ),
        ("POST", "/ebay/auth/callback"): link_account,
        ("DELETE", "/ebay/auth/unlink"): lambda: call_ebay("DELETE", "/ebay/auth/unlink"),
        ("PUT", "/groups/{groupId}"): lambda: call_bids(
            "PUT",
            "/groups/lenses",
            route="/groups/{groupId}",
            path_parameters={"groupId": "lenses"},
            body={"mode": "WIN_UP_TO", "limit": 2},
        ),
    }


@pytest.mark.parametrize("route", sorted(OTHER_ROUTES))
def test_other_actions_leave_the_snipes_alone(
    route: tuple[str, str],
    dynamodb_writes: list[tuple[str, dict[str, Any]]],
    other_route_calls: dict[tuple[str, str], Callable[[], Any]],
    new_auction,
):
    # Given a user with a profile, a linked eBay account (unless the action links it) and a
    # pending snipe
    call_users("GET", "/users/profile")
    if route != ("POST", "/ebay/auth/callback"):
        link("user-a", f"history_{uuid.uuid4().hex[:8]}")
    status, _ = call_bids(
        "POST", "/bids", body={"ebayItemId": new_auction()["legacyItemId"], "maxBidAmount": 5000}
    )
    assert status == 201
    dynamodb_writes.clear()
    # When the user takes the action
    status, body = other_route_calls[route]()
    assert status == 200, body
    # Then it changed something, but nothing in the Bids table
    assert {operation for operation, _ in dynamodb_writes} & WRITES
    assert _bids_writes(dynamodb_writes) == []
