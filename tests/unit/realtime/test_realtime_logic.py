"""realtime/logic/ with parsed input and fakes, no API Gateway event: a client's messages, a
socket opening and closing, whom a token names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from common.errors import AccountDeletedError, TooManyConnections
from common.history import history_entry
from common.models import BidStatus, ConnectionEntity, HistoryAction, UserEntity
from realtime.auth import InvalidToken
from realtime.logic.authorization import Unauthorized, authorized_user
from realtime.logic.connections import Closing, Opening, admit_socket, forget_socket
from realtime.logic.messages import ClientMessage, answer
from realtime.protocol import MAX_CLIENT_MESSAGE_BYTES
from tests.memory import MemoryStores, add_snipe

NOW_MS = 1_900_000_000_000

END = NOW_MS // 1000 + 120
CREATED = NOW_MS


class Pusher:
    """realtime.fanout.Pusher: what each connection was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def post(self, connection_id: str, data: bytes) -> bool:
        self.sent.append((connection_id, json.loads(data)))
        return True


def message(body: str, user_id: str | None = "u1") -> ClientMessage:
    return ClientMessage(connection_id="c1", request_id="r1", user_id=user_id, body=body)


def sent(msg: ClientMessage, stores: MemoryStores | None = None) -> list[dict[str, Any]]:
    """What ``msg`` was answered with, all of it to its own connection."""
    pusher = Pusher()
    answer(msg, lambda: (stores or MemoryStores()).bids, pusher, lambda: NOW_MS, no_refresh)
    assert {connection for connection, _ in pusher.sent} <= {"c1"}
    return [reply for _, reply in pusher.sent]


def no_table() -> Any:
    raise AssertionError("a ping reached a table")


def no_refresh(user_id: str) -> Any:
    raise AssertionError("a message other than refreshPrices refreshed prices")


def test_refresh_prices_refreshes_the_callers_snipes_and_says_what_it_did():
    # Given a signed-in caller's refreshPrices
    from common.price_polls import RefreshResult

    asked: list[str] = []

    def refresh(user_id: str) -> RefreshResult:
        asked.append(user_id)
        return RefreshResult(items=2, itemPolls=3, ebayCalls=1, nextInMs=5000)

    pusher = Pusher()
    # When it is answered
    answer(message('{"action": "refreshPrices"}'), no_table, pusher, lambda: NOW_MS, refresh)
    # Then that user's prices were refreshed, and the answer says so (the prices themselves
    # come through the stream)
    assert asked == ["u1"]
    [(_, reply)] = pusher.sent
    assert (reply["type"], reply["data"]) == (
        "pricesRefreshed",
        {"throttled": False, "items": 2, "polled": 3, "nextInMs": 5000},
    )


def test_refresh_prices_without_a_user_refreshes_nothing():
    # Given a refreshPrices on a socket whose connection carries no user / Then an error
    pusher = Pusher()
    answer(
        message('{"action": "refreshPrices"}', user_id=None),
        no_table,
        pusher,
        lambda: NOW_MS,
        no_refresh,
    )
    [(_, reply)] = pusher.sent
    assert (reply["type"], reply["data"]["code"]) == ("error", "UNKNOWN_ACTION")


# ---------------------------------------------------------------------------------- messages


def test_a_ping_is_answered_with_the_servers_clock():
    # Given a client's ping
    pusher = Pusher()
    # When it is answered
    answer(message('{"action": "ping"}'), no_table, pusher, lambda: NOW_MS, no_refresh)
    # Then a pong to that request carries the server's time, no table asked
    [(connection, reply)] = pusher.sent
    assert connection == "c1"
    assert (reply["type"], reply["eventId"], reply["data"]) == (
        "pong",
        "r1",
        {"serverTime": NOW_MS},
    )


def test_a_sync_sends_a_snapshot_of_the_callers_active_snipes():
    # Given a user with a pending snipe and a cancelled one
    stores = MemoryStores()
    active = add_snipe(stores, "b1", end=END, created_at=CREATED)
    gone = add_snipe(stores, "b2", end=END, created_at=CREATED)
    after = gone.model_copy(update={"status": BidStatus.CANCELLED})
    stores.bids.transition(
        gone, after, history_entry(after, HistoryAction.CANCEL, 2, 30, {}), [BidStatus.PENDING]
    )
    # When they sync
    replies = sent(message('{"action": "sync"}'), stores)
    # Then the snapshot holds the active one only
    assert [r["type"] for r in replies] == ["snapshot"]
    assert [s["bidId"] for s in replies[0]["data"]["snipes"]] == [active.bidId]


