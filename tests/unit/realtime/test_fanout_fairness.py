"""The fan-out's schedule: users take turns, one post each, so a user with many sockets or a
burst of edits cannot hold back anyone else's messages; a socket's messages of one batch go in
as few posts as 32 KB frames allow, in stream order.

The mechanism is asserted, not timings: with one worker the order of posts is deterministic,
and with many the per-socket order is checked on every run.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence

from realtime.fanout import Delivery, Fanout, Lane, Schedule
from realtime.protocol import MAX_MESSAGE_BYTES, encode, envelope


class Sockets:
    """The Connections port, in memory."""

    def __init__(self, sockets: dict[str, list[str]]) -> None:
        self.sockets = sockets
        self.deleted: list[tuple[str, str]] = []

    def connection_ids_by_user(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        return {u: list(self.sockets.get(u, [])) for u in user_ids}

    def delete(self, user_id: str, connection_id: str) -> None:
        self.deleted.append((user_id, connection_id))


def _events(frame: bytes) -> list[str]:
    """The eventIds a frame carries, in order (a batch's events, or the message itself)."""
    message = json.loads(frame)
    if message["type"] == "batch":
        return [event["eventId"] for event in message["data"]["events"]]
    return [message["eventId"]]


class Recorder:
    """The Pusher port: records (connection, eventIds) in the order posts happen; ``gone``
    sockets answer False, a frame carrying a ``failing`` eventId raises; ``jitter`` sleeps up
    to that long."""

    def __init__(self, gone: frozenset[str] = frozenset(), failing: str = "") -> None:
        self.gone, self.failing = gone, failing
        self.posts: list[tuple[str, list[str]]] = []
        self.jitter = 0.0
        self._lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> bool:
        assert len(data) <= MAX_MESSAGE_BYTES
        if self.jitter:
            time.sleep(random.random() * self.jitter)  # real time: lets threads interleave
        events = _events(data)
        if self.failing in events:
            raise ConnectionError("the WebSocket API could not be reached")
        if connection_id in self.gone:
            return False
        with self._lock:
            self.posts.append((connection_id, events))
        return True

    def received(self, connection_id: str) -> list[str]:
        return [e for c, events in self.posts if c == connection_id for e in events]


def _message(event_id: str, padding: int = 0) -> bytes:
    data = {"previousPrice": 1, "currentPrice": 2, "currency": "USD"}
    if padding:
        data["pad"] = "x" * padding  # type: ignore[assignment]
    return encode(envelope("price.changed", event_id, 1, data, bid_id="b", ebay_item_id="1"))


def _heavy_and_light(edits: int, padding: int = 0) -> tuple[list[Lane], dict[str, list[str]]]:
    """A heavy user (10 sockets, ``edits`` changes) first in the batch, then two light users
    (2 sockets, one change each)."""
    heavy = Lane(
        "heavy", [Delivery(f"h{n}", [_message(f"heavy:{n}", padding)]) for n in range(edits)]
    )
    lights = [Lane(u, [Delivery(f"{u}0", [_message(f"{u}:0")])]) for u in "ab"]
    sockets = {"heavy": [f"h{i}=" for i in range(10)], "a": ["a1=", "a2="], "b": ["b1=", "b2="]}
    return [heavy, *lights], sockets


def _positions_of_light_users(edits: int) -> list[int]:
    lanes, sockets = _heavy_and_light(edits, padding=400)
    recorder = Recorder()
    result = Fanout(lambda: Sockets(sockets), lambda: recorder, max_workers=1).deliver(lanes)
    assert result.sent == edits * 10 + 4
    return [i for i, (c, _) in enumerate(recorder.posts) if c[0] in "ab"]


def test_light_users_go_out_in_the_first_rounds_whatever_the_heavy_user_queued():
    # Given a heavy user ahead of two light users in one batch, with 20 and then 500 edits
    # (1 and then 8 frames for each of their 10 sockets)
    # When one worker delivers the batch (so the order of posts is the schedule's own)
    few, many = _positions_of_light_users(20), _positions_of_light_users(500)
    # Then users alternate, one post each: the light users' four posts are among the first six
    # (heavy, a, b, heavy, a, b), and twenty-five times the heavy load does not move them
    assert few == [1, 2, 4, 5]
    assert many == few


def test_a_burst_of_edits_costs_one_post_per_socket():
    # Given a user with 10 sockets and 50 changes in one batch
    lanes, sockets = _heavy_and_light(50)
    recorder = Recorder()
    # When the batch is delivered
    result = Fanout(lambda: Sockets(sockets), lambda: recorder, max_workers=8).deliver(lanes)
    # Then each socket got one post carrying all 50, in stream order; the light users' single
    # messages went as they are
    assert result.sent == 50 * 10 + 4
    assert result.posts == 10 + 4
    for socket in sockets["heavy"]:
        assert recorder.received(socket) == [f"heavy:{n}" for n in range(50)]
    assert recorder.received("a1=") == ["a:0"]


def test_more_than_a_frame_holds_goes_in_several_frames_in_order():
    # Given 40 changes of ~2 KB each for every socket: more than one 32 KB frame
    lanes, sockets = _heavy_and_light(40, padding=2000)
    recorder = Recorder()
    recorder.jitter = 0.002
    # When delivered on 16 workers whose answers take random time
    result = Fanout(lambda: Sockets(sockets), lambda: recorder, max_workers=16).deliver(lanes)
    # Then every socket received every message once and in order, in frames under 32 KB
    assert result.sent == 40 * 10 + 4
    assert result.posts == 10 * 3 + 4
    for socket in sockets["heavy"]:
        assert recorder.received(socket) == [f"heavy:{n}" for n in range(40)]


def test_a_users_sockets_are_flows_of_the_same_frames():
    lanes, sockets = _heavy_and_light(40, padding=2000)
    schedule = Schedule(lanes, sockets)
    heavy = schedule.users[0]
    # Then the heavy user has one flow per socket, each the same three frames, starting at
    # changes 0, 15 and 30
    assert schedule.flows == 10 + 2 + 2
    assert {f.connection_id for f in heavy.ready} == set(sockets["heavy"])
    assert [[(index, count) for index, count, _ in f.items] for f in heavy.ready] == [
        [(0, 15), (15, 15), (30, 10)]
    ] * 10


def test_a_failure_returns_the_frames_first_record_and_the_users_later_ones():
    # Given the heavy user's frames each carry 15 changes, and the second frame cannot be posted
    lanes, sockets = _heavy_and_light(40, padding=2000)
    recorder = Recorder(failing="heavy:20")
    # When the batch is delivered
    result = Fanout(lambda: Sockets(sockets), lambda: recorder, max_workers=4).deliver(lanes)
    # Then changes 15..39 of that user go back to the stream (the retry replays them in order);
    # the first frame and the light users' messages went out
    assert [record for record, _exc in result.failed] == [f"h{n}" for n in range(15, 40)]
    assert all(
        recorder.received(s)[:15] == [f"heavy:{n}" for n in range(15)] for s in sockets["heavy"]
    )
    assert recorder.received("b2=") == ["b:0"]


def test_a_gone_socket_is_deleted_once_and_the_others_still_receive():
    # Given one of the heavy user's sockets is gone
    lanes, sockets = _heavy_and_light(40, padding=2000)
    recorder = Recorder(gone=frozenset({"h3="}))
    recorder.jitter = 0.001
    connections = Sockets(sockets)
    # When the batch is delivered on many workers
    result = Fanout(lambda: connections, lambda: recorder, max_workers=16).deliver(lanes)
    # Then that socket is deleted once, its later frames are not tried, and every other socket
    # got every message
    assert connections.deleted == [("heavy", "h3=")]
    assert (result.gone, result.failed) == (1, [])
    assert sum(1 for c, _ in recorder.posts if c == "h3=") == 0
    assert all(len(recorder.received(s)) == 40 for s in sockets["heavy"] if s != "h3=")
