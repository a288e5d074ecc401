"""Deleting an account on the local stack leaves nothing of the user in any table, schedule,
connection or the Cognito user pool (but a tombstone that expires an hour after the account's
last token), nothing of anyone else's is touched, and the account's still valid token can no
longer create anything: no profile, snipe, OAuth state or WebSocket connection."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import websockets

from common.data.email_guards import NotificationGuards, notification_key
from common.data.prices import PriceHistory
from local.aws import client
from local.lambda_runtime import new_containers
from local.template import TABLE_TYPE
from local.testing import RunningStack, link_ebay_account, running_stack
from rest.logic.users import TOMBSTONE_SECONDS
from tests import aio

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    new_containers()
    with running_stack(aws_endpoint_url=aws_endpoint, demo=False) as stack:
        yield stack
    new_containers()


class User:
    def __init__(self, running: RunningStack, email: str, ebay_user: str) -> None:
        password = "Deletion-Pass-123"
        self.email = email
        self.http = httpx.Client(base_url=running.base_url, timeout=30)
        self.http.post("/local/signup", json={"email": email, "password": password})
        login = {"username": email, "password": password}
        self.token = self.http.post("/local/login", json=login).json()["idToken"]
        self.id = jwt.decode(self.token, options={"verify_signature": False})["sub"]
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.http.get("/users/profile", headers=self.headers).raise_for_status()
        link_ebay_account(self.http, self.headers, ebay_user)

    def snipe(self, item_id: str, **extra: Any) -> str:
        answer = self.http.post(
            "/bids",
            json={"ebayItemId": item_id, "maxBidAmount": 5000, **extra},
            headers=self.headers,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["bidId"])


def _auction(running: RunningStack, ends_in: int) -> str:
    created = httpx.post(
        f"{running.sim_url}/_sim/auctions",
        json={"title": "Deletion lot", "startPrice": 1000, "endsInSeconds": ends_in},
        timeout=10,
    )
    created.raise_for_status()
    return str(created.json()["legacyItemId"])


def _everything(running: RunningStack) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table the template declares."""
    provisioned = running.stack.provisioned
    assert provisioned is not None
    declared = set(provisioned.template.resources(TABLE_TYPE))
    assert declared == set(provisioned.tables), "a declared table was not provisioned"
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    found: dict[str, list[dict[str, Any]]] = {}
    for logical_id, table in provisioned.tables.items():
        pages = dynamodb.get_paginator("scan").paginate(TableName=table.name)
        found[logical_id] = [item for page in pages for item in page["Items"]]
    return found


def _mentioning(everything: dict[str, list[dict[str, Any]]], *needles: str) -> list[Any]:
    return [
        (table, item)
        for table, items in everything.items()
        for item in items
        if any(n.lower() in json.dumps(item).lower() for n in needles)
    ]


def _assert_only_a_tombstone(found: list[Any], user_id: str) -> None:
    """What may mention a deleted user: their tombstone, holding no more than the id, when the
    deletion began and a TTL within the tokens' validity (with its margin) from now."""
    assert [table for table, _ in found] == ["UsersTable"], found
    ((_, item),) = found
    assert set(item) == {"userId", "deletedAt", "ttl"}
    assert item["userId"] == {"S": user_id}
    assert time.time() < int(item["ttl"]["N"]) <= time.time() + TOMBSTONE_SECONDS


def _schedules(running: RunningStack) -> dict[str, str]:
    """Every schedule of the snipes' group: name -> its target's input."""
    provisioned = running.stack.provisioned
    assert provisioned is not None
    group = provisioned.environment()["SCHEDULE_GROUP_NAME"]
    scheduler = client("scheduler", provisioned.endpoint_url)
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    return {
        name: scheduler.get_schedule(Name=name, GroupName=group)["Target"]["Input"]
        for name in names
    }