@pytest.mark.parametrize(
    ("body", "user_id", "code"),
    [
        ("not json", "u1", "INVALID_JSON"),
        ('["ping"]', "u1", "INVALID_JSON"),
        ('{"action": "bid"}', "u1", "UNKNOWN_ACTION"),
        ('{"action": "sync"}', None, "UNKNOWN_ACTION"),
        (
            json.dumps({"action": "ping", "pad": "x" * MAX_CLIENT_MESSAGE_BYTES}),
            "u1",
            "MESSAGE_TOO_LARGE",
        ),
    ],
    ids=["not-json", "not-an-object", "unknown", "sync-without-user", "too-large"],
)
def test_anything_else_gets_an_error_on_that_connection(body, user_id, code):
    # Given a message the protocol does not take
    # When it is answered
    [reply] = sent(message(body, user_id))
    # Then the answer is one error saying why
    assert (reply["type"], reply["data"]["code"]) == ("error", code)


# ---------------------------------------------------------------------------------- connections


class Rows:
    """realtime.logic.connections.ConnectionRows, refusing with ``refuse`` if set."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.refuse = refuse
        self.rows: dict[tuple[str, str], ConnectionEntity] = {}
        self.asked: list[tuple[str | None, int | None]] = []

    def put(
        self,
        connection: ConnectionEntity,
        *,
        users_and_app_state_table: str | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.asked.append((users_and_app_state_table, max_connections))
        if self.refuse:
            raise self.refuse
        self.rows[(connection.userId, connection.connectionId)] = connection

    def delete(self, user_id: str, connection_id: str) -> None:
        self.rows.pop((user_id, connection_id), None)


def opening(user_id: str | None = "u1", agent: str | None = "Firefox") -> Opening:
    return Opening("c1", user_id, NOW_MS, "203.0.113.9", agent)


def test_an_opening_socket_is_recorded_until_api_gateways_limit_and_a_margin():
    # Given a socket of a user
    rows = Rows()
    # When it opens, with a user agent longer than kept
    status = admit_socket(opening(agent="A" * 300), rows, "Users", 10)
    # Then it is recorded under the cap, with a TTL past API Gateway's 2 hours
    assert status == 200
    row = rows.rows[("u1", "c1")]
    assert row.ttl == NOW_MS // 1000 + 2 * 3600 + 15 * 60
    assert (row.sourceIp, len(row.userAgent or "")) == ("203.0.113.9", 256)
    assert rows.asked == [("Users", 10)]


@pytest.mark.parametrize(
    ("refusal", "status"),
    [(TooManyConnections("at most 10"), 429), (AccountDeletedError("deleted"), 401)],
    ids=["cap", "deleted"],
)
def test_a_socket_beyond_the_cap_or_of_a_deleted_account_is_refused(refusal, status):
    # Given the write refuses the socket
    rows = Rows(refuse=refusal)
    # When it opens
    # Then the handshake gets the refusal's status
    assert admit_socket(opening(), rows, "Users", 10) == status


def test_a_socket_without_a_user_is_refused_without_a_write():
    # Given a $connect the authorizer gave no user
    rows = Rows()
    # When it opens
    # Then it is forbidden and nothing is written
    assert admit_socket(opening(user_id=None), rows, "Users", 10) == 403
    assert rows.asked == []


def test_a_closing_socket_is_forgotten():
    # Given a recorded socket
    rows = Rows()
    admit_socket(opening(), rows, "Users", 10)
    # When it closes
    forget_socket(Closing("c1", "u1", 1000, "client gone"), rows)
    # Then its row is gone
    assert rows.rows == {}


# ---------------------------------------------------------------------------------- authorization


class Verifier:
    def verify(self, token: str | None) -> Mapping[str, Any]:
        if token != "good":
            raise InvalidToken("forged")
        return {"sub": "u1"}


def test_a_valid_token_of_a_live_account_names_its_user():
    # Given a live account
    stores = MemoryStores()
    stores.users.create(UserEntity(userId="u1", email="u1@example.com", createdAt=1, updatedAt=1))
    # When its token is checked
    # Then it names the user
    assert authorized_user("good", Verifier(), stores.users) == "u1"


def test_a_forged_token_or_a_deleted_accounts_is_unauthorized():
    # Given a deleted account
    stores = MemoryStores()
    stores.users.mark_deleted("u1", NOW_MS)
    # When a forged token, and the deleted account's valid one, are checked
    # Then both are refused
    with pytest.raises(Unauthorized):
        authorized_user("forged", Verifier(), stores.users)
    with pytest.raises(Unauthorized):
        authorized_user("good", Verifier(), stores.users)
