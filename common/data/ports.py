"""The repositories as logic sees them: typed ports, one per store.

``rest/logic`` and the snipe engine (``workers/logic/snipe_engine.py``) take these, never the
DynamoDB classes, so a unit test passes the in-memory repositories of ``tests/memory.py``. One
contract suite (``tests/integration/data/test_repository_contract.py``) runs against both
implementations, including the conditional writes the money path relies on (a transition on
the version read, ``unsealed``, ``freeze_before``, the seal, the group slot ledger), so the
in-memory ones cannot drift from DynamoDB's.

Each port lists exactly the methods logic calls; the DynamoDB classes have a few more, for
their own modules and the workers' narrower ports.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from common.data.ebay_deletions import NoticeRecord
    from common.data.ebay_links import EbayLink, NewLink
    from common.data.group_slots import Ledger
    from common.data.groups import GroupRule, GroupRuleEntity
    from common.models import (
        BidEntity,
        BidStatus,
        HistoryAction,
        HistoryEntity,
        KeyedCreate,
        Preferences,
        UserEntity,
    )


class BidStore(Protocol):
    """The snipes (common.data.bids.BidsRepository). Every write is conditional: a change that
    lost a race raises ConflictError and wrote nothing."""

    def get(self, user_id: str, bid_id: str) -> BidEntity | None: ...

    def require(self, user_id: str, bid_id: str) -> BidEntity: ...

    def query(
        self,
        user_id: str,
        statuses: Sequence[BidStatus] | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[BidEntity], dict[str, Any] | None]: ...

    def list_page(
        self,
        user_id: str,
        statuses: Collection[BidStatus],
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[BidEntity], dict[str, Any] | None]: ...

    def active_page(
        self, user_id: str, statuses: Collection[BidStatus], limit: int, after: str | None
    ) -> tuple[list[BidEntity], str | None]: ...

    def all_keys(self, user_id: str) -> list[BidEntity]: ...

    def active_snipes(self, user_id: str) -> list[BidEntity]: ...

    def active_count(self, user_id: str) -> int: ...

    def keyed_create(self, user_id: str, idempotency_key: str) -> KeyedCreate | None: ...

    def claim_wake(self, bid: BidEntity, fire_at: int) -> str | None: ...

    def give_back_wake(self, bid: BidEntity, token: str) -> None: ...

    def create(
        self,
        bid: BidEntity,
        history: HistoryEntity,
        max_active: int | None = None,
        *,
        replaces: str | None = None,
    ) -> None: ...

    def transition(
        self,
        before: BidEntity,
        after: BidEntity,
        history: HistoryEntity,
        allowed: Iterable[BidStatus],
        freeze_before: int | None = None,
        conflict_message: str = ...,
        *,
        unsealed: bool = False,
    ) -> BidEntity: ...

    def replace(
        self,
        before: BidEntity,
        after: BidEntity,
        allowed: Iterable[BidStatus],
        conflict_message: str = ...,
    ) -> BidEntity: ...

    def seal(self, bid: BidEntity, execution_id: str, now_ms: int) -> BidEntity: ...

    def delete_user_bids(self, user_id: str) -> list[BidEntity]: ...


class UserStore(Protocol):
    """Profiles and their guards (common.data.users.UsersRepository)."""

    def get(self, user_id: str) -> UserEntity | None: ...

    def get_live(self, user_id: str) -> UserEntity | None: ...

    def create(self, user: UserEntity) -> bool: ...

    def update_profile(
        self, user: UserEntity, display_name: str | None, email: str | None, now: int
    ) -> UserEntity: ...

    def update_preferences(
        self, user_id: str, preferences: Preferences, now: int
    ) -> UserEntity: ...

    def mark_deleted(self, user_id: str, now: int) -> int: ...

    def deletion_keys(self, user_id: str) -> list[str]: ...

    def delete_keys(self, keys: list[str]) -> None: ...

    def leave_tombstone(self, user_id: str, deleted_at: int, expires_at: int) -> None: ...


class HistoryStore(Protocol):
    """The audit trail (common.data.history.HistoryRepository)."""

    def query(
        self,
        user_id: str,
        actions: list[HistoryAction] | None,
        from_ms: int | None,
        to_ms: int | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[HistoryEntity], dict[str, Any] | None]: ...

    def for_bid(
        self, user_id: str, bid_id: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[HistoryEntity], dict[str, Any] | None]: ...

    def delete_user_history(self, user_id: str) -> int: ...


class EbayLinkStore(Protocol):
    """OAuth states and the eBay link (common.data.ebay_links.EbayLinksRepository)."""

    def put_state(self, state: str, owner_id: str, expires_at: int) -> None: ...

    def consume_state(self, state: str, owner_id: str, now: int) -> bool: ...

    def get(self, user_id: str) -> EbayLink | None: ...

    def link(self, user_id: str, new: NewLink, previous_account_id: str | None) -> None: ...

    def unlink(self, user_id: str, account_id: str, now_ms: int) -> bool: ...

    def replace_tokens(
        self,
        user_id: str,
        expected_envelope: str,
        envelope: str,
        access_expires_at: int,
        refresh_expires_at: int,
    ) -> bool: ...


class ConnectionStore(Protocol):
    """Open WebSockets as account deletion sees them (common.data.connections)."""

    def connection_ids(self, user_id: str) -> list[str]: ...

    def delete_user_connections(self, user_id: str) -> int: ...


class GroupStore(Protocol):
    """Snipe groups' rules (common.data.groups.GroupsRepository)."""

    def rule(self, user_id: str, group_id: str) -> GroupRule: ...

    def rules(self, user_id: str) -> Mapping[str, GroupRuleEntity]: ...

    def put_rule(
        self, user_id: str, group_id: str, rule: GroupRule, now: int
    ) -> GroupRuleEntity: ...

    def delete_user_groups(self, user_id: str, group_ids: Iterable[str] = ()) -> int: ...


