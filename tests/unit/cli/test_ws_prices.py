"""`sniper ws --prices` asks for fresh prices as a dashboard does, in a snipe's last minutes."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from typing import Any

from cli import ws as cli_ws
from cli.ws import Watcher
from realtime.protocol import encode, envelope
from tests import aio


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def _watching(ends_in: float) -> Watcher:
    watcher = Watcher("ws://unused", "token", raw=True, out=io.StringIO(), refresh_prices=True)
    now_ms = int(time.time() * 1000)
    snipe = {"bidId": "b1", "ebayItemId": "1", "auctionEndTime": int(time.time() + ends_in)}
    watcher._handle(encode(envelope("snapshot", "s1", now_ms, {"snipes": [snipe]})))
    return watcher


def _sent_over(watcher: Watcher, periods: int) -> list[dict[str, Any]]:
    """What the refresher sent over ``periods`` periods (its waits end at once, then it stops)."""
    socket = Socket()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > periods:
            raise asyncio.CancelledError

    async def scenario() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await watcher._refresher(socket, sleep)

    aio.run(scenario())
    assert set(waits) == {cli_ws.REFRESH_PRICES_SECONDS}
    return socket.sent


def test_a_snipe_in_its_last_minutes_is_refreshed_every_period():
    # Given a watcher with --prices and a snipe ending in 5 minutes
    watcher = _watching(300)
    # When three periods pass / Then it asked for fresh prices after each, every 10 s
    assert _sent_over(watcher, 3) == [{"action": "refreshPrices"}] * 3
    assert cli_ws.REFRESH_PRICES_SECONDS == 10


def test_a_snipe_far_from_its_end_is_not_refreshed():
    # Given a snipe ending in an hour
    watcher = _watching(3600)
    # When three periods pass / Then it asked for nothing
    assert _sent_over(watcher, 3) == []