async def _handshake_status(url: str) -> int:
    try:
        async with websockets.connect(url):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def _answer(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of that type (snipe events of earlier writes may come first)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if message["type"] == kind:
            return dict(message)


def test_a_deleted_account_leaves_nothing_of_the_user(running: RunningStack) -> None:
    # Given user A with snipes (pending ones with schedules, one updated, one cancelled), their
    # history, a linked eBay account, an OAuth consent never finished, price points on their
    # listings, pending notifications and an open WebSocket; and user B sniping the same lot
    provisioned = running.stack.provisioned
    assert provisioned is not None
    alice = User(running, "Alice.Deleted@example.com", "deleted_alice")
    bob = User(running, "bob.kept@example.com", "kept_bob")
    shared, second, third = (_auction(running, 3600) for _ in range(3))
    alice_bids = [alice.snipe(shared), alice.snipe(second, groupId="cameras"), alice.snipe(third)]
    bob_bid = bob.snipe(shared)
    alice.http.put(
        f"/bids/{alice_bids[1]}", json={"maxBidAmount": 6000}, headers=alice.headers
    ).raise_for_status()
    alice.http.delete(f"/bids/{alice_bids[2]}", headers=alice.headers).raise_for_status()
    alice.http.get("/ebay/auth/url", headers=alice.headers).raise_for_status()
    users_and_app_state_table = provisioned.tables["UsersTable"].name
    now_ms = int(time.time() * 1000)
    for lot in (shared, second):  # what the price updater records, per listing
        PriceHistory(users_and_app_state_table).add_point(
            lot, now_ms // 1000, 1200, "USD", now_ms // 1000 + 3600
        )
    guards = NotificationGuards(users_and_app_state_table)
    guards.claim(notification_key(alice_bids[0], "PRICE_ALERT", 5000), alice.id, now_ms)
    guards.claim(notification_key(alice.id, "RELINK_NEEDED", 2_000_000_000), alice.id, now_ms)
    before = _everything(running)
    assert {"UsersTable", "BidsTable", "BidHistoryTable"} <= {
        table for table, _ in _mentioning(before, alice.id)
    }
    assert any(i["userId"]["S"].startswith("PRICES#") for i in before["UsersTable"])
    schedules = _schedules(running)
    assert any(alice_bids[0] in name for name in schedules)
    url = running.stack.websocket_url.replace("localhost", "127.0.0.1")

    async def scenario() -> tuple[int | None, str]:
        async with (
            websockets.connect(f"{url}?token={alice.token}") as alice_ws,
            websockets.connect(f"{url}?token={bob.token}") as bob_ws,
        ):
            for ws in (alice_ws, bob_ws):
                await ws.send(json.dumps({"action": "ping"}))
                await _answer(ws, "pong")
            # When A deletes their account
            deleted = await asyncio.to_thread(
                alice.http.delete, "/users/account", headers=alice.headers
            )
            assert deleted.status_code == 200, deleted.text
            # Then A's socket is closed by the server
            await asyncio.wait_for(alice_ws.wait_closed(), 30)
            # and B's still answers
            await bob_ws.send(json.dumps({"action": "ping"}))
            answer = await _answer(bob_ws, "pong")
            return alice_ws.close_code, answer["type"]

    close_code, bob_answer = aio.run(scenario())
    assert close_code is not None
    assert bob_answer == "pong"
    # and no item of any table mentions A's id or email address, but A's tombstone
    after = _everything(running)
    _assert_only_a_tombstone(_mentioning(after, alice.id, alice.email), alice.id)
    # and no schedule names one of A's snipes or carries A's id
    schedules = _schedules(running)
    assert [n for n in schedules if any(b in n for b in alice_bids)] == []
    assert [n for n, target in schedules.items() if alice.id in target] == []
    # while B's snipe, schedule, history, profile, and the shared price points remain
    assert bob.http.get(f"/bids/{bob_bid}", headers=bob.headers).status_code == 200
    assert any(bob_bid in name for name in schedules)
    assert bob.http.get("/bid-history", headers=bob.headers).json()["items"]
    assert bob.http.get("/users/profile", headers=bob.headers).status_code == 200
    assert any(i["userId"]["S"] == f"PRICES#{shared}" for i in after["UsersTable"])


def test_a_deleted_accounts_cognito_user_is_gone_and_its_token_recreates_nothing(
    running: RunningStack,
) -> None:
    # Given a signed-up user with a profile, and their token (valid for an hour), which opens
    # a WebSocket; and an auction
    provisioned = running.stack.provisioned
    assert provisioned is not None
    carol = User(running, "carol.gone@example.com", "gone_carol")
    cognito = client("cognito-idp", provisioned.endpoint_url)
    pool = provisioned.user_pool_id
    assert cognito.admin_get_user(UserPoolId=pool, Username=carol.email)["Username"]
    socket_url = running.stack.websocket_url.replace("localhost", "127.0.0.1")
    socket_url += f"?token={carol.token}"
    assert aio.run(_handshake_status(socket_url)) == 101
    lot = _auction(running, 3600)
    # When she deletes her account
    deleted = carol.http.delete("/users/account", headers=carol.headers)
    assert deleted.status_code == 200, deleted.text
    # Then her Cognito user is gone: she cannot sign in, the pool does not know her
    login = {"username": carol.email, "password": "Deletion-Pass-123"}
    assert carol.http.post("/local/login", json=login).status_code == 401
    with pytest.raises(cognito.exceptions.UserNotFoundException):
        cognito.admin_get_user(UserPoolId=pool, Username=carol.email)
    # and her still valid token no longer creates or changes a profile, creates no snipe and
    # starts no eBay link
    for method, path, body in [
        ("GET", "/users/profile", None),
        ("PUT", "/users/profile", {"displayName": "Carol"}),
        ("PUT", "/users/preferences", {"timezone": "Europe/Rome"}),
        ("POST", "/bids", {"ebayItemId": lot, "maxBidAmount": 5000}),
        ("GET", "/ebay/auth/url", None),
    ]:
        answer = carol.http.request(method, path, json=body, headers=carol.headers)
        assert answer.status_code == 401, f"{method} {path}: {answer.text}"
        assert answer.json()["error"]["code"] == "ACCOUNT_DELETED"
    # and opens no WebSocket: the $connect authorizer refuses it as it refuses a bad token
    assert aio.run(_handshake_status(socket_url)) == 401
    # and none of them wrote anything: all that mentions her is her tombstone (no snipe, OAuth
    # state or connection), and no schedule carries her id
    _assert_only_a_tombstone(_mentioning(_everything(running), carol.id, carol.email), carol.id)
    assert [name for name, target in _schedules(running).items() if carol.id in target] == []
    # and deleting again still answers (nothing left to delete)
    again = carol.http.delete("/users/account", headers=carol.headers)
    assert again.status_code == 200, again.text
    assert again.json()["deleted"] == {"bids": 0, "history": 0, "connections": 0}
    # and all that mentions her is her tombstone: no email, no profile
    _assert_only_a_tombstone(_mentioning(_everything(running), carol.id, carol.email), carol.id)
