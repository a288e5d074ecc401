"""Adapters for the notifier, the price updater and the token worker, built once per container.

Imports of the eBay client and the token cipher happen inside the factories, so a function
pays for them only when it uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.container import per_container
from common.data.ebay_links import EbayLinksRepository
from common.data.notifications import NotificationGuards
from common.notify import LambdaNotifier
from common.settings import get_settings
from common.wiring import bids_repo as bids_repo
from common.wiring import call_budget as call_budget
from common.wiring import connections_repo as connections_repo
from common.wiring import ebay_client as ebay_client
from common.wiring import ebay_links_repo as ebay_links_repo
from common.wiring import price_history as price_history
from common.wiring import token_cipher as token_cipher
from common.wiring import users_repo as users_repo


@dataclass(frozen=True)
class LinkExpiryReader:
    """The notifier's view of a link: when its refresh token expires (None: not linked)."""

    links: EbayLinksRepository

    def refresh_expiry(self, user_id: str) -> int | None:
        link = self.links.get(user_id)
        return link.refresh_expires_at if link else None


@per_container
def notification_guards() -> NotificationGuards:
    return NotificationGuards(get_settings().users_table)


@per_container
def notifier() -> LambdaNotifier:
    return LambdaNotifier(get_settings().notifier_function_name)
