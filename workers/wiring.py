"""Adapters for the notifier, the price updater and the token worker, built once per container.

Imports of the eBay client and the token cipher happen inside the factories, so a function
pays for them only when it uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.container import per_container
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


@per_container
def users_repo() -> UsersRepository:
    return UsersRepository(get_settings().users_table)


@per_container
def bids_repo() -> BidsRepository:
    s = get_settings()
    return BidsRepository(s.bids_table, s.users_table, s.bid_history_table)


@per_container
def ebay_links_repo() -> EbayLinksRepository:
    return EbayLinksRepository(get_settings().users_table)


@per_container
def notification_guards() -> NotificationGuards:
    return NotificationGuards(get_settings().users_table)


@per_container
def call_budget() -> CallBudget:
    return CallBudget(get_settings().users_table)


@per_container
def price_history() -> PriceHistory:
    return PriceHistory(get_settings().users_table)


@per_container
def notifier() -> LambdaNotifier:
    return LambdaNotifier(get_settings().notifier_function_name)


@per_container
def token_cipher() -> TokenCipher:
    from common.token_crypto import TokenCipher

    return TokenCipher(key_id=get_settings().token_kms_key_id)


@per_container
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
