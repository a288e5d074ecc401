"""Tenant isolation: user B calls every REST operation of the OpenAPI document and every
WebSocket route of template.yaml with user A's ids, cursors and OAuth state. Someone else's
id is a 404, someone else's cursor or state a 400, and no byte of A's data (ids, email, name,
titles, amounts, group, eBay account, cursors, state) reaches B in any response or message.
A's data is the same afterwards.

tests/e2e/test_rest_through_gateway.py::test_users_are_isolated and the handler-level tests in
tests/integration/rest (another user's snipe, history, cursor and state) check single cases;
this is the matrix, derived from the document and the template so a new route is covered.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets

from local.template import load_yaml
from local.testing import RunningStack, link_ebay_account
from rest.openapi import build_openapi
from tests import aio
from tests.integration.hostile.hostile_helpers import User, api, footprint, new_auction, sign_up

pytestmark = pytest.mark.e2e

A_AMOUNT = 7_654_321


@dataclass
class Tenant:
    user: User
    ebay_user: str
    display_name: str
    group: str
    items: list[dict[str, Any]]
    titles: list[str]
    bid_ids: list[str] = field(default_factory=list)
    history_ids: list[str] = field(default_factory=list)
    account_id: str = ""
    cursors: dict[str, str] = field(default_factory=dict)
    state: str = ""

    def secrets(self, *, public: frozenset[str] = frozenset()) -> dict[str, str]:
        """Every string of this tenant's data that another user must never see, by kind;
        ``public`` kinds are left out (eBay's public item data, which B named itself)."""
        found = {
            "sub": self.user.sub,
            "email": self.user.email,
            "display name": self.display_name,
            "group": self.group,
            "amount": str(A_AMOUNT),
            "eBay account": self.account_id,
            "eBay username": self.ebay_user,
            "OAuth state": self.state,
            **{f"bid {i}": bid for i, bid in enumerate(self.bid_ids)},
            **{f"history {i}": h for i, h in enumerate(self.history_ids)},
            **{f"cursor {name}": cursor for name, cursor in self.cursors.items()},
            **{f"title {i}": title for i, title in enumerate(self.titles)},
            **{f"item {i}": item["legacyItemId"] for i, item in enumerate(self.items)},
        }
        return {
            kind: value
            for kind, value in found.items()
            if value and not any(kind.startswith(p) for p in public)
        }


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    # A number counts only as a whole number: 7654321 inside a timestamp is not A's amount.
    return [
        kind
        for kind, value in secrets.items()
        if (re.search(rf"(?<![0-9]){value}(?![0-9])", text) if value.isdigit() else value in text)
    ]


def _tenant(running: RunningStack, http: httpx.Client, name: str, amount: int) -> Tenant:
    user = sign_up(running, name)
    tag = uuid.uuid4().hex[:10]
    tenant = Tenant(
        user=user,
        ebay_user=f"{name}_{tag}",
        display_name=f"{name.title()} {tag}",
        group=f"grp-{tag}",
        items=[],
        titles=[f"Leica M{i} {tag}" for i in (3, 6)],
    )
    tenant.items = [
        new_auction(running, title=title, watchedBy=[tenant.ebay_user], bots=False)
        for title in tenant.titles
    ]
    headers = user.headers
    http.put("/users/profile", headers=headers, json={"displayName": tenant.display_name})
    link_ebay_account(http, headers, tenant.ebay_user)
    tenant.account_id = http.get("/ebay/auth/status", headers=headers).json()["accountId"]
    for item in tenant.items:
        created = http.post(
            "/bids",
            headers=headers,
            json={
                "ebayItemId": item["legacyItemId"],
                "maxBidAmount": amount,
                "groupId": tenant.group,
            },
        )
        assert created.status_code == 201, created.text
        tenant.bid_ids.append(created.json()["bidId"])
    http.put(f"/bids/{tenant.bid_ids[0]}", headers=headers, json={"leadSeconds": 3})
    ruled = http.put(
        f"/groups/{tenant.group}", headers=headers, json={"mode": "WIN_UP_TO", "limit": 2}
    )
    assert ruled.status_code == 200, ruled.text
    for listing in (
        "/bids",
        "/bid-history",
        "/wishlist/items",
        f"/bid-history/{tenant.bid_ids[0]}",
    ):
        page = http.get(listing, headers=headers, params={"limit": 1}).json()
        assert page["nextCursor"], listing
        tenant.cursors[listing] = page["nextCursor"]
    history = http.get("/bid-history", headers=headers).json()["items"]
    tenant.history_ids = [entry["historyId"] for entry in history]
    tenant.state = http.get("/ebay/auth/url", headers=headers).json()["state"]
    return tenant


@dataclass(frozen=True)
class Call:
    """B's request with A's ids, and what B must get."""

    status: int
    field: str | None = None  # the error detail naming what was refused
    path: Callable[[Tenant, Tenant], dict[str, str]] = lambda a, b: {}
    query: Callable[[Tenant], dict[str, str]] = lambda a: {}
    body: Callable[[Tenant], Any] = lambda a: None
    public: frozenset[str] = frozenset()


def _a_bid(a: Tenant, b: Tenant) -> dict[str, str]:
    return {"bidId": a.bid_ids[0]}


# Ordered: the destructive calls come last. One call per operation; EXTRA_CALLS add variants.
CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/bids/{bidId}"): Call(404, "bidId", path=_a_bid),
    ("PUT", "/bids/{bidId}"): Call(404, "bidId", path=_a_bid, body=lambda a: {"leadSeconds": 9}),
    ("DELETE", "/bids/{bidId}"): Call(404, "bidId", path=_a_bid),
    ("GET", "/bid-history/{bidId}"): Call(404, "bidId", path=_a_bid),
    ("GET", "/bids"): Call(400, "cursor", query=lambda a: {"cursor": a.cursors["/bids"]}),
    ("GET", "/bid-history"): Call(
        400, "cursor", query=lambda a: {"cursor": a.cursors["/bid-history"]}
    ),
    ("GET", "/wishlist/items"): Call(
        400, "cursor", query=lambda a: {"cursor": a.cursors["/wishlist/items"]}
    ),
    # Public eBay data B names itself: the item's id and title are eBay's, the snipe is A's.
    ("GET", "/wishlist/items/{itemId}"): Call(
        200,
        path=lambda a, b: {"itemId": a.items[0]["legacyItemId"]},
        public=frozenset({"item", "title"}),
    ),
    # B's groups: none yet (B's own snipe in a group of A's group's name comes next).
    ("GET", "/groups"): Call(200),
    # B may snipe the item A snipes, in a group of the same name: B's own snipe.
    ("POST", "/bids"): Call(
        201,
        body=lambda a: {
            "ebayItemId": a.items[1]["legacyItemId"],
            "maxBidAmount": 5000,
            "groupId": a.group,
        },
        public=frozenset({"item", "title", "group"}),
    ),
    # B's rule for a group of the name A uses (B named it): B's own group, A's rule unchanged.
    ("PUT", "/groups/{groupId}"): Call(
        200,
        path=lambda a, b: {"groupId": a.group},
        body=lambda a: {"mode": "CONTINGENCY", "limit": 7},
        public=frozenset({"group"}),
    ),
    ("POST", "/ebay/auth/callback"): Call(
        400, "state", body=lambda a: {"code": "anything", "state": a.state}
    ),
    ("GET", "/users/profile"): Call(200),
    ("PUT", "/users/profile"): Call(200, body=lambda a: {"displayName": "Bob"}),
    ("PUT", "/users/preferences"): Call(200, body=lambda a: {"timezone": "Europe/Rome"}),
    ("GET", "/ebay/auth/url"): Call(200),
    ("GET", "/ebay/auth/status"): Call(200),
    ("DELETE", "/ebay/auth/unlink"): Call(200),
    ("DELETE", "/users/account"): Call(200),
}


