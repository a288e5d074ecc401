"""The stack's names and adapters as tests reach them, from the environment the session's
provisioned stack exported (tests/conftest.py): read afresh on every call, so a test that
changes a variable sees it. The functions build theirs in their composition roots."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from common import composition
from common.data.bids import BidsRepository
from common.data.connections import ConnectionsRepository
from common.data.cursor import CursorCodec, default_codec
from common.data.ebay_links import EbayLinksRepository
from common.data.email_guards import NotificationGuards
from common.data.groups import GroupsRepository
from common.data.history import HistoryRepository
from common.data.users import UsersRepository
from common.settings import (
    BidTables,
    CallBudget,
    ConnectionsTable,
    CursorKey,
    EbayApi,
    HistoryTtl,
    SnipeSchedules,
    TokenKey,
)

if TYPE_CHECKING:
    from common.ebay.client import EbayClient
    from common.scheduling import UnlessOwnerDeleted
    from common.token_crypto import TokenCipher


class StackSettings(
    BidTables,
    ConnectionsTable,
    SnipeSchedules,
    HistoryTtl,
    CallBudget,
    EbayApi,
    TokenKey,
    CursorKey,
):
    """The variables tests read (every function's environment holds them)."""


def get_settings() -> StackSettings:
    return StackSettings.model_validate(dict(os.environ))


def users_repo() -> UsersRepository:
    return UsersRepository(get_settings().users_and_app_state_table)


def bids_repo() -> BidsRepository:
    return composition.bids_repo(get_settings())


def history_repo() -> HistoryRepository:
    return HistoryRepository(get_settings().bid_history_table)


def connections_repo() -> ConnectionsRepository:
    return ConnectionsRepository(get_settings().connections_table)


def ebay_links_repo() -> EbayLinksRepository:
    return EbayLinksRepository(get_settings().users_and_app_state_table)


def groups_repo() -> GroupsRepository:
    return GroupsRepository(get_settings().users_and_app_state_table)


def notification_guards() -> NotificationGuards:
    return NotificationGuards(get_settings().users_and_app_state_table)


def snipe_scheduler() -> UnlessOwnerDeleted:
    return composition.snipe_scheduler(get_settings(), users_repo())


def ebay_client() -> EbayClient:
    return composition.ebay_client(get_settings())


def token_cipher() -> TokenCipher:
    return composition.token_cipher(get_settings())


def cursor_codec() -> CursorCodec:
    return default_codec(get_settings().cursor_secret_name)
