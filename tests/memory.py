"""In-memory repositories: the ports of common/data/ports.py without a database.

They keep DynamoDB's rules, not just its data: every write the DynamoDB repository makes
conditionally is conditional here too (on the version read, the status, the freeze instant, no
seal, the guards, the active-snipe cap, the account not being deleted), all-or-nothing like a
transaction, raising the same domain errors. ``tests/integration/data/test_repository_contract.py``
runs one suite against these and the DynamoDB repositories (moto's server), so they cannot
drift; unit tests of ``rest/logic`` and the snipe engine use these instead of moto.

One ``MemoryTables`` is one database: the Users table is a dict of items keyed as DynamoDB's
(profiles, guards, the active-snipe sets, group rules and ledgers share it, as they do there),
so what one repository writes, another reads.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from common.data.active_snipes import active_snipes_key
from common.data.bids import LIST_READ_BUDGET, NOT_LINKED_FOR_SEAL, SEAL_AFTER_END_MS
from common.data.connections import MAX_CONNECTION_MS
from common.data.ebay_deletions import NoticeRecord, NoticeState, notice_key
from common.data.ebay_links import (
    LINK_ATTRIBUTES,
    EbayLink,
    NewLink,
    oauth_state_key,
)
from common.data.group_slots import Ledger
from common.data.groups import DEFAULT_RULE, GroupRule, GroupRuleEntity, group_key
from common.data.refresh_claims import Claim, reopens_in
from common.data.snipe_updates import ALLOWED as UPDATABLE
from common.data.users import (
    ACCOUNT_DELETED,
    DELETED_AT,
    SEALED_MESSAGE,
    ebay_account_guard_key,
    email_guard_key,
    keyed_create_key,
    snipe_guard_key,
)
from common.errors import (
    AccountDeletedError,
    ActiveSnipeExists,
    ConflictError,
    EbayNotLinkedError,
    FieldIssue,
    IdempotencyKeyTaken,
    NotFoundError,
    SnipeSealedError,
    TooManyActiveSnipes,
    TooManyConnections,
)
from common.history import history_entry
from common.models import (
    EBAY_LINKED,
    BidEntity,
    BidStatus,
    ConnectionEntity,
    HistoryAction,
    HistoryEntity,
    KeyedCreate,
    Preferences,
    UserEntity,
)


class MemoryTables:
    """The state of one in-memory database, shared by the repositories made on it."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}  # the Users table, by its key
        self.bids: dict[tuple[str, str], BidEntity] = {}
        self.history: dict[tuple[str, str], HistoryEntity] = {}
        # The Connections table: each user's rows, and their index item's ids and ttl.
        self.sockets: dict[str, dict[str, ConnectionEntity]] = {}
        self.socket_index: dict[str, dict[str, Any]] = {}
        # One writer at a time, as DynamoDB serialises the conditional writes to one item.
        self.lock = threading.RLock()

    def profile_deleted(self, user_id: str) -> bool:
        return DELETED_AT in self.users.get(user_id, {})

    def owned_keys(self, user_id: str) -> list[str]:
        return sorted(k for k, item in self.users.items() if item.get("ownerId") == user_id)


def _page(keys: list[str], start_after: str | None, limit: int) -> tuple[list[str], str | None]:
    """Up to ``limit`` of ``keys`` (newest first) after ``start_after``, and the last one read
    when more remain (DynamoDB's Limit counts the items read, before a filter)."""
    if start_after is not None:
        keys = [k for k in keys if k < start_after]
    read = keys[:limit]
    return read, (read[-1] if len(keys) > limit else None)


