"""`sniper ws` prints every event, whether it came alone or in a batch frame."""

from __future__ import annotations

import io
import json

from cli.ws import Watcher
from realtime.protocol import encode, envelope, frames


def _price(event_id: str, cents: int) -> bytes:
    data = {"previousPrice": cents - 1, "currentPrice": cents, "currency": "USD"}
    return encode(envelope("price.changed", event_id, 1, data, bid_id="b1", ebay_item_id="1"))


def _watcher(count: int = 0) -> tuple[Watcher, io.StringIO]:
    out = io.StringIO()
    return Watcher("ws://unused", "token", raw=True, count=count, out=out), out


def _printed(out: io.StringIO) -> list[str]:
    return [json.loads(line)["eventId"] for line in out.getvalue().splitlines()]


def test_each_event_of_a_batch_frame_is_printed_once_in_order():
    # Given a batch frame of three events, then one of them again alone (a redelivery)
    watcher, out = _watcher()
    ((_count, batch),) = frames([_price("e1", 101), _price("e2", 102), _price("e3", 103)], 1)
    # When the CLI reads both frames
    watcher._handle(batch)
    watcher._handle(_price("e2", 102))
    # Then it printed each event on its line, in order, and the duplicate not again
    assert _printed(out) == ["e1", "e2", "e3"]


def test_count_stops_within_a_batch():
    # Given `--count 2` and a batch of three events
    watcher, out = _watcher(count=2)
    ((_count, batch),) = frames([_price("e1", 101), _price("e2", 102), _price("e3", 103)], 1)
    # When the frame is read
    done = watcher._handle(batch) and watcher.printed >= watcher.count
    # Then two events were printed and the watcher is done
    assert done
    assert _printed(out) == ["e1", "e2"]
