"""Adapters for the REST functions: the shared ones from common.wiring, plus the cursor codec."""

from __future__ import annotations

from common.clock import Clock
from common.container import per_container
from common.data.active_snipes import ActiveSnipes
from common.data.budget import Share
from common.data.cursor import CursorCodec, default_codec
from common.data.group_slots import GroupSlots
from common.data.identities import CognitoIdentities, CognitoUserInfo
from common.data.item_cache import ItemCache
from common.data.push import ConnectionPusher, management_client
from common.settings import get_settings
from common.wiring import (
    bids_repo,
    call_budget,
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
from rest.logic.lookups import MeteredItems

__all__ = [
    "active_snipes",
    "bids_repo",
    "call_budget",
    "cognito_identities",
    "connections_repo",
    "cursor_codec",
    "ebay_client",
    "ebay_links_repo",
    "group_slots",
    "groups_repo",
    "history_repo",
    "item_cache",
    "metered_items",
    "price_history",
    "snipe_scheduler",
    "socket_closer",
    "token_cipher",
    "user_info",
    "users_repo",
]


def cursor_codec() -> CursorCodec:
    return default_codec()


@per_container
def item_cache() -> ItemCache:
    return ItemCache(get_settings().users_table)


@per_container
def active_snipes() -> ActiveSnipes:
    s = get_settings()
    return ActiveSnipes(s.users_table, s.bids_table)


@per_container
def group_slots() -> GroupSlots:
    """The groups' slot ledgers (the executor writes them; GET /groups reads their counts)."""
    return GroupSlots(get_settings().users_table)


def metered_items(share: Share, user_id: str, clock: Clock) -> MeteredItems:
    """eBay item look-ups for ``user_id``, cached briefly and paid from ``share`` of the day's
    Browse calls (per request: it names the caller)."""
    return MeteredItems(ebay_client(), item_cache(), call_budget(), share, user_id, clock)


@per_container
def socket_closer() -> ConnectionPusher:
    """Closes WebSockets through the WebSocket API (a deleted account's)."""
    return ConnectionPusher(management_client(get_settings().websocket_management_url, 2))


@per_container
def cognito_identities() -> CognitoIdentities:
    """Deletes a deleted account's Cognito user."""
    return CognitoIdentities(get_settings().cognito_user_pool_id)


@per_container
def user_info() -> CognitoUserInfo:
    """Asks Cognito for the email of an access token's user (rest.app.sign_in_email)."""
    return CognitoUserInfo(get_settings().cognito_userinfo_url)
