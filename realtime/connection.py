"""WebSocket $connect and $disconnect: keep the Connections table in step with open sockets.

One account may hold ``MAX_CONNECTIONS_PER_USER`` sockets (10) at once: the cap is a condition of
$connect's write (common/data/connections.py), and beyond it the handshake is refused with 429.
API Gateway answers a refused $connect with the status alone (no header, no body reaches the
client), so the client cannot be told a Retry-After: closing another tab frees a slot at once.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common.data.connections import ConnectionsRepository
from common.errors import AccountDeletedError, TooManyConnections
from common.handler import settings_validated
from common.models import ConnectionEntity
from common.observability import logger
from common.settings import get_settings
from realtime import deps

# API Gateway closes every connection after 2 hours; the margin covers a late $disconnect.
MAX_CONNECTION_SECONDS = 2 * 3600
TTL_MARGIN_SECONDS = 15 * 60


def on_connect(
    event: dict[str, Any], repo: ConnectionsRepository, users_table: str, max_connections: int
) -> dict[str, Any]:
    context = event["requestContext"]
    user_id = (context.get("authorizer") or {}).get("userId")
    if not user_id:
        return {"statusCode": 403}
    connected_at = int(context.get("connectedAt") or time.time() * 1000)
    identity = context.get("identity") or {}
    connection = ConnectionEntity(
        connectionId=context["connectionId"],
        userId=str(user_id),
        connectedAt=connected_at,
        ttl=connected_at // 1000 + MAX_CONNECTION_SECONDS + TTL_MARGIN_SECONDS,
        sourceIp=identity.get("sourceIp"),
        userAgent=(identity.get("userAgent") or "")[:256] or None,
    )
    try:
        # The authorizer read the profile; an account deletion that began since is caught here,
        # in the write (the handshake is refused as the authorizer refuses a deleted account).
        repo.put(connection, users_table=users_table, max_connections=max_connections)
    except AccountDeletedError:
        logger.info("websocket refused: account deleted", connection_id=context["connectionId"])
        return {"statusCode": 401}
    except TooManyConnections:
        logger.info("websocket refused: too many", user_id=user_id, limit=max_connections)
        return {"statusCode": 429}
    logger.info("websocket connected", connection_id=context["connectionId"], user_id=user_id)
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any], repo: ConnectionsRepository) -> dict[str, Any]:
    context = event["requestContext"]
    # API Gateway hands every event of a connection the context its $connect authorizer gave.
    user_id = (context.get("authorizer") or {}).get("userId")
    if user_id:
        repo.delete(str(user_id), context["connectionId"])
    else:  # never authorised, so never stored
        logger.warning("disconnect without a user", connection_id=context["connectionId"])
    logger.info(
        "websocket disconnected",
        connection_id=context["connectionId"],
        status_code=context.get("disconnectStatusCode"),
        reason=context.get("disconnectReason"),
    )
    return {"statusCode": 200}


@settings_validated
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def connect_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    return on_connect(
        event, deps.connections_repo(), settings.users_table, settings.max_connections_per_user
    )


@settings_validated
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def disconnect_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return on_disconnect(event, deps.connections_repo())
