"""Lambda's DynamoDB event source mapping, for the stream events template.yaml declares.

For every function event of type ``DynamoDB`` a pump polls the table's stream through moto
(``describe_stream``, ``get_shard_iterator``, ``get_records``) at Lambda's rate (4 polls a
second per shard while idle; the next batch right away while records wait) and invokes the
function with Lambda's event shape. It honours ``BatchSize``, ``StartingPosition``,
``FunctionResponseTypes: [ReportBatchItemFailures]`` (the batch resumes from the lowest failed
sequence number), ``MaximumRetryAttempts``, ``BisectBatchOnFunctionError`` (a failing batch is
halved until the failing record is alone), ``MaximumRecordAgeInSeconds`` and an SQS
``DestinationConfig.OnFailure``, which receives Lambda's invocation record for what was given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.aws import client
from local.lambda_runtime import InvocationError, LambdaRuntime
from local.template import SQS_QUEUE_TYPE, Template

log = logging.getLogger("local.streams")

POLL_INTERVAL_SECONDS = 0.25  # Lambda polls each shard four times a second


@dataclass(frozen=True, slots=True)
class StreamMapping:
    function_id: str
    stream_arn: str
    batch_size: int = 100
    starting_position: str = "LATEST"
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
    for spec in template.functions.values():
        for event in spec.events_of_type("DynamoDB"):
            p = event.properties
            destination = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                "Destination"
            )
            mappings.append(
                StreamMapping(
                    function_id=spec.logical_id,
                    stream_arn=str(p["Stream"]),
                    batch_size=int(p.get("BatchSize", 100)),
                    starting_position=str(p.get("StartingPosition", "LATEST")),
                    max_retry_attempts=int(p.get("MaximumRetryAttempts", -1)),
                    max_record_age_seconds=int(p.get("MaximumRecordAgeInSeconds", -1)),
                    bisect_on_error=str(p.get("BisectBatchOnFunctionError", False)).lower()
                    == "true",
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


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A get_records record (boto3's shape) in the shape Lambda hands the function."""
    ddb = dict(record["dynamodb"])
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        ddb["ApproximateCreationDateTime"] = int(created.timestamp())
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
class _Shard:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    window: int = 0  # bisection: the next batch's size limit
    attempts: int = 0  # retries of the batch starting at pending[0]


class StreamPump:
    """Start with ``start()`` on the event loop; ``stop()`` ends every poller quietly."""

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        endpoint_url: str,
        *,
        poll_interval: float = POLL_INTERVAL_SECONDS,
        mappings: list[StreamMapping] | None = None,
    ) -> None:
        self.template = template
        self.runtime = runtime
        self.endpoint_url = endpoint_url
        self.poll_interval = poll_interval
        self.mappings = stream_mappings(template) if mappings is None else mappings
        self.stats: dict[str, PumpStats] = {m.function_id: PumpStats() for m in self.mappings}
        self._streams = client("dynamodbstreams", endpoint_url)
        self._sqs = client("sqs", endpoint_url)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        for mapping in self.mappings:
            shards = await asyncio.to_thread(self._open_shards, mapping)
            self._tasks.append(asyncio.create_task(self._run(mapping, shards)))

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def _open_shards(self, mapping: StreamMapping) -> list[_Shard]:
        description = self._streams.describe_stream(StreamArn=mapping.stream_arn)
        iterator_type = "TRIM_HORIZON" if mapping.starting_position == "TRIM_HORIZON" else "LATEST"
        return [
            _Shard(
                shard_id=shard["ShardId"],
                iterator=self._streams.get_shard_iterator(
                    StreamArn=mapping.stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType=iterator_type,
                )["ShardIterator"],
            )
            for shard in description["StreamDescription"]["Shards"]
        ]

    async def _run(self, mapping: StreamMapping, shards: list[_Shard]) -> None:
        while not self._stopping.is_set():
            busy = False
            for shard in shards:
                try:
                    busy = await self._step(mapping, shard) or busy
                except asyncio.CancelledError:
                    raise
                except Exception:  # the pump outlives a moto hiccup, as Lambda's poller does
                    log.exception("stream poll of %s failed", mapping.function_id)
            if not busy:
                await asyncio.sleep(self.poll_interval)

    async def _step(self, mapping: StreamMapping, shard: _Shard) -> bool:
        """Fetch if needed, invoke with one batch; True when records are still waiting."""
        if len(shard.pending) < mapping.batch_size and shard.iterator:
            response = await asyncio.to_thread(
                self._streams.get_records,
                ShardIterator=shard.iterator,
                Limit=1000,
            )
            shard.iterator = response.get("NextShardIterator")
            shard.pending += [
                lambda_record(r, mapping.stream_arn, self.template.region)
                for r in response.get("Records", [])
            ]
        self._expire(mapping, shard)
        if not shard.pending:
            return False
        size = mapping.batch_size if not shard.window else min(shard.window, mapping.batch_size)
        batch = shard.pending[:size]
        stats = self.stats[mapping.function_id]
        stats.batches += 1
        stats.records += len(batch)
        try:
            result = await self.runtime.invoke_async(mapping.function_id, {"Records": batch})
        except InvocationError as exc:
            stats.failed_invocations += 1
            await self._retry(mapping, shard, batch, f"{type(exc).__name__}: {exc}", whole=True)
            return True
        failed = _failed_sequence(result) if mapping.report_item_failures else None
        if failed is None:
            del shard.pending[: len(batch)]
            shard.attempts = 0
            shard.window = max(0, shard.window - len(batch)) if shard.window else 0
            return bool(shard.pending)
        stats.partial_failures += 1
        index = next(
            (i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == failed),
            0,
        )
        # Records before the lowest failure are checkpointed; the batch resumes there.
        if index:
            del shard.pending[:index]
            shard.attempts = 0
        await self._retry(mapping, shard, batch[index:], "ReportedBatchItemFailures")
        return True

    async def _retry(
        self,
        mapping: StreamMapping,
        shard: _Shard,
        batch: list[dict[str, Any]],
        reason: str,
        *,
        whole: bool = False,
    ) -> None:
        if mapping.bisect_on_error and len(batch) > 1:
            shard.window = max(1, len(batch) // 2)  # halving is not a retry attempt
            return
        shard.attempts += 1
        exhausted = 0 <= mapping.max_retry_attempts < shard.attempts
        if not exhausted:
            await asyncio.sleep(min(1.0, 0.05 * 2**shard.attempts))
            return
        # Given up: the batch (one record once bisected) goes to the on-failure destination.
        given_up = batch if (whole and not mapping.bisect_on_error) else batch[:1]
        del shard.pending[: len(given_up)]
        shard.attempts = 0
        shard.window = 0
        self.stats[mapping.function_id].discarded += len(given_up)
        await asyncio.to_thread(self._send_failure, mapping, shard, given_up, reason)

    def _expire(self, mapping: StreamMapping, shard: _Shard) -> None:
        if mapping.max_record_age_seconds < 0 or not shard.pending:
            return
        oldest = time.time() - mapping.max_record_age_seconds
        expired = 0
        for record in shard.pending:
            if record["dynamodb"].get("ApproximateCreationDateTime", time.time()) >= oldest:
                break
            expired += 1
        if expired:
            given_up = shard.pending[:expired]
            del shard.pending[:expired]
            self.stats[mapping.function_id].discarded += expired
            self._send_failure(mapping, shard, given_up, "RecordAgeExceeded")

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
