"""eBay's Marketplace Account Deletion notices on the Users table: who holds an eBay account,
which notices were handled, and removing a closed account's link.

- ``EBAYACCOUNT#<accountId>`` (common/data/ebay_links.py) names the user who linked the
  account; a notice is matched to a user through it, never by a scan.
- ``EBAYNOTICE#<notificationId>`` remembers a notice: ``PROCESSING`` with the user it was
  matched to (a retry after the link and its guard are gone still knows whose it was), then
  ``DONE``; a notice found DONE is a retry or a replay and changes nothing. TTL forgets it
  after ``expires_at``, which outlives the age past which a notice is refused anyway.
- removing the link is one transaction: the tokens and link attributes leave the profile
  (``ebayDeletedAt`` records when, for the notifier's email), the account's guard goes with
  them, and, like an unlink, it waits for a sealed snipe's bid (SnipeSealedError).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.data.dynamo import (
    ConditionalWrite,
    cancelled_by,
    from_item,
    repository_client,
    to_item,
    to_value,
    translate_errors,
)
from common.data.ebay_links import LINK_ATTRIBUTES
from common.data.users import NOT_SEALED, ebay_account_guard_key, raise_if_sealed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def notice_key(notification_id: str) -> str:
    return f"EBAYNOTICE#{notification_id}"


class NoticeState(StrEnum):
    PROCESSING = "PROCESSING"
    DONE = "DONE"


@dataclass(frozen=True)
class NoticeRecord:
    notification_id: str
    state: NoticeState
    owner_id: str | None


class EbayDeletions:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    def account_owner(self, account_id: str) -> str | None:
        """The user who linked this eBay account, or None."""
        item = self._get(ebay_account_guard_key(account_id))
        owner = item.get("ownerId") if item else None
        return str(owner) if owner else None

    def notice(self, notification_id: str) -> NoticeRecord | None:
        item = self._get(notice_key(notification_id))
        return _record(notification_id, item) if item else None

    def begin(self, notification_id: str, owner_id: str, expires_at: int) -> NoticeRecord:
        """Remember the notice as PROCESSING for ``owner_id``, unless it is already known: then
        the record as it stands (a concurrent delivery of the same notice wrote it first)."""
        record = {
            "userId": notice_key(notification_id),
            "state": NoticeState.PROCESSING.value,
            "ownerId": owner_id,
            "ttl": expires_at,
        }
        with ConditionalWrite() as write:
            self.client.put_item(
                TableName=self.table,
                Item=to_item(record),
                ConditionExpression="attribute_not_exists(userId)",
            )
        if not write.happened:
            existing = self.notice(notification_id)
            if existing is not None:
                return existing
        return NoticeRecord(notification_id, NoticeState.PROCESSING, owner_id)

    def finish(self, notification_id: str) -> None:
        with translate_errors():
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": notice_key(notification_id)}},
                UpdateExpression="SET #s = :done",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":done": to_value(NoticeState.DONE.value)},
            )

    def remove_link(self, user_id: str, account_id: str, now_ms: int) -> bool:
        """Remove the user's link to ``account_id`` (tokens included) and its guard, noting
        ``ebayDeletedAt``. False when that link was already gone (nothing changed); raises
        SnipeSealedError while a sealed snipe of the user is placing its bid."""
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"userId": {"S": user_id}},
                    "UpdateExpression": "SET ebayDeletedAt = :now REMOVE "
                    + ", ".join(LINK_ATTRIBUTES),
                    "ConditionExpression": f"ebayAccountId = :acct AND {NOT_SEALED}",
                    "ExpressionAttributeValues": {
                        ":acct": to_value(account_id),
                        ":now": to_value(now_ms),
                    },
                }
            },
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"userId": {"S": ebay_account_guard_key(account_id)}},
                    # Never release a guard that another user holds.
                    "ConditionExpression": "attribute_not_exists(userId) OR ownerId = :me",
                    "ExpressionAttributeValues": {":me": to_value(user_id)},
                }
            },
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

    def _get(self, key: str) -> dict[str, Any] | None:
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table, Key={"userId": {"S": key}}, ConsistentRead=True
            ).get("Item")
        return from_item(item) if item else None


def _record(notification_id: str, item: dict[str, Any]) -> NoticeRecord:
    owner = item.get("ownerId")
    return NoticeRecord(
        notification_id=notification_id,
        state=NoticeState(str(item.get("state", NoticeState.PROCESSING.value))),
        owner_id=str(owner) if owner else None,
    )
