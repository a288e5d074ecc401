"""TokenRefreshFunction (hourly): fresh eBay access tokens before snipes fire, and one relink
warning per expiring refresh token. See ``workers.logic.tokens``.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.clock import Clock
from common.handler import settings_validated
from common.observability import logger, metrics
from workers.composition import TokenRefreshSettings, token_refresh_ports
from workers.logic import tokens as logic

clock: Clock = time.time


def process() -> dict[str, Any]:
    p = token_refresh_ports()
    result = logic.run(
        p.links,
        p.bids,
        p.warnings,
        p.cipher,
        p.ebay,
        p.notifier,
        p.settings.token_expiry_threshold_days,
        clock,
    )
    counts = result.as_dict()
    # Published only when they happen: a metric costs $0.30 a month for every hour it appears
    # in, and this runs every hour; the run's counts are in its "token refresh run" log line.
    for name in ("failures", "relinkWarnings"):
        if counts[name]:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
    return counts


@settings_validated(TokenRefreshSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process()
