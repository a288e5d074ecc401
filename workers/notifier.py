"""NotifierFunction: emails a user about a snipe's outcome, a price alert or a dying eBay link.

Invoked asynchronously (``common.notify.LambdaNotifier``); see ``workers.logic.notifications``
for the contract and the at-most-once guarantee.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from common.clock import Clock
from common.email import default_mailer
from common.handler import settings_validated
from common.observability import logger, metrics
from common.settings import get_settings
from workers import wiring
from workers.logic import notifications as logic

clock: Clock = time.time


def process(event: dict[str, Any]) -> dict[str, Any]:
    try:
        request = logic.NotifyEvent.model_validate(event)
    except ValidationError as exc:
        # A malformed event stays malformed: retrying it would only fill the failure queue.
        logger.error("invalid notification event", errors=exc.errors(include_input=False))
        return {"status": "INVALID", "reason": "invalid event"}
    result = logic.notify(
        request,
        wiring.users_repo(),
        wiring.bids_repo(),
        wiring.LinkExpiryReader(wiring.ebay_links_repo()),
        wiring.notification_guards(),
        default_mailer(),
        get_settings().dashboard_url,
        clock,
    )
    metrics.add_metric(name=f"Notifications{result.status.title()}", unit=MetricUnit.Count, value=1)
    return asdict(result)


@settings_validated
@logger.inject_lambda_context(correlation_id_path="bidId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event)