class SlotLedger(Protocol):
    """A group's slot ledger (common.data.group_slots.GroupSlots): ``take`` and ``settle`` are
    each one conditional write, so two snipes of a group cannot both exceed its limit (I4)."""

    def read(self, user_id: str, group_id: str) -> Ledger: ...

    def read_many(self, user_id: str, group_ids: Iterable[str]) -> Mapping[str, Ledger]: ...

    def take(
        self, user_id: str, group_id: str, bid_id: str, limit: int, *, contingency: bool
    ) -> bool: ...

    def settle(self, user_id: str, group_id: str, bid_id: str, *, won: bool) -> bool: ...


class DeletionNoticeStore(Protocol):
    """eBay's account deletion notices (common.data.ebay_deletions.EbayDeletions)."""

    def account_owner(self, account_id: str) -> str | None: ...

    def notice(self, notification_id: str) -> NoticeRecord | None: ...

    def begin(self, notification_id: str, owner_id: str, expires_at: int) -> NoticeRecord: ...

    def finish(self, notification_id: str) -> None: ...

    def remove_link(self, user_id: str, account_id: str, now_ms: int) -> bool: ...


if TYPE_CHECKING:
    # mypy holds the DynamoDB repositories to their ports here (tests/memory.py's are held to
    # them by tests/unit/test_memory_repositories.py, tests not being type-checked).
    from common.data.bids import BidsRepository
    from common.data.connections import ConnectionsRepository
    from common.data.ebay_deletions import EbayDeletions
    from common.data.ebay_links import EbayLinksRepository
    from common.data.group_slots import GroupSlots
    from common.data.groups import GroupsRepository
    from common.data.history import HistoryRepository
    from common.data.users import UsersRepository

    def _conforms(
        bids: BidsRepository,
        users: UsersRepository,
        history: HistoryRepository,
        links: EbayLinksRepository,
        connections: ConnectionsRepository,
        groups: GroupsRepository,
        slots: GroupSlots,
        deletions: EbayDeletions,
    ) -> None:
        _bids: BidStore = bids
        _users: UserStore = users
        _history: HistoryStore = history
        _links: EbayLinkStore = links
        _connections: ConnectionStore = connections
        _groups: GroupStore = groups
        _slots: SlotLedger = slots
        _deletions: DeletionNoticeStore = deletions
