"""Users table: profiles, preferences, eBay linkage, and the guard items that keep things unique.

Guard items share the table under prefixed keys, so uniqueness is one conditional write:
- ``EMAIL#<email>``: one profile per email address;
- ``SNIPE#<userId>#<ebayItemId>``: one active snipe per user and item (written by BidsRepository);
- ``EBAYACCOUNT#<accountId>``: one user per eBay account (written by the eBay linking code);
- ``OAUTHSTATE#<state>``: a single-use OAuth state, expiring through TTL;
- ``NOTIFY#...``: at most one email each (common/data/email_guards.py).

Every guard names its user in ``ownerId``; the sparse index ``ByOwner`` finds them all.

A deleted account leaves a tombstone at its profile's key: ``{userId, deletedAt, ttl}`` and
nothing else (no email, no token), so the profile's own ``attribute_not_exists(userId)`` write
refuses to recreate it while a token of the account may still be valid; TTL removes it after.
``deletedAt`` is set on the live profile first (the account is being deleted) and the profile is
then replaced by the bare tombstone. Readers see no profile either way (``get`` is None);
``get_live`` says the account was deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.data.dynamo import (
    CHANGED,
    ConditionalWrite,
    batch_delete,
    cancelled_by,
    from_item,
    query_items,
    raise_if_cancelled_by,
    repository_client,
    to_item,
    to_value,
    translate_errors,
)
from common.errors import (
    AccountDeletedError,
    ConflictError,
    FieldIssue,
    NotFoundError,
    SnipeSealedError,
)
from common.models import Preferences, UserEntity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_OWNER_INDEX = "ByOwner"
DELETED_AT = "deletedAt"
NOT_DELETED = f"attribute_not_exists({DELETED_AT})"
ACCOUNT_DELETED = "This account has been deleted; if deleting it failed, delete it again"


def email_guard_key(email: str) -> str:
    return f"EMAIL#{email.strip().lower()}"


def snipe_guard_key(user_id: str, ebay_item_id: str) -> str:
    return f"SNIPE#{user_id}#{ebay_item_id}"


def keyed_create_key(user_id: str, idempotency_key: str) -> str:
    """The record of the user's create sent with ``idempotency_key`` (common.models.KeyedCreate)."""
    return f"CREATEKEY#{user_id}#{idempotency_key}"


def ebay_account_guard_key(account_id: str) -> str:
    return f"EBAYACCOUNT#{account_id}"


def account_not_deleted(users_and_app_state_table: str, user_id: str) -> dict[str, Any]:
    """A transaction item: the user's account is not being deleted. A deletion marks the
    profile before it sweeps what the user owns, so a write carrying this either lands before
    the mark (and is swept) or is refused. A user without a profile yet passes."""
    return {
        "ConditionCheck": {
            "TableName": users_and_app_state_table,
            "Key": {"userId": {"S": user_id}},
            "ConditionExpression": NOT_DELETED,
        }
    }


# No snipe of the user is sealed and placing its bid (BidsRepository.seal sets sealedUntil).
NOT_SEALED = "(attribute_not_exists(sealedUntil) OR sealedUntil < :now)"
SEALED_MESSAGE = (
    "A bid is being placed for one of your snipes right now; try again after its auction ends"
)


