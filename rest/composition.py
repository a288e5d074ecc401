"""The composition roots of the API functions: each function's settings and its ports.

One root per function (``users_ports()`` for UsersFunction, ...), made once per container on
its first use; each port is built on the first request that uses it, so a cold start pays only
for the clients its route needs. The Marketplace Account Deletion function's root is in
``rest/marketplace_deletion.py``. Nothing else in ``rest/`` builds an adapter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from common import composition
from common.clock import Clock
from common.data.active_snipes import ActiveSnipes
from common.data.bids import BidsRepository
from common.data.budget import CallBudget, Share
from common.data.connections import ConnectionsRepository
from common.data.cursor import CursorCodec, default_codec
from common.data.ebay_links import EbayLinksRepository
from common.data.group_slots import GroupSlots
from common.data.groups import GroupsRepository
from common.data.history import HistoryRepository
from common.data.identities import CognitoIdentities, CognitoUserInfo
from common.data.item_cache import ItemCache
from common.data.prices import PriceHistory
from common.data.push import ConnectionPusher, management_client
from common.data.users import UsersRepository
from common.settings import (
    BidTables,
    ConnectionsTable,
    CursorKey,
    EbayApi,
    HistoryTable,
    HistoryTtl,
    SnipeSchedules,
    TokenKey,
    UserInfo,
    WebSocketApi,
    load,
)
from common.settings import CallBudget as CallBudgetSettings
from rest.logic.caps import ActiveSnipeCap
from rest.logic.lookups import MeteredItems

if TYPE_CHECKING:
    from common.ebay.client import EbayClient
    from common.scheduling import UnlessOwnerDeleted
    from common.token_crypto import TokenCipher

cached = functools.cached_property


class UsersSettings(BidTables, ConnectionsTable, SnipeSchedules, WebSocketApi, UserInfo):
    # The pool whose users an account deletion deletes.
    cognito_user_pool_id: str = Field(alias="COGNITO_USER_POOL_ID")


class BidsSettings(BidTables, EbayApi, CallBudgetSettings, HistoryTtl, SnipeSchedules, CursorKey):
    # POST /bids answers 429 beyond this many active snipes.
    max_active_snipes_per_user: int = Field(default=200, ge=1, alias="MAX_ACTIVE_SNIPES_PER_USER")


class HistorySettings(HistoryTable, CursorKey):
    pass


class EbayAuthSettings(BidTables, EbayApi, TokenKey, UserInfo):
    pass


class WishlistSettings(BidTables, EbayApi, TokenKey, CursorKey, CallBudgetSettings):
    pass


def _cursor_codec(secret_name: str) -> Callable[[], CursorCodec]:
    """Per request: the key is an SSM parameter read through a cache of an hour."""
    return functools.partial(default_codec, secret_name)


@dataclass(frozen=True)
class UsersPorts:
    settings: UsersSettings

    @cached
    def users(self) -> UsersRepository:
        return UsersRepository(self.settings.users_and_app_state_table)

    @cached
    def bids(self) -> BidsRepository:
        return composition.bids_repo(self.settings)

    @cached
    def history(self) -> HistoryRepository:
        return HistoryRepository(self.settings.bid_history_table)

    @cached
    def connections(self) -> ConnectionsRepository:
        return ConnectionsRepository(self.settings.connections_table)

    @cached
    def groups(self) -> GroupsRepository:
        return GroupsRepository(self.settings.users_and_app_state_table)

    @cached
    def scheduler(self) -> UnlessOwnerDeleted:
        return composition.snipe_scheduler(self.settings, self.users)

    @cached
    def socket_closer(self) -> ConnectionPusher:
        """Closes WebSockets through the WebSocket API (a deleted account's)."""
        return ConnectionPusher(management_client(self.settings.websocket_management_url, 2))

    @cached
    def identities(self) -> CognitoIdentities:
        """Deletes a deleted account's Cognito user."""
        return CognitoIdentities(self.settings.cognito_user_pool_id)

    @cached
    def user_info(self) -> CognitoUserInfo:
        """Asks Cognito for the email of an access token's user (rest.app.sign_in_email)."""
        return CognitoUserInfo(self.settings.cognito_userinfo_url)


@dataclass(frozen=True)
class BidsPorts:
    """The bids function's, /groups' (rest/groups.py) included."""

    settings: BidsSettings

    @cached
    def users(self) -> UsersRepository:
        return UsersRepository(self.settings.users_and_app_state_table)

    @cached
    def bids(self) -> BidsRepository:
        return composition.bids_repo(self.settings)

    @cached
    def prices(self) -> PriceHistory:
        return PriceHistory(self.settings.users_and_app_state_table)

    @cached
    def groups(self) -> GroupsRepository:
        return GroupsRepository(self.settings.users_and_app_state_table)

    @cached
    def group_slots(self) -> GroupSlots:
        """The groups' slot ledgers (the executor writes them; GET /groups reads their counts)."""
        return GroupSlots(self.settings.users_and_app_state_table)

    @cached
    def scheduler(self) -> UnlessOwnerDeleted:
        return composition.snipe_scheduler(self.settings, self.users)

    @cached
    def snipe_cap(self) -> ActiveSnipeCap:
        s = self.settings
        active = ActiveSnipes(s.users_and_app_state_table, s.bids_table)
        return ActiveSnipeCap(active, s.max_active_snipes_per_user)

    @cached
    def cursors(self) -> Callable[[], CursorCodec]:
        return _cursor_codec(self.settings.cursor_secret_name)

    @cached
    def items(self) -> _Items:
        return _Items(composition.ebay_client(self.settings), self.settings)


@dataclass(frozen=True)
class HistoryPorts:
    settings: HistorySettings

    @cached
    def history(self) -> HistoryRepository:
        return HistoryRepository(self.settings.bid_history_table)

    @cached
    def cursors(self) -> Callable[[], CursorCodec]:
        return _cursor_codec(self.settings.cursor_secret_name)


@dataclass(frozen=True)
class EbayAuthPorts:
    settings: EbayAuthSettings

    @cached
    def users(self) -> UsersRepository:
        return UsersRepository(self.settings.users_and_app_state_table)

    @cached
    def links(self) -> EbayLinksRepository:
        return EbayLinksRepository(self.settings.users_and_app_state_table)

    @cached
    def bids(self) -> BidsRepository:
        return composition.bids_repo(self.settings)

    @cached
    def cipher(self) -> TokenCipher:
        return composition.token_cipher(self.settings)

    @cached
    def ebay(self) -> EbayClient:
        return composition.ebay_client(self.settings)

    @cached
    def user_info(self) -> CognitoUserInfo:
        return CognitoUserInfo(self.settings.cognito_userinfo_url)


@dataclass(frozen=True)
class WishlistPorts:
    settings: WishlistSettings

    @cached
    def links(self) -> EbayLinksRepository:
        return EbayLinksRepository(self.settings.users_and_app_state_table)

    @cached
    def bids(self) -> BidsRepository:
        return composition.bids_repo(self.settings)

    @cached
    def cipher(self) -> TokenCipher:
        return composition.token_cipher(self.settings)

    @cached
    def ebay(self) -> EbayClient:
        return composition.ebay_client(self.settings)

    @cached
    def cursors(self) -> Callable[[], CursorCodec]:
        return _cursor_codec(self.settings.cursor_secret_name)

    @cached
    def items(self) -> _Items:
        return _Items(self.ebay, self.settings)


class _Items:
    """eBay item look-ups, cached briefly and paid from a share of the day's Browse calls
    (every method but getItems)."""

    def __init__(self, ebay: EbayClient, s: CallBudgetSettings) -> None:
        self.ebay = ebay
        self.cache = ItemCache(s.users_and_app_state_table)
        self.budget = CallBudget(
            s.users_and_app_state_table, s.ebay_daily_call_budget, s.ebay_daily_getitems_budget
        )

    def for_user(self, share: Share, user_id: str, clock: Clock) -> MeteredItems:
        """``user_id``'s look-ups, paid from ``share`` (per request: it names the caller)."""
        return MeteredItems(self.ebay, self.cache, self.budget, share, user_id, clock)


@functools.cache
def users_ports() -> UsersPorts:
    return UsersPorts(load(UsersSettings))


@functools.cache
def bids_ports() -> BidsPorts:
    return BidsPorts(load(BidsSettings))


@functools.cache
def history_ports() -> HistoryPorts:
    return HistoryPorts(load(HistorySettings))


@functools.cache
def ebay_auth_ports() -> EbayAuthPorts:
    return EbayAuthPorts(load(EbayAuthSettings))


@functools.cache
def wishlist_ports() -> WishlistPorts:
    return WishlistPorts(load(WishlistSettings))
