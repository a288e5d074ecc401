"""EventBridge Scheduler for the local stack: fires what is stored in moto, and the template's
rate and cron schedules, by invoking functions on the in-process Lambda runtime.

- One-time schedules (``at(yyyy-mm-ddThh:mm:ss)``) in the template's schedule groups fire at
  their time. With ``minute_jitter`` they fire anywhere within that minute, as AWS may, to prove
  the bid executor copes. ``ActionAfterCompletion: DELETE`` deletes the schedule after it fired;
  otherwise it stays (and fires once).
- Functions' ``Schedule``/``ScheduleV2`` events with ``rate(...)`` or ``cron(...)`` fire on
  their period (rate: from the stack's start; cron: at each matching UTC minute).

The target's ``Input`` is the event; the target ARN names a function of the template.

Delivery is what AWS does, at least once:
- ``deliveries=N`` delivers each one-time schedule N times, the copies ``duplicate_spread_seconds``
  apart at most (drawn uniformly, so some run concurrently), as at-least-once delivery may.
- Every invocation is asynchronous (Lambda's ``Event`` type, through the stack's
  :class:`~local.lambda_runtime.EventInvoker`, as the Invoke API's are) and gets Lambda's
  retries: a run that fails is retried with the *same request id* after ``async_retry_delays``
  (Lambda waits 1 then 2 minutes), at most the function's ``EventInvokeConfig.MaximumRetryAttempts``
  times (default 2) and not past its ``MaximumEventAgeInSeconds``; then the invocation record goes
  to its ``DestinationConfig.OnFailure`` SQS queue.
- A delivery the runtime refuses (it cannot even queue it) is retried per the schedule's
  ``RetryPolicy`` (backoff 1, 2, 4... s, at most 60), then sent to its ``DeadLetterConfig`` queue.
``stats`` counts all of it. moto is listed every ``list_seconds`` (2 s); in between, the
schedules already listed fire on time from memory (checked against moto when they do).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.aws import client
from local.lambda_api import function_logical_id
from local.lambda_runtime import (
    LAMBDA_RETRY_DELAYS,
    AsyncStats,
    EventInvoker,
    LambdaRuntime,
    Timers,
    send_to_queue,
)
from local.template import SCHEDULE_GROUP_TYPE, Template

log = logging.getLogger("local.scheduler")

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
# EventBridge Scheduler's defaults when a target has no RetryPolicy.
DEFAULT_DELIVERY_RETRIES = 185
DEFAULT_DELIVERY_AGE_SECONDS = 86_400


def at_time(expression: str, timezone: str = "UTC") -> float | None:
    """Epoch seconds of a one-time ``at()`` expression (UTC only, as the product writes them)."""
    found = _AT.match(expression.strip())
    if not found:
        return None
    if timezone not in ("UTC", "Etc/UTC"):
        from zoneinfo import ZoneInfo

        zone: Any = ZoneInfo(timezone)
    else:
        zone = UTC
    return datetime.fromisoformat(found.group(1)).replace(tzinfo=zone).timestamp()


def rate_seconds(expression: str) -> int | None:
    found = _RATE.match(expression.strip())
    if not found:
        return None
    return int(found.group(1)) * _UNITS[found.group(2).rstrip("s")]


def _field_matches(spec: str, value: int, names: dict[str, int] | None = None) -> bool:
    for part in spec.upper().split(","):
        if part in ("*", "?"):
            return True
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            low, high = 0, 10_000
        elif "-" in part:
            a, b = part.split("-", 1)
            low, high = _number(a, names), _number(b, names)
        else:
            low = _number(part, names)
            high = low if step == 1 else 10_000
        if low <= value <= high and (value - low) % step == 0:
            return True
    return False


def _number(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    return int(text.rstrip("L#"))


def cron_matches(expression: str, moment: datetime) -> bool:
    """``cron(min hour day-of-month month day-of-week year)`` against a UTC minute."""
    inner = expression.strip()[len("cron(") : -1].split()
    if len(inner) != 6:
        raise ValueError(f"not an EventBridge cron expression: {expression}")
    minute, hour, dom, month, dow, year = inner
    weekday = (moment.isoweekday() % 7) + 1  # SUN=1 ... SAT=7
    return (
        _field_matches(minute, moment.minute)
        and _field_matches(hour, moment.hour)
        and _field_matches(dom, moment.day)
        and _field_matches(month, moment.month, _MONTHS)
        and _field_matches(dow, weekday, _DAYS)
        and _field_matches(year, moment.year)
    )


def scheduled_event(logical_id: str, template: Template) -> dict[str, Any]:
    """What an EventBridge rule (SAM ``Schedule`` event) without Input delivers."""
    return {
        "version": "0",
        "id": "local-scheduled-event",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": template.account_id,
        "region": template.region,
        "resources": [f"arn:aws:events:{template.region}:{template.account_id}:rule/{logical_id}"],
        "detail": {},
    }


@dataclass
class SchedulerStats(AsyncStats):
    """What the scheduler did, for a chaos run's report; with :class:`AsyncStats`, what Lambda
    did with the runs it invoked that failed."""

    fired: int = 0  # one-time schedules that came due
    deliveries: int = 0  # invocations made for them, duplicates included
    duplicates: int = 0  # deliveries beyond the first
    delivery_retries: int = 0  # deliveries the runtime refused, tried again
    dead_lettered: int = 0  # deliveries given up (to the schedule's dead-letter queue, if any)


@dataclass
class _Recurring:
    logical_id: str
    expression: str
    event: Any
    next_at: float = 0.0


class LocalScheduler:
    """Polls moto's schedules and the template's recurring ones; start with ``await start()``.

    ``events``: the Lambda service's asynchronous invocation, shared with the Invoke API; without
    it the scheduler has one of its own, with ``async_retry_delays``."""

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        scheduler_client: Any,
        *,
        minute_jitter: bool = False,
        poll_seconds: float = 0.25,
        list_seconds: float = 2.0,
        rng: random.Random | None = None,
        deliveries: int = 1,
        duplicate_spread_seconds: float = 1.0,
        async_retry_delays: tuple[float, ...] = LAMBDA_RETRY_DELAYS,
        events: EventInvoker | None = None,
    ) -> None:
        self.template = template
        self.runtime = runtime
        self.client = scheduler_client
        self.minute_jitter = minute_jitter
        self.poll_seconds = poll_seconds
        # Listing a group costs moto ~0.1 ms per schedule (1,200: ~140 ms): list this often and
        # fire what is known, every poll, in between. Snipes schedule >= 30 s ahead.
        self.list_seconds = list_seconds
        self._listed_at = 0.0
        self.rng = rng or random.Random()
        # At-least-once: each one-time schedule is delivered this many times.
        self.deliveries = deliveries
        self.duplicate_spread_seconds = duplicate_spread_seconds
        self._sqs = client("sqs", scheduler_client.meta.endpoint_url)
        self._owns_events = events is None
        self.events = events or EventInvoker(
            template, runtime, self._sqs, retry_delays=async_retry_delays
        )
        self.stats = SchedulerStats()
        self._timers = Timers()
        self._lock = threading.Lock()
        self.fired: list[tuple[str, float]] = []  # (schedule or function, when)
        self._due: dict[tuple[str, str, Any], float] = {}
        self._done: set[tuple[str, str, Any]] = set()
        self._recurring = self._template_schedules()
        self._task: asyncio.Task[None] | None = None
        self._last_cron_minute: int | None = None

    @property
    def async_retry_delays(self) -> tuple[float, ...]:
        """Seconds before each Lambda retry (the last one repeats); tests shorten them."""
        return self.events.retry_delays

    @async_retry_delays.setter
    def async_retry_delays(self, delays: tuple[float, ...]) -> None:
        self.events.retry_delays = delays

    @property
    def groups(self) -> list[str]:
        return [self.template.refs[g] for g in self.template.resources(SCHEDULE_GROUP_TYPE)]

    def _template_schedules(self) -> list[_Recurring]:
        found = []
        for schedule in self.template.schedules:
            if not schedule.enabled:
                continue
            if isinstance(schedule.payload, str):
                event: Any = json.loads(schedule.payload)
            elif schedule.from_rule:
                event = scheduled_event(schedule.function_id, self.template)
            else:
                event = {}
            found.append(_Recurring(schedule.function_id, schedule.expression, event))
        return found

    def idle(self) -> bool:
        """Every delivery of what has fired made, and every run and Lambda retry of them over:
        until something else fires, nothing more will run."""
        return self._timers.pending == 0 and self.events.idle()

    async def start(self) -> None:
        now = time.time()
        for item in self._recurring:
            seconds = rate_seconds(item.expression)
            if seconds:
                item.next_at = now + seconds
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._timers.cancel()
        if self._owns_events:
            self.events.shutdown()

    async def _loop(self) -> None:
        while True:
            try:
                if time.time() - self._listed_at >= self.list_seconds:
                    await asyncio.to_thread(self.tick)
                else:
                    await asyncio.to_thread(self.fire_known)
            except Exception:  # the loop must outlive one bad poll (moto stopping, a bad schedule)
                log.exception("local scheduler tick failed")
            await asyncio.sleep(self.poll_seconds)

    def tick(self, now: float | None = None) -> int:
        """List the schedules and fire everything due; returns how many invocations were made."""
        self._listed_at = time.time()
        now = time.time() if now is None else now
        return self._one_time(now) + self._recurring_due(now)

    def fire_known(self, now: float | None = None) -> int:
        """Fire what is due among the schedules already listed, and the recurring ones."""
        now = time.time() if now is None else now
        due = [key for key, at in list(self._due.items()) if at <= now]
        fired = 0
        for group, name, modified in due:
            fired += self._maybe_fire(group, {"Name": name, "LastModificationDate": modified}, now)
        return fired + self._recurring_due(now)

    def _one_time(self, now: float) -> int:
        fired = 0
        for group in self.groups:
            pages = self.client.get_paginator("list_schedules").paginate(GroupName=group)
            for page in pages:
                for summary in page.get("Schedules", []):
                    fired += self._maybe_fire(group, summary, now)
        return fired

    def _maybe_fire(self, group: str, summary: dict[str, Any], now: float) -> int:
        name = summary["Name"]
        key = (group, name, summary.get("LastModificationDate"))
        if key in self._done:
            return 0
        if key not in self._due:
            detail = self.client.get_schedule(Name=name, GroupName=group)
            at = at_time(detail["ScheduleExpression"], detail.get("ScheduleExpressionTimezone"))
            if at is None or detail.get("State", "ENABLED") != "ENABLED":
                self._done.add(key)
                return 0
            if self.minute_jitter:
                at = at - at % 60 + self.rng.uniform(0, 60)
            self._due[key] = at
        if self._due[key] > now:
            return 0
        self._done.add(key)
        self._due.pop(key, None)
        try:
            detail = self.client.get_schedule(Name=name, GroupName=group)
        except self.client.exceptions.ResourceNotFoundException:
            return 0  # deleted since it was listed (a cancelled snipe)
        if detail.get("LastModificationDate") != key[2]:
            return 0  # changed since it was listed: the next listing has it
        target = detail["Target"]
        logical_id = function_logical_id(self.template, target["Arn"])
        if logical_id is None:
            log.warning("schedule %s targets %s, not a function here", name, target["Arn"])
            return 0
        event = json.loads(target.get("Input") or "{}")
        self._count("fired")
        for copy in range(max(1, self.deliveries)):
            delay = self.rng.uniform(0, self.duplicate_spread_seconds) if copy else 0.0
            if copy:
                self._count("duplicates")
            self._timers.later(delay, lambda: self._deliver(name, target, logical_id, event, now))
        self.fired.append((name, now))
        log.info("schedule %s fired %s", name, logical_id)
        if detail.get("ActionAfterCompletion") == "DELETE":
            with contextlib.suppress(self.client.exceptions.ResourceNotFoundException):
                self.client.delete_schedule(Name=name, GroupName=group)
        return 1

    def _recurring_due(self, now: float) -> int:
        fired = 0
        minute = int(now // 60)
        new_minute = self._last_cron_minute is not None and minute != self._last_cron_minute
        for item in self._recurring:
            seconds = rate_seconds(item.expression)
            if seconds:
                if now >= item.next_at:
                    item.next_at = now + seconds
                    fired += self._fire_recurring(item, now)
            elif item.expression.startswith("cron(") and new_minute:
                moment = datetime.fromtimestamp(minute * 60, UTC)
                if cron_matches(item.expression, moment):
                    fired += self._fire_recurring(item, now)
        self._last_cron_minute = minute
        return fired

    def _fire_recurring(self, item: _Recurring, now: float) -> int:
        self.events.invoke(item.logical_id, item.event, stats=self.stats)
        self.fired.append((item.logical_id, now))
        return 1

    # ---- delivery

    def _deliver(
        self,
        name: str,
        target: dict[str, Any],
        logical_id: str,
        event: Any,
        due: float,
        attempt: int = 0,
    ) -> None:
        """One delivery of a schedule: an asynchronous invocation; if the runtime refuses it,
        the schedule's RetryPolicy, then its dead-letter queue."""
        if attempt == 0:
            self._count("deliveries")
        try:
            self.events.invoke(logical_id, event, stats=self.stats)
            return
        except Exception as exc:  # the runtime refused the event (shut down, unknown function)
            error = f"{type(exc).__name__}: {exc}"
        policy = target.get("RetryPolicy") or {}
        retries = int(policy.get("MaximumRetryAttempts", DEFAULT_DELIVERY_RETRIES))
        max_age = int(policy.get("MaximumEventAgeInSeconds", DEFAULT_DELIVERY_AGE_SECONDS))
        delay = min(60.0, 2.0**attempt)
        if attempt < retries and time.time() + delay - due <= max_age:
            self._count("delivery_retries")
            self._timers.later(
                delay, lambda: self._deliver(name, target, logical_id, event, due, attempt + 1)
            )
            return
        log.warning("schedule %s not delivered after %d attempts: %s", name, attempt + 1, error)
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        if queue:
            self._send(
                queue,
                target.get("Input") or "{}",
                {"ERROR_CODE": "InvocationFailed", "ERROR_MESSAGE": error, "SCHEDULE": name},
            )
        self._count("dead_lettered")  # once it is in the queue: a reader of the count may look

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _send(self, queue_arn: str, body: str, attributes: dict[str, str] | None = None) -> None:
        send_to_queue(self.template, self._sqs, queue_arn, body, attributes)
