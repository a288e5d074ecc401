"""Lambda's DynamoDB event source mapping, for the stream events template.yaml declares.

For every function event of type ``DynamoDB`` a pump polls the table's stream through moto
(``describe_stream``, ``get_shard_iterator``, ``get_records``) at Lambda's rate (4 polls a
second per shard while idle; reading on right away while records arrive) and invokes the
function with Lambda's event shape. It honours ``BatchSize``, ``StartingPosition``,
``ParallelizationFactor``, ``FunctionResponseTypes: [ReportBatchItemFailures]`` (the batch
resumes from the lowest failed sequence number), ``MaximumRetryAttempts``,
``BisectBatchOnFunctionError`` (a failing batch is halved until the failing record is alone),
``MaximumRecordAgeInSeconds`` and an SQS ``DestinationConfig.OnFailure``, which receives
Lambda's invocation record for what was given up.

``ParallelizationFactor`` N: as Lambda does, up to N batches of one shard are processed at once
and records of one partition key stay in order. Each shard's records are dealt to N lanes by a
hash of the item's partition key; a lane is what a shard is with a factor of 1 (its batches one
at a time, its own retries, bisection and failures), so a failing key holds up its lane only.

Checkpoints: as Lambda's event source mapping does, the pump remembers in each shard the last
record it is done with (delivered, or given up per the failure policy; with several lanes, the
last before which every record is done), and a pump started again, or a new pump given the same
``checkpoints``, resumes right after it (``AFTER_SEQUENCE_NUMBER``); before any record is done,
at the first record read (``AT_SEQUENCE_NUMBER``). Records written while no pump ran are
delivered, and none that was done is delivered again. ``StartingPosition`` applies to a shard
the mapping has read nothing from. A batch in flight when the pump stops is not done: it is
delivered again, at least once, as Lambda may.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.credentials import Credentials

from common.data.dynamo_http import STREAMS_TARGET_PREFIX, DynamoDbHttp
from common.http1 import KeepAliveClient
from local.aws import FAKE_CREDENTIALS, client
from local.lambda_runtime import InvocationError, LambdaRuntime
from local.template import EVENT_SOURCE_MAPPING_TYPE, SQS_QUEUE_TYPE, Template

log = logging.getLogger("local.streams")

POLL_INTERVAL_SECONDS = 0.25  # Lambda polls each shard four times a second
GET_RECORDS_LIMIT = 1000  # DynamoDB Streams' most records per GetRecords

# Where each event source mapping is in each shard: (function, stream ARN, shard id) ->
# (ShardIteratorType, SequenceNumber), AFTER the last record it is done with or AT the first it
# read. It outlives a pump, as the mapping's state outlives Lambda's pollers.
Checkpoints = dict[tuple[str, str, str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class StreamMapping:
    function_id: str
    stream_arn: str
    batch_size: int = 100
    starting_position: str = "LATEST"
    parallelization_factor: int = 1
    max_retry_attempts: int = -1  # -1: until the record expires, as Lambda's default
    max_record_age_seconds: int = -1
    bisect_on_error: bool = False
    report_item_failures: bool = False
    on_failure_queue_url: str | None = None


def stream_mappings(template: Template) -> list[StreamMapping]:
    queues = {
        template.attributes.get((logical_id, "Arn")): template.refs.get(logical_id)
        for logical_id in template.resources(SQS_QUEUE_TYPE)
    }
    mappings = []
    for function_id, p in template.targeting(EVENT_SOURCE_MAPPING_TYPE):
        if ":dynamodb:" not in str(p["EventSourceArn"]):
            continue  # SQS or Kinesis: not pumped locally
        destination = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        mappings.append(
            StreamMapping(
                function_id=function_id,
                stream_arn=str(p["EventSourceArn"]),
                batch_size=int(p.get("BatchSize", 100)),
                starting_position=str(p.get("StartingPosition", "LATEST")),
                parallelization_factor=int(p.get("ParallelizationFactor", 1)),
                max_retry_attempts=int(p.get("MaximumRetryAttempts", -1)),
                max_record_age_seconds=int(p.get("MaximumRecordAgeInSeconds", -1)),
                bisect_on_error=str(p.get("BisectBatchOnFunctionError", False)).lower() == "true",
                report_item_failures="ReportBatchItemFailures"
                in (p.get("FunctionResponseTypes") or []),
                on_failure_queue_url=queues.get(destination) if destination else None,
            )
        )
    return mappings


@dataclass
class PumpStats:
    batches: int = 0
    records: int = 0
    failed_invocations: int = 0
    partial_failures: int = 0
    discarded: int = 0
    # Wall time during which at least one invocation ran (concurrent ones counted once), and
    # the most invocations that ran at once.
    busy_seconds: float = 0.0
    peak_concurrency: int = 0
    in_flight: int = 0
    _busy_since: float = 0.0


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record (the wire's shape, or boto3's) in the shape Lambda hands the
    function: the creation time in whole epoch seconds."""
    ddb = dict(record["dynamodb"])
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        ddb["ApproximateCreationDateTime"] = int(created.timestamp())
    elif isinstance(created, float):
        ddb["ApproximateCreationDateTime"] = int(created)
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": ddb,
        "eventSourceARN": stream_arn,
    }


