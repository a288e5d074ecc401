"""Bids table stream -> each owner's WebSocket connections.

A ``BatchProcessor(EventType.DynamoDBStreams)`` with partial batch responses: every record is
turned into zero or more messages (``realtime.changes``); a record that cannot be read fails
alone. The batch's messages are then delivered by ``realtime.fanout`` (the connections of all
the batch's users in one BatchGetItem, each socket's messages in as few 32 KB frames as they
fit, signed posts with bounded concurrency and turns by user, gone connections deleted,
throttling retried); a record whose delivery fails is reported as a batch item failure
with every later record of its user, so Lambda's retry (bisect, MaximumRetryAttempts, then the
on-failure queue) replays them in order. Redelivered records carry the same eventIds, which
clients use to drop duplicates.

A processor holds one batch's state, so each invocation gets its own: a Lambda container runs
one invocation at a time, but the local stack's thread isolation runs concurrent batches
(ParallelizationFactor) in one process. The fan-out and its clients are per container.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.data.dynamo_json import from_image
from common.handler import settings_validated
from common.observability import logger
from realtime.changes import Change, messages_for
from realtime.composition import FANOUT_WORKERS, BroadcasterSettings, broadcaster_ports
from realtime.fanout import Delivery, Fanout, FanoutResult, Lane
from realtime.protocol import encode


def change_of(record: DynamoDBRecord) -> Change:
    raw = record.raw_event
    images = raw.get("dynamodb") or {}
    return Change(
        event_id=str(raw["eventID"]),
        event_name=str(raw["eventName"]),
        old=from_image(images["OldImage"]) if "OldImage" in images else None,
        new=from_image(images["NewImage"]) if "NewImage" in images else None,
    )


class BroadcastProcessor(BatchProcessor):
    """BatchProcessor whose records are planned one by one, then delivered together."""

    def __init__(self, fanout: Any = None) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams)
        self.fanout = fanout
        self.lanes: dict[str, Lane] = {}
        self.stats: dict[str, float] = {}

    def _prepare(self) -> None:
        super()._prepare()
        self.lanes = {}
        self._started = time.perf_counter()

    def plan(self, record: DynamoDBRecord) -> None:
        change = change_of(record)
        payloads = [encode(m) for m in messages_for(change, int(time.time() * 1000))]
        if payloads and change.owner:
            lane = self.lanes.setdefault(change.owner, Lane(change.owner))
            lane.deliveries.append(Delivery(record, payloads))

    def process(self) -> list[tuple[Any, ...]]:
        results = super().process()
        outcome = FanoutResult()
        if self.lanes:
            fanout = self.fanout or default_fanout()
            outcome = fanout.deliver(list(self.lanes.values()))
        for record, exc in outcome.failed:
            self.success_messages = [r for r in self.success_messages if r is not record]
            self.failure_handler(record, (type(exc), exc, exc.__traceback__))
        elapsed_ms = (time.perf_counter() - self._started) * 1000
        self.stats = {
            "records": len(self.records),
            "sent": outcome.sent,
            "posts": outcome.posts,
            "gone": outcome.gone,
            "failed": len(self.fail_messages),
            "ms": elapsed_ms,
        }
        logger.debug("broadcast batch", extra={"batch": self.stats})
        return results


@functools.cache
def default_fanout() -> Fanout:
    p = broadcaster_ports()
    return Fanout(lambda: p.connections, lambda: p.pusher, max_workers=FANOUT_WORKERS)


@settings_validated(BroadcasterSettings)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = BroadcastProcessor()
    return process_partial_response(event, processor.plan, processor, context)
