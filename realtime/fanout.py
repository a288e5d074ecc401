"""Deliver a batch's messages to their owners' connections: concurrently, fairly between users,
in stream order on each socket.

The connections of every user of the batch are read first, in one call (a BatchGetItem of their
index items, ``common.data.connections``). Then each socket gets its owner's messages of the
batch, in stream order: a lone message as it is, several in ``batch`` frames of up to 32 KB
(``realtime.protocol.frames``), so a socket costs one post per batch whether one of its
owner's snipes changed or fifty. A socket's frames are a *flow*, posted one after the other;
sockets' flows run side by side.

Fairness (docs/realtime-protocol.md, "Fairness"): a batch's threads take flows from a
round-robin of *users*, one post at a time: a worker takes the next user in the queue, posts
the next frame of one of that user's ready flows, and the user goes back to the end of the
queue while it has more. So every user of the batch gets a post in each round, whatever the
others have queued: a user with ten sockets takes one turn in each round like a user with one,
and the others' messages go out in the first rounds instead of waiting behind theirs; a burst
of their edits costs them a post per socket, not a post per edit.

A gone connection (410) is deleted once and its flow ends; throttling is retried inside the
pusher. When a post fails otherwise, the first record it carries and every later record of
that user fail (the user's flows stop before them), so the stream's retry replays them in
order; when the connections cannot be read, every record fails.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any, Protocol

from common.observability import logger
from realtime.protocol import frames


class Connections(Protocol):
    def connection_ids_by_user(self, user_ids: Sequence[str]) -> dict[str, list[str]]: ...

    def delete(self, user_id: str, connection_id: str) -> None: ...


class Pusher(Protocol):
    def post(self, connection_id: str, data: bytes) -> bool: ...


@dataclass
class Delivery:
    record: Any  # whatever the caller uses to mark a failure
    payloads: list[bytes]


@dataclass
class Lane:
    user_id: str
    deliveries: list[Delivery] = field(default_factory=list)


@dataclass
class FanoutResult:
    sent: int = 0  # messages delivered (a batch frame carries several)
    posts: int = 0
    gone: int = 0
    failed: list[tuple[Any, BaseException]] = field(default_factory=list)


# A frame: the index of the first delivery it carries, how many messages, its bytes.
Frame = tuple[int, int, bytes]


class _Flow:
    """One socket's frames, in stream order."""

    __slots__ = ("connection_id", "items", "next", "user")

    def __init__(self, user: _UserTurns, connection_id: str, items: list[Frame]) -> None:
        self.user = user
        self.connection_id = connection_id
        self.items = items
        self.next = 0


class _UserTurns:
    """A user's flows that are ready (not being posted), and what happened to them."""

    __slots__ = ("error", "failed_from", "gone", "lane", "queued", "ready")

    def __init__(self, lane: Lane) -> None:
        self.lane = lane
        self.ready: deque[_Flow] = deque()
        self.queued = False
        self.gone: set[str] = set()
        self.failed_from = len(lane.deliveries)  # the first delivery that failed
        self.error: BaseException | None = None


class Schedule:
    """One batch's posts, handed out one at a time, round-robin between users.

    ``take`` gives the next flow to post from (None when none is ready: that worker is done);
    ``give_back`` returns it after one post. A flow is never out twice at once, so its posts
    stay in order. Deterministic for one worker: users in the batch's order, each user's
    sockets in turn."""

    def __init__(
        self, lanes: Sequence[Lane], targets: dict[str, list[str]], server_time: int = 0
    ) -> None:
        self.users: list[_UserTurns] = []
        self._queue: deque[_UserTurns] = deque()
        self._lock = threading.Lock()
        self.flows = 0
        self._workers = 0
        self.sent = self.posts = self.gone = 0
        self.finished = threading.Event()
        for lane in lanes:
            sockets = targets.get(lane.user_id) or []
            if not sockets:
                continue
            user = _UserTurns(lane)
            indexes = [i for i, d in enumerate(lane.deliveries) for _ in d.payloads]
            payloads = [p for d in lane.deliveries for p in d.payloads]
            items: list[Frame] = []
            carried = 0
            for count, frame in frames(payloads, server_time) if payloads else []:
                items.append((indexes[carried], count, frame))
                carried += count
            if items:  # every socket of the user gets the same frames
                user.ready.extend(_Flow(user, socket, items) for socket in sockets)
            if user.ready:
                self.users.append(user)
                self._queue.append(user)
                user.queued = True
                self.flows += len(user.ready)

    def take(self) -> _Flow | None:
        """The next flow to post from; None when none is ready. A worker that finds none may
        leave: a flow still out comes back with the worker that holds it, who takes it again."""
        with self._lock:
            if not self._queue:
                return None
            user = self._queue.popleft()
            flow = user.ready.popleft()
            if user.ready:
                self._queue.append(user)
            else:
                user.queued = False
            return flow

    def give_back(self, flow: _Flow) -> None:
        with self._lock:
            user = flow.user
            if flow.next < len(flow.items) and flow.connection_id not in user.gone:
                user.ready.append(flow)
                if not user.queued:
                    user.queued = True
                    self._queue.append(user)

    def expect(self, workers: int) -> None:
        self._workers = workers

    def worker_done(self, sent: int, posts: int, gone: int) -> None:
        with self._lock:
            self.sent += sent
            self.posts += posts
            self.gone += gone
            self._workers -= 1
            if not self._workers:
                self.finished.set()

    def mark_gone(self, flow: _Flow) -> bool:
        """The flow's socket is gone: True the first time (delete it), False after."""
        with self._lock:
            if flow.connection_id in flow.user.gone:
                return False
            flow.user.gone.add(flow.connection_id)
            return True

    def mark_failed(self, flow: _Flow, index: int, exc: BaseException) -> None:
        """Delivery ``index`` of the flow's user could not be posted: it and every later one
        of that user go back to the stream."""
        with self._lock:
            if index < flow.user.failed_from:
                flow.user.failed_from, flow.user.error = index, exc