@dataclass
class _Lane:
    """Records of some partition keys of one shard, processed one batch at a time."""

    pending: list[dict[str, Any]] = field(default_factory=list)
    window: int = 0  # bisection: the next batch's size limit
    attempts: int = 0  # retries of the batch starting at pending[0]
    task: asyncio.Task[None] | None = None


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    partition_key: str | None  # the table's HASH attribute, which orders records
    lanes: list[_Lane]
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    # Sequence numbers read and not yet checkpointed, in the shard's order; those done with
    # (in any lane) wait in ``done`` until every record before them is done too.
    unsettled: deque[str] = field(default_factory=deque)
    done: set[str] = field(default_factory=set)

    @property
    def buffered(self) -> int:
        return sum(len(lane.pending) for lane in self.lanes)


class StreamPump:
    """Start with ``start()`` on the event loop; ``stop()`` ends every poller quietly, and
    ``start()`` again resumes from the checkpoints. ``checkpoints`` (default: the pump's own)
    may be shared with the pump that replaces this one."""

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        endpoint_url: str,
        *,
        poll_interval: float = POLL_INTERVAL_SECONDS,
        mappings: list[StreamMapping] | None = None,
        checkpoints: Checkpoints | None = None,
    ) -> None:
        self.template = template
        self.runtime = runtime
        self.endpoint_url = endpoint_url
        self.poll_interval = poll_interval
        self.mappings = stream_mappings(template) if mappings is None else mappings
        self.stats: dict[str, PumpStats] = {m.function_id: PumpStats() for m in self.mappings}
        self.checkpoints: Checkpoints = {} if checkpoints is None else checkpoints
        self._streams = client("dynamodbstreams", endpoint_url)
        # GetRecords, the pump's steady work, without botocore's parser: it walked every
        # attribute of every image by the API's shape (a third of the stack's CPU in the
        # fan-out bench's steady mode). The records stay as the wire has them, which is also
        # how Lambda hands them over (binary values base64, the creation time in seconds).
        self._records = DynamoDbHttp(
            endpoint_url,
            Credentials(
                FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
            ),
            template.region,
            http=KeepAliveClient(endpoint_url, connect_timeout=60, read_timeout=60),
            target_prefix=STREAMS_TARGET_PREFIX,
        )
        self._sqs = client("sqs", endpoint_url)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        if self._tasks:
            raise RuntimeError("the stream pump is running; stop() it first")
        self._stopping.clear()
        for mapping in self.mappings:
            for shard in await asyncio.to_thread(self._open_shards, mapping):
                self._spawn(self._poll(mapping, shard))

    async def stop(self) -> None:
        self._stopping.set()
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._tasks.difference_update(tasks)

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _open_shards(self, mapping: StreamMapping) -> list[_Shard]:
        description = self._streams.describe_stream(StreamArn=mapping.stream_arn)
        stream = description["StreamDescription"]
        partition_key = next(
            (k["AttributeName"] for k in stream.get("KeySchema", []) if k["KeyType"] == "HASH"),
            None,
        )
        return [
            _Shard(
                shard_id=shard["ShardId"],
                iterator=self._iterator(mapping, shard["ShardId"]),
                partition_key=partition_key,
                lanes=[_Lane() for _ in range(max(1, mapping.parallelization_factor))],
            )
            for shard in stream["Shards"]
        ]

    def _iterator(self, mapping: StreamMapping, shard_id: str) -> str:
        """At the shard's checkpoint; at the StartingPosition when it has none."""
        position: dict[str, str]
        checkpoint = self.checkpoints.get(_checkpoint_key(mapping, shard_id))
        if checkpoint is not None:
            kind, sequence = checkpoint
            position = {"ShardIteratorType": kind, "SequenceNumber": sequence}
        elif mapping.starting_position == "TRIM_HORIZON":
            position = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            position = {"ShardIteratorType": "LATEST"}
        return str(
            self._streams.get_shard_iterator(
                StreamArn=mapping.stream_arn, ShardId=shard_id, **position
            )["ShardIterator"]
        )

    # ---- reading the shard

    async def _poll(self, mapping: StreamMapping, shard: _Shard) -> None:
        """Read the shard into its lanes while they have room; start a lane that has records."""
        room = mapping.batch_size * len(shard.lanes)
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            fetched = 0
            # Polls keep Lambda's cadence: the next is due an interval after this one started,
            # not after its answer (GetRecords' own time, tens of ms under load, stretched it);
            # but an empty shard waits at least a fifth of it, so a GetRecords slower than the
            # interval (moto overloaded) is not answered with polls back to back.
            due = loop.time() + self.poll_interval
            least = self.poll_interval / 5
            if shard.iterator and shard.buffered < room:
                try:
                    fetched = await self._fetch(mapping, shard)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the pump outlives a moto hiccup, as Lambda's poller does
                    log.exception("stream poll of %s failed", mapping.function_id)
            for lane in shard.lanes:
                if lane.pending and (lane.task is None or lane.task.done()):
                    lane.task = self._spawn(self._drain(mapping, shard, lane))
            if fetched and shard.buffered < room:
                continue  # records are arriving: read on without waiting for the next poll
            if shard.buffered >= room:
                shard.drained.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(shard.drained.wait(), max(least, due - loop.time()))
            else:
                await asyncio.sleep(max(least, due - loop.time()))

    async def _fetch(self, mapping: StreamMapping, shard: _Shard) -> int:
        assert shard.iterator is not None
        response = await asyncio.to_thread(
            self._records.call,
            "GetRecords",
            {"ShardIterator": shard.iterator, "Limit": GET_RECORDS_LIMIT},
        )
        shard.iterator = response.get("NextShardIterator")
        records = response.get("Records", [])
        if records:
            first = ("AT_SEQUENCE_NUMBER", records[0]["dynamodb"]["SequenceNumber"])
            self.checkpoints.setdefault(_checkpoint_key(mapping, shard.shard_id), first)
        for record in records:
            lane = shard.lanes[self._lane_of(shard, record)]
            lane.pending.append(lambda_record(record, mapping.stream_arn, self.template.region))
            shard.unsettled.append(record["dynamodb"]["SequenceNumber"])
        return len(records)

    @staticmethod
    def _lane_of(shard: _Shard, record: dict[str, Any]) -> int:
        if len(shard.lanes) == 1:
            return 0
        keys = record["dynamodb"].get("Keys") or {}
        key = keys.get(shard.partition_key) if shard.partition_key else keys
        return zlib.crc32(json.dumps(key, sort_keys=True).encode()) % len(shard.lanes)

    # ---- invoking, one lane at a time

    async def _drain(self, mapping: StreamMapping, shard: _Shard, lane: _Lane) -> None:
        try:
            while lane.pending and not self._stopping.is_set():
                try:
                    await self._step(mapping, shard, lane)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("stream batch of %s failed", mapping.function_id)
                    await asyncio.sleep(self.poll_interval)
                shard.drained.set()
        finally:
            shard.drained.set()

    async def _step(self, mapping: StreamMapping, shard: _Shard, lane: _Lane) -> None:
        """Invoke with the lane's next batch and settle it: checkpoint, retry or give up."""
        self._expire(mapping, shard, lane)
        if not lane.pending:
            return
        size = mapping.batch_size if not lane.window else min(lane.window, mapping.batch_size)
        batch = lane.pending[:size]
        stats = self.stats[mapping.function_id]
        stats.batches += 1
        stats.records += len(batch)
        self._started(stats)
        try:
            result = await self.runtime.invoke_async(mapping.function_id, {"Records": batch})
        except InvocationError as exc:
            stats.failed_invocations += 1
            await self._retry(mapping, shard, lane, batch, f"{type(exc).__name__}: {exc}", True)
            return
        finally:
            self._ended(stats)
        failed = _failed_sequence(result) if mapping.report_item_failures else None
        if failed is None:
            self._settle(mapping, shard, lane, len(batch))
            lane.attempts = 0
            lane.window = max(0, lane.window - len(batch)) if lane.window else 0
            return
        stats.partial_failures += 1
        index = next(
            (i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == failed),
            0,
        )
        # Records before the lowest failure are checkpointed; the batch resumes there.
        if index:
            self._settle(mapping, shard, lane, index)
            lane.attempts = 0
        await self._retry(mapping, shard, lane, batch[index:], "ReportedBatchItemFailures")

    @staticmethod
    def _started(stats: PumpStats) -> None:
        if not stats.in_flight:
            stats._busy_since = time.perf_counter()
        stats.in_flight += 1
        stats.peak_concurrency = max(stats.peak_concurrency, stats.in_flight)

    @staticmethod
    def _ended(stats: PumpStats) -> None:
        stats.in_flight -= 1
        if not stats.in_flight:
            stats.busy_seconds += time.perf_counter() - stats._busy_since

    async def _retry(
        self,
        mapping: StreamMapping,
        shard: _Shard,
        lane: _Lane,
        batch: list[dict[str, Any]],
        reason: str,
        whole: bool = False,
    ) -> None:
        if mapping.bisect_on_error and len(batch) > 1:
            lane.window = max(1, len(batch) // 2)  # halving is not a retry attempt
            return
        lane.attempts += 1
        exhausted = 0 <= mapping.max_retry_attempts < lane.attempts
        if not exhausted:
            await asyncio.sleep(min(1.0, 0.05 * 2**lane.attempts))
            return
        # Given up: the batch (one record once bisected) goes to the on-failure destination.
        given_up = batch if (whole and not mapping.bisect_on_error) else batch[:1]
        await asyncio.to_thread(self._send_failure, mapping, shard, given_up, reason)
        self._settle(mapping, shard, lane, len(given_up))
        lane.attempts = 0
        lane.window = 0
        self.stats[mapping.function_id].discarded += len(given_up)

    def _expire(self, mapping: StreamMapping, shard: _Shard, lane: _Lane) -> None:
        if mapping.max_record_age_seconds < 0 or not lane.pending:
            return
        oldest = time.time() - mapping.max_record_age_seconds
        expired = 0
        for record in lane.pending:
            if record["dynamodb"].get("ApproximateCreationDateTime", time.time()) >= oldest:
                break
            expired += 1
        if expired:
            self._send_failure(mapping, shard, lane.pending[:expired], "RecordAgeExceeded")
            self._settle(mapping, shard, lane, expired)
            self.stats[mapping.function_id].discarded += expired

    def _settle(self, mapping: StreamMapping, shard: _Shard, lane: _Lane, count: int) -> None:
        """The lane's first ``count`` records are done with: the shard's checkpoint moves to
        the last record before which every record read is done."""
        for record in lane.pending[:count]:
            shard.done.add(record["dynamodb"]["SequenceNumber"])
        del lane.pending[:count]
        checkpoint = None
        while shard.unsettled and shard.unsettled[0] in shard.done:
            checkpoint = shard.unsettled.popleft()
            shard.done.discard(checkpoint)
        if checkpoint is not None:
            key = _checkpoint_key(mapping, shard.shard_id)
            self.checkpoints[key] = ("AFTER_SEQUENCE_NUMBER", checkpoint)

    def _send_failure(
        self,
        mapping: StreamMapping,
        shard: _Shard,
        records: list[dict[str, Any]],
        reason: str,
    ) -> None:
        log.warning(
            "%s gave up on %d stream record(s): %s", mapping.function_id, len(records), reason
        )
        if not mapping.on_failure_queue_url or not records:
            return
        arn = self.template.attributes[(mapping.function_id, "Arn")]
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")

        def arrival(record: dict[str, Any]) -> str:
            created = record["dynamodb"].get("ApproximateCreationDateTime", 0)
            return datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")

        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": arn,
                "condition": reason if reason == "RecordAgeExceeded" else "RetryAttemptsExhausted",
                "approximateInvokeCount": max(1, mapping.max_retry_attempts + 1),
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": reason,
            },
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(records[0]),
                "approximateArrivalOfLastRecord": arrival(records[-1]),
                "batchSize": len(records),
                "streamArn": mapping.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=mapping.on_failure_queue_url, MessageBody=json.dumps(body))


def _checkpoint_key(mapping: StreamMapping, shard_id: str) -> tuple[str, str, str]:
    return (mapping.function_id, mapping.stream_arn, shard_id)


def _failed_sequence(result: Any) -> str | None:
    """The lowest sequence number the function reported as failed, or None."""
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures") or []
    ids = [str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)]
    ids = [i for i in ids if i and i != "None"]
    if not ids:
        return None
    return min(ids, key=lambda seq: (len(seq), seq))
