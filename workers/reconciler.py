"""SnipeReconcilerFunction (every minute): wakes the bid executor for snipes whose wake-up was
lost, and for snipes still active an hour after their end. The rules: ``workers.logic.reconcile``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from common.clock import Clock
from common.data.reconcile import ActiveSnipePages, ReconcileMarks
from common.handler import settings_validated
from common.observability import logger, metrics
from common.scheduling import default_lambda_client, executor_event, invoke_event
from common.settings import BidsTable, UsersAndAppStateTable, load
from workers.logic import reconcile as logic

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

clock: Clock = time.time
# Stop starting work this long before the function's timeout.
SAFETY_MS = 5000
# Counts published as metrics, and only when not 0: a custom metric is billed for the hours it
# is published in, and these are 0 in nearly every run (ReconcilerWokeSnipesAlarm watches the
# first). The rest of a run's counts are in its log line.
METRICS = ("overdueWoken", "staleSettleRequested", "invokeFailures", "notReached")


@dataclass(frozen=True)
class LambdaExecutorWaker:
    """The bid executor, invoked asynchronously as its schedules and the API invoke it."""

    client: LambdaClient
    executor_arn: str

    def wake(self, user_id: str, bid_id: str) -> None:
        invoke_event(self.client, self.executor_arn, executor_event(user_id, bid_id, logic.PURPOSE))


@dataclass(frozen=True)
class Ports:
    snipes: ActiveSnipePages
    marks: ReconcileMarks
    executor: LambdaExecutorWaker


class ReconcilerSettings(BidsTable, UsersAndAppStateTable):
    bid_executor_arn: str = Field(alias="BID_EXECUTOR_ARN")


@functools.cache
def ports() -> Ports:
    """The function's composition root."""
    s = load(ReconcilerSettings)
    if not s.bid_executor_arn:
        raise ValueError("BID_EXECUTOR_ARN is not set")
    return Ports(
        snipes=ActiveSnipePages(s.bids_table),
        marks=ReconcileMarks(s.users_and_app_state_table),
        executor=LambdaExecutorWaker(default_lambda_client(), s.bid_executor_arn),
    )


def process(context: LambdaContext) -> dict[str, Any]:
    deadline = clock() + max(0, context.get_remaining_time_in_millis() - SAFETY_MS) / 1000
    p = ports()
    result = logic.run(p.snipes, p.marks, p.executor, clock, deadline)
    counts = result.as_dict()
    for name in METRICS:
        if counts[name]:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
    return counts


@settings_validated(ReconcilerSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(context)
