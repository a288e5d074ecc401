"""The adapters every function shares, built once per container on first use (never at import).

Heavy imports (httpx and the eBay client, cryptography) happen inside the factories, so a
function pays for them at cold start only if it uses them. Function-specific adapters live
beside their functions (`rest/deps.py`, `workers/wiring.py`, `realtime/deps.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.container import per_container
from common.data.bids import BidsRepository
from common.data.budget import CallBudget
from common.data.connections import ConnectionsRepository
from common.data.ebay_links import EbayLinksRepository
from common.data.groups import GroupsRepository
from common.data.history import HistoryRepository
from common.data.prices import PriceHistory
from common.data.users import UsersRepository
from common.settings import get_settings

if TYPE_CHECKING:
    from common.ebay.client import EbayClient
    from common.scheduling import UnlessOwnerDeleted
    from common.token_crypto import TokenCipher


@per_container
def users_repo() -> UsersRepository:
    return UsersRepository(get_settings().users_table)


@per_container
def bids_repo() -> BidsRepository:
    s = get_settings()
    return BidsRepository(s.bids_table, s.users_table, s.bid_history_table)


@per_container
def history_repo() -> HistoryRepository:
    return HistoryRepository(get_settings().bid_history_table)


@per_container
def price_history() -> PriceHistory:
    return PriceHistory(get_settings().users_table)


@per_container
def groups_repo() -> GroupsRepository:
    return GroupsRepository(get_settings().users_table)


@per_container
def call_budget() -> CallBudget:
    """The app's daily eBay Browse calls, shared by the price updater and the REST look-ups."""
    s = get_settings()
    return CallBudget(s.users_table, s.ebay_daily_call_budget)


@per_container
def connections_repo() -> ConnectionsRepository:
    return ConnectionsRepository(get_settings().connections_table)


@per_container
def ebay_links_repo() -> EbayLinksRepository:
    return EbayLinksRepository(get_settings().users_table)


@per_container
def token_cipher() -> TokenCipher:
    from common.token_crypto import cipher_for

    return cipher_for(get_settings())


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


def snipe_scheduler(users: UsersRepository | None = None) -> UnlessOwnerDeleted:
    """EventBridge Scheduler for snipes, taking back a schedule made for an account whose
    deletion began meanwhile (read through ``users``, by default this container's). Not
    cached: a few strings over the clients common.scheduling caches; it follows the settings
    when a test process runs several stacks."""
    from common.scheduling import EventBridgeSnipeScheduler, SchedulerTarget, UnlessOwnerDeleted

    s = get_settings()
    scheduler = EventBridgeSnipeScheduler(
        SchedulerTarget(
            group_name=s.schedule_group_name,
            executor_arn=s.bid_executor_arn,
            role_arn=s.scheduler_role_arn,
            dead_letter_arn=s.snipe_dlq_arn or None,
        )
    )
    return UnlessOwnerDeleted(scheduler, (users or users_repo()).is_deleted)
