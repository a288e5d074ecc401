"""The composition roots of the WebSocket functions and the broadcaster: each function's
settings and its ports, made once per container on first use (never at import). Nothing else in
``realtime/`` builds an adapter.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from common import composition
from common.data.bids import BidsRepository
from common.data.budget import CallBudget
from common.data.connections import ConnectionsRepository, pooled_client
from common.data.dynamo_http import DynamoDbHttp
from common.data.prices import PriceHistory
from common.data.push import SignedPusher
from common.data.refresh_claims import RefreshClaims
from common.data.snipe_updates import SnipeUpdates
from common.data.users import UsersRepository
from common.notifier_client import LambdaNotifier
from common.settings import (
    BidTables,
    CognitoTokens,
    ConnectionsTable,
    EbayApi,
    NotifierName,
    UsersAndAppStateTable,
    WebSocketApi,
    load,
)
from common.settings import CallBudget as CallBudgetSettings
from realtime.auth import TokenVerifier

if TYPE_CHECKING:
    from common.ebay.client import EbayClient

cached = functools.cached_property

# The broadcaster's send concurrency: its lanes' threads, and the connections each of its
# clients keeps, so no lane waits for (or reopens) a connection.
FANOUT_WORKERS = 32


class AuthorizerSettings(CognitoTokens, UsersAndAppStateTable):
    pass


class ConnectSettings(ConnectionsTable, UsersAndAppStateTable):
    # $connect refuses the handshake with 429 beyond this many open sockets.
    max_connections_per_user: int = Field(default=10, ge=1, alias="MAX_CONNECTIONS_PER_USER")


class DisconnectSettings(ConnectionsTable):
    pass


class ActionsSettings(BidTables, WebSocketApi, EbayApi, CallBudgetSettings, NotifierName):
    pass


class BroadcasterSettings(ConnectionsTable, WebSocketApi):
    pass


def _pusher(s: WebSocketApi) -> SignedPusher:
    """Posts to sockets: signed HTTP/1.1 on kept-alive connections, about a tenth of boto3's
    client's CPU per post (common/data/push.py)."""
    return SignedPusher(s.websocket_management_url, max_connections=FANOUT_WORKERS)


@dataclass(frozen=True)
class AuthorizerPorts:
    settings: AuthorizerSettings

    @cached
    def verifier(self) -> TokenVerifier:
        s = self.settings
        jwks_url = s.cognito_jwks_url or f"{s.cognito_issuer}/.well-known/jwks.json"
        return TokenVerifier(s.cognito_issuer, s.cognito_client_id, jwks_url)

    @cached
    def users(self) -> UsersRepository:
        return UsersRepository(self.settings.users_and_app_state_table)


@dataclass(frozen=True)
class ConnectPorts:
    settings: ConnectSettings

    @cached
    def connections(self) -> ConnectionsRepository:
        return ConnectionsRepository(self.settings.connections_table)


@dataclass(frozen=True)
class DisconnectPorts:
    settings: DisconnectSettings

    @cached
    def connections(self) -> ConnectionsRepository:
        return ConnectionsRepository(self.settings.connections_table)


@dataclass(frozen=True)
class ActionsPorts:
    settings: ActionsSettings

    @cached
    def bids(self) -> BidsRepository:
        return composition.bids_repo(self.settings)

    @cached
    def pusher(self) -> SignedPusher:
        return _pusher(self.settings)

    # refreshPrices: what common.price_polls.refresh reads and writes (its Ports).
    @cached
    def updates(self) -> SnipeUpdates:
        return SnipeUpdates(self.settings.bids_table)

    @cached
    def prices(self) -> PriceHistory:
        return PriceHistory(self.settings.users_and_app_state_table)

    @cached
    def budget(self) -> CallBudget:
        """The app's daily eBay calls of both quotas (getItems for the polls; getItem while
        getItems is refused), shared with the price updater and the look-ups."""
        s = self.settings
        return CallBudget(
            s.users_and_app_state_table, s.ebay_daily_call_budget, s.ebay_daily_getitems_budget
        )

    @cached
    def ebay(self) -> EbayClient:
        return composition.ebay_client(self.settings)

    @cached
    def notifier(self) -> LambdaNotifier:
        return LambdaNotifier(self.settings.notifier_function_name)

    @cached
    def claims(self) -> RefreshClaims:
        return RefreshClaims(self.settings.users_and_app_state_table)


@dataclass(frozen=True)
class BroadcasterPorts:
    settings: BroadcasterSettings

    @cached
    def connections(self) -> ConnectionsRepository:
        """Each batch's one read of its users' sockets goes over DynamoDB's JSON protocol
        directly (common.data.dynamo_http), the rare deletes of gone sockets via boto3."""
        client = pooled_client(FANOUT_WORKERS)
        return ConnectionsRepository(
            self.settings.connections_table, client, batch_client=DynamoDbHttp.like(client)
        )

    @cached
    def pusher(self) -> SignedPusher:
        return _pusher(self.settings)


@functools.cache
def authorizer_ports() -> AuthorizerPorts:
    return AuthorizerPorts(load(AuthorizerSettings))


@functools.cache
def connect_ports() -> ConnectPorts:
    return ConnectPorts(load(ConnectSettings))


@functools.cache
def disconnect_ports() -> DisconnectPorts:
    return DisconnectPorts(load(DisconnectSettings))


@functools.cache
def actions_ports() -> ActionsPorts:
    return ActionsPorts(load(ActionsSettings))


@functools.cache
def broadcaster_ports() -> BroadcasterPorts:
    return BroadcasterPorts(load(BroadcasterSettings))
