"""NotifierFunction: emails a user about a snipe's outcome, a price alert or a dying eBay link.

The Lambda handler only. Callers invoke it asynchronously through ``common.notifier_client``;
what to send, and sending it at most once, is ``workers.logic.notice_delivery``'s, whose guards
are ``common.data.email_guards``'.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from common.clock import Clock
from common.handler import settings_validated
from common.observability import logger, metrics
from workers.composition import NotifierSettings, notifier_ports
from workers.logic import notice_delivery as logic

clock: Clock = time.time


def process(event: dict[str, Any]) -> dict[str, Any]:
    try:
        request = logic.NotifyEvent.model_validate(event)
    except ValidationError as exc:
        # A malformed event stays malformed: retrying it would only fill the failure queue.
        logger.error("invalid notification event", errors=exc.errors(include_input=False))
        return {"status": "INVALID", "reason": "invalid event"}
    p = notifier_ports()
    result = logic.notify(
        request,
        p.users,
        p.bids,
        p.links,
        p.guards,
        p.mailer,
        p.settings.dashboard_url,
        clock,
    )
    metrics.add_metric(name=f"Notifications{result.status.title()}", unit=MetricUnit.Count, value=1)
    return asdict(result)


@settings_validated(NotifierSettings)
@logger.inject_lambda_context(correlation_id_path="bidId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event)
