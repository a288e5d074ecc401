"""Adapters for the REST functions, built once per container on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.container import per_container
from common.data.bids import BidsRepository
from common.data.connections import ConnectionsRepository
from common.data.cursor import CursorCodec, default_codec
from common.data.ebay_links import EbayLinksRepository
from common.data.history import HistoryRepository
from common.data.users import UsersRepository
from common.settings import get_settings

if TYPE_CHECKING:
    from common.ebay.client import EbayClient
    from common.scheduling import EventBridgeSnipeScheduler
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
def connections_repo() -> ConnectionsRepository:
    return ConnectionsRepository(get_settings().connections_table)


def cursor_codec() -> CursorCodec:
    return default_codec()


@per_container
def ebay_links_repo() -> EbayLinksRepository:
    return EbayLinksRepository(get_settings().users_table)


@per_container
def token_cipher() -> TokenCipher:
    # Imported here: cryptography loads only in the functions that open token envelopes.
    from common.token_crypto import TokenCipher

    return TokenCipher(key_id=get_settings().token_kms_key_id)


def snipe_scheduler() -> EventBridgeSnipeScheduler:
    # Not cached: it is a few strings over clients common.scheduling caches, and it must follow
    # the settings when a test process runs several stacks.
    from common.scheduling import EventBridgeSnipeScheduler, SchedulerTarget

    s = get_settings()
    return EventBridgeSnipeScheduler(
        SchedulerTarget(
            group_name=s.schedule_group_name,
            executor_arn=s.bid_executor_arn,
            role_arn=s.scheduler_role_arn,
            dead_letter_arn=s.snipe_dlq_arn or None,
        )
    )


@per_container
def ebay_client() -> EbayClient:
    # Imported here: only the functions that talk to eBay pay for httpx at cold start.
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
