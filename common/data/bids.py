"""Bids table. Every change of a snipe is one transaction with its BidHistory entry."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.data.active_snipes import (
    count_active,
    raise_if_no_slot,
    read_active,
    read_active_page,
    release_slot,
    take_slot,
)
from common.data.dynamo import (
    RETURN_OLD_ON_FAILURE,
    ConditionalWrite,
    batch_delete,
    cancelled_by,
    from_item,
    in_filter,
    query_items,
    raise_if_cancelled_by,
    repository_client,
    seen_on_failure,
    to_item,
    to_value,
    translate_errors,
    wrote_already,
)
from common.data.users import (
    ACCOUNT_DELETED,
    DELETED_AT,
    NOT_DELETED,
    account_not_deleted,
    keyed_create_key,
    raise_if_account_deleted,
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
)
from common.models import ACTIVE_SHARD, BidEntity, BidStatus, HistoryEntity, KeyedCreate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACTIVE_INDEX = "ActiveByEndTime"
ITEM_INDEX = "ByEbayItemId"
# A sealed snipe keeps its owner's unlink and account deletion waiting until this long after the
# auction's end: by then its bid has reached eBay or never will.
SEAL_AFTER_END_MS = 5_000
# A listing's page reads at most this many snipes of the user's partition: the active ones
# (at most the cap, 200) and a full page (100) fit, so a page of finished snipes is cut short
# only by other finished ones that the filter leaves out. No page reads a whole history.
LIST_READ_BUDGET = 300
ACTIVE_SNIPE_EXISTS = "You already have an active snipe on this item"
NOT_LINKED_FOR_SEAL = "Your eBay account was unlinked before the bid: link it so snipes can bid."


# How long a create's Idempotency-Key is remembered: its client's retries come within minutes (the
# dashboard's within seconds); a day, as payment APIs keep theirs.
KEYED_CREATE_DAYS = 1
KEY_TAKEN = "This Idempotency-Key already made a snipe"


class BidsRepository:
    def __init__(
        self,
        bids_table: str,
        users_and_app_state_table: str,
        history_table: str,
        client: DynamoDBClient | None = None,
    ) -> None:
        self.table = bids_table
        self.users_and_app_state_table = users_and_app_state_table
        self.history_table = history_table
        self.client = repository_client(client)

    # ------------------------------------------------------------------ reads
    def get(self, user_id: str, bid_id: str) -> BidEntity | None:
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table,
                Key={"userId": {"S": user_id}, "bidId": {"S": bid_id}},
                ConsistentRead=True,
            ).get("Item")
        return BidEntity.model_validate(from_item(item)) if item else None

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
        """The user's snipes, newest first, optionally only those in ``statuses``."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "userId = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if statuses:
            expression, values = in_filter("#st", [st.value for st in statuses], "s")
            kwargs["FilterExpression"] = expression
            kwargs["ExpressionAttributeNames"] = {"#st": "status"}
            kwargs["ExpressionAttributeValues"].update(values)
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        with translate_errors():
            result = self.client.query(**kwargs)
        bids = [BidEntity.model_validate(from_item(i)) for i in result.get("Items", [])]
        return bids, result.get("LastEvaluatedKey")

    def list_page(
        self,
        user_id: str,
        statuses: Collection[BidStatus],
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[BidEntity], dict[str, Any] | None]:
        """A page of the user's snipes in ``statuses``, newest first: at most ``limit``, from
        at most LIST_READ_BUDGET snipes read, so a page may be short (or empty) and still have
        a next one. The position after the last snipe read, or None at the history's end."""
        page: list[BidEntity] = []
        read = 0
        while True:
            found, start_key, scanned = self._query_page(
                user_id, statuses, min(limit - len(page), LIST_READ_BUDGET - read), start_key
            )
            page += found
            read += scanned
            if not start_key or len(page) >= limit or read >= LIST_READ_BUDGET:
                return page, start_key

    def _query_page(
        self,
        user_id: str,
        statuses: Collection[BidStatus],
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[BidEntity], dict[str, Any] | None, int]:
        expression, values = in_filter("#st", sorted(st.value for st in statuses), "s")
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "userId = :u",
            "FilterExpression": expression,
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":u": {"S": user_id}, **values},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        with translate_errors():
            result = self.client.query(**kwargs)
        bids = [BidEntity.model_validate(from_item(i)) for i in result.get("Items", [])]
        return bids, result.get("LastEvaluatedKey"), int(result.get("ScannedCount", 0))

    def active_page(
        self, user_id: str, statuses: Collection[BidStatus], limit: int, after: str | None
    ) -> tuple[list[BidEntity], str | None]:
        """A page of the user's active snipes in ``statuses`` (all active), newest first, found
        through their set (common/data/active_snipes.py): reads the set and the snipes the page
        looks at, never the finished ones. The last bidId looked at, or None at the end."""
        wanted = {status.value for status in statuses if status.is_active}
        items, last = read_active_page(
            self.client,
            self.users_and_app_state_table,
            self.table,
            user_id,
            lambda item: item.get("status", {}).get("S") in wanted,
            limit,
            after,
        )
        return [BidEntity.model_validate(from_item(item)) for item in items], last

    def all_keys(self, user_id: str) -> list[BidEntity]:
        bids: list[BidEntity] = []
        start: dict[str, Any] | None = None
        while True:
            page, start = self.query(user_id, None, 100, start)
            bids += page
            if not start:
                return bids

    def active_ending_between(self, start: int, end: int) -> list[BidEntity]:
        """Active snipes (PENDING, ARMED, PLACED) whose auction ends in [start, end]: an index."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": ACTIVE_INDEX,
            "KeyConditionExpression": "activeShard = :a AND auctionEndTime BETWEEN :s AND :e",
            "ExpressionAttributeValues": {
                ":a": {"S": ACTIVE_SHARD},
                ":s": to_value(start),
                ":e": to_value(end),
            },
        }
        return [BidEntity.model_validate(from_item(i)) for i in query_items(self.client, **kwargs)]

    def by_item(self, ebay_item_id: str) -> list[BidEntity]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": ITEM_INDEX,
            "KeyConditionExpression": "ebayItemId = :i",
            "ExpressionAttributeValues": {":i": {"S": ebay_item_id}},
        }
        return [BidEntity.model_validate(from_item(i)) for i in query_items(self.client, **kwargs)]

    # ------------------------------------------------------------------ writes
    def create(
        self,
        bid: BidEntity,
        history: HistoryEntity,
        max_active: int | None = None,
        *,
        replaces: str | None = None,
    ) -> None:
        """Store a new snipe, its history entry and the one-active-snipe-per-item guard, and
        count it among its owner's active snipes: with ``max_active``, only if they have fewer
        (TooManyActiveSnipes otherwise; common/data/active_snipes.py). ActiveSnipeExists when
        the user has an active snipe on the item.

        A snipe with an ``idempotencyKey`` also stores its key's record (``KeyedCreate``, kept
        KEYED_CREATE_DAYS), on condition that the key made no snipe yet: IdempotencyKeyTaken,
        with that record, when it did, whatever became of that snipe since (a retry after the
        user cancelled it must not make another). ``replaces``: the snipe the key made, which
        was withdrawn (its create answered 503, "try again"): this create takes the key over,
        on condition that the record still names that snipe."""
        items: list[Any] = [
            self._guard_put(bid),
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(bid.to_item()),
                    "ConditionExpression": "attribute_not_exists(bidId)",
                    **RETURN_OLD_ON_FAILURE,
                }
            },
            self._history_put(history),
            take_slot(self.users_and_app_state_table, bid.userId, bid.bidId, max_active),
            account_not_deleted(self.users_and_app_state_table, bid.userId),
        ]
        slot_at, account_at, key_at = 3, 4, 5
        if bid.idempotencyKey:
            items.append(self._keyed_create_put(bid, replaces))
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if wrote_already(exc, items[1]["Put"]["Item"], 1):
                return  # this very snipe, stored by an attempt whose answer timed out
            raise_if_account_deleted(exc, account_at)
            if bid.idempotencyKey and cancelled_by(exc, key_at):
                made = seen_on_failure(exc, key_at)
                raise IdempotencyKeyTaken(
                    KEY_TAKEN, made=KeyedCreate.model_validate(made) if made else None
                ) from exc
            if cancelled_by(exc, 0):
                raise ActiveSnipeExists(
                    ACTIVE_SNIPE_EXISTS,
                    [FieldIssue("ebayItemId", "an active snipe exists for this item")],
                ) from exc
            raise_if_no_slot(exc, slot_at, max_active)
            with translate_errors():
                raise

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
        """Replace ``before`` with ``after`` if nobody changed it and its status is ``allowed``.

        ``freeze_before``: an epoch second; the write fails if the stored freezeAt is not after it.
        ``unsealed``: the write fails if the executor has sealed the snipe (every change that is
        not the sealing executor's own: the user's, a group's cancel).
        Leaving an active status releases the one-active-snipe guard in the same transaction.
        """
        after = after.model_copy(update={"version": before.version + 1})
        in_allowed, allowed_values = in_filter("#st", sorted({s.value for s in allowed}), "a")
        condition = f"version = :v AND {in_allowed}"
        values: dict[str, Any] = {":v": to_value(before.version), **allowed_values}
        if freeze_before is not None:
            condition += " AND freezeAt > :frz"
            values[":frz"] = to_value(freeze_before)
        if unsealed:
            condition += " AND attribute_not_exists(sealedAt)"
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(after.to_item()),
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#st": "status"},
                    "ExpressionAttributeValues": values,
                    **RETURN_OLD_ON_FAILURE,
                }
            },
            self._history_put(history),
        ]
        if before.status.is_active and not after.status.is_active:
            items.append(
                {
                    "Delete": {
                        "TableName": self.users_and_app_state_table,
                        "Key": {"userId": {"S": snipe_guard_key(before.userId, before.ebayItemId)}},
                        "ConditionExpression": "attribute_not_exists(userId) OR bidId = :b",
                        "ExpressionAttributeValues": {":b": {"S": before.bidId}},
                    }
                }
            )
            items.append(release_slot(self.users_and_app_state_table, before.userId, before.bidId))
        with translate_errors(conflict_message):
            try:
                self.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                # Stored as written: an attempt whose answer timed out committed it all.
                if not wrote_already(exc, items[0]["Put"]["Item"], 0):
                    raise
        return after

    def replace(
        self,
        before: BidEntity,
        after: BidEntity,
        allowed: Iterable[BidStatus],
        conflict_message: str = "The snipe changed meanwhile",
    ) -> BidEntity:
        """Like :meth:`transition` for changes that are not history: the executor's claim
        (PENDING -> ARMED with its execution id) and its countdown phase. Active stays active."""
        if before.status.is_active != after.status.is_active:
            raise ValueError("a change of activity goes through transition(), with history")
        after = after.model_copy(update={"version": before.version + 1})
        in_allowed, allowed_values = in_filter("#st", sorted({s.value for s in allowed}), "a")
        values: dict[str, Any] = {":v": to_value(before.version), **allowed_values}
        item = to_item(after.to_item())
        with translate_errors(conflict_message):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression=f"version = :v AND {in_allowed}",
                    ExpressionAttributeNames={"#st": "status"},
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                # Stored exactly as written (this version, this execution id): our own attempt
                # whose answer timed out, retried by botocore. The claim is ours.
                if not wrote_already(exc, item):
                    raise
        return after

    def seal(self, bid: BidEntity, execution_id: str, now_ms: int) -> BidEntity:
        """The executor's seal: one transaction that sets ``sealedAt`` on the snipe as this run
        read it (its version, ARMED, claimed by ``execution_id``, not yet sealed) and, on the
        owner's profile, that the account is linked, not being deleted, and busy with a bid
        until the auction's end (``sealedUntil``, which unlink and account deletion check).

        Every change by the user or a group is conditional on the snipe being unsealed, so
        exactly one of them and the seal wins, whatever the clocks. Raises ConflictError when
        the snipe changed (reread it), EbayNotLinkedError when the account is unlinked and
        AccountDeletedError when its deletion began: then nothing was written and no bid may go.
        """
        after = bid.model_copy(update={"sealedAt": now_ms, "version": bid.version + 1})
        snipe_put: dict[str, Any] = {
            "Put": {
                "TableName": self.table,
                "Item": to_item(after.to_item()),
                "ConditionExpression": (
                    "version = :v AND #st = :armed AND executionId = :x"
                    " AND attribute_not_exists(sealedAt)"
                ),
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {
                    ":v": to_value(bid.version),
                    ":armed": {"S": BidStatus.ARMED.value},
                    ":x": {"S": execution_id},
                },
                **RETURN_OLD_ON_FAILURE,
            }
        }
        raise_until, keep_until = self._seal_profile_checks(bid.userId, bid.end_ms)
        # A transaction or profile read that times out is RetryableError (the caller reads the
        # snipe again: a seal that did commit is found sealed by this run), never botocore's
        # own error, which ended the executor's run before its bid.
        with translate_errors("The snipe changed before it was sealed"):
            for profile_item in (raise_until, keep_until):
                try:
                    items: list[Any] = [snipe_put, profile_item]
                    self.client.transact_write_items(TransactItems=items)
                except ClientError as exc:
                    if wrote_already(exc, snipe_put["Put"]["Item"], 0):
                        # Sealed by this very call (an attempt whose answer timed out): a won seal
                        # must still bid.
                        return after
                    raise_if_cancelled_by(
                        exc, 0, ConflictError("The snipe changed before it was sealed")
                    )
                    if cancelled_by(exc, 1):
                        self._raise_if_profile_refuses(bid.userId)
                        continue
                    raise
                return after
        # The profile changed between the two attempts (a seal of another snipe): try again.
        raise ConflictError("The owner's profile changed while sealing")

    def _seal_profile_checks(
        self, user_id: str, end_ms: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The seal's two ways with the owner's profile (linked, not being deleted): raise its
        ``sealedUntil`` to this snipe's, or check that it is already later."""
        until = end_ms + SEAL_AFTER_END_MS
        profile_ok = f"attribute_exists(ebayAccountId) AND {NOT_DELETED}"
        key = {"userId": {"S": user_id}}
        # The profile's sealedUntil only grows: a later snipe's seal is kept, not shortened.
        raise_until: dict[str, Any] = {
            "Update": {
                "TableName": self.users_and_app_state_table,
                "Key": key,
                "UpdateExpression": "SET sealedUntil = :until",
                "ConditionExpression": (
                    f"{profile_ok} AND (attribute_not_exists(sealedUntil) OR sealedUntil <= :until)"
                ),
                "ExpressionAttributeValues": {":until": to_value(until)},
            }
        }
        keep_until: dict[str, Any] = {
            "ConditionCheck": {
                "TableName": self.users_and_app_state_table,
                "Key": key,
                "ConditionExpression": f"{profile_ok} AND sealedUntil > :until",
                "ExpressionAttributeValues": {":until": to_value(until)},
            }
        }
        return raise_until, keep_until

    def _raise_if_profile_refuses(self, user_id: str) -> None:
        item = self.client.get_item(
            TableName=self.users_and_app_state_table,
            Key={"userId": {"S": user_id}},
            ConsistentRead=True,
            ProjectionExpression="deletedAt, ebayAccountId",
        ).get("Item")
        if item is None or DELETED_AT in item:
            raise AccountDeletedError(ACCOUNT_DELETED)
        if "ebayAccountId" not in item:
            raise EbayNotLinkedError(NOT_LINKED_FOR_SEAL)

    def delete_user_bids(self, user_id: str) -> list[BidEntity]:
        """Delete every snipe of a user, their guards and their keys' records; returns what was
        deleted."""
        bids = self.all_keys(user_id)
        batch_delete(
            self.client,
            self.table,
            [{"userId": {"S": b.userId}, "bidId": {"S": b.bidId}} for b in bids],
        )
        guards = sorted(
            {snipe_guard_key(user_id, b.ebayItemId) for b in bids}
            | {keyed_create_key(user_id, b.idempotencyKey) for b in bids if b.idempotencyKey}
        )
        batch_delete(
            self.client, self.users_and_app_state_table, [{"userId": {"S": g}} for g in guards]
        )
        return bids

    def _guard_put(self, bid: BidEntity) -> dict[str, Any]:
        """The one-active-snipe-per-item guard of a new snipe."""
        guard = {
            "userId": snipe_guard_key(bid.userId, bid.ebayItemId),
            "ownerId": bid.userId,
            "bidId": bid.bidId,
        }
        return {
            "Put": {
                "TableName": self.users_and_app_state_table,
                "Item": to_item(guard),
                "ConditionExpression": "attribute_not_exists(userId)",
            }
        }

    def _keyed_create_put(self, bid: BidEntity, replaces: str | None) -> dict[str, Any]:
        assert bid.idempotencyKey
        made = KeyedCreate.of(bid)
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(userId)"}
        if replaces:
            condition = {
                "ConditionExpression": "attribute_not_exists(userId) OR bidId = :replaced",
                "ExpressionAttributeValues": {":replaced": to_value(replaces)},
            }
        return {
            "Put": {
                "TableName": self.users_and_app_state_table,
                "Item": to_item(
                    {
                        "userId": keyed_create_key(bid.userId, bid.idempotencyKey),
                        "ownerId": bid.userId,
                        **made.model_dump(exclude_none=True),
                        "ttl": bid.createdAt // 1000 + KEYED_CREATE_DAYS * 86_400,
                    }
                ),
                **condition,
                # The snipe the key made, for the retry to be answered with.
                **RETURN_OLD_ON_FAILURE,
            }
        }

    def keyed_create(self, user_id: str, idempotency_key: str) -> KeyedCreate | None:
        """The record of the user's create sent with ``idempotency_key`` (the snipe it made
        and what it asked for), or None: one strongly consistent item read."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self.users_and_app_state_table,
                Key={"userId": {"S": keyed_create_key(user_id, idempotency_key)}},
                ConsistentRead=True,
            ).get("Item")
        return KeyedCreate.model_validate(from_item(item)) if item else None

    def _history_put(self, history: HistoryEntity) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.history_table,
                "Item": to_item(history.model_dump(mode="json", exclude_none=True)),
                "ConditionExpression": "attribute_not_exists(historyId)",
            }
        }

    def active_count(self, user_id: str) -> int:
        """How many active snipes the user has, from the set ``create`` and ``transition``
        keep (common/data/active_snipes.py): one item read, not the user's history."""
        return count_active(self.client, self.users_and_app_state_table, user_id)

    def claim_wake(self, bid: BidEntity, fire_at: int) -> str | None:
        """Whether this request is the one to start the executor's invocation that waits for
        ``bid``'s ``fire_at`` (epoch s): its claim's token when it is, else None. One
        ``UpdateItem`` of the snipe's one-active-snipe guard, ``wokenFor = fire_at`` and
        ``wokenBy = <a new token>``, on condition that the guard is this snipe's and holds another
        fire time or none. Of any number of requests racing for the same snipe and fire time,
        exactly one gets a token, whatever the timing; none once the snipe is no longer active
        (its guard gone). A repeat of this very write after its answer was lost (botocore's
        retry) finds its own token and is the claim."""
        token = secrets.token_hex(8)
        with ConditionalWrite(
            already=lambda seen: seen is not None and seen.get("wokenBy") == token
        ) as write:
            self.client.update_item(
                TableName=self.users_and_app_state_table,
                Key={"userId": {"S": snipe_guard_key(bid.userId, bid.ebayItemId)}},
                UpdateExpression="SET wokenFor = :f, wokenBy = :t",
                ConditionExpression=(
                    "bidId = :b AND (attribute_not_exists(wokenFor) OR wokenFor <> :f)"
                ),
                ExpressionAttributeValues={
                    ":b": {"S": bid.bidId},
                    ":f": to_value(fire_at),
                    ":t": {"S": token},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        return token if write.happened else None

    def give_back_wake(self, bid: BidEntity, token: str) -> None:
        """Undo the :meth:`claim_wake` that answered ``token`` when the invocation it allowed
        did not start, so a retry may start it: only while the guard still holds that claim
        (another's since stays)."""
        with ConditionalWrite():
            self.client.update_item(
                TableName=self.users_and_app_state_table,
                Key={"userId": {"S": snipe_guard_key(bid.userId, bid.ebayItemId)}},
                UpdateExpression="REMOVE wokenFor, wokenBy",
                ConditionExpression="bidId = :b AND wokenBy = :t",
                ExpressionAttributeValues={":b": {"S": bid.bidId}, ":t": {"S": token}},
            )

    def active_snipes(self, user_id: str) -> list[BidEntity]:
        """The user's active snipes (PENDING, ARMED, PLACED), soonest-ending first, through the
        set of their ids that ``create`` and ``transition`` keep in their transactions
        (common/data/active_snipes.py): reads that follow the active snipes, strongly
        consistent, never the user's history."""
        found = [
            BidEntity.model_validate(from_item(item))
            for item in read_active(
                self.client,
                users_and_app_state_table=self.users_and_app_state_table,
                bids_table=self.table,
                user_id=user_id,
            )
        ]
        # The set is exact; this keeps out a snipe that ended between the two reads.
        active = [bid for bid in found if bid.status.is_active]
        return sorted(active, key=lambda bid: (bid.auctionEndTime, bid.bidId))