class MemoryBids:
    """common.data.bids.BidsRepository."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    # ------------------------------------------------------------------ reads
    def get(self, user_id: str, bid_id: str) -> BidEntity | None:
        bid = self.t.bids.get((user_id, bid_id))
        return bid.model_copy() if bid else None

    def require(self, user_id: str, bid_id: str) -> BidEntity:
        bid = self.get(user_id, bid_id)
        if bid is None:
            raise NotFoundError("No snipe with this id", [FieldIssue("bidId", "not found")])
        return bid

    def query(
        self,
        user_id: str,
        statuses: Sequence[BidStatus] | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[BidEntity], dict[str, Any] | None]:
        ids = sorted((b for (u, b) in self.t.bids if u == user_id), reverse=True)
        start = start_key["bidId"]["S"] if start_key else None
        read, last = _page(ids, start, limit)
        found = [self.t.bids[(user_id, b)].model_copy() for b in read]
        if statuses:
            found = [bid for bid in found if bid.status in statuses]
        key = {"userId": {"S": user_id}, "bidId": {"S": last}} if last else None
        return found, key

    def list_page(
        self,
        user_id: str,
        statuses: Collection[BidStatus],
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[BidEntity], dict[str, Any] | None]:
        ids = sorted((b for (u, b) in self.t.bids if u == user_id), reverse=True)
        start = start_key["bidId"]["S"] if start_key else None
        if start is not None:
            ids = [b for b in ids if b < start]
        found: list[BidEntity] = []
        for read, bid_id in enumerate(ids[:LIST_READ_BUDGET], start=1):
            bid = self.t.bids[(user_id, bid_id)]
            if bid.status in statuses:
                found.append(bid.model_copy())
            if len(found) == limit or read == LIST_READ_BUDGET:
                more = read < len(ids)
                return found, {"userId": {"S": user_id}, "bidId": {"S": bid_id}} if more else None
        return found, None

    def active_page(
        self, user_id: str, statuses: Collection[BidStatus], limit: int, after: str | None
    ) -> tuple[list[BidEntity], str | None]:
        held = self.t.users.get(active_snipes_key(user_id), {}).get("bidIds", set())
        ids = sorted((b for b in held if after is None or b < after), reverse=True)
        found: list[BidEntity] = []
        for looked, bid_id in enumerate(ids, start=1):
            bid = self.t.bids.get((user_id, bid_id))
            if bid is not None and bid.status.is_active and bid.status in statuses:
                found.append(bid.model_copy())
            if len(found) == limit:
                return found, bid_id if looked < len(ids) else None
        return found, None

    def all_keys(self, user_id: str) -> list[BidEntity]:
        ids = sorted((b for (u, b) in self.t.bids if u == user_id), reverse=True)
        return [self.t.bids[(user_id, b)].model_copy() for b in ids]

    def active_snipes(self, user_id: str) -> list[BidEntity]:
        ids = self.t.users.get(active_snipes_key(user_id), {}).get("bidIds", set())
        found = [self.t.bids[(user_id, b)] for b in ids if (user_id, b) in self.t.bids]
        active = [bid.model_copy() for bid in found if bid.status.is_active]
        return sorted(active, key=lambda bid: (bid.auctionEndTime, bid.bidId))

    def active_count(self, user_id: str) -> int:
        return len(self.t.users.get(active_snipes_key(user_id), {}).get("bidIds", set()))

    def keyed_create(self, user_id: str, idempotency_key: str) -> KeyedCreate | None:
        with self.t.lock:
            record = self.t.users.get(keyed_create_key(user_id, idempotency_key))
            return record["made"] if record else None

    def claim_wake(self, bid: BidEntity, fire_at: int) -> str | None:
        with self.t.lock:
            guard = self.t.users.get(snipe_guard_key(bid.userId, bid.ebayItemId))
            if guard is None or guard["bidId"] != bid.bidId or guard.get("wokenFor") == fire_at:
                return None
            token = secrets.token_hex(8)
            guard.update(wokenFor=fire_at, wokenBy=token)
            return token

    def give_back_wake(self, bid: BidEntity, token: str) -> None:
        with self.t.lock:
            guard = self.t.users.get(snipe_guard_key(bid.userId, bid.ebayItemId))
            if guard and guard["bidId"] == bid.bidId and guard.get("wokenBy") == token:
                del guard["wokenFor"], guard["wokenBy"]

    def active_ending_between(self, start: int, end: int) -> list[BidEntity]:
        return [
            bid.model_copy()
            for bid in self.t.bids.values()
            if bid.status.is_active
            and bid.countdownPhase != "OUTCOME_UNKNOWN"
            and start <= bid.auctionEndTime <= end
        ]

    # ------------------------------------------------------------------ writes
    def create(
        self,
        bid: BidEntity,
        history: HistoryEntity,
        max_active: int | None = None,
        *,
        replaces: str | None = None,
    ) -> None:
        with self.t.lock:
            guard = snipe_guard_key(bid.userId, bid.ebayItemId)
            slots = self.t.users.get(active_snipes_key(bid.userId), {}).get("bidIds", set())
            if self.t.profile_deleted(bid.userId):
                raise AccountDeletedError(ACCOUNT_DELETED)
            key = keyed_create_key(bid.userId, bid.idempotencyKey) if bid.idempotencyKey else None
            taken = self.t.users.get(key) if key else None
            if taken and not (replaces and taken["made"].bidId == replaces):
                raise IdempotencyKeyTaken(
                    "This Idempotency-Key already made a snipe", made=self.t.users[key]["made"]
                )
            if guard in self.t.users:
                raise ActiveSnipeExists(
                    "You already have an active snipe on this item",
                    [FieldIssue("ebayItemId", "an active snipe exists for this item")],
                )
            if max_active is not None and len(slots) >= max_active:
                raise TooManyActiveSnipes(
                    f"You have {max_active} active snipes, the most one account may have; "
                    "cancel one or wait until one of their auctions ends",
                    [FieldIssue("ebayItemId", f"at most {max_active} active snipes")],
                )
            if (bid.userId, bid.bidId) in self.t.bids or self._history_exists(history):
                raise ConflictError("The item changed or already exists")
            self.t.users[guard] = {"userId": guard, "ownerId": bid.userId, "bidId": bid.bidId}
            if key:
                made = KeyedCreate.of(bid)
                self.t.users[key] = {"userId": key, "ownerId": bid.userId, "made": made}
            self.t.bids[(bid.userId, bid.bidId)] = bid.model_copy()
            self._add_history(history)
            counted = self.t.users.setdefault(
                active_snipes_key(bid.userId), {"userId": active_snipes_key(bid.userId)}
            )
            counted["ownerId"] = bid.userId
            counted.setdefault("bidIds", set()).add(bid.bidId)

    def transition(
        self,
        before: BidEntity,
        after: BidEntity,
        history: HistoryEntity,
        allowed: Iterable[BidStatus],
        freeze_before: int | None = None,
        conflict_message: str = "The snipe changed meanwhile; reload and try again",
        *,
        unsealed: bool = False,
    ) -> BidEntity:
        after = after.model_copy(update={"version": before.version + 1})
        with self.t.lock:
            stored = self.t.bids.get((before.userId, before.bidId))
            ok = (
                stored is not None
                and stored.version == before.version
                and stored.status in set(allowed)
                and (freeze_before is None or stored.freeze_at > freeze_before)
                and not (unsealed and stored.sealed)
                and not self._history_exists(history)
            )
            guard = snipe_guard_key(before.userId, before.ebayItemId)
            leaving = before.status.is_active and not after.status.is_active
            if leaving and self.t.users.get(guard, {}).get("bidId", before.bidId) != before.bidId:
                ok = False
            if not ok:
                raise ConflictError(conflict_message)
            self.t.bids[(before.userId, before.bidId)] = after
            self._add_history(history)
            if leaving:
                self.t.users.pop(guard, None)
                counted = self.t.users.setdefault(
                    active_snipes_key(before.userId), {"userId": active_snipes_key(before.userId)}
                )
                counted["ownerId"] = before.userId
                counted.setdefault("bidIds", set()).discard(before.bidId)
                if not counted["bidIds"]:
                    del counted["bidIds"]
        return after.model_copy()

    def replace(
        self,
        before: BidEntity,
        after: BidEntity,
        allowed: Iterable[BidStatus],
        conflict_message: str = "The snipe changed meanwhile",
    ) -> BidEntity:
        if before.status.is_active != after.status.is_active:
            raise ValueError("a change of activity goes through transition(), with history")
        after = after.model_copy(update={"version": before.version + 1})
        with self.t.lock:
            stored = self.t.bids.get((before.userId, before.bidId))
            if stored == after:
                # This very write, sent again after its answer was lost (DynamoDB's
                # wrote_already).
                return after.model_copy()
            if (
                stored is None
                or stored.version != before.version
                or stored.status not in set(allowed)
            ):
                raise ConflictError(conflict_message)
            self.t.bids[(before.userId, before.bidId)] = after
        return after.model_copy()

    def seal(self, bid: BidEntity, execution_id: str, now_ms: int) -> BidEntity:
        after = bid.model_copy(update={"sealedAt": now_ms, "version": bid.version + 1})
        until = bid.end_ms + SEAL_AFTER_END_MS
        with self.t.lock:
            stored = self.t.bids.get((bid.userId, bid.bidId))
            if stored == after:
                # This very seal, sent again after its answer was lost (DynamoDB's wrote_already).
                return after.model_copy()
            if (
                stored is None
                or stored.version != bid.version
                or stored.status is not BidStatus.ARMED
                or stored.executionId != execution_id
                or stored.sealed
            ):
                raise ConflictError("The snipe changed before it was sealed")
            profile = self.t.users.get(bid.userId)
            if profile is None or DELETED_AT in profile:
                raise AccountDeletedError(ACCOUNT_DELETED)
            if "ebayAccountId" not in profile:
                raise EbayNotLinkedError(NOT_LINKED_FOR_SEAL)
            # The profile's sealedUntil only grows: a later snipe's seal is kept.
            profile["sealedUntil"] = max(int(profile.get("sealedUntil", 0)), until)
            self.t.bids[(bid.userId, bid.bidId)] = after
        return after.model_copy()

    def delete_user_bids(self, user_id: str) -> list[BidEntity]:
        with self.t.lock:
            bids = self.all_keys(user_id)
            for bid in bids:
                self.t.bids.pop((user_id, bid.bidId), None)
                self.t.users.pop(snipe_guard_key(user_id, bid.ebayItemId), None)
                if bid.idempotencyKey:
                    self.t.users.pop(keyed_create_key(user_id, bid.idempotencyKey), None)
        return bids

    def _history_exists(self, history: HistoryEntity) -> bool:
        return (history.userId, history.historyId) in self.t.history

    def _add_history(self, history: HistoryEntity) -> None:
        self.t.history[(history.userId, history.historyId)] = history.model_copy()


class MemoryActiveSnipes:
    """rest.logic.caps.ActiveCount (common.data.active_snipes.ActiveSnipes)."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    def count(self, user_id: str) -> int:
        return len(self.t.users.get(active_snipes_key(user_id), {}).get("bidIds", set()))

    def soonest_end(self, user_id: str, now: int) -> int | None:
        ends = [bid.auctionEndTime for bid in MemoryBids(self.t).active_snipes(user_id)]
        return min(ends) if ends else None


