"""The fan-out's schedule: users take turns, one post each, so a user with many sockets or a
burst of edits cannot hold back anyone else's messages; and what must stay in order (one
snipe's messages on one socket) does, while the rest runs side by side.

The mechanism is asserted, not timings: with one worker the order of posts is deterministic,
and with many the per-(socket, snipe) order is checked on every run.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

from realtime.fanout import Delivery, Fanout, Lane, Schedule


class Sockets:
    """The Connections port, in memory."""

    def __init__(self, sockets: dict[str, list[str]]) -> None:
        self.sockets = sockets
        self.deleted: list[tuple[str, str]] = []

    def connection_ids_by_user(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        return {u: list(self.sockets.get(u, [])) for u in user_ids}

    def delete(self, user_id: str, connection_id: str) -> None:
        self.deleted.append((user_id, connection_id))


class Recorder:
    """The Pusher port: records (connection, payload) in the order posts happen; ``gone``
    sockets answer False, ``failing`` payloads raise; ``jitter`` sleeps up to that long."""

    def __init__(
        self, gone: frozenset[str] = frozenset(), failing: frozenset[bytes] = frozenset()
    ) -> None:
        self.gone, self.failing = gone, failing
        self.posts: list[tuple[str, bytes]] = []
        self.jitter = 0.0
        self._lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> bool:
        if self.jitter:
            time.sleep(random.random() * self.jitter)  # real time: lets threads interleave
        if data in self.failing:
            raise ConnectionError("the WebSocket API could not be reached")
        if connection_id in self.gone:
            return False
        with self._lock:
            self.posts.append((connection_id, data))
        return True


def _heavy_and_light(edits: int) -> tuple[list[Lane], dict[str, list[str]]]:
    """A heavy user (10 sockets, ``edits`` changes over 5 snipes) first in the batch, then
    two light users (2 sockets, one change each)."""
    heavy = Lane(
        "heavy",
        [Delivery(f"h{n}", [f"heavy:{n}".encode()], key=f"snipe-{n % 5}") for n in range(edits)],
    )
    lights = [Lane(u, [Delivery(f"{u}0", [f"{u}:0".encode()], key=f"{u}-snipe")]) for u in "ab"]
    sockets = {"heavy": [f"h{i}=" for i in range(10)], "a": ["a1=", "a2="], "b": ["b1=", "b2="]}
    return [heavy, *lights], sockets


def _positions_of_light_users(edits: int) -> list[int]:
    lanes, sockets = _heavy_and_light(edits)
    recorder = Recorder()
    result = Fanout(lambda: Sockets(sockets), lambda: recorder, max_workers=1).deliver(lanes)
    assert result.sent == edits * 10 + 4
    return [i for i, (c, _) in enumerate(recorder.posts) if c[0] in "ab"]


def test_light_users_go_out_in_the_first_rounds_whatever_the_heavy_user_queued():
    # Given a heavy user ahead of two light users in one batch, with 20 and then 200 edits
    # When one worker delivers the batch (so the order of posts is the schedule's own)
    few, many = _positions_of_light_users(20), _positions_of_light_users(200)
    # Then users alternate, one post each: the light users' four posts are among the first six
    # (heavy, a, b, heavy, a, b), and ten times the heavy load does not move them
    assert few == [1, 2, 4, 5]
    assert many == few


def test_one_snipe_keeps_its_order_on_every_socket_while_the_rest_runs_side_by_side():
    # Given a user with 10 sockets and 40 changes over 5 snipes, and a pusher whose answers
    # take random time on 16 workers
    lanes, sockets = _heavy_and_light(40)
    recorder = Recorder()
    recorder.jitter = 0.002
    # When the batch is delivered
    result = Fanout(lambda: Sockets(sockets), lambda: recorder, max_workers=16).deliver(lanes)
    # Then everything arrived once, and on each socket each snipe's messages are in stream order
    assert result.sent == 40 * 10 + 4
    assert len(set(recorder.posts)) == len(recorder.posts)
    for socket in sockets["heavy"]:
        for snipe in range(5):
            sent = [int(p.split(b":")[1]) for c, p in recorder.posts if c == socket]
            of_snipe = [n for n in sent if n % 5 == snipe]
            assert of_snipe == sorted(of_snipe)


def test_a_users_flows_are_per_socket_and_snipe():
    # Given the heavy user's 10 sockets and 5 snipes
    lanes, sockets = _heavy_and_light(40)
    # When the batch is scheduled
    schedule = Schedule(lanes, sockets)
    # Then it has 50 flows of 8 messages for them, and 2 of 1 for each light user
    assert schedule.flows == 10 * 5 + 2 + 2
    assert sorted(len(f.items) for f in schedule.users[0].ready) == [8] * 50


def test_a_failure_returns_that_record_and_the_users_later_ones_only():
    # Given the heavy user's sixth change (snipe 0) cannot be posted
    lanes, sockets = _heavy_and_light(20)
    recorder = Recorder(failing=frozenset({b"heavy:5"}))
    # When the batch is delivered
    result = Fanout(lambda: Sockets(sockets), lambda: recorder, max_workers=4).deliver(lanes)
    # Then changes 5..19 of that user go back to the stream (later ones of other snipes too, so
    # the retry replays them in order); its earlier changes and the light users' went out
    assert [record for record, _exc in result.failed] == [f"h{n}" for n in range(5, 20)]
    delivered = {p for _c, p in recorder.posts}
    assert {f"heavy:{n}".encode() for n in range(5)} <= delivered
    assert {b"a:0", b"b:0"} <= delivered


def test_a_gone_socket_is_deleted_once_and_the_others_still_receive():
    # Given one of the heavy user's sockets is gone, met by five flows (one per snipe)
    lanes, sockets = _heavy_and_light(20)
    recorder = Recorder(gone=frozenset({"h3="}))
    recorder.jitter = 0.001
    connections = Sockets(sockets)
    # When the batch is delivered on many workers
    result = Fanout(lambda: connections, lambda: recorder, max_workers=16).deliver(lanes)
    # Then that socket is deleted once, and every other socket got every message
    assert connections.deleted == [("heavy", "h3=")]
    assert result.gone == 1
    assert result.failed == []
    assert sum(1 for c, _p in recorder.posts if c.startswith("h")) == 20 * 9
