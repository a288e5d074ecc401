"""When the bid executor wakes: EventBridge Scheduler one-time schedules, or an immediate invoke.

EventBridge Scheduler invokes a target anywhere within the scheduled minute, so a schedule never
aims at the fire instant itself: it wakes the executor in a whole minute that ends at least
``WAKE_LEAD_SECONDS`` before the fire time, and the executor does the precise waiting. A snipe
too close to its fire time for such a minute invokes the executor asynchronously at once.

Schedules are named after the bidId (``snipe-<bidId>``, the follow-up that learns the outcome
``snipe-<bidId>-outcome``), live in their own group, run once (``at()`` in UTC, flexible window
OFF) and delete themselves after running. A duplicate or early schedule is harmless: the
executor's conditional claim is the exactly-once guard, and it re-schedules itself when woken
too early. A missing one is not, so callers treat a failed create as a failed request.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.data.users import ACCOUNT_DELETED
from common.errors import AccountDeletedError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient

# The executor is awake at least this long before the fire time: enough to make sure the
# user's token is valid, measure eBay's clock and latency, and recover from a slow cold start.
WAKE_LEAD_SECONDS = 90
# Scheduler's precision: the target runs anywhere within the scheduled minute.
SCHEDULER_PRECISION_SECONDS = 60
# Closer than this to the fire time, the executor is invoked at once instead of scheduled: the
# earliest usable minute would leave the schedule less than half a minute in the future.
INVOKE_NOW_WITHIN_SECONDS = 240
# A schedule's delivery is retried this often, and not after this age (Scheduler's minimum is
# 60 s): a snipe woken later than that has missed its auction anyway.
RETRY_ATTEMPTS = 3
MAX_EVENT_AGE_SECONDS = 300
NAME_PREFIX = "snipe-"
OUTCOME_SUFFIX = "-outcome"
MAX_NAME_LENGTH = 64


class ScheduleError(RetryableError):
    """EventBridge Scheduler (or Lambda) refused or could not be reached."""


def schedule_name(bid_id: str, outcome: bool = False) -> str:
    name = f"{NAME_PREFIX}{bid_id}{OUTCOME_SUFFIX if outcome else ''}"
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"schedule name longer than {MAX_NAME_LENGTH}: {name}")
    return name


def wake_minute(fire_at: int) -> int:
    """The start (epoch s) of the last whole minute that ends ``WAKE_LEAD_SECONDS`` before
    ``fire_at``: however late in it Scheduler fires, the executor wakes in time."""
    latest_start = fire_at - WAKE_LEAD_SECONDS - SCHEDULER_PRECISION_SECONDS
    return latest_start - latest_start % SCHEDULER_PRECISION_SECONDS


def needs_immediate_invoke(fire_at: int, now: float) -> bool:
    return fire_at - now <= INVOKE_NOW_WITHIN_SECONDS


def at_expression(epoch_seconds: int) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return f"at({moment:%Y-%m-%dT%H:%M:%S})"


def executor_event(user_id: str, bid_id: str, purpose: str = "snipe") -> dict[str, str]:
    """What the executor receives, from a schedule or an immediate invoke."""
    return {"userId": user_id, "bidId": bid_id, "purpose": purpose}


class SnipeScheduler(Protocol):
    """The port the REST logic and the executor use; :class:`EventBridgeSnipeScheduler`
    is the adapter, tests pass a fake."""

    def wake(self, user_id: str, bid_id: str, fire_at: int, now: float) -> str: ...

    def check_outcome_at(self, user_id: str, bid_id: str, at: int) -> None: ...

    def cancel(self, bid_ids: Iterable[str]) -> None: ...


@dataclass(frozen=True)
class UnlessOwnerDeleted:
    """A :class:`SnipeScheduler` whose new schedules are taken back if their owner's account
    deletion began meanwhile (AccountDeletedError then).

    An account deletion marks the profile, then deletes the schedules of the snipes it finds,
    then the snipes. A schedule made after that sweep (by POST /bids, or by an executor that
    read the snipe just before) would outlive the account until it fired. The mark is set
    before the sweep, so whenever a schedule came too late, ``owner_deleted`` (a strongly
    consistent read of the profile) sees the mark after it, and the schedule goes."""

    inner: SnipeScheduler
    owner_deleted: Callable[[str], bool]

    def wake(self, user_id: str, bid_id: str, fire_at: int, now: float) -> str:
        how = self.inner.wake(user_id, bid_id, fire_at, now)
        self._unless_deleted(user_id, bid_id)
        return how

    def check_outcome_at(self, user_id: str, bid_id: str, at: int) -> None:
        self.inner.check_outcome_at(user_id, bid_id, at)
        self._unless_deleted(user_id, bid_id)

    def cancel(self, bid_ids: Iterable[str]) -> None:
        self.inner.cancel(bid_ids)

    def _unless_deleted(self, user_id: str, bid_id: str) -> None:
        if self.owner_deleted(user_id):
            self.inner.cancel([bid_id])
            raise AccountDeletedError(ACCOUNT_DELETED)


@dataclass(frozen=True)
class SchedulerTarget:
    group_name: str
    executor_arn: str
    role_arn: str
    dead_letter_arn: str | None = None


@functools.cache
def default_scheduler_client() -> EventBridgeSchedulerClient:
    return boto3.client("scheduler", config=aws.CONFIG)


def default_lambda_client() -> LambdaClient:
    """One client per container and Lambda endpoint: the endpoint never changes on AWS, but a
    test process starts local stacks (each its own ``AWS_ENDPOINT_URL_LAMBDA``) one by one."""
    return _lambda_client(os.environ.get("AWS_ENDPOINT_URL_LAMBDA"))


@functools.cache
def _lambda_client(endpoint: str | None) -> LambdaClient:
    return boto3.client("lambda", config=aws.CONFIG)


class EventBridgeSnipeScheduler:
    """Creates, moves and deletes a snipe's one-time schedules; invokes at once when too late."""

    def __init__(
        self,
        target: SchedulerTarget,
        client: EventBridgeSchedulerClient | None = None,
        lambda_client: LambdaClient | None = None,
    ) -> None:
        self.target = target
        self._client = client
        self._lambda = lambda_client

    @property
    def client(self) -> EventBridgeSchedulerClient:
        if self._client is None:
            self._client = default_scheduler_client()
        return self._client

    @property
    def lambda_client(self) -> LambdaClient:
        if self._lambda is None:
            self._lambda = default_lambda_client()
        return self._lambda

    def wake(self, user_id: str, bid_id: str, fire_at: int, now: float) -> str:
        """Make sure the executor wakes in time for ``fire_at``; returns how ("schedule" or
        "invoke"). Creating a schedule that exists moves it (a changed lead time)."""
        if needs_immediate_invoke(fire_at, now):
            invoke_event(
                self.lambda_client,
                self.target.executor_arn,
                executor_event(user_id, bid_id),
            )
            return "invoke"
        self._put(schedule_name(bid_id), wake_minute(fire_at), executor_event(user_id, bid_id))
        return "schedule"

    def check_outcome_at(self, user_id: str, bid_id: str, at: int) -> None:
        self._put(
            schedule_name(bid_id, outcome=True), at, executor_event(user_id, bid_id, "outcome")
        )

    def cancel(self, bid_ids: Iterable[str]) -> None:
        """Delete the snipes' schedules; one already gone (ran, or never made) is fine."""
        for bid_id in bid_ids:
            for name in (schedule_name(bid_id), schedule_name(bid_id, outcome=True)):
                self._delete(name)

    # ---- internals

    def _request(self, name: str, at: int, event: dict[str, str]) -> dict[str, Any]:
        target: dict[str, Any] = {
            "Arn": self.target.executor_arn,
            "RoleArn": self.target.role_arn,
            "Input": json.dumps(event, separators=(",", ":")),
            "RetryPolicy": {
                "MaximumRetryAttempts": RETRY_ATTEMPTS,
                "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
            },
        }
        if self.target.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.target.dead_letter_arn}
        return {
            "Name": name,
            "GroupName": self.target.group_name,
            "ScheduleExpression": at_expression(at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Target": target,
        }

    def _put(self, name: str, at: int, event: dict[str, str]) -> None:
        request = self._request(name, at, event)
        try:
            try:
                self.client.create_schedule(**request)
            except ClientError as exc:
                if _code(exc) != "ConflictException":
                    raise
                self.client.update_schedule(**request)
        except (ClientError, BotoCoreError) as exc:
            raise ScheduleError(f"could not schedule {name}") from exc

    def _delete(self, name: str) -> None:
        try:
            self.client.delete_schedule(Name=name, GroupName=self.target.group_name)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return
            raise ScheduleError(f"could not delete schedule {name}") from exc
        except BotoCoreError as exc:
            raise ScheduleError(f"could not delete schedule {name}") from exc


def invoke_event(client: LambdaClient, function_name: str, payload: dict[str, Any]) -> None:
    """An asynchronous (Event) invocation: Lambda queues it and answers 202 at once."""
    try:
        client.invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(payload, separators=(",", ":")).encode(),
        )
    except (ClientError, BotoCoreError) as exc:
        raise ScheduleError(f"could not invoke {function_name}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