class MemoryUsers:
    """common.data.users.UsersRepository."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    def get(self, user_id: str) -> UserEntity | None:
        item = self.t.users.get(user_id)
        if item is None or DELETED_AT in item:
            return None
        return UserEntity.model_validate(item)

    def get_live(self, user_id: str) -> UserEntity | None:
        item = self.t.users.get(user_id)
        if item is not None and DELETED_AT in item:
            raise AccountDeletedError(ACCOUNT_DELETED)
        return UserEntity.model_validate(item) if item else None

    def is_deleted(self, user_id: str) -> bool:
        return self.t.profile_deleted(user_id)

    def require(self, user_id: str) -> UserEntity:
        user = self.get(user_id)
        if user is None:
            raise NotFoundError("No profile exists for this user")
        return user

    def create(self, user: UserEntity) -> bool:
        with self.t.lock:
            if user.userId in self.t.users:
                return False
            guard = email_guard_key(user.email)
            if guard in self.t.users:
                raise ConflictError(
                    "This email address belongs to another account",
                    [FieldIssue("email", "already in use")],
                )
            self.t.users[user.userId] = _stored(user.model_dump(mode="json"))
            self.t.users[guard] = {"userId": guard, "ownerId": user.userId}
        return True

    def update_profile(
        self, user: UserEntity, display_name: str | None, email: str | None, now: int
    ) -> UserEntity:
        with self.t.lock:
            new_email = email.strip() if email else None
            moving = bool(new_email and new_email.lower() != user.email.lower())
            if moving and email_guard_key(new_email or "") in self.t.users:
                raise ConflictError(
                    "This email address belongs to another account",
                    [FieldIssue("email", "already in use")],
                )
            stored = self.t.users.get(user.userId)
            if stored is None or stored.get("updatedAt") != user.updatedAt or DELETED_AT in stored:
                raise ConflictError("The profile changed meanwhile; reload and try again")
            stored["updatedAt"] = now
            if display_name is not None:
                stored["displayName"] = display_name
            if moving and new_email:
                stored["email"] = new_email
                self.t.users[email_guard_key(new_email)] = {
                    "userId": email_guard_key(new_email),
                    "ownerId": user.userId,
                }
                self.t.users.pop(email_guard_key(user.email), None)
        return self.require(user.userId)

    def update_preferences(self, user_id: str, preferences: Preferences, now: int) -> UserEntity:
        with self.t.lock:
            stored = self.t.users.get(user_id)
            if stored is None or DELETED_AT in stored:
                raise ConflictError("No profile exists for this user")
            stored["preferences"] = preferences.model_dump(mode="json")
            stored["updatedAt"] = now
            return UserEntity.model_validate(stored)

    def owned_keys(self, user_id: str) -> list[str]:
        return self.t.owned_keys(user_id)

    def delete_keys(self, keys: list[str]) -> None:
        with self.t.lock:
            for key in keys:
                self.t.users.pop(key, None)

    def mark_deleted(self, user_id: str, now: int) -> int:
        with self.t.lock:
            item = self.t.users.get(user_id)
            if item is not None and DELETED_AT in item:
                return int(item[DELETED_AT])
            until = int((item or {}).get("sealedUntil", 0))
            if item is not None and "sealedUntil" in item and until >= now:
                retry_after = max(1, -(-(until - now) // 1000))
                raise SnipeSealedError(
                    SEALED_MESSAGE, [FieldIssue("retryAfter", f"{retry_after} s")]
                )
            item = self.t.users.setdefault(user_id, {"userId": user_id})
            item[DELETED_AT] = now
            return now

    def deletion_keys(self, user_id: str) -> list[str]:
        keys = set(self.t.owned_keys(user_id))
        profile = self.t.users.get(user_id, {})
        if profile.get("email"):
            keys.add(email_guard_key(str(profile["email"])))
        if profile.get("ebayAccountId"):
            keys.add(ebay_account_guard_key(str(profile["ebayAccountId"])))
        keys.discard(user_id)
        return sorted(keys)

    def leave_tombstone(self, user_id: str, deleted_at: int, expires_at: int) -> None:
        with self.t.lock:
            self.t.users[user_id] = {"userId": user_id, DELETED_AT: deleted_at, "ttl": expires_at}

    # A test's way to link a profile (what the eBay linking code stores on it).
    def link(self, user_id: str, ebay_account_id: str) -> None:
        with self.t.lock:
            self.t.users[user_id]["ebayAccountId"] = ebay_account_id
            self.t.users[user_id]["ebayLinkState"] = "LINKED"


def _stored(data: dict[str, Any]) -> dict[str, Any]:
    """What DynamoDB keeps of an item: no None attributes (to_item drops them)."""
    return {k: v for k, v in data.items() if v is not None}


class MemoryHistory:
    """common.data.history.HistoryRepository."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    def query(
        self,
        user_id: str,
        actions: list[HistoryAction] | None,
        from_ms: int | None,
        to_ms: int | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[HistoryEntity], dict[str, Any] | None]:
        lower = f"{(from_ms or 0):013d}"
        upper = f"{(to_ms if to_ms is not None else 9_999_999_999_999):013d}~"
        ids = sorted(
            (h for (u, h) in self.t.history if u == user_id and lower <= h <= upper),
            reverse=True,
        )
        start = start_key["historyId"]["S"] if start_key else None
        read, last = _page(ids, start, limit)
        found = [self.t.history[(user_id, h)] for h in read]
        if actions:
            found = [entry for entry in found if entry.action in actions]
        key = {"userId": {"S": user_id}, "historyId": {"S": last}} if last else None
        return found, key

    def for_bid(
        self, user_id: str, bid_id: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[HistoryEntity], dict[str, Any] | None]:
        ids = sorted(
            (
                h
                for (u, h), e in self.t.history.items()
                if e.originalBidId == bid_id and u == user_id
            ),
            reverse=True,
        )
        start = start_key["historyId"]["S"] if start_key else None
        read, last = _page(ids, start, limit)
        found = [self.t.history[(user_id, h)] for h in read]
        key = (
            {"userId": {"S": user_id}, "historyId": {"S": last}, "originalBidId": {"S": bid_id}}
            if last
            else None
        )
        return found, key

    def delete_user_history(self, user_id: str) -> int:
        with self.t.lock:
            keys = [k for k in self.t.history if k[0] == user_id]
            for key in keys:
                del self.t.history[key]
        return len(keys)