class Fanout:
    def __init__(
        self,
        connections: Callable[[], Connections],
        pusher: Callable[[], Pusher],
        max_workers: int = 32,
    ) -> None:
        self._connections = connections
        self._pusher = pusher
        self.max_workers = max_workers
        # Helper threads, started as batches need them and kept for the container's life,
        # waiting on a queue: handing one a batch is a put (a ThreadPoolExecutor's submit, with
        # its future and locks, was a seventh of the broadcaster's CPU for small batches).
        # put_nowait, not put: the grants test reads a ``.put(`` as ConnectionsRepository.put.
        self._jobs: SimpleQueue[Callable[[], None] | None] = SimpleQueue()
        self._helpers = [0]  # how many were started (a list: the finalizer must not hold self)
        self._helpers_lock = threading.Lock()
        weakref.finalize(self, _stop_helpers, self._jobs, self._helpers)

    def deliver(self, lanes: list[Lane]) -> FanoutResult:
        result = FanoutResult()
        if not lanes:
            return result
        try:
            targets = self._connections().connection_ids_by_user([lane.user_id for lane in lanes])
        except Exception as exc:  # every record goes back to the stream, in order
            result.failed = [(d.record, exc) for lane in lanes for d in lane.deliveries]
            return result
        schedule = Schedule(lanes, targets, int(time.time() * 1000))
        # This thread is one of the workers: the invocation has nothing else to do meanwhile.
        if schedule.flows:
            helpers = min(self.max_workers, schedule.flows) - 1
            schedule.expect(helpers + 1)
            self._start_helpers(helpers)
            job = functools.partial(self._work, schedule)
            for _ in range(helpers):
                self._jobs.put_nowait(job)
            self._work(schedule)
            schedule.finished.wait()
            result.sent, result.posts, result.gone = schedule.sent, schedule.posts, schedule.gone
        for user in schedule.users:
            if user.error is not None:
                failed = user.lane.deliveries[user.failed_from :]
                result.failed += [(d.record, user.error) for d in failed]
        return result

    def _start_helpers(self, wanted: int) -> None:
        with self._helpers_lock:
            while self._helpers[0] < wanted:
                self._helpers[0] += 1
                threading.Thread(
                    target=_helper,
                    args=(self._jobs,),
                    name=f"fanout-{self._helpers[0]}",
                    daemon=True,
                ).start()

    def _work(self, schedule: Schedule) -> None:
        """One worker: post from the flow the schedule hands out until there are none."""
        sent = posts = gone = 0
        try:
            pusher = self._pusher()
            while (flow := schedule.take()) is not None:
                user = flow.user
                index, count, frame = flow.items[flow.next]
                if index >= user.failed_from or flow.connection_id in user.gone:
                    flow.next = len(flow.items)  # an earlier record of this user failed: stop
                else:
                    try:
                        posts += 1
                        if pusher.post(flow.connection_id, frame):
                            sent += count
                            flow.next += 1
                        else:
                            flow.next = len(flow.items)
                            if schedule.mark_gone(flow):
                                gone += 1
                                self._connections().delete(user.lane.user_id, flow.connection_id)
                                logger.info(
                                    "gone connection removed", connection_id=flow.connection_id
                                )
                    except Exception as exc:  # this record and the user's later ones go back
                        flow.next = len(flow.items)
                        schedule.mark_failed(flow, index, exc)
                schedule.give_back(flow)
        finally:
            schedule.worker_done(sent, posts, gone)


def _helper(jobs: SimpleQueue[Callable[[], None] | None]) -> None:
    while (job := jobs.get()) is not None:
        try:
            job()
        except Exception:  # a bug in a worker must not take the helper (or the batch) down
            logger.exception("fan-out worker failed")


def _stop_helpers(jobs: SimpleQueue[Callable[[], None] | None], helpers: list[int]) -> None:
    for _ in range(helpers[0]):
        jobs.put_nowait(None)
