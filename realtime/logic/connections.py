"""Sockets opening and closing: keep the Connections table in step with open sockets.

One account may hold ``max_connections`` sockets (10) at once: the cap is a condition of the
$connect write (common/data/connections.py), and beyond it the handshake is refused with 429.
API Gateway answers a refused $connect with the status alone (no header, no body reaches the
client), so the client cannot be told a Retry-After: closing another tab frees a slot at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from common.errors import AccountDeletedError, TooManyConnections
from common.models import ConnectionEntity
from common.observability import logger

# API Gateway closes every connection after 2 hours; the margin covers a late $disconnect.
MAX_CONNECTION_SECONDS = 2 * 3600
TTL_MARGIN_SECONDS = 15 * 60


@dataclass(frozen=True)
class Opening:
    """A $connect, as the handler read it from the event."""

    connection_id: str
    user_id: str | None  # the authorizer's context; None if it gave none
    connected_at_ms: int
    source_ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class Closing:
    """A $disconnect, as the handler read it from the event."""

    connection_id: str
    user_id: str | None
    status_code: int | None
    reason: str | None


class ConnectionRows(Protocol):
    """common.data.connections.ConnectionsRepository."""

    def put(
        self,
        connection: ConnectionEntity,
        *,
        users_and_app_state_table: str | None = None,
        max_connections: int | None = None,
    ) -> None: ...

    def delete(self, user_id: str, connection_id: str) -> None: ...


def admit_socket(
    opening: Opening, rows: ConnectionRows, users_and_app_state_table: str, max_connections: int
) -> int:
    """Record the socket; the handshake's status: 200, 401 for an account being deleted, 403
    without a user, 429 beyond the cap."""
    if not opening.user_id:
        return 403
    connection = ConnectionEntity(
        connectionId=opening.connection_id,
        userId=opening.user_id,
        connectedAt=opening.connected_at_ms,
        ttl=opening.connected_at_ms // 1000 + MAX_CONNECTION_SECONDS + TTL_MARGIN_SECONDS,
        sourceIp=opening.source_ip,
        userAgent=(opening.user_agent or "")[:256] or None,
    )
    try:
        # The authorizer read the profile; an account deletion that began since is caught here,
        # in the write (the handshake is refused as the authorizer refuses a deleted account).
        rows.put(
            connection,
            users_and_app_state_table=users_and_app_state_table,
            max_connections=max_connections,
        )
    except AccountDeletedError:
        logger.info("websocket refused: account deleted", connection_id=opening.connection_id)
        return 401
    except TooManyConnections:
        logger.info("websocket refused: too many", user_id=opening.user_id, limit=max_connections)
        return 429
    logger.info("websocket connected", connection_id=opening.connection_id, user_id=opening.user_id)
    return 200


def forget_socket(closing: Closing, rows: ConnectionRows) -> None:
    """Forget the socket's row."""
    if closing.user_id:
        rows.delete(closing.user_id, closing.connection_id)
    else:  # never authorised, so never stored
        logger.warning("disconnect without a user", connection_id=closing.connection_id)
    logger.info(
        "websocket disconnected",
        connection_id=closing.connection_id,
        status_code=closing.status_code,
        reason=closing.reason,
    )