class MemoryConnections:
    """common.data.connections.ConnectionsRepository: each user's open sockets, and the index
    item naming them that the per-user cap is a condition on."""

    def __init__(self, tables: MemoryTables, clock: Callable[[], float] = time.time) -> None:
        self.t = tables
        self.clock = clock

    def put(
        self,
        connection: ConnectionEntity,
        *,
        users_and_app_state_table: str | None = None,
        max_connections: int | None = None,
    ) -> None:
        try:
            self._record(connection, users_and_app_state_table, max_connections)
        except TooManyConnections:
            if not self._forget_closed(connection.userId):
                raise
            self._record(connection, users_and_app_state_table, max_connections)

    def _record(
        self,
        connection: ConnectionEntity,
        users_and_app_state_table: str | None,
        max_connections: int | None,
    ) -> None:
        user_id, connection_id = connection.userId, connection.connectionId
        with self.t.lock:
            if users_and_app_state_table is not None and self.t.profile_deleted(user_id):
                raise AccountDeletedError(ACCOUNT_DELETED)
            ids = self.t.socket_index.get(user_id, {}).get("ids", set())
            full = max_connections is not None and len(ids) >= max_connections
            if full and connection_id not in ids:
                raise TooManyConnections(
                    f"You have {max_connections} live connections open, the most one account "
                    "may have; close one (another tab or terminal) and connect again",
                    [FieldIssue("connection", f"at most {max_connections} per user")],
                )
            index = self.t.socket_index.setdefault(user_id, {"ids": set()})
            index["ids"].add(connection_id)
            index["ttl"] = connection.ttl
            self.t.sockets.setdefault(user_id, {})[connection_id] = connection.model_copy()

    def _forget_closed(self, user_id: str) -> bool:
        with self.t.lock:
            rows = self.t.sockets.get(user_id, {})
            index = self.t.socket_index.get(user_id, {"ids": set()})
            opened_after = int(self.clock() * 1000) - MAX_CONNECTION_MS
            closed = {
                c for c in index["ids"] if c not in rows or rows[c].connectedAt < opened_after
            }
            index["ids"] -= closed
        return bool(closed)

    def delete(self, user_id: str, connection_id: str) -> None:
        with self.t.lock:
            self.t.socket_index.get(user_id, {"ids": set()})["ids"].discard(connection_id)
            self.t.sockets.get(user_id, {}).pop(connection_id, None)

    def connection_ids(self, user_id: str) -> list[str]:
        return sorted(self.t.sockets.get(user_id, {}))

    def connection_ids_by_user(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        now = self.clock()
        found: dict[str, list[str]] = {}
        for user_id in user_ids:
            index = self.t.socket_index.get(user_id, {})
            expired = "ttl" in index and index["ttl"] < now
            found[user_id] = [] if expired else sorted(index.get("ids", set()))
        return found

    def delete_user_connections(self, user_id: str) -> int:
        with self.t.lock:
            self.t.socket_index.pop(user_id, None)
            return len(self.t.sockets.pop(user_id, {}))


class MemoryGroups:
    """common.data.groups.GroupsRepository."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    def rule(self, user_id: str, group_id: str) -> GroupRule:
        item = self.t.users.get(group_key(user_id, group_id), {})
        if "groupMode" not in item:
            return DEFAULT_RULE
        return GroupRule(mode=item["groupMode"], limit=item["groupLimit"])

    def put_rule(self, user_id: str, group_id: str, rule: GroupRule, now: int) -> GroupRuleEntity:
        entity = GroupRuleEntity(
            ownerId=user_id,
            groupId=group_id,
            groupMode=rule.mode,
            groupLimit=rule.limit,
            updatedAt=now,
        )
        with self.t.lock:
            if self.t.profile_deleted(user_id):
                raise AccountDeletedError(ACCOUNT_DELETED)
            key = group_key(user_id, group_id)
            self.t.users.setdefault(key, {"userId": key}).update(entity.model_dump(mode="json"))
        return entity

    def rules(self, user_id: str) -> dict[str, GroupRuleEntity]:
        prefix = group_key(user_id, "")
        return {
            item["groupId"]: GroupRuleEntity.model_validate(item)
            for key, item in sorted(self.t.users.items())
            if key.startswith(prefix) and "groupMode" in item and item.get("ownerId") == user_id
        }

    def delete_user_groups(self, user_id: str, group_ids: Iterable[str] = ()) -> int:
        prefix = group_key(user_id, "")
        with self.t.lock:
            keys = {k for k in self.t.owned_keys(user_id) if k.startswith(prefix)}
            keys.update(group_key(user_id, g) for g in group_ids)
            for key in keys:
                self.t.users.pop(key, None)
        return len(keys)


class MemorySlots:
    """common.data.group_slots.GroupSlots."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    def read(self, user_id: str, group_id: str) -> Ledger:
        return Ledger.of(self.t.users.get(group_key(user_id, group_id), {}))

    def read_many(self, user_id: str, group_ids: Iterable[str]) -> Mapping[str, Ledger]:
        return {g: self.read(user_id, g) for g in sorted(set(group_ids))}

    def take(
        self, user_id: str, group_id: str, bid_id: str, limit: int, *, contingency: bool
    ) -> bool:
        key = group_key(user_id, group_id)
        with self.t.lock:
            item = self.t.users.get(key, {})
            free = bid_id not in item.get("holders", set()) and item.get("held", 0) < limit
            if contingency:
                free = free and item.get("pending", 0) == 0 and item.get("lost", 0) == 0
            if not free:
                return bid_id in self.read(user_id, group_id).holders
            item = self.t.users.setdefault(key, {"userId": key})
            item.setdefault("holders", set()).add(bid_id)
            item["held"] = item.get("held", 0) + 1
            item["pending"] = item.get("pending", 0) + 1
            item.setdefault("ownerId", user_id)
            item.setdefault("groupId", group_id)
        return True

    def settle(self, user_id: str, group_id: str, bid_id: str, *, won: bool) -> bool:
        key = group_key(user_id, group_id)
        with self.t.lock:
            item = self.t.users.get(key)
            if item is None or bid_id not in item.get("holders", set()):
                return False
            if bid_id in item.get("settled", set()):
                return True  # settled already: by a retried attempt of this call, or another
            item.setdefault("settled", set()).add(bid_id)
            item["pending"] = item.get("pending", 0) - 1
            if not won:
                item["held"] = item.get("held", 0) - 1
                item["lost"] = item.get("lost", 0) + 1
        return True


class MemoryEbayLinks:
    """common.data.ebay_links.EbayLinksRepository: OAuth states and the link, on the profile."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    def put_state(self, state: str, owner_id: str, expires_at: int) -> None:
        key = oauth_state_key(state)
        with self.t.lock:
            if self.t.profile_deleted(owner_id):
                raise AccountDeletedError(ACCOUNT_DELETED)
            if key in self.t.users:
                raise ConflictError("This state already exists")
            self.t.users[key] = {
                "userId": key,
                "ownerId": owner_id,
                "expiresAt": expires_at,
                "ttl": expires_at,
            }

    def consume_state(self, state: str, owner_id: str, now: int) -> bool:
        key = oauth_state_key(state)
        with self.t.lock:
            item = self.t.users.get(key)
            if item is None or item["ownerId"] != owner_id or item["expiresAt"] <= now:
                return False
            del self.t.users[key]
        return True

    def get(self, user_id: str) -> EbayLink | None:
        data = self.t.users.get(user_id, {})
        if not data.get("ebayTokens") or not data.get("ebayAccountId"):
            return None
        return EbayLink(
            user_id=user_id,
            account_id=str(data["ebayAccountId"]),
            envelope=str(data["ebayTokens"]),
            linked_at=int(data.get("ebayLinkedAt", 0)),
            access_expires_at=int(data.get("ebayAccessExpiresAt", 0)),
            refresh_expires_at=int(data.get("ebayRefreshExpiresAt", 0)),
        )

    def link(self, user_id: str, new: NewLink, previous_account_id: str | None) -> None:
        guard = ebay_account_guard_key(new.account_id)
        with self.t.lock:
            holder = self.t.users.get(guard, {}).get("ownerId", user_id)
            if holder != user_id:
                raise ConflictError(
                    "This eBay account is already linked to another user",
                    [FieldIssue("ebayAccountId", "linked to another user")],
                )
            profile = self.t.users.get(user_id)
            if profile is None or DELETED_AT in profile:
                raise ConflictError("The profile changed meanwhile; try linking again")
            until = profile.get("sealedUntil")
            if (
                profile.get("ebayAccountId") != new.account_id
                and until is not None
                and until >= new.linked_at
            ):
                retry_after = max(1, -(-(until - new.linked_at) // 1000))
                raise SnipeSealedError(
                    SEALED_MESSAGE, [FieldIssue("retryAfter", f"{retry_after} s")]
                )
            previous = (
                ebay_account_guard_key(previous_account_id)
                if previous_account_id and previous_account_id != new.account_id
                else None
            )
            if previous and self.t.users.get(previous, {}).get("ownerId", user_id) != user_id:
                raise ConflictError("The profile changed meanwhile; try linking again")
            profile.pop("relinkWarnedFor", None)
            profile.update(
                ebayTokens=new.envelope,
                ebayAccountId=new.account_id,
                ebayLinkedAt=new.linked_at,
                ebayAccessExpiresAt=new.access_expires_at,
                ebayRefreshExpiresAt=new.refresh_expires_at,
                ebayLinkState=EBAY_LINKED,
            )
            self.t.users[guard] = {"userId": guard, "ownerId": user_id}
            if previous:
                self.t.users.pop(previous, None)

    def unlink(self, user_id: str, account_id: str, now_ms: int) -> bool:
        return _remove_link(self.t, user_id, account_id, now_ms, {})

    def replace_tokens(
        self,
        user_id: str,
        expected_envelope: str,
        envelope: str,
        access_expires_at: int,
        refresh_expires_at: int,
    ) -> bool:
        with self.t.lock:
            profile = self.t.users.get(user_id)
            if profile is None or profile.get("ebayTokens") != expected_envelope:
                return False
            profile.update(
                ebayTokens=envelope,
                ebayAccessExpiresAt=access_expires_at,
                ebayRefreshExpiresAt=refresh_expires_at,
            )
        return True


def _remove_link(
    tables: MemoryTables, user_id: str, account_id: str, now_ms: int, mark: dict[str, Any]
) -> bool:
    """The link's attributes and its account guard removed together (``mark`` set on the
    profile), unless the link is gone (False) or a sealed snipe is placing its bid
    (SnipeSealedError): what an unlink and an eBay account deletion notice do."""
    guard = ebay_account_guard_key(account_id)
    with tables.lock:
        profile = tables.users.get(user_id) or {}
        until = profile.get("sealedUntil")
        sealed = until is not None and until >= now_ms
        if profile.get("ebayAccountId") != account_id or sealed:
            if sealed:
                retry_after = max(1, -(-(until - now_ms) // 1000))
                raise SnipeSealedError(
                    SEALED_MESSAGE, [FieldIssue("retryAfter", f"{retry_after} s")]
                )
            return False
        if tables.users.get(guard, {}).get("ownerId", user_id) != user_id:
            raise ConflictError("The eBay link changed meanwhile; try again")
        for name in LINK_ATTRIBUTES:
            profile.pop(name, None)
        profile.update(mark)
        tables.users.pop(guard, None)
    return True


class MemoryEbayDeletions:
    """common.data.ebay_deletions.EbayDeletions."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    def account_owner(self, account_id: str) -> str | None:
        owner = self.t.users.get(ebay_account_guard_key(account_id), {}).get("ownerId")
        return str(owner) if owner else None

    def notice(self, notification_id: str) -> NoticeRecord | None:
        item = self.t.users.get(notice_key(notification_id))
        if item is None:
            return None
        owner = item.get("ownerId")
        return NoticeRecord(notification_id, NoticeState(item["state"]), owner or None)

    def begin(self, notification_id: str, owner_id: str, expires_at: int) -> NoticeRecord:
        key = notice_key(notification_id)
        with self.t.lock:
            existing = self.notice(notification_id)
            if existing is not None:
                return existing
            self.t.users[key] = {
                "userId": key,
                "state": NoticeState.PROCESSING.value,
                "ownerId": owner_id,
                "ttl": expires_at,
            }
        return NoticeRecord(notification_id, NoticeState.PROCESSING, owner_id)

    def finish(self, notification_id: str) -> None:
        key = notice_key(notification_id)
        with self.t.lock:
            self.t.users.setdefault(key, {"userId": key})["state"] = NoticeState.DONE.value

    def remove_link(self, user_id: str, account_id: str, now_ms: int) -> bool:
        return _remove_link(self.t, user_id, account_id, now_ms, {"ebayDeletedAt": now_ms})


