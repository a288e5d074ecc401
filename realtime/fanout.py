"""Deliver a batch's messages to their owners' connections: concurrently across users, in
order for each user (so in order for each snipe).

Each user of a batch gets one lane. The connections of every user of the batch are read first,
in one call (a BatchGetItem of their index items, ``common.data.connections``); then each lane
posts its messages in stream order. Lanes run on a bounded thread pool. A gone connection (410)
is deleted and skipped; throttling is retried inside the pusher. When a lane cannot send a
record's message, that record and every later record of the lane fail, so the stream's retry
replays them in order; when the connections cannot be read, every record fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from common.observability import logger


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
    sent: int = 0
    gone: int = 0
    failed: list[tuple[Any, BaseException]] = field(default_factory=list)


class Fanout:
    def __init__(
        self,
        connections: Callable[[], Connections],
        pusher: Callable[[], Pusher],
        max_workers: int = 32,
    ) -> None:
        self._connections = connections
        self._pusher = pusher
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fanout")

    def deliver(self, lanes: list[Lane]) -> FanoutResult:
        result = FanoutResult()
        if not lanes:
            return result
        try:
            targets = self._connections().connection_ids_by_user([lane.user_id for lane in lanes])
        except Exception as exc:  # every record goes back to the stream, in order
            result.failed = [(d.record, exc) for lane in lanes for d in lane.deliveries]
            return result
        futures = [
            self._pool.submit(self._run_lane, lane, list(targets[lane.user_id]))
            for lane in lanes
            if targets.get(lane.user_id)
        ]
        wait(futures)
        for future in futures:
            lane_result = future.result()
            result.sent += lane_result.sent
            result.gone += lane_result.gone
            result.failed += lane_result.failed
        return result

    def _run_lane(self, lane: Lane, targets: list[str]) -> FanoutResult:
        result = FanoutResult()
        pusher = self._pusher()
        for index, delivery in enumerate(lane.deliveries):
            try:
                for payload in delivery.payloads:
                    for connection_id in list(targets):
                        if pusher.post(connection_id, payload):
                            result.sent += 1
                            continue
                        result.gone += 1
                        targets.remove(connection_id)
                        self._connections().delete(lane.user_id, connection_id)
                        logger.info("gone connection removed", connection_id=connection_id)
            except Exception as exc:  # the rest of the lane goes back to the stream, in order
                result.failed = [(d.record, exc) for d in lane.deliveries[index:]]
                return result
        return result
