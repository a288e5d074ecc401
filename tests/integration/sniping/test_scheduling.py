"""Snipe schedules in moto's EventBridge Scheduler, the local scheduler that fires them, and the
immediate invoke through Lambda's Invoke API."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from common.scheduling import (
    EventBridgeSnipeScheduler,
    SchedulerTarget,
    schedule_name,
    wake_minute,
)
from local.scheduler import LocalScheduler, cron_matches
from tests.stack_env import get_settings


class FakeRuntime:
    def __init__(self) -> None:
        self.submitted: list[tuple[str, Any]] = []

    def submit(self, logical_id: str, event: Any) -> None:
        self.submitted.append((logical_id, event))


@pytest.fixture
def scheduler(stack_resources) -> EventBridgeSnipeScheduler:
    s = get_settings()
    return EventBridgeSnipeScheduler(
        SchedulerTarget(
            group_name=s.schedule_group_name,
            executor_arn=s.bid_executor_arn,
            role_arn=s.scheduler_role_arn,
            dead_letter_arn=s.snipe_dlq_arn,
        )
    )


def _names(group: str) -> set[str]:
    client = boto3.client("scheduler")
    return {s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"]}


def test_a_snipe_far_from_its_end_gets_a_one_time_schedule_a_whole_minute_early(scheduler):
    # Given a snipe firing in an hour
    fire_at = 1_900_000_000
    # When its wake-up is arranged
    how = scheduler.wake("user-a", "b1", fire_at, now=fire_at - 3600)
    # Then a one-time schedule wakes the executor in a minute ending >= 90 s before firing
    detail = boto3.client("scheduler").get_schedule(
        Name=schedule_name("b1"), GroupName=scheduler.target.group_name
    )
    assert how == "schedule"
    assert wake_minute(fire_at) % 60 == 0
    assert fire_at - 210 <= wake_minute(fire_at) <= fire_at - 150
    assert detail["ScheduleExpression"].startswith("at(")
    assert detail["ScheduleExpressionTimezone"] == "UTC"
    assert detail["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert detail["ActionAfterCompletion"] == "DELETE"
    target = detail["Target"]
    assert target["Arn"].endswith("bid-executor")
    assert json.loads(target["Input"]) == {"userId": "user-a", "bidId": "b1", "purpose": "snipe"}
    assert target["DeadLetterConfig"]["Arn"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    # And arranging it again (a changed lead) moves it instead of failing
    scheduler.wake("user-a", "b1", fire_at + 60, now=fire_at - 3600)
    scheduler.cancel(["b1"])
    assert schedule_name("b1") not in _names(scheduler.target.group_name)


def test_the_wake_minute_is_the_latest_whose_every_invocation_is_90_s_early():
    # Given every fire time over two minutes (Scheduler may invoke anywhere in the minute)
    for fire_at in range(1_900_000_000, 1_900_000_120):
        minute = wake_minute(fire_at)
        # Then even the minute's last instant is at least 90 s before the fire time
        assert minute + 60 <= fire_at - 90
        # And the next minute could invoke less than 90 s before it: no later minute is safe,
        # so no rule at this precision keeps the executor awake for less
        assert minute + 120 > fire_at - 90


def test_a_snipe_close_to_its_end_invokes_the_executor_at_once(scheduler, lambda_invocations):
    lambda_invocations.clear()
    how = scheduler.wake("user-a", "b2", 1_900_000_000, now=1_900_000_000 - 100)
    assert how == "invoke"
    (call,) = lambda_invocations.invocations
    assert call.invocation_type == "Event"
    assert call.function_name.endswith("bid-executor")
    assert call.payload["bidId"] == "b2"


def test_the_local_scheduler_fires_due_schedules_and_deletes_them(stack_resources, scheduler):
    # Given a schedule due at a known minute and the template's rate schedules
    runtime = FakeRuntime()
    client = boto3.client("scheduler")
    local = LocalScheduler(stack_resources.template, runtime, client)  # type: ignore[arg-type]
    scheduler.wake("user-a", "b3", 1_900_000_000, now=1_800_000_000)
    due = wake_minute(1_900_000_000)
    # When the clock has not reached it, nothing fires
    local.tick(now=due - 1)
    assert not [e for _, e in runtime.submitted if e.get("bidId") == "b3"]
    # When it has, the executor runs with the snipe's keys and the schedule is deleted
    local.tick(now=due + 0.5)
    fired = [(f, e) for f, e in runtime.submitted if isinstance(e, dict) and e.get("bidId") == "b3"]
    assert fired == [
        ("BidExecutorFunction", {"userId": "user-a", "bidId": "b3", "purpose": "snipe"})
    ]
    assert schedule_name("b3") not in _names(scheduler.target.group_name)


def test_the_local_scheduler_can_fire_anywhere_within_the_minute(stack_resources, scheduler):
    import random

    runtime = FakeRuntime()
    local = LocalScheduler(
        stack_resources.template,
        runtime,  # type: ignore[arg-type]
        boto3.client("scheduler"),
        minute_jitter=True,
        rng=random.Random(7),
    )
    scheduler.wake("user-a", "b4", 1_900_000_000, now=1_800_000_000)
    minute = wake_minute(1_900_000_000)
    local.tick(now=minute - 1)
    local.tick(now=minute + 60)
    assert [e["bidId"] for _, e in runtime.submitted if isinstance(e, dict) and "bidId" in e] == [
        "b4"
    ]


def test_cron_expressions_match_utc_minutes():
    from datetime import UTC, datetime

    monday_noon = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert cron_matches("cron(0 12 * * ? *)", monday_noon)
    assert cron_matches("cron(*/15 * ? * MON-FRI *)", monday_noon)
    assert not cron_matches("cron(5 12 * * ? *)", monday_noon)
    assert not cron_matches("cron(0 12 ? * SAT,SUN *)", monday_noon)
