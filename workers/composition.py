"""The composition roots of the bid executor, the notifier, the price updater and the token
worker: each function's settings and its ports, made once per container on first use (the
reconciler's root is in ``workers/reconciler.py``). Nothing else in ``workers/`` builds an
adapter.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from pydantic import Field

from common import aws, composition
from common.data.bids import BidsRepository
from common.data.budget import CallBudget
from common.data.ebay_links import EbayLinksRepository
from common.data.email_guards import NotificationGuards
from common.data.group_slots import GroupSlots
from common.data.groups import GroupsRepository
from common.data.prices import PriceHistory
from common.data.refresh_claims import RefreshClaims
from common.data.relink_warnings import RelinkWarnings
from common.data.snipe_updates import SnipeUpdates
from common.data.users import UsersRepository
from common.email import PostmarkMailer
from common.notifier_client import LambdaNotifier
from common.settings import (
    BidTables,
    EbayApi,
    HistoryTtl,
    NotifierName,
    SnipeSchedules,
    TokenKey,
    load,
)
from common.settings import CallBudget as CallBudgetSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from common.ebay.client import EbayClient
    from common.scheduling import UnlessOwnerDeleted
    from common.token_crypto import TokenCipher

cached = functools.cached_property


class ExecutorSettings(BidTables, EbayApi, TokenKey, SnipeSchedules, NotifierName, HistoryTtl):
    pass


class NotifierSettings(BidTables):
    dashboard_url: str = Field(alias="DASHBOARD_URL")
    postmark_api_url: str = Field(default="https://api.postmarkapp.com", alias="POSTMARK_API_URL")
    postmark_secret_name: str = Field(alias="POSTMARK_SECRET_NAME")
    email_from: str = Field(default="eBay Sniper <sniper@example.com>", alias="EMAIL_FROM")


class PriceUpdaterSettings(BidTables, EbayApi, CallBudgetSettings, NotifierName):
    # How many Browse calls a run makes at once. At most the eBay client's 20 pooled
    # connections: a worker waiting for a connection would time out at the pool.
    price_updater_concurrency: int = Field(
        default=8, ge=1, le=20, alias="PRICE_UPDATER_CONCURRENCY"
    )


class TokenRefreshSettings(BidTables, EbayApi, TokenKey, NotifierName):
    token_expiry_threshold_days: int = Field(default=7, ge=1, alias="TOKEN_EXPIRY_THRESHOLD")


@dataclass(frozen=True)
class LinkExpiryReader:
    """The notifier's view of a link: when its refresh token expires (None: not linked)."""

    links: EbayLinksRepository

    def refresh_expiry(self, user_id: str) -> int | None:
        link = self.links.get(user_id)
        return link.refresh_expires_at if link else None


# The bid executor's DynamoDB client: one attempt, answered within 2 s. The engine retries
# every call it needs itself (docs/sniping-engine.md, "One seal"), so botocore's second
# attempt only doubles the load on a database already too busy to answer in 1 s: when 200
# snipes ended within two seconds on the local stack, seals abandoned after 1 s and sent
# again (botocore, then the engine) made ~11 transactions per snipe, and most missed their
# fire instant. Waiting 2 s for one answer, the seal still has time for a second before the
# fire instant (the freeze is 5 s before it).


@functools.cache
def executor_dynamodb() -> DynamoDBClient:
    return boto3.client(
        "dynamodb",
        config=aws.config(read_timeout=2.0, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


@dataclass(frozen=True)
class ExecutorPorts:
    settings: ExecutorSettings

    @cached
    def bids(self) -> BidsRepository:
        s = self.settings
        return BidsRepository(
            s.bids_table, s.users_and_app_state_table, s.bid_history_table, executor_dynamodb()
        )

    @cached
    def links(self) -> EbayLinksRepository:
        return EbayLinksRepository(self.settings.users_and_app_state_table, executor_dynamodb())

    @cached
    def cipher(self) -> TokenCipher:
        return composition.token_cipher(self.settings)

    @cached
    def ebay(self) -> EbayClient:
        return composition.ebay_client(self.settings)

    @cached
    def scheduler(self) -> UnlessOwnerDeleted:
        """The snipe's schedules; one made while its owner's account is being deleted is taken
        back (the run then ends: common.scheduling.UnlessOwnerDeleted)."""
        users = UsersRepository(self.settings.users_and_app_state_table, executor_dynamodb())
        return composition.snipe_scheduler(self.settings, users)

    @cached
    def groups(self) -> GroupsRepository:
        return GroupsRepository(self.settings.users_and_app_state_table, executor_dynamodb())

    @cached
    def slots(self) -> GroupSlots:
        return GroupSlots(self.settings.users_and_app_state_table, executor_dynamodb())


@dataclass(frozen=True)
class NotifierPorts:
    settings: NotifierSettings

    @cached
    def users(self) -> UsersRepository:
        return UsersRepository(self.settings.users_and_app_state_table)

    @cached
    def bids(self) -> BidsRepository:
        return composition.bids_repo(self.settings)

    @cached
    def links(self) -> LinkExpiryReader:
        return LinkExpiryReader(EbayLinksRepository(self.settings.users_and_app_state_table))

    @cached
    def guards(self) -> NotificationGuards:
        return NotificationGuards(self.settings.users_and_app_state_table)

    @cached
    def mailer(self) -> PostmarkMailer:
        s = self.settings
        return PostmarkMailer(s.postmark_api_url, s.email_from, secret_name=s.postmark_secret_name)


@dataclass(frozen=True)
class PriceUpdaterPorts:
    settings: PriceUpdaterSettings

    @cached
    def bids(self) -> BidsRepository:
        return composition.bids_repo(self.settings)

    @cached
    def updates(self) -> SnipeUpdates:
        return SnipeUpdates(self.settings.bids_table)

    @cached
    def prices(self) -> PriceHistory:
        return PriceHistory(self.settings.users_and_app_state_table)

    @cached
    def budget(self) -> CallBudget:
        """The app's daily eBay calls of both quotas (getItems for the polls; getItem while
        getItems is refused), shared with the dashboards' refreshes and the look-ups."""
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
        """Where the run leaves the pace of the dashboards' refreshes (common.price_polls)."""
        return RefreshClaims(self.settings.users_and_app_state_table)


@dataclass(frozen=True)
class TokenRefreshPorts:
    settings: TokenRefreshSettings

    @cached
    def links(self) -> EbayLinksRepository:
        return EbayLinksRepository(self.settings.users_and_app_state_table)

    @cached
    def bids(self) -> BidsRepository:
        return composition.bids_repo(self.settings)

    @cached
    def warnings(self) -> RelinkWarnings:
        return RelinkWarnings(self.settings.users_and_app_state_table)

    @cached
    def cipher(self) -> TokenCipher:
        return composition.token_cipher(self.settings)

    @cached
    def ebay(self) -> EbayClient:
        return composition.ebay_client(self.settings)

    @cached
    def notifier(self) -> LambdaNotifier:
        return LambdaNotifier(self.settings.notifier_function_name)


@functools.cache
def executor_ports() -> ExecutorPorts:
    return ExecutorPorts(load(ExecutorSettings))


@functools.cache
def notifier_ports() -> NotifierPorts:
    return NotifierPorts(load(NotifierSettings))


@functools.cache
def price_updater_ports() -> PriceUpdaterPorts:
    return PriceUpdaterPorts(load(PriceUpdaterSettings))


@functools.cache
def token_refresh_ports() -> TokenRefreshPorts:
    return TokenRefreshPorts(load(TokenRefreshSettings))
