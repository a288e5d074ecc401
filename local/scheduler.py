"""EventBridge Scheduler for the local stack: fires what is stored in moto, and the template's
rate and cron schedules, by invoking functions on the in-process Lambda runtime.

- One-time schedules (``at(yyyy-mm-ddThh:mm:ss)``) in the template's schedule groups fire at
  their time. With ``minute_jitter`` they fire anywhere within that minute, as AWS may, to prove
  the bid executor copes. ``ActionAfterCompletion: DELETE`` deletes the schedule after it fired;
  otherwise it stays (and fires once).
- Functions' ``Schedule``/``ScheduleV2`` events with ``rate(...)`` or ``cron(...)`` fire on
  their period (rate: from the stack's start; cron: at each matching UTC minute).

The target's ``Input`` is the event; the target ARN names a function of the template. Delivery
failures are logged; the retry policy and dead-letter queue are not simulated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.lambda_api import function_logical_id
from local.lambda_runtime import LambdaRuntime
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
class _Recurring:
    logical_id: str
    expression: str
    event: Any
    next_at: float = 0.0


class LocalScheduler:
    """Polls moto's schedules and the template's recurring ones; start with ``await start()``."""

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        scheduler_client: Any,
        *,
        minute_jitter: bool = False,
        poll_seconds: float = 0.25,
        rng: random.Random | None = None,
    ) -> None:
        self.template = template
        self.runtime = runtime
        self.client = scheduler_client
        self.minute_jitter = minute_jitter
        self.poll_seconds = poll_seconds
        self.rng = rng or random.Random()
        self.fired: list[tuple[str, float]] = []  # (schedule or function, when)
        self._due: dict[tuple[str, str, Any], float] = {}
        self._done: set[tuple[str, str, Any]] = set()
        self._recurring = self._template_schedules()
        self._task: asyncio.Task[None] | None = None
        self._last_cron_minute: int | None = None

    @property
    def groups(self) -> list[str]:
        return [self.template.refs[g] for g in self.template.resources(SCHEDULE_GROUP_TYPE)]

    def _template_schedules(self) -> list[_Recurring]:
        found = []
        for logical_id, spec in self.template.functions.items():
            for declared in spec.events:
                if declared.type not in ("Schedule", "ScheduleV2"):
                    continue
                props = declared.properties
                if str(props.get("State", "ENABLED")).upper() == "DISABLED" or (
                    props.get("Enabled") is False
                ):
                    continue
                payload = props.get("Input")
                expression = str(props.get("ScheduleExpression") or props.get("Schedule"))
                if isinstance(payload, str):
                    event: Any = json.loads(payload)
                elif declared.type == "Schedule":
                    event = scheduled_event(logical_id, self.template)
                else:
                    event = {}
                found.append(_Recurring(logical_id, expression, event))
        return found

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

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # the loop must outlive one bad poll (moto stopping, a bad schedule)
                log.exception("local scheduler tick failed")
            await asyncio.sleep(self.poll_seconds)

    def tick(self, now: float | None = None) -> int:
        """Fire everything due; returns how many invocations were made."""
        now = time.time() if now is None else now
        return self._one_time(now) + self._recurring_due(now)

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
        detail = self.client.get_schedule(Name=name, GroupName=group)
        self._done.add(key)
        self._due.pop(key, None)
        target = detail["Target"]
        logical_id = function_logical_id(self.template, target["Arn"])
        if logical_id is None:
            log.warning("schedule %s targets %s, not a function here", name, target["Arn"])
            return 0
        event = json.loads(target.get("Input") or "{}")
        self.runtime.submit(logical_id, event)
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
        self.runtime.submit(item.logical_id, item.event)
        self.fired.append((item.logical_id, now))
        return 1
