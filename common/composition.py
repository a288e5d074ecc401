"""Builders for the adapters several functions share, each from the settings it needs.

The functions' composition roots (``rest/composition.py``, ``workers/composition.py``,
``realtime/composition.py``) call these once per container. Heavy imports (httpx and the eBay
client, cryptography) happen inside the builders, so a function pays for them at cold start
only if it uses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.data.bids import BidsRepository
from common.settings import BidTables, EbayApi, SnipeSchedules, TokenKey

if TYPE_CHECKING:
    from common.data.users import UsersRepository
    from common.ebay.client import EbayClient
    from common.scheduling import UnlessOwnerDeleted
    from common.token_crypto import TokenCipher


def bids_repo(s: BidTables) -> BidsRepository:
    return BidsRepository(s.bids_table, s.users_and_app_state_table, s.bid_history_table)


def token_cipher(s: TokenKey) -> TokenCipher:
    """KMS when TOKEN_KMS_KEY_ID is set (production), the parameter's key (TOKEN_KEY_PARAMETER)
    always, to open what it sealed."""
    from common.token_crypto import cipher_for

    return cipher_for(s.token_kms_key_id, s.token_key_parameter)


def ebay_client(s: EbayApi) -> EbayClient:
    from common.ebay.client import EbayClient
    from common.ebay.config import EbayConfig
    from common.ebay.credentials import secret_credentials

    config = EbayConfig.for_environment(
        s.ebay_environment,
        api_base_url=s.ebay_api_base_url,
        auth_base_url=s.ebay_auth_url,
        marketplace_id=s.ebay_marketplace_id,
        app_secret_name=s.ebay_app_secret_name,
    )
    return EbayClient(config, secret_credentials(s.ebay_app_secret_name))


def snipe_scheduler(s: SnipeSchedules, users: UsersRepository) -> UnlessOwnerDeleted:
    """EventBridge Scheduler for snipes, taking back a schedule made for an account whose
    deletion began meanwhile (read through ``users``)."""
    from common.scheduling import EventBridgeSnipeScheduler, SchedulerTarget, UnlessOwnerDeleted

    scheduler = EventBridgeSnipeScheduler(
        SchedulerTarget(
            group_name=s.schedule_group_name,
            executor_arn=s.bid_executor_arn,
            role_arn=s.scheduler_role_arn,
            dead_letter_arn=s.snipe_dlq_arn or None,
        )
    )
    return UnlessOwnerDeleted(scheduler, users.is_deleted)