EXTRA_CALLS: list[tuple[str, str, Call]] = [
    # A's cursor on B's own snipe's history: the cursor is A's, so it is refused.
    (
        "GET",
        "/bid-history/{bidId}",
        Call(
            400,
            "cursor",
            path=lambda a, b: {"bidId": b.bid_ids[0]},
            query=lambda a: {"cursor": a.cursors[f"/bid-history/{a.bid_ids[0]}"]},
        ),
    ),
]


@pytest.fixture(scope="module")
def tenants(running: RunningStack) -> tuple[Tenant, Tenant]:
    with api(running) as http:
        return _tenant(running, http, "alice", A_AMOUNT), _tenant(running, http, "bob", 4200)


def test_the_matrix_covers_every_operation_of_the_document() -> None:
    document = build_openapi()
    # Every operation with a caller; eBay's notification endpoint (security: []) has no user.
    operations = {
        (m.upper(), p)
        for p, methods in document["paths"].items()
        for m, operation in methods.items()
        if operation.get("security") != []
    }
    assert set(CALLS) == operations


def _ws_url(running: RunningStack, token: str, **extra: str) -> str:
    base = running.stack.websocket_url.replace("localhost", "127.0.0.1")
    return f"{base}?{httpx.QueryParams({'token': token, **extra})}"


