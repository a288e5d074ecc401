"""PriceUpdaterFunction (every minute): current prices, smart alerts and countdown phases.

See ``common.price_polls`` for the cadence, the budget and the alert rules. A run is one round
and ends: fresher prices in an auction's final minutes are pulled by an open dashboard
(``refreshPrices`` on the WebSocket), whose rounds' pace the run sets. Its eBay calls stop
SAFETY_MS before its Timeout, and before its scheduled minute (the event's ``time``) is over.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import price_polls as logic
from common.clock import Clock
from common.handler import settings_validated
from common.observability import logger, metrics
from workers.composition import PriceUpdaterSettings, price_updater_ports

clock: Clock = time.time
# Stop starting eBay calls this long before the function's timeout: a round's call is bounded
# by the deadline, and its writes by logic.WRITE_GRACE_SECONDS after it.
SAFETY_MS = 5000
# The schedule's period: a run's calls stop this long after its scheduled instant at most, less
# ROUND_SECONDS, so that it is done when the next one starts.
PERIOD_SECONDS = 60
ROUND_SECONDS = 2
# A custom metric costs $0.30 a month for every hour it is published in: all eleven counts a
# minute were $3.30 a month, more than a personal stack's whole budget (docs/deployment.md,
# "Cost"). The run's counts are in its "price update run" log line, which the operations
# dashboard queries; metrics are the shortfalls only, and only in the minutes they happen.
METRICS = ("failures", "itemsNotPolled", "itemsOverBudget")


def deadline_of(event: dict[str, Any], context: LambdaContext | None) -> float | None:
    """When the run stops starting eBay calls: SAFETY_MS before its Timeout, and before the next
    scheduled run when the event says when this one was scheduled."""
    if context is None:
        return None
    deadline = clock() + max(0, context.get_remaining_time_in_millis() - SAFETY_MS) / 1000
    scheduled = event.get("time")
    if isinstance(scheduled, str):
        try:
            at = datetime.fromisoformat(scheduled.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return deadline
        deadline = min(deadline, at + PERIOD_SECONDS - ROUND_SECONDS)
    return deadline


def process(context: LambdaContext | None, event: dict[str, Any] | None = None) -> dict[str, Any]:
    deadline = deadline_of(event or {}, context)
    p = price_updater_ports()
    result = logic.run(p, clock, deadline, p.settings.price_updater_concurrency)
    counts = result.as_dict()
    for name in METRICS:
        if counts[name]:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
    return counts


@settings_validated(PriceUpdaterSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(context, event)
