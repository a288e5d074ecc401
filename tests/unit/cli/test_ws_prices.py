"""`sniper ws --prices` asks for fresh prices as a dashboard does, in a snipe's last minutes:
when the last answer's ``nextInMs`` says the next round may run, every 10 s while none came."""

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


def _run_refresher(
    watcher: Watcher, answers: list[int | None], steps: int
) -> tuple[list[dict[str, Any]], list[tuple[str, float]]]:
    """What the refresher sent and waited for over ``steps`` waits, time moved by the test:
    each wait for an answer gets the next of ``answers`` (its nextInMs; None: no answer)."""
    socket = Socket()
    waits: list[tuple[str, float]] = []
    replies = iter(answers)

    async def wait(event: asyncio.Event | None, seconds: float) -> bool:
        if len(waits) >= steps:
            raise asyncio.CancelledError
        waits.append(("answer" if event is not None else "time", seconds))
        if event is None:
            return False
        next_in = next(replies)
        if next_in is None:
            return False  # lost: the time ran out
        data = {"throttled": False, "items": 1, "polled": 1, "nextInMs": next_in}
        answer = envelope("pricesRefreshed", f"r{len(waits)}", int(time.time() * 1000), data)
        watcher._handle(encode(answer))
        return event.is_set()

    async def scenario() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await watcher._refresher(socket, wait)

    aio.run(scenario())
    return socket.sent, waits


def test_the_next_ask_comes_when_the_answer_says_the_next_round_may_run():
    # Given a watcher with --prices and a snipe ending in 5 minutes
    watcher = _watching(300)
    # When its asks are answered "next round in 14.45 s", then "in 3.5 s"
    sent, waits = _run_refresher(watcher, [14_450, 3_500, 14_450], steps=6)
    # Then the first ask came on the 10 s timer, each next when its answer said, plus at most
    # 0.3 s of jitter
    assert sent == [{"action": "refreshPrices"}] * 3
    kinds = [kind for kind, _ in waits]
    assert kinds == ["time", "answer", "time", "answer", "time", "answer"]
    assert waits[0][1] == cli_ws.REFRESH_PRICES_SECONDS
    assert 14.45 <= waits[2][1] <= 14.75
    assert 3.5 <= waits[4][1] <= 3.8


def test_without_an_answer_the_next_ask_comes_on_the_10_s_timer():
    # Given a watcher with --prices and a snipe ending in 5 minutes
    watcher = _watching(300)
    # When its first ask's answer is lost, and the next says nothing of ours is in its final
    # minutes there (nextInMs 0)
    sent, waits = _run_refresher(watcher, [None, 0], steps=5)
    # Then it asks again once the first has waited 10 s for its answer, and 10 s after the second
    assert sent == [{"action": "refreshPrices"}] * 3
    assert waits == [
        ("time", 10.0),
        ("answer", 10.0),
        ("time", 0.0),
        ("answer", 10.0),
        ("time", 10.0),
    ]


def test_the_wait_stays_within_1_and_60_seconds():
    assert cli_ws.refresh_delay(1) == cli_ws.REFRESH_MIN_SECONDS
    assert cli_ws.refresh_delay(600_000) == cli_ws.REFRESH_MAX_SECONDS
    assert 5.0 <= cli_ws.refresh_delay(5_000) <= 5.3


def test_a_snipe_far_from_its_end_is_not_refreshed():
    # Given a snipe ending in an hour
    watcher = _watching(3600)
    # When three periods pass / Then it asked for nothing
    sent, waits = _run_refresher(watcher, [], steps=3)
    assert sent == []
    assert waits == [("time", cli_ws.REFRESH_PRICES_SECONDS)] * 3


def _snapshot(snipes: list[dict[str, Any]], part: int = 1, parts: int = 1) -> str:
    data = {"snipes": snipes, "part": part, "parts": parts}
    return encode(envelope("snapshot", f"s{part}", int(time.time() * 1000), data))


def test_a_snipe_gone_while_the_socket_was_down_is_forgotten_at_the_next_snapshot():
    # Given a watcher that knew of a snipe in its last minutes, then lost its socket, and the
    # snipe was cancelled meanwhile (its bid.cancelled never reached this watcher)
    watcher = _watching(300)
    assert watcher.in_final_minutes()
    # When the reconnect's sync answers with a snapshot that no longer lists it
    watcher._handle(_snapshot([]))
    # Then the watcher forgets it: no countdown to it, no billed refreshes for it
    assert not watcher.in_final_minutes()
    assert watcher._countdown() == ""
    sent, _waits = _run_refresher(watcher, [], steps=2)
    assert sent == []


def test_a_snapshot_in_parts_replaces_what_was_known_once_its_last_part_is_in():
    # Given a watcher that knew of b1
    watcher = _watching(300)
    later = int(time.time() + 400)
    # When a snapshot comes in two parts, listing b2 and then b3
    watcher._handle(_snapshot([{"bidId": "b2", "ebayItemId": "2", "auctionEndTime": later}], 1, 2))
    # Then until the last part is in, nothing known is dropped
    assert set(watcher.endings) == {"b1", "b2"}
    watcher._handle(_snapshot([{"bidId": "b3", "ebayItemId": "3", "auctionEndTime": later}], 2, 2))
    # And then exactly what the snapshot listed is known
    assert set(watcher.endings) == {"b2", "b3"}