_unread: dict[int, list[dict[str, Any]]] = {}


async def _recv(ws: Any) -> dict[str, Any]:
    """The next message, as a client reads them: a batch frame's events one by one."""
    unread = _unread.setdefault(id(ws), [])
    while not unread:
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        unread += message["data"]["events"] if message["type"] == "batch" else [message]
    return dict(unread.pop(0))


async def _until(ws: Any, kind: str) -> list[dict[str, Any]]:
    """Messages up to and including the first of ``kind``."""
    got = []
    while not got or got[-1]["type"] != kind:
        got.append(await _recv(ws))
    return got


def _ws_messages(running: RunningStack, a: Tenant, b: Tenant) -> tuple[list[Any], list[Any]]:
    """What B's socket received while sending every route A's ids, and while A's snipe
    changed; and what A's socket received meanwhile."""
    ids = {"bidId": a.bid_ids[0], "userId": a.user.sub, "ebayItemId": a.items[0]["legacyItemId"]}
    route_keys = {
        props["Properties"]["RouteKey"]
        for props in load_yaml()["Resources"].values()
        if props["Type"] == "AWS::ApiGatewayV2::Route"
    }
    sends: dict[str, list[str]] = {
        "ping": [json.dumps({"action": "ping", **ids})],
        "sync": [
            json.dumps({"action": "sync", **ids}),
            json.dumps(
                {"action": "sync", "requestContext": {"authorizer": {"userId": a.user.sub}}}
            ),
        ],
        "$default": [
            json.dumps({"action": a.bid_ids[0], **ids}),
            json.dumps({"action": "SYNC", "userId": a.user.sub}),
            f"not json {a.user.sub} {a.bid_ids[0]}",
            json.dumps({"action": "sync", "pad": a.user.sub * 200}),
        ],
    }
    # $connect is B's token with A's identity offered beside it; $disconnect is B leaving
    # while A keeps receiving.
    assert route_keys == {*sends, "$connect", "$disconnect"}

    async def scenario() -> tuple[list[Any], list[Any]]:
        b_got: list[Any] = []
        async with (
            websockets.connect(_ws_url(running, a.user.id_token)) as ws_a,
            websockets.connect(
                _ws_url(running, b.user.id_token, userId=a.user.sub, sub=a.user.sub)
            ) as ws_b,
        ):
            await ws_a.send(json.dumps({"action": "ping"}))
            await _until(ws_a, "pong")
            for messages in sends.values():
                for message in messages:
                    await ws_b.send(message)
                    b_got.append(await _recv(ws_b))
                    while b_got[-1]["type"] == "snapshot" and (
                        b_got[-1]["data"]["part"] < b_got[-1]["data"]["parts"]
                    ):
                        b_got.append(await _recv(ws_b))
            # While A's snipe changes, A hears of it...
            async with httpx.AsyncClient(base_url=running.base_url, timeout=30) as http:
                changed = await http.put(
                    f"/bids/{a.bid_ids[1]}", headers=a.user.headers, json={"leadSeconds": 11}
                )
                assert changed.status_code == 200, changed.text
            a_got = await _until(ws_a, "bid.updated")
            # ...and B, pinging after, has had nothing before its pong
            await ws_b.send(json.dumps({"action": "ping"}))
            b_got += await _until(ws_b, "pong")
        return a_got, b_got

    return aio.run(scenario())


