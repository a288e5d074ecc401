"""The bid executor Lambda: invoked by a snipe's one-time schedule (or at once, for a snipe
created close to its end) with ``{"userId", "bidId", "purpose"}``. The logic is
``workers.logic.snipe_engine.SnipeEngine``; its ports come from ``workers.composition``.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import SecretStr

from common.handler import settings_validated
from common.observability import logger, metrics
from common.scheduling import default_lambda_client, invoke_event
from workers.composition import ExecutorSettings, executor_ports
from workers.logic.snipe_engine import SnipeEngine


def user_token(user_id: str, valid_until: int, force_refresh: bool = False) -> SecretStr:
    """The user's token, refreshed first if it would expire before ``valid_until``."""
    from common.ebay_tokens import valid_access_token

    p = executor_ports()
    now = int(time.time())
    return valid_access_token(
        user_id,
        p.links,
        p.cipher,
        p.ebay,
        margin=max(valid_until - now, 60),
        force_refresh=force_refresh,
    )


def notify(kind: str, user_id: str, bid_id: str) -> None:
    name = executor_ports().settings.notifier_function_name
    if not name:
        logger.info("no notifier configured; outcome not emailed", kind=kind, bid_id=bid_id)
        return
    invoke_event(default_lambda_client(), name, {"kind": kind, "userId": user_id, "bidId": bid_id})


def engine(context: LambdaContext) -> SnipeEngine:
    p = executor_ports()
    return SnipeEngine(
        bids=p.bids,
        ebay=p.ebay,
        tokens=user_token,
        scheduler=p.scheduler,
        notify=notify,
        history_ttl_days=p.settings.history_ttl_days,
        groups=p.groups,
        slots=p.slots,
        remaining_ms=context.get_remaining_time_in_millis,
        execution_id=context.aws_request_id,
    )


@settings_validated(ExecutorSettings)
@logger.inject_lambda_context(correlation_id_path="bidId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    result = engine(context).run(str(event["userId"]), str(event["bidId"]))
    logger.info("bid executor done", bid_id=event["bidId"], result=result)
    # Emitted on every run, 0 or 1, so the SnipesFailedAlarm has data to judge (template.yaml).
    metrics.add_metric(name="SnipesFailed", unit=MetricUnit.Count, value=int(result == "failed"))
    return {"bidId": str(event["bidId"]), "result": result}
