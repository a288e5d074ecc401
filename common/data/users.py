"""Users table: profiles, preferences, eBay linkage, and the guard items that keep things unique.

Guard items share the table under prefixed keys, so uniqueness is one conditional write:
- ``EMAIL#<email>``: one profile per email address;
- ``SNIPE#<userId>#<ebayItemId>``: one active snipe per user and item (written by BidsRepository);
- ``EBAYACCOUNT#<accountId>``: one user per eBay account (written by the eBay linking code);
- ``OAUTHSTATE#<state>``: a single-use OAuth state, expiring through TTL;
- ``NOTIFY#...``: at most one email each (common/data/notifications.py).

Every guard names its user in ``ownerId``; the sparse index ``ByOwner`` finds them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.data.dynamo import (
    batch_delete,
    cancellation_codes,
    default_client,
    from_item,
    query_items,
    to_item,
    to_value,
    translate_errors,
)
from common.errors import ConflictError, FieldIssue, NotFoundError
from common.models import Preferences, UserEntity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_OWNER_INDEX = "ByOwner"


def email_guard_key(email: str) -> str:
    return f"EMAIL#{email.strip().lower()}"


def snipe_guard_key(user_id: str, ebay_item_id: str) -> str:
    return f"SNIPE#{user_id}#{ebay_item_id}"


def ebay_account_guard_key(account_id: str) -> str:
    return f"EBAYACCOUNT#{account_id}"


class UsersRepository:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = client or default_client()

    def get(self, user_id: str) -> UserEntity | None:
        item = self.client.get_item(
            TableName=self.table, Key={"userId": {"S": user_id}}, ConsistentRead=True
        ).get("Item")
        return UserEntity.model_validate(from_item(item)) if item else None

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
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise ConflictError(
                    "This email address belongs to another account",
                    [FieldIssue("email", "already in use")],
                ) from exc
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
            items += [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(
                            {"userId": email_guard_key(new_email), "ownerId": user.userId}
                        ),
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
        items.insert(
            0,
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"userId": {"S": user.userId}},
                    "UpdateExpression": "SET " + ", ".join(sets),
                    "ConditionExpression": "updatedAt = :prev",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
        )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise ConflictError(
                    "This email address belongs to another account",
                    [FieldIssue("email", "already in use")],
                ) from exc
            with translate_errors("The profile changed meanwhile; reload and try again"):
                raise
        return self.require(user.userId)

    def update_preferences(self, user_id: str, preferences: Preferences, now: int) -> UserEntity:
        with translate_errors("No profile exists for this user"):
            result = self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": user_id}},
                UpdateExpression="SET preferences = :p, updatedAt = :now",
                ConditionExpression="attribute_exists(userId)",
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
