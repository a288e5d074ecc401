"""eBay account linkage on the Users table: OAuth states, the link itself and its token envelope.

Everything here is one conditional write or one transaction, never read-then-write:
- an OAuth state (``OAUTHSTATE#<state>``) is created only if new and consumed by one conditional
  delete that checks its owner and expiry, so it works once, for its user, within its lifetime;
- linking updates the user item and claims the ``EBAYACCOUNT#<accountId>`` guard together, so
  one eBay account belongs to at most one user;
- a refreshed token envelope replaces the stored one only if that is still the one that was
  read, so two concurrent refreshes cannot clobber each other.

The bid executor and the token worker reuse this repository (with ``common.ebay_tokens``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.data.dynamo import (
    ConditionalWrite,
    cancelled_by,
    from_item,
    raise_if_cancelled_by,
    repository_client,
    to_item,
    to_value,
    translate_errors,
)
from common.data.users import (
    NOT_DELETED,
    NOT_SEALED,
    account_not_deleted,
    ebay_account_guard_key,
    raise_if_account_deleted,
    raise_if_sealed,
)
from common.errors import ConflictError, FieldIssue
from common.models import EBAY_LINKED

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REFRESH_INDEX = "ByEbayRefreshExpiry"
# The attributes a link consists of; unlinking removes them all.
LINK_ATTRIBUTES = (
    "ebayTokens",
    "ebayAccountId",
    "ebayLinkedAt",
    "ebayAccessExpiresAt",
    "ebayRefreshExpiresAt",
    "ebayLinkState",
    "relinkWarnedFor",
)


def oauth_state_key(state: str) -> str:
    return f"OAUTHSTATE#{state}"


@dataclass(frozen=True)
class EbayLink:
    """A user's link as stored: ``envelope`` is the KMS envelope of their tokens."""

    user_id: str
    account_id: str
    envelope: str
    linked_at: int  # epoch ms
    access_expires_at: int  # epoch s
    refresh_expires_at: int  # epoch s


@dataclass(frozen=True)
class ExpiringLink:
    """A row of the sparse ByEbayRefreshExpiry index (only linked users are in it)."""

    user_id: str
    refresh_expires_at: int
    access_expires_at: int | None
    relink_warned_for: int | None


@dataclass(frozen=True)
class NewLink:
    account_id: str
    envelope: str
    linked_at: int  # epoch ms
    access_expires_at: int  # epoch s
    refresh_expires_at: int  # epoch s