def test_b_gets_nothing_of_a_over_the_websocket(
    running: RunningStack, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    # When B sends every WebSocket route A's ids while A's snipe changes
    a_got, b_got = _ws_messages(running, a, b)
    # Then A heard of its change, B got only answers of its own, and news of its own snipes
    # (the price updater's countdown phase can change them meanwhile: they end within the hour)
    assert a_got[-1]["bidId"] == a.bid_ids[1]
    news = [m for m in b_got if m["type"] not in {"pong", "snapshot", "error"}]
    assert all(m["type"].startswith("bid.") and m["bidId"] in b.bid_ids for m in news), news
    snapshot = next(m for m in b_got if m["type"] == "snapshot")
    assert {s["bidId"] for s in snapshot["data"]["snipes"]} == set(b.bid_ids)
    # And no byte of A's data is in any of B's messages
    leaks = {json.dumps(m): _leaks(json.dumps(m, ensure_ascii=False), a.secrets()) for m in b_got}
    assert not {m: kinds for m, kinds in leaks.items() if kinds}


def test_b_gets_404_for_a_ids_400_for_a_cursors_and_nothing_of_a(
    running: RunningStack, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    # Given A's data as it stands, each piece of which A's own listings show
    before = footprint(running, a.user)
    with api(running) as http:
        own = "".join(
            http.get(listing, headers=a.user.headers).text
            for listing in (
                "/users/profile",
                "/bids",
                "/bid-history",
                "/ebay/auth/status",
                "/groups",
            )
        )
    assert set(_leaks(own, a.secrets())) >= {"sub", "email", "display name", "group", "amount"}
    with api(running) as http:
        calls = [(m, p, c) for (m, p), c in CALLS.items()]
        for method, path, call in [*calls[:4], *EXTRA_CALLS, *calls[4:]]:
            # When B calls the operation with A's ids, cursor or state
            url = path.format(**call.path(a, b))
            response = http.request(
                method, url, headers=b.user.headers, params=call.query(a), json=call.body(a)
            )
            label = f"{method} {path}"
            # Then B gets what the design says...
            assert response.status_code == call.status, f"{label}: {response.text}"
            if call.field is not None:
                details = response.json()["error"]["details"]
                assert call.field in {d["field"] for d in details}, f"{label}: {response.text}"
            # ...and no byte of A's data
            leaked = _leaks(response.text, a.secrets(public=call.public))
            assert not leaked, f"{label} gave B {leaked}: {response.text}"
            if path == "/wishlist/items/{itemId}":
                assert response.json()["activeBidId"] is None
                assert response.json()["hasActiveSnipe"] is False
    # And A's data is as it was: B's calls (deleting B's account included) touched none of it
    assert footprint(running, a.user) == before
    with api(running) as http:
        status = http.get("/ebay/auth/status", headers=a.user.headers).json()
    assert status["isLinked"] is True
    assert status["accountId"] == a.account_id