def raise_if_sealed(client: DynamoDBClient, table: str, user_id: str, now_ms: int) -> None:
    """SnipeSealedError if the user's profile carries a seal still running (read after a
    write conditional on NOT_SEALED was refused, to say which condition refused it)."""
    with translate_errors():  # called from a refusal's handler: throttling is RetryableError too
        item = (
            client.get_item(
                TableName=table,
                Key={"userId": {"S": user_id}},
                ConsistentRead=True,
                ProjectionExpression="sealedUntil",
            ).get("Item")
            or {}
        )
    until = int(item.get("sealedUntil", {}).get("N", "0"))
    if until >= now_ms:
        retry_after = max(1, -(-(until - now_ms) // 1000))
        raise SnipeSealedError(SEALED_MESSAGE, [FieldIssue("retryAfter", f"{retry_after} s")])


def raise_if_account_deleted(exc: ClientError, index: int) -> None:
    """AccountDeletedError if ``exc`` cancelled a transaction on its account_not_deleted item,
    which was at ``index``."""
    raise_if_cancelled_by(exc, index, AccountDeletedError(ACCOUNT_DELETED))


class UsersRepository:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    def get(self, user_id: str) -> UserEntity | None:
        """The profile; None if there is none, or its account was deleted."""
        item = self._read(user_id)
        if item is None or DELETED_AT in item:
            return None
        return UserEntity.model_validate(from_item(item))

    def get_live(self, user_id: str) -> UserEntity | None:
        """The profile, or None if there is none; AccountDeletedError if the account was (or is
        being) deleted, for a caller whose token outlives its account."""
        item = self._read(user_id)
        if item is not None and DELETED_AT in item:
            raise AccountDeletedError(ACCOUNT_DELETED)
        return UserEntity.model_validate(from_item(item)) if item else None

    def is_deleted(self, user_id: str) -> bool:
        """Whether the account's deletion began (its profile is marked, or a tombstone)."""
        item = self._read(user_id)
        return item is not None and DELETED_AT in item

    def _read(self, user_id: str) -> dict[str, Any] | None:
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table, Key={"userId": {"S": user_id}}, ConsistentRead=True
            ).get("Item")
        return item

    def require(self, user_id: str) -> UserEntity:
        user = self.get(user_id)
        if user is None:
            raise NotFoundError("No profile exists for this user")
        return user

    def create(self, user: UserEntity) -> bool:
        """Create the profile and its email guard together. False if the profile existed."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(user.model_dump(mode="json")),
                            "ConditionExpression": "attribute_not_exists(userId)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(
                                {"userId": email_guard_key(user.email), "ownerId": user.userId}
                            ),
                            "ConditionExpression": "attribute_not_exists(userId)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if cancelled_by(exc, 0):
                return False
            raise_if_cancelled_by(
                exc,
                1,
                ConflictError(
                    "This email address belongs to another account",
                    [FieldIssue("email", "already in use")],
                ),
            )
            with translate_errors():
                raise
        return True

    def update_profile(
        self, user: UserEntity, display_name: str | None, email: str | None, now: int
    ) -> UserEntity:
        """Change the display name and/or email; a new email moves its guard atomically."""
        names = {"#u": "updatedAt"}
        values: dict[str, Any] = {":now": to_value(now), ":prev": to_value(user.updatedAt)}
        sets = ["#u = :now"]
        if display_name is not None:
            names["#d"] = "displayName"
            values[":d"] = to_value(display_name)
            sets.append("#d = :d")
        items: list[Any] = []
        new_email = email.strip() if email else None
        if new_email and new_email.lower() != user.email.lower():
            names["#e"] = "email"
            values[":e"] = to_value(new_email)
            sets.append("#e = :e")
            items += self._email_guard_move(user, new_email)
        items.insert(
            0,
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"userId": {"S": user.userId}},
                    "UpdateExpression": "SET " + ", ".join(sets),
                    "ConditionExpression": f"updatedAt = :prev AND {NOT_DELETED}",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
        )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            raise_if_cancelled_by(
                exc,
                1,
                ConflictError(
                    "This email address belongs to another account",
                    [FieldIssue("email", "already in use")],
                ),
            )
            with translate_errors("The profile changed meanwhile; reload and try again"):
                raise
        return self.require(user.userId)

    def _email_guard_move(self, user: UserEntity, new_email: str) -> list[Any]:
        """The new email's guard taken (if nobody holds it) and the old one's given back."""
        return [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({"userId": email_guard_key(new_email), "ownerId": user.userId}),
                    "ConditionExpression": "attribute_not_exists(userId)",
                }
            },
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"userId": {"S": email_guard_key(user.email)}},
                }
            },
        ]

    def update_preferences(self, user_id: str, preferences: Preferences, now: int) -> UserEntity:
        with translate_errors("No profile exists for this user"):
            result = self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": user_id}},
                UpdateExpression="SET preferences = :p, updatedAt = :now",
                ConditionExpression=f"attribute_exists(userId) AND {NOT_DELETED}",
                ExpressionAttributeValues={
                    ":p": to_value(preferences.model_dump(mode="json")),
                    ":now": to_value(now),
                },
                ReturnValues="ALL_NEW",
            )
        return UserEntity.model_validate(from_item(result["Attributes"]))

    def owned_keys(self, user_id: str) -> list[str]:
        """The keys of every guard item the user owns (the index is eventually consistent: a
        guard written a moment ago may be missing)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_OWNER_INDEX,
            "KeyConditionExpression": "ownerId = :o",
            "ExpressionAttributeValues": {":o": {"S": user_id}},
        }
        return [item["userId"]["S"] for item in query_items(self.client, **kwargs)]

    def delete_keys(self, keys: list[str]) -> None:
        """Delete profile and guard items by key (missing ones are fine)."""
        batch_delete(self.client, self.table, [{"userId": {"S": key}} for key in keys])

    # ------------------------------------------------------------------ account deletion
    def mark_deleted(self, user_id: str, now: int) -> int:
        """Set ``deletedAt`` on the profile (creating a bare tombstone if there is none): from
        here on the profile is not recreated, nor changed, nor read as a live profile. A retry
        keeps the first mark; returns it."""
        with ConditionalWrite() as write:
            result = self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": user_id}},
                UpdateExpression="SET #d = if_not_exists(#d, :now)",
                # A deletion already begun goes on; a new one waits for a sealed snipe's bid.
                ConditionExpression=f"attribute_exists(#d) OR {NOT_SEALED}",
                ExpressionAttributeNames={"#d": DELETED_AT},
                ExpressionAttributeValues={":now": to_value(now)},
                ReturnValues="ALL_NEW",
            )
        if not write.happened:
            raise_if_sealed(self.client, self.table, user_id, now)
            raise ConflictError(CHANGED) from write.failure
        return int(from_item(result["Attributes"])[DELETED_AT])

    def deletion_keys(self, user_id: str) -> list[str]:
        """Every guard item of the user: those the index finds, and the email and eBay account
        guards named by the profile itself (a marked one too), which a fresh write may not yet
        have put in the eventually consistent index."""
        keys = set(self.owned_keys(user_id))
        item = self._read(user_id)
        profile = from_item(item) if item else {}
        if profile.get("email"):
            keys.add(email_guard_key(str(profile["email"])))
        if profile.get("ebayAccountId"):
            keys.add(ebay_account_guard_key(str(profile["ebayAccountId"])))
        keys.discard(user_id)
        return sorted(keys)

    def leave_tombstone(self, user_id: str, deleted_at: int, expires_at: int) -> None:
        """Replace the profile with ``{userId, deletedAt, ttl}``: every other attribute (email,
        name, eBay tokens) is gone, and TTL removes the rest some time after ``expires_at``."""
        with translate_errors():
            self.client.put_item(
                TableName=self.table,
                Item=to_item({"userId": user_id, DELETED_AT: deleted_at, "ttl": expires_at}),
            )
