"""WebSocket messages (the default route): the handler reads the message out of API Gateway's
event; realtime/logic/messages.py decides the answers (``ping``, ``sync``, ``refreshPrices``,
errors)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import price_polls
from common.handler import settings_validated
from common.observability import logger
from realtime.composition import ActionsSettings, actions_ports
from realtime.fanout import Pusher
from realtime.logic.messages import ActiveSnipes, ClientMessage, Refresh, answer


def respond(
    event: dict[str, Any],
    bids: Callable[[], ActiveSnipes],
    pusher: Pusher,
    now_ms: Callable[[], int],
    refresh: Refresh,
) -> dict[str, Any]:
    context = event["requestContext"]
    user_id = (context.get("authorizer") or {}).get("userId")
    message = ClientMessage(
        connection_id=context["connectionId"],
        request_id=str(context.get("requestId") or context.get("messageId") or ""),
        user_id=str(user_id) if user_id else None,
        body=event.get("body") or "",
    )
    answer(message, bids, pusher, now_ms, refresh)
    return {"statusCode": 200}


@settings_validated(ActionsSettings)
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = actions_ports()
    return respond(
        event, lambda: p.bids, p.pusher, clock_ms, lambda user: price_polls.refresh(user, p)
    )


def clock_ms() -> int:
    return int(time.time() * 1000)