class MemorySnipeUpdates:
    """common.data.snipe_updates.SnipeUpdates: the price updater's writes."""

    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    def apply(self, bid: BidEntity, changes: dict[str, Any], now: int) -> bool:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not a price-updater attribute: {sorted(unknown)}")
        with self.t.lock:
            stored = self.t.bids.get((bid.userId, bid.bidId))
            if (
                stored is None
                or stored.version != bid.version
                or stored.status is not bid.status
                or stored.freeze_at <= now
                or stored.sealed
            ):
                return False
            self.t.bids[(bid.userId, bid.bidId)] = stored.model_copy(
                update={**changes, "version": bid.version + 1}
            )
        return True


class MemoryRefreshClaims:
    """common.data.refresh_claims.RefreshClaims (price_polls.RefreshClaims) in memory, with its
    conditions: a window is taken only once it is over, a claim that is refused answers
    when the window it lost to reopens, and only the round's own claim gives it back, at most
    once a pace."""

    def __init__(self) -> None:
        self.users: dict[str, int] = {}
        self.round_at: int | None = None
        self.given_back_at: int | None = None
        self.pace: int | None = None
        self.pace_until = 0
        self.ahead: dict[int, set[str]] = {}  # minute -> items carried for it

    def claim_user(self, user_id: str, now_ms: int, seconds: int) -> Claim:
        claim = _claim(self.users.get(user_id), now_ms, seconds * 1000)
        if claim.taken:
            self.users[user_id] = now_ms
        return claim

    def claim_round(self, now_ms: int, interval_ms: int) -> Claim:
        claim = _claim(self.round_at, now_ms, interval_ms)
        if claim.taken:
            self.round_at = now_ms
        return claim

    def give_back_round(self, taken_ms: int, interval_ms: int) -> bool:
        if self.round_at != taken_ms:
            return False
        if self.given_back_at is not None and self.given_back_at > taken_ms - interval_ms:
            return False
        self.round_at, self.given_back_at = None, taken_ms
        return True

    def pace_ms(self, now_ms: int) -> int | None:
        return self.pace if self.pace is not None and self.pace_until > now_ms else None

    def set_pace(self, interval_ms: int, now_ms: int, keep_seconds: int) -> None:
        self.pace, self.pace_until = interval_ms, now_ms + keep_seconds * 1000

    def carried(self, minute: int) -> frozenset[str]:
        return frozenset(self.ahead.get(minute, set()))

    def add_carried(self, minute: int, items: Sequence[str], now_ms: int) -> None:
        self.ahead.setdefault(minute, set()).update(items)


