"""The local scheduler delivers as AWS does, at least once: a schedule may be delivered several
times, a failed asynchronous run is retried with its request id (Lambda's retries, per the
function's EventInvokeConfig) and then recorded in its OnFailure queue, and a delivery the
runtime refuses goes to the schedule's dead-letter queue after its RetryPolicy."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.aws import provision
from local.lambda_runtime import LambdaRuntime
from local.scheduler import LocalScheduler
from local.template import Template
from tests.integration.chaos import flaky_handlers
from tests.polling import eventually

TEMPLATE = Path(__file__).with_name("delivery_template.yaml")


@pytest.fixture(scope="module")
def delivery(aws_endpoint: str) -> Iterator[dict[str, Any]]:
    template = Template.load(TEMPLATE, name_prefix="delivery-")
    provision(template, aws_endpoint)
    runtime = LambdaRuntime(template, max_workers=8)
    yield {"template": template, "runtime": runtime}
    runtime.shutdown()


def _scheduler(world: dict[str, Any], **options: Any) -> LocalScheduler:
    return LocalScheduler(
        world["template"],
        world["runtime"],
        boto3.client("scheduler"),
        rng=random.Random(5),
        async_retry_delays=(0.2,),
        **options,
    )


def _schedule(
    world: dict[str, Any],
    name: str,
    event: dict[str, Any],
    ScheduleExpression: str = "at(2020-01-01T00:00:00)",  # boto3 spelling
    **target: Any,
) -> None:
    template = world["template"]
    boto3.client("scheduler").create_schedule(
        Name=name,
        GroupName=template.refs["Group"],
        ScheduleExpression=ScheduleExpression,
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": template.attributes[("FlakyFunction", "Arn")],
            "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
            "Input": json.dumps(event),
            **target,
        },
    )


def _messages(world: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = world["template"].refs[queue]
    found = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    for message in found:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_schedule_delivered_three_times_runs_three_times(delivery):
    # Given a scheduler that delivers every schedule three times, and a schedule that is due
    scheduler = _scheduler(delivery, deliveries=3, duplicate_spread_seconds=0.3)
    _schedule(delivery, "thrice", {"key": "thrice", "fail": "never"})
    # When it fires
    scheduler.tick()
    # and every delivery and run of it is over (a fourth would be pending or running)
    assert eventually(scheduler.idle)
    # Then the function ran three times, as three invocations, and the schedule is gone
    runs = flaky_handlers.runs_of("thrice")
    assert len(runs) == len(set(runs)) == 3
    assert (scheduler.stats.fired, scheduler.stats.deliveries) == (1, 3)
    assert scheduler.stats.duplicates == 2
    group = delivery["template"].refs["Group"]
    names = [
        s["Name"] for s in boto3.client("scheduler").list_schedules(GroupName=group)["Schedules"]
    ]
    assert "thrice" not in names


def test_a_failed_run_is_retried_once_with_its_request_id(delivery):
    # Given a function whose first run of an event fails (EventInvokeConfig: 1 retry)
    scheduler = _scheduler(delivery)
    _schedule(delivery, "once", {"key": "once", "fail": "once"})
    # When the schedule fires
    scheduler.tick()
    # and every run and retry of it is over (a third run would be pending or running)
    assert eventually(scheduler.idle)
    # Then Lambda's retry ran it again with the same request id, and nothing was given up
    first, retry = flaky_handlers.runs_of("once")
    assert first == retry
    assert (scheduler.stats.function_errors, scheduler.stats.async_retries) == (1, 1)
    assert _messages(delivery, "FailureQueue") == []


def test_a_run_that_keeps_failing_ends_in_the_on_failure_queue(delivery):
    # Given a function that fails every run of an event
    scheduler = _scheduler(delivery)
    _schedule(delivery, "always", {"key": "always", "fail": "always"})
    # When the schedule fires
    scheduler.tick()
    assert eventually(lambda: scheduler.stats.async_given_up == 1)
    # Then it ran twice (the run and its one retry) and Lambda's invocation record is queued
    assert len(flaky_handlers.runs_of("always")) == 2
    assert eventually(lambda: bool(_messages_peek(delivery)))
    [message] = _messages(delivery, "FailureQueue")
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"key": "always", "fail": "always"}


def _messages_peek(world: dict[str, Any]) -> bool:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=world["template"].refs["FailureQueue"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"]) > 0


class RefusingRuntime:
    """A Lambda service that cannot take the event at all (Invoke fails)."""

    def __init__(self) -> None:
        self.refused = 0

    def submit(self, logical_id: str, event: Any) -> None:
        self.refused += 1
        raise RuntimeError("no capacity")


def test_an_undeliverable_schedule_is_retried_then_dead_lettered(delivery):
    # Given a runtime that refuses every invocation, and a schedule with one retry and a DLQ
    runtime = RefusingRuntime()
    scheduler = LocalScheduler(delivery["template"], runtime, boto3.client("scheduler"))  # type: ignore[arg-type]
    template = delivery["template"]
    _schedule(
        delivery,
        "refused",
        {"key": "refused"},
        RetryPolicy={"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
        DeadLetterConfig={"Arn": template.attributes[("DeadLetterQueue", "Arn")]},
    )
    # When it fires
    scheduler.tick()
    assert eventually(lambda: scheduler.stats.dead_lettered == 1)
    # Then it was tried twice, and its input is in the dead-letter queue with the error
    assert runtime.refused == 2
    [message] = _messages(delivery, "DeadLetterQueue")
    assert json.loads(message["Body"]) == {"key": "refused"}
    assert "no capacity" in message["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]


def test_between_listings_a_deleted_or_moved_schedule_does_not_fire(delivery):
    # Given two schedules due in a minute, listed by the scheduler
    scheduler = _scheduler(delivery)
    group = delivery["template"].refs["Group"]
    client = boto3.client("scheduler")
    at = int(time.time()) + 60
    expression = f"at({datetime.fromtimestamp(at, UTC):%Y-%m-%dT%H:%M:%S})"
    for name in ("cancelled", "moved"):
        _schedule(delivery, name, {"key": name}, ScheduleExpression=expression)
    scheduler.tick(now=at - 30)
    # When one is deleted and the other moved an hour later, before the next listing
    client.delete_schedule(Name="cancelled", GroupName=group)
    moved = client.get_schedule(Name="moved", GroupName=group)
    later = f"at({datetime.fromtimestamp(at + 3600, UTC):%Y-%m-%dT%H:%M:%S})"
    client.update_schedule(
        Name="moved",
        GroupName=group,
        ScheduleExpression=later,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=moved["Target"],
    )
    # Then at the old time neither fires, from memory or after listing again
    assert scheduler.fire_known(now=at + 1) == 0
    assert scheduler.tick(now=at + 1) == 0
    assert scheduler.stats.fired == 0
    # And the moved one fires at its new time
    assert scheduler.tick(now=at + 3601) == 1
