"""Adapters for the REST functions: the shared ones from common.wiring, plus the cursor codec."""

from __future__ import annotations

from common.container import per_container
from common.data.cursor import CursorCodec, default_codec
from common.data.identities import CognitoIdentities
from common.data.push import ConnectionPusher, management_client
from common.settings import get_settings
from common.wiring import (
    bids_repo,
    connections_repo,
    ebay_client,
    ebay_links_repo,
    groups_repo,
    history_repo,
    price_history,
    snipe_scheduler,
    token_cipher,
    users_repo,
)

__all__ = [
    "bids_repo",
    "cognito_identities",
    "connections_repo",
    "cursor_codec",
    "ebay_client",
    "ebay_links_repo",
    "groups_repo",
    "history_repo",
    "price_history",
    "snipe_scheduler",
    "socket_closer",
    "token_cipher",
    "users_repo",
]


def cursor_codec() -> CursorCodec:
    return default_codec()


@per_container
def socket_closer() -> ConnectionPusher:
    """Closes WebSockets through the WebSocket API (a deleted account's)."""
    return ConnectionPusher(management_client(get_settings().websocket_management_url, 2))


@per_container
def cognito_identities() -> CognitoIdentities:
    """Deletes a deleted account's Cognito user."""
    return CognitoIdentities(get_settings().cognito_user_pool_id)
