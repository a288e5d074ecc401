"""The stream pump resumes where it left off, as Lambda's event source mapping does: records
written while no pump ran are delivered when one starts again, and none that was delivered, or
given up per the failure policy, is delivered twice (local/stream_pump.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local.lambda_runtime import InvocationError
from local.stream_pump import StreamMapping, StreamPump
from local.template import Template
from tests import aio

pytestmark = pytest.mark.integration

FUNCTION = "BroadcasterFunction"


class RecordingRuntime:
    """The runtime's ``invoke_async``: records the keys of each batch; a batch holding a key
    ``failing`` picks fails as a whole."""

    def __init__(self, failing: Callable[[str], bool] = lambda _key: False) -> None:
        self.failing = failing
        self.keys: list[str] = []

    async def invoke_async(self, function_id: str, event: dict[str, Any]) -> Any:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        if any(self.failing(k) for k in keys):
            raise InvocationError(function_id, str(uuid.uuid4()), "failed on purpose")
        self.keys += keys
        return {"batchItemFailures": []}


class World:
    """A table with a stream of its own, and pumps reading it for a recording runtime."""

    def __init__(self, endpoint: str, **mapping: Any) -> None:
        self.endpoint = endpoint
        self.client = boto3.client("dynamodb", endpoint_url=endpoint)
        self.table = f"checkpoints-{uuid.uuid4().hex[:8]}"
        created = self.client.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.mapping = StreamMapping(
            function_id=FUNCTION,
            stream_arn=created["TableDescription"]["LatestStreamArn"],
            **mapping,
        )
        self.template = Template.load()

    def pump(self, runtime: RecordingRuntime, **options: Any) -> StreamPump:
        return StreamPump(
            self.template,
            runtime,  # type: ignore[arg-type]
            self.endpoint,
            poll_interval=0.05,
            mappings=[self.mapping],
            **options,
        )

    async def write(self, *keys: str) -> None:
        for key in keys:
            await asyncio.to_thread(
                self.client.put_item, TableName=self.table, Item={"pk": {"S": key}}
            )


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.025)  # polling the condition, not a wait for time


@pytest.mark.parametrize("starting_position", ["LATEST", "TRIM_HORIZON"])
def test_records_written_while_the_pump_was_stopped_are_delivered_once_it_starts_again(
    aws_endpoint: str, starting_position: str
) -> None:
    # Given a pump that delivered the first records of a stream (from either starting
    # position, which would lose the next records or repeat the first ones)
    world = World(aws_endpoint, starting_position=starting_position)
    runtime = RecordingRuntime()
    pump = world.pump(runtime)

    async def scenario() -> None:
        await pump.start()
        await world.write("a1", "a2", "a3")
        await _until(lambda: len(runtime.keys) >= 3)
        # When it stops, records are written, and it starts again
        await pump.stop()
        await world.write("b1", "b2", "b3")
        await pump.start()
        await _until(lambda: len(runtime.keys) >= 6)
        await pump.stop()

    aio.run(scenario())

    # Then every record was delivered once, in order
    assert runtime.keys == ["a1", "a2", "a3", "b1", "b2", "b3"]


def test_a_new_pump_given_the_checkpoints_resumes_where_the_old_one_stopped(
    aws_endpoint: str,
) -> None:
    # Given a pump that delivered a stream's first records, then crashed
    world = World(aws_endpoint)
    first, second = RecordingRuntime(), RecordingRuntime()
    old = world.pump(first)

    async def scenario() -> None:
        await old.start()
        await world.write("a1", "a2")
        await _until(lambda: len(first.keys) >= 2)
        await old.stop()
        # When records are written and a new pump starts with the old one's checkpoints
        await world.write("b1", "b2")
        new = world.pump(second, checkpoints=old.checkpoints)
        await new.start()
        await _until(lambda: len(second.keys) >= 2)
        await new.stop()

    aio.run(scenario())

    # Then the new pump delivered exactly what the old one had not
    assert first.keys == ["a1", "a2"]
    assert second.keys == ["b1", "b2"]


def test_a_record_given_up_is_not_delivered_again_after_a_restart(aws_endpoint: str) -> None:
    # Given a mapping from the trim horizon without retries, and a record that always fails
    world = World(aws_endpoint, starting_position="TRIM_HORIZON", max_retry_attempts=0)
    runtime = RecordingRuntime(failing=lambda key: key == "poison")
    pump = world.pump(runtime)

    async def scenario() -> None:
        await pump.start()
        await world.write("a1")
        await _until(lambda: len(runtime.keys) >= 1)
        await world.write("poison")
        await _until(lambda: pump.stats[FUNCTION].discarded >= 1)
        # When the pump restarts and a record follows
        await pump.stop()
        await world.write("b1")
        await pump.start()
        await _until(lambda: len(runtime.keys) >= 2)
        await pump.stop()

    aio.run(scenario())

    # Then the record given up was not tried again, and the others arrived once each
    assert runtime.keys == ["a1", "b1"]
    assert pump.stats[FUNCTION].discarded == 1


def test_with_lanes_the_checkpoint_waits_for_the_slowest_lane(aws_endpoint: str) -> None:
    # Given four lanes, and a key whose record fails until the pump is stopped, written before
    # others that go through in the other lanes
    world = World(aws_endpoint, batch_size=1, parallelization_factor=4)
    stuck = {"held": True}
    runtime = RecordingRuntime(failing=lambda key: key == "slow" and stuck["held"])
    pump = world.pump(runtime)
    others = [f"k{n}" for n in range(12)]

    async def scenario() -> None:
        await pump.start()
        await world.write("slow", *others)
        await _until(lambda: bool(runtime.keys) and pump.stats[FUNCTION].failed_invocations > 0)
        # When it restarts after the failures stop
        await pump.stop()
        stuck["held"] = False
        await pump.start()
        await _until(lambda: set(runtime.keys) >= {"slow", *others})
        await pump.stop()

    aio.run(scenario())

    # Then the record that had not gone through is delivered, once (records after it may come
    # twice: the checkpoint could not pass it, and delivery is at least once, as on Lambda)
    assert set(runtime.keys) == {"slow", *others}
    assert runtime.keys.count("slow") == 1
