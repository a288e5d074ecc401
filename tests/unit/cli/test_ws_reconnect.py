"""`sniper ws` reconnects when the gateway drops its socket; signed in with ``--login``, a token
that expired meanwhile is replaced by signing in again, as the user would have to."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from cli import ws as cli_ws
from cli.ws import Watcher
from realtime.protocol import encode, envelope
from tests import aio


class Socket:
    """One connection: it delivers ``frames``, then the gateway drops it."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames
        self.sent: list[str] = []

    async def __aenter__(self) -> Socket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def __aiter__(self) -> AsyncIterator[str]:
        for frame in self.frames:
            yield frame


class Gateway:
    """Accepts a token while it is ``valid``, answers 401 in the handshake otherwise; each
    token it accepts expires while its socket is open (Cognito's last an hour, a socket two)."""

    def __init__(self, valid: set[str], sessions: list[list[str]]) -> None:
        self.valid = valid
        self.sessions = sessions
        self.handshakes: list[str] = []

    def connect(self, url: str, **_options: Any) -> Socket:
        token = url.split("token=", 1)[1]
        self.handshakes.append(token)
        if token not in self.valid:
            raise InvalidStatus(Response(401, "Unauthorized", Headers()))
        self.valid.discard(token)
        return Socket(self.sessions.pop(0))


def _pong(event_id: str) -> str:
    return encode(envelope("pong", event_id, 1, {"serverTime": 1}))


async def _no_pause(_seconds: float) -> None:
    return None


def _watch(gateway: Gateway, **options: Any) -> tuple[int, list[str]]:
    out = io.StringIO()
    watcher = Watcher(
        "ws://gateway/local", "first", raw=True, count=2, out=out, connect=gateway.connect,
        pause=_no_pause, **options,
    )  # fmt: skip
    status = aio.run(watcher.run())
    return status, [json.loads(line)["eventId"] for line in out.getvalue().splitlines()]


def test_a_login_session_signs_in_again_when_its_token_expired_while_away():
    # Given a watcher signed in with --login, whose first socket the gateway drops after one
    # event, its token expired by then
    gateway = Gateway({"first"}, [[_pong("p1")], [_pong("p2")]])
    logins: list[str] = []

    def login() -> str:
        logins.append("second")
        gateway.valid.add("second")
        return "second"

    # When it reconnects
    status, printed = _watch(gateway, token_source=login)
    # Then it signed in once more and carried on with the new token
    assert (status, printed) == (0, ["p1", "p2"])
    assert gateway.handshakes == ["first", "first", "second"]
    assert logins == ["second"]


def test_a_token_refused_right_after_signing_in_exits():
    # Given a watcher signed in with --login whose fresh token the gateway refuses
    gateway = Gateway(set(), [])
    logins: list[str] = []
    # When it connects, then it gives up with status 3: signing in again cannot help
    status, printed = _watch(gateway, token_source=lambda: logins.append("x") or "second")
    assert (status, printed) == (cli_ws.EXIT_REJECTED, [])
    assert gateway.handshakes == ["first"]
    assert logins == []


def test_a_token_refused_again_after_signing_in_again_exits():
    # Given a watcher signed in with --login, its socket dropped after the token expired, and
    # the account's new tokens refused too (the account was deleted meanwhile)
    gateway = Gateway({"first"}, [[_pong("p1")]])
    # When it reconnects, then it signs in once more, and then gives up with status 3
    status, printed = _watch(gateway, token_source=lambda: "second")
    assert (status, printed) == (cli_ws.EXIT_REJECTED, ["p1"])
    assert gateway.handshakes == ["first", "first", "second"]


def test_a_given_token_that_is_refused_exits_at_once():
    # Given --token (nothing to sign in with again), refused
    gateway = Gateway(set(), [])
    status, _printed = _watch(gateway)
    assert status == cli_ws.EXIT_REJECTED
    assert gateway.handshakes == ["first"]


@pytest.mark.parametrize(
    ("status", "text"),
    [(502, "<html>Bad Gateway</html>"), (200, "[]"), (200, '{"accessToken": "x"}')],
    ids=["an error page", "JSON not an object", "no idToken"],
)
def test_a_login_answer_that_is_not_a_token_is_a_refusal_not_a_traceback(monkeypatch, status, text):
    # Given a stack (or whatever answers on its port) whose sign-in answers something else
    monkeypatch.setattr(cli_ws.httpx, "post", lambda *a, **k: httpx.Response(status, text=text))
    # When `sniper ws --login` signs in / Then it is a LookupError naming what came back, which
    # the command prints and exits on (EXIT_UNREACHABLE), not a traceback
    with pytest.raises(LookupError, match="login refused"):
        cli_ws._login("http://127.0.0.1:1", "u@example.com", "pw")
