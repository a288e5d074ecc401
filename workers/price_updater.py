"""PriceUpdaterFunction (every minute): current prices, smart alerts and countdown phases.

See ``workers.logic.prices`` for the cadence, the budget and the alert rules.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.clock import Clock
from common.container import per_container
from common.data.snipe_updates import SnipeUpdates
from common.handler import settings_validated
from common.observability import logger, metrics
from common.settings import get_settings
from workers import wiring
from workers.logic import prices as logic

clock: Clock = time.time
# Stop starting eBay calls this long before the function's timeout.
SAFETY_MS = 8000
# A custom metric costs $0.30 a month for every hour it is published in: all eleven counts a
# minute were $3.30 a month, more than a personal stack's whole budget (docs/deployment.md,
# "Cost"). The run's counts are in its "price update run" log line, which the operations
# dashboard queries; metrics are the shortfalls only, and only in the minutes they happen.
METRICS = ("failures", "itemsNotPolled", "itemsOverBudget")


@per_container
def snipe_updates() -> SnipeUpdates:
    return SnipeUpdates(get_settings().bids_table)


def process(context: LambdaContext | None) -> dict[str, Any]:
    deadline = None
    if context is not None:
        deadline = clock() + max(0, context.get_remaining_time_in_millis() - SAFETY_MS) / 1000
    settings = get_settings()
    result = logic.run(
        wiring.bids_repo(),
        snipe_updates(),
        wiring.price_history(),
        wiring.call_budget(),
        wiring.ebay_client(),
        wiring.notifier(),
        clock,
        deadline,
        settings.price_updater_concurrency,
    )
    counts = result.as_dict()
    for name in METRICS:
        if counts[name]:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
    return counts


@settings_validated
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(context)
