"""The stream pump against moto's Bids stream (the table created from template.yaml), with a
runtime that records what it is asked to invoke: Lambda's ParallelizationFactor, order per
partition key, and a failing key holding up only its own records."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from common.data.dynamo import to_item
from local.stream_pump import StreamMapping, StreamPump
from local.template import Template
from tests import aio
from tests.realtime_events import snipe
from tests.stack_env import get_settings

pytestmark = pytest.mark.integration

USERS = [f"user-{n}" for n in range(8)]
CHANGES = 3


class RecordingRuntime:
    """The runtime's ``invoke_async``: records each batch; a batch takes ``seconds``; the
    records ``failing`` picks are reported as batch item failures."""

    def __init__(self, failing: Callable[[dict[str, Any]], bool] = lambda _r: False) -> None:
        self.failing = failing
        self.batches: list[list[dict[str, Any]]] = []
        self.running = 0
        self.most_at_once = 0

    async def invoke_async(self, function_id: str, event: dict[str, Any]) -> Any:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.05)  # real time, on purpose: a run long enough for overlaps to show
        self.running -= 1
        self.batches.append(event["Records"])
        failed = [r for r in event["Records"] if self.failing(r)]
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed
            ]
        }

    def delivered(self) -> list[tuple[str, int]]:
        """(user, price) of each record the function did not fail, in the order the batches
        ended, each once: a batch resumed from a failure re-sends the records after it (at
        least once), which clients drop by eventId."""
        seen: dict[tuple[str, int], None] = {}
        for batch in self.batches:
            for r in batch:
                image = r["dynamodb"]["NewImage"]
                if not self.failing(r):
                    seen.setdefault((image["userId"]["S"], int(image["currentPrice"]["N"])), None)
        return list(seen)


def _stream_arn() -> str:
    table = boto3.client("dynamodb").describe_table(TableName=get_settings().bids_table)
    return str(table["Table"]["LatestStreamArn"])


def _run(
    runtime: RecordingRuntime, mapping: StreamMapping, done: Callable[[StreamPump], bool]
) -> StreamPump:
    async def scenario() -> StreamPump:
        endpoint = boto3.client("dynamodb").meta.endpoint_url
        pump = StreamPump(Template.load(), runtime, endpoint, mappings=[mapping])  # type: ignore[arg-type]
        await pump.start()
        await asyncio.to_thread(_write_changes)
        for _ in range(600):
            if done(pump):
                break
            await asyncio.sleep(0.05)  # polling until the pump delivered, not a wait for time
        await pump.stop()
        return pump

    return aio.run(scenario())


def _write_changes() -> None:
    client = boto3.client("dynamodb")
    for change in range(CHANGES):
        for user in USERS:
            item = snipe(user, bid="b", currentPrice=1000 + change)
            client.put_item(TableName=get_settings().bids_table, Item=to_item(item))


def _mapping(**fields: Any) -> StreamMapping:
    return StreamMapping(
        function_id="BroadcasterFunction",
        stream_arn=_stream_arn(),
        batch_size=4,
        report_item_failures=True,
        **fields,
    )


def test_a_parallelization_factor_runs_batches_of_one_shard_at_once_in_order_per_key(
    stack_resources, clean_tables
):
    # Given a mapping with ParallelizationFactor 4 and changes to eight users' snipes
    runtime = RecordingRuntime()
    # When the pump delivers them
    everything = len(USERS) * CHANGES
    pump = _run(
        runtime,
        _mapping(parallelization_factor=4),
        lambda _p: len(runtime.delivered()) >= everything,
    )
    # Then every change arrives once, each user's in the order written, several batches at once
    delivered = runtime.delivered()
    assert sorted(delivered) == sorted((u, 1000 + c) for u in USERS for c in range(CHANGES))
    for user in USERS:
        assert [p for u, p in delivered if u == user] == [1000 + c for c in range(CHANGES)]
    assert runtime.most_at_once > 1
    stats = pump.stats["BroadcasterFunction"]
    assert stats.peak_concurrency == runtime.most_at_once
    assert stats.records == len(USERS) * CHANGES
    assert stats.busy_seconds > 0


def test_without_a_factor_one_batch_runs_at_a_time(stack_resources, clean_tables):
    runtime = RecordingRuntime()
    _run(runtime, _mapping(), lambda _p: len(runtime.delivered()) >= len(USERS) * CHANGES)
    assert len(runtime.delivered()) == len(USERS) * CHANGES
    assert runtime.most_at_once == 1


def test_a_failing_key_holds_up_only_its_own_lane(stack_resources, clean_tables):
    # Given one user's records always fail (one retry, then given up, one record at a time)
    runtime = RecordingRuntime(failing=lambda r: r["dynamodb"]["Keys"]["userId"]["S"] == "user-0")
    mapping = _mapping(parallelization_factor=4, max_retry_attempts=1, bisect_on_error=True)
    # When the pump runs
    pump = _run(
        runtime,
        mapping,
        lambda p: (
            len(runtime.delivered()) >= (len(USERS) - 1) * CHANGES
            and p.stats["BroadcasterFunction"].discarded >= CHANGES
        ),
    )
    # Then every other user's changes arrive, in order, and user-0's are given up
    delivered = runtime.delivered()
    for user in USERS[1:]:
        assert [p for u, p in delivered if u == user] == [1000 + c for c in range(CHANGES)]
    assert all(u != "user-0" for u, _p in delivered)
    assert pump.stats["BroadcasterFunction"].discarded == CHANGES