class EbayLinksRepository:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    # ------------------------------------------------------------------ OAuth states
    def put_state(self, state: str, owner_id: str, expires_at: int) -> None:
        """Store a new single-use state, unless the owner's account is being deleted (a
        deletion marks the profile before it sweeps the user's states, so a state either lands
        before the mark and is swept, or is refused). DynamoDB's TTL removes it some time after
        expiry."""
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(
                        {
                            "userId": oauth_state_key(state),
                            "ownerId": owner_id,
                            "expiresAt": expires_at,
                            "ttl": expires_at,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(userId)",
                }
            },
            account_not_deleted(self.table, owner_id),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            raise_if_account_deleted(exc, len(items) - 1)
            with translate_errors("This state already exists"):
                raise

    def consume_state(self, state: str, owner_id: str, now: int) -> bool:
        """Delete the state if it is the caller's and unexpired. False (and nothing changed) else.

        TTL deletes expired items late (up to days), hence ``expiresAt > now`` in the condition.
        """
        with ConditionalWrite() as write:
            self.client.delete_item(
                TableName=self.table,
                Key={"userId": {"S": oauth_state_key(state)}},
                ConditionExpression="ownerId = :me AND expiresAt > :now",
                ExpressionAttributeValues={":me": to_value(owner_id), ":now": to_value(now)},
            )
        return write.happened

    # ------------------------------------------------------------------ the link
    def get(self, user_id: str) -> EbayLink | None:
        """The user's link, or None when the user (or their link) does not exist."""
        item = self.client.get_item(
            TableName=self.table,
            Key={"userId": {"S": user_id}},
            ConsistentRead=True,
            ProjectionExpression=", ".join(LINK_ATTRIBUTES[:-1]),
        ).get("Item")
        data = from_item(item) if item else {}
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
        """Store the link and claim its account guard in one transaction.

        A re-link to another eBay account releases the previous account's guard in the same
        transaction. Raises ConflictError when the eBay account belongs to another user, and
        SnipeSealedError when it is another account than the one linked while a sealed snipe
        of the user is placing its bid: that bid goes from the account the seal found linked
        (common.data.bids.BidsRepository.seal), as an unlink waits for it too. The same
        account's fresh tokens go in.
        """
        guard = ebay_account_guard_key(new.account_id)
        items: list[Any] = [
            self._link_update(user_id, new),
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({"userId": guard, "ownerId": user_id}),
                    "ConditionExpression": "attribute_not_exists(userId) OR ownerId = :me",
                    "ExpressionAttributeValues": {":me": to_value(user_id)},
                }
            },
        ]
        if previous_account_id and previous_account_id != new.account_id:
            items.append(self._guard_delete(previous_account_id, user_id))
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            raise_if_cancelled_by(
                exc,
                1,
                ConflictError(
                    "This eBay account is already linked to another user",
                    [FieldIssue("ebayAccountId", "linked to another user")],
                ),
            )
            if cancelled_by(exc, 0):
                raise_if_sealed(self.client, self.table, user_id, new.linked_at)
            with translate_errors("The profile changed meanwhile; try linking again"):
                raise

    def _link_update(self, user_id: str, new: NewLink) -> dict[str, Any]:
        """The profile's side of a link: not onto a deleted account's profile or tombstone,
        nor another account while a sealed bid goes from the linked one."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"userId": {"S": user_id}},
                "UpdateExpression": (
                    "SET ebayTokens = :env, ebayAccountId = :acct, ebayLinkedAt = :at, "
                    "ebayAccessExpiresAt = :aexp, ebayRefreshExpiresAt = :rexp, "
                    "ebayLinkState = :linked REMOVE relinkWarnedFor"
                ),
                "ConditionExpression": (
                    f"attribute_exists(userId) AND {NOT_DELETED}"
                    f" AND (ebayAccountId = :acct OR {NOT_SEALED})"
                ),
                "ExpressionAttributeValues": {
                    ":now": to_value(new.linked_at),
                    ":env": to_value(new.envelope),
                    ":acct": to_value(new.account_id),
                    ":at": to_value(new.linked_at),
                    ":aexp": to_value(new.access_expires_at),
                    ":rexp": to_value(new.refresh_expires_at),
                    ":linked": to_value(EBAY_LINKED),
                },
            }
        }

    def unlink(self, user_id: str, account_id: str, now_ms: int) -> bool:
        """Remove the tokens and the account guard together. False if that link was gone.

        Refused (SnipeSealedError) while a sealed snipe of the user is placing its bid: the
        executor's seal checks the link in the same transaction, so the two are exclusive
        (common.data.bids.BidsRepository.seal)."""
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"userId": {"S": user_id}},
                    "UpdateExpression": "REMOVE " + ", ".join(LINK_ATTRIBUTES),
                    "ConditionExpression": f"ebayAccountId = :acct AND {NOT_SEALED}",
                    "ExpressionAttributeValues": {
                        ":acct": to_value(account_id),
                        ":now": to_value(now_ms),
                    },
                }
            },
            self._guard_delete(account_id, user_id),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if cancelled_by(exc, 0):
                raise_if_sealed(self.client, self.table, user_id, now_ms)
                return False
            with translate_errors("The eBay link changed meanwhile; try again"):
                raise
        return True

    def replace_tokens(
        self,
        user_id: str,
        expected_envelope: str,
        envelope: str,
        access_expires_at: int,
        refresh_expires_at: int,
    ) -> bool:
        """Store a refreshed envelope if the stored one is still ``expected_envelope``.

        False when another refresh (or an unlink or re-link) got there first: nothing changes.
        """
        # This very envelope stored: the refresh's own attempt whose answer timed out.
        with ConditionalWrite(lambda seen: (seen or {}).get("ebayTokens") == envelope) as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": user_id}},
                UpdateExpression=(
                    "SET ebayTokens = :env, ebayAccessExpiresAt = :aexp, "
                    "ebayRefreshExpiresAt = :rexp"
                ),
                ConditionExpression="ebayTokens = :expected",
                ExpressionAttributeValues={
                    ":env": to_value(envelope),
                    ":aexp": to_value(access_expires_at),
                    ":rexp": to_value(refresh_expires_at),
                    ":expected": to_value(expected_envelope),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        return write.happened

    # ------------------------------------------------------------------ the token worker
    def expiring_before(
        self, refresh_before: int, limit: int = 100, start_key: dict[str, Any] | None = None
    ) -> tuple[list[ExpiringLink], dict[str, Any] | None]:
        """Linked users whose refresh token expires before the epoch second, soonest first."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": REFRESH_INDEX,
            "KeyConditionExpression": "ebayLinkState = :linked AND ebayRefreshExpiresAt < :before",
            "ExpressionAttributeValues": {
                ":linked": to_value(EBAY_LINKED),
                ":before": to_value(refresh_before),
            },
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        with translate_errors():
            result = self.client.query(**kwargs)
        links = []
        for raw in result.get("Items", []):
            data = from_item(raw)
            links.append(
                ExpiringLink(
                    user_id=str(data["userId"]),
                    refresh_expires_at=int(data["ebayRefreshExpiresAt"]),
                    access_expires_at=_optional_int(data.get("ebayAccessExpiresAt")),
                    relink_warned_for=_optional_int(data.get("relinkWarnedFor")),
                )
            )
        return links, result.get("LastEvaluatedKey")

    def iter_expiring_before(self, refresh_before: int) -> Iterator[ExpiringLink]:
        start: dict[str, Any] | None = None
        while True:
            page, start = self.expiring_before(refresh_before, 100, start)
            yield from page
            if not start:
                return

    def _guard_delete(self, account_id: str, user_id: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self.table,
                "Key": {"userId": {"S": ebay_account_guard_key(account_id)}},
                # Never release a guard that another user holds.
                "ConditionExpression": "attribute_not_exists(userId) OR ownerId = :me",
                "ExpressionAttributeValues": {":me": to_value(user_id)},
            }
        }


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None
