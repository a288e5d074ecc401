"""WebSocket messages: ``ping`` -> ``pong``, ``sync`` -> ``snapshot`` of the caller's active
snipes with the server's clock, anything else (unknown action, invalid JSON, an oversized
message) -> an ``error`` to that connection, which stays open. Answers go through the
management API, as the broadcaster's do.

``sync`` reads the active snipes through the set of their ids
(``BidsRepository.active_snipes``): what it costs follows what is active, not the user's
history, which only GET /bids and GET /history page through.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common.data.bids import BidsRepository
from common.handler import settings_validated
from common.models import BidEntity
from common.observability import logger
from realtime import deps
from realtime.fanout import Pusher
from realtime.protocol import (
    MAX_CLIENT_MESSAGE_BYTES,
    encode,
    envelope,
    snapshot_messages,
    snipe_view,
)


def respond(
    event: dict[str, Any],
    bids: Callable[[], BidsRepository],
    pusher: Pusher,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> dict[str, Any]:
    context = event["requestContext"]
    connection_id = context["connectionId"]
    request_id = str(context.get("requestId") or context.get("messageId") or "")
    user_id = (context.get("authorizer") or {}).get("userId")
    body = event.get("body") or ""

    def error(code: str, message: str) -> list[dict[str, Any]]:
        return [envelope("error", request_id, now_ms(), {"code": code, "message": message})]

    action = _action(body)
    if action is TOO_LARGE:
        replies = error("MESSAGE_TOO_LARGE", f"the limit is {MAX_CLIENT_MESSAGE_BYTES} bytes")
    elif action is NOT_JSON:
        replies = error("INVALID_JSON", 'send JSON such as {"action": "ping"}')
    elif action == "ping":
        replies = [envelope("pong", request_id, now_ms(), {"serverTime": now_ms()})]
    elif action == "sync" and user_id:
        snipes = [_view(b) for b in bids().active_snipes(str(user_id))]
        replies = list(snapshot_messages(request_id, now_ms(), snipes))
    else:
        replies = error("UNKNOWN_ACTION", "actions are ping and sync")
    for reply in replies:
        pusher.post(connection_id, encode(reply))
    return {"statusCode": 200}


TOO_LARGE, NOT_JSON = object(), object()


def _action(body: str) -> object:
    if len(body.encode()) > MAX_CLIENT_MESSAGE_BYTES:
        return TOO_LARGE
    try:
        document = json.loads(body)
    except ValueError:
        return NOT_JSON
    return document.get("action") if isinstance(document, dict) else NOT_JSON


def _view(bid: BidEntity) -> dict[str, Any]:
    return {"bidId": bid.bidId, "ebayItemId": bid.ebayItemId, **snipe_view(bid.model_dump())}


@settings_validated
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return respond(event, deps.bids_repo, deps.pusher())