def _claim(last_ms: int | None, now_ms: int, window_ms: int) -> Claim:
    if last_ms is not None and last_ms > now_ms - window_ms:
        return Claim(False, reopens_in(last_ms, now_ms, window_ms))
    return Claim(True, window_ms)


class MemoryStores:
    """Every in-memory repository on one database, as logic's ports."""

    def __init__(self, tables: MemoryTables | None = None) -> None:
        self.tables = tables or MemoryTables()
        self.bids = MemoryBids(self.tables)
        self.users = MemoryUsers(self.tables)
        self.history = MemoryHistory(self.tables)
        self.connections = MemoryConnections(self.tables)
        self.groups = MemoryGroups(self.tables)
        self.slots = MemorySlots(self.tables)
        self.active = MemoryActiveSnipes(self.tables)
        self.links = MemoryEbayLinks(self.tables)
        self.deletions = MemoryEbayDeletions(self.tables)
        self.updates = MemorySnipeUpdates(self.tables)


def add_snipe(
    stores: MemoryStores,
    bid_id: str = "b1",
    *,
    user_id: str = "u1",
    end: int,
    lead: int = 3,
    group: str | None = None,
    created_at: int,
) -> BidEntity:
    """Store a PENDING snipe of ``user_id`` on item ``item-<bid_id>`` ending at ``end``, as the
    API creates one (with its CREATE entry), and return it."""
    bid = BidEntity(
        userId=user_id,
        bidId=bid_id,
        ebayItemId=f"item-{bid_id}",
        itemId=f"v1|item-{bid_id}|0",
        maxBidAmount=5000,
        currency="USD",
        leadSeconds=lead,
        groupId=group,
        status=BidStatus.PENDING,
        auctionEndTime=end,
        itemTitle="A camera",
        createdAt=created_at,
        updatedAt=created_at,
    )
    stores.bids.create(bid, history_entry(bid, HistoryAction.CREATE, created_at, 30, {}))
    return bid
