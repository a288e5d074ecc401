"""Adapters for the notifier, the price updater and the token worker, built once per container.

Imports of the eBay client and the token cipher happen inside the factories, so a function
pays for them only when it uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from common.data.bids import BidsRepository
from common.data.budget import CallBudget
from common.data.ebay_links import EbayLinksRepository
from common.data.notifications import NotificationGuards
from common.data.prices import PriceHistory
from common.data.users import UsersRepository
from common.notify import LambdaNotifier
from common.settings import get_settings

if TYPE_CHECKING:
    from common.ebay.client import EbayClient
    from common.token_crypto import TokenCipher


@dataclass(frozen=True)
class LinkExpiryReader:
    """The notifier's view of a link: when its refresh token expires (None: not linked)."""

    links: EbayLinksRepository

    def refresh_expiry(self, user_id: str) -> int | None:
        link = self.links.get(user_id)
        return link.refresh_expires_at if link else None


@cache
def users_repo() -> UsersRepository:
    return UsersRepository(get_settings().users_table)


@cache
def bids_repo() -> BidsRepository:
    s = get_settings()
    return BidsRepository(s.bids_table, s.users_table, s.bid_history_table)


@cache
def ebay_links_repo() -> EbayLinksRepository:
    return EbayLinksRepository(get_settings().users_table)


@cache
def notification_guards() -> NotificationGuards:
    return NotificationGuards(get_settings().users_table)


@cache
def call_budget() -> CallBudget:
    return CallBudget(get_settings().users_table)


@cache
def price_history() -> PriceHistory:
    return PriceHistory(get_settings().users_table)


@cache
def notifier() -> LambdaNotifier:
    return LambdaNotifier(get_settings().notifier_function_name)


@cache
def token_cipher() -> TokenCipher:
    from common.token_crypto import TokenCipher

    return TokenCipher(key_id=get_settings().token_kms_key_id)


@cache
def ebay_client() -> EbayClient:
    from common.ebay.client import EbayClient
    from common.ebay.config import EbayConfig
    from common.ebay.credentials import secret_credentials

    s = get_settings()
    config = EbayConfig.for_environment(
        s.ebay_environment,
        api_base_url=s.ebay_api_base_url,
        auth_base_url=s.ebay_auth_url,
        marketplace_id=s.ebay_marketplace_id,
        app_secret_name=s.ebay_app_secret_name,
    )
    return EbayClient(config, secret_credentials(s.ebay_app_secret_name))


def clear_caches() -> None:
    """For tests: forget every adapter (and settings) so a new environment takes effect."""
    get_settings.cache_clear()
    for factory in (
        users_repo,
        bids_repo,
        ebay_links_repo,
        notification_guards,
        call_budget,
        price_history,
        notifier,
        token_cipher,
        ebay_client,
    ):
        factory.cache_clear()
