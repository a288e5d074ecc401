"""WebSocket $connect and $disconnect: the handlers read the socket's opening or closing out of
API Gateway's event; realtime/logic/connections.py keeps the Connections table in step (the
per-user cap, an account being deleted)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common.handler import settings_validated
from common.observability import logger
from realtime.composition import (
    ConnectSettings,
    DisconnectSettings,
    connect_ports,
    disconnect_ports,
)
from realtime.logic import connections as logic


def on_connect(
    event: dict[str, Any],
    repo: logic.ConnectionRows,
    users_and_app_state_table: str,
    max_connections: int,
) -> dict[str, Any]:
    context = event["requestContext"]
    user_id = (context.get("authorizer") or {}).get("userId")
    identity = context.get("identity") or {}
    opening = logic.Opening(
        connection_id=context["connectionId"],
        user_id=str(user_id) if user_id else None,
        connected_at_ms=int(context.get("connectedAt") or time.time() * 1000),
        source_ip=identity.get("sourceIp"),
        user_agent=identity.get("userAgent"),
    )
    return {
        "statusCode": logic.admit_socket(opening, repo, users_and_app_state_table, max_connections)
    }


def on_disconnect(event: dict[str, Any], repo: logic.ConnectionRows) -> dict[str, Any]:
    context = event["requestContext"]
    # API Gateway hands every event of a connection the context its $connect authorizer gave.
    user_id = (context.get("authorizer") or {}).get("userId")
    closing = logic.Closing(
        connection_id=context["connectionId"],
        user_id=str(user_id) if user_id else None,
        status_code=context.get("disconnectStatusCode"),
        reason=context.get("disconnectReason"),
    )
    logic.forget_socket(closing, repo)
    return {"statusCode": 200}


@settings_validated(ConnectSettings)
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def connect_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = connect_ports()
    return on_connect(
        event,
        p.connections,
        p.settings.users_and_app_state_table,
        p.settings.max_connections_per_user,
    )


@settings_validated(DisconnectSettings)
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def disconnect_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return on_disconnect(event, disconnect_ports().connections)
