"""Snipe groups' rules, in the Users table: how many of a group's auctions the user wants.

A group is named by the ``groupId`` its snipes carry. Its rule is one item at
``group#<userId>#<groupId>`` holding ``ownerId`` (so the ``ByOwner`` index finds it when the
account is deleted), ``groupId``, ``groupMode``, ``groupLimit`` and ``updatedAt``. The bid
executor keeps the group's slot ledger on the same item (``holders``, ``settled``, ``held``,
``pending``, ``lost``), so a rule is only ever written with ``SET`` of its own attributes: a
rule change never touches the ledger. An item without ``groupMode`` (a ledger, no rule) and no
item at all both mean the default rule, WIN_UP_TO 1: a win cancels the rest of the group.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from common.data.dynamo import (
    batch_delete,
    from_item,
    query_items,
    repository_client,
    to_value,
    translate_errors,
)
from common.data.users import BY_OWNER_INDEX, account_not_deleted, raise_if_account_deleted
from common.errors import RetryableError
from common.models import EpochMillis

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

GroupLimit = Annotated[
    int, Field(strict=True, ge=1, le=100, description="How many of the group's auctions to win")
]
BATCH_GET_LIMIT = 100  # DynamoDB's most keys in one BatchGetItem
# The rule's attributes: the only ones a rule write sets, and the only ones its reads fetch.
RULE_ATTRIBUTES = ("ownerId", "groupId", "groupMode", "groupLimit", "updatedAt")
_NAMES = {f"#a{i}": name for i, name in enumerate(RULE_ATTRIBUTES)}
_PROJECTION = ", ".join(_NAMES)


class GroupMode(StrEnum):
    # AuctionSniper's bid groups: bid on every auction of the group until `limit` are won.
    WIN_UP_TO = "WIN_UP_TO"
    # Gixen's contingency groups: the auctions in the order they end, stopping at the first loss.
    CONTINGENCY = "CONTINGENCY"


class GroupRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: GroupMode = GroupMode.WIN_UP_TO
    limit: GroupLimit = 1


DEFAULT_RULE = GroupRule()


class GroupRuleEntity(BaseModel):
    """The rule's attributes of a group item (the executor's ledger attributes are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ownerId: str
    groupId: str
    groupMode: GroupMode
    groupLimit: GroupLimit
    updatedAt: EpochMillis

    @property
    def rule(self) -> GroupRule:
        return GroupRule(mode=self.groupMode, limit=self.groupLimit)


def group_key(user_id: str, group_id: str) -> str:
    """The group item's key. ``#`` cannot occur in a group id (common.models.GroupId)."""
    return f"group#{user_id}#{group_id}"


class GroupsRepository:
    def __init__(
        self,
        users_and_app_state_table: str,
        client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = users_and_app_state_table
        self.client = repository_client(client)
        self.sleep = sleep

    def rule(self, user_id: str, group_id: str) -> GroupRule:
        """The group's rule as stored now (a strongly consistent read), or the default."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table,
                Key={"userId": {"S": group_key(user_id, group_id)}},
                ConsistentRead=True,
                ProjectionExpression=_PROJECTION,
                ExpressionAttributeNames=_NAMES,
            ).get("Item")
        stored = _entity(item) if item else None
        return stored.rule if stored else DEFAULT_RULE

    def put_rule(self, user_id: str, group_id: str, rule: GroupRule, now: int) -> GroupRuleEntity:
        """Store the group's rule (``now`` in epoch ms), keeping the ledger beside it; never for
        an account being deleted (AccountDeletedError), whose sweep would miss it."""
        entity = GroupRuleEntity(
            ownerId=user_id,
            groupId=group_id,
            groupMode=rule.mode,
            groupLimit=rule.limit,
            updatedAt=now,
        )
        stored = entity.model_dump(mode="json")
        values = {f":a{i}": to_value(stored[name]) for i, name in enumerate(RULE_ATTRIBUTES)}
        sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(RULE_ATTRIBUTES)))
        items: list[Any] = [
            account_not_deleted(self.table, user_id),
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"userId": {"S": group_key(user_id, group_id)}},
                    # SET of the rule's attributes only: the ledger beside them stays.
                    "UpdateExpression": f"SET {sets}",
                    "ExpressionAttributeNames": _NAMES,
                    "ExpressionAttributeValues": values,
                }
            },
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            raise_if_account_deleted(exc, 0)
            with translate_errors():
                raise
        return entity

    def rules(self, user_id: str) -> dict[str, GroupRuleEntity]:
        """Every rule the user stored, by group id. They are found through the ``ByOwner``
        index, which is eventually consistent (a rule stored a moment ago may be missing), then
        read strongly consistently."""
        keys = self._owned_group_keys(user_id)
        found: dict[str, GroupRuleEntity] = {}
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            for item in self._batch_get(keys[start : start + BATCH_GET_LIMIT]):
                entity = _entity(item)
                if entity is not None and entity.ownerId == user_id:
                    found[entity.groupId] = entity
        return found

    def delete_user_groups(self, user_id: str, group_ids: Iterable[str] = ()) -> int:
        """Delete every group item of the user (rule and ledger): those the index finds, and
        those of ``group_ids`` (the groups of the snipes being deleted), which a fresh write
        may not yet have put in the index. Returns how many keys were deleted."""
        keys = set(self._owned_group_keys(user_id))
        keys.update(group_key(user_id, group_id) for group_id in group_ids)
        batch_delete(self.client, self.table, [{"userId": {"S": key}} for key in sorted(keys)])
        return len(keys)

    def _owned_group_keys(self, user_id: str) -> list[str]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_OWNER_INDEX,
            "KeyConditionExpression": "ownerId = :o",
            "FilterExpression": "begins_with(userId, :p)",
            "ExpressionAttributeValues": {
                ":o": {"S": user_id},
                ":p": {"S": group_key(user_id, "")},
            },
        }
        return sorted(item["userId"]["S"] for item in query_items(self.client, **kwargs))

    def _batch_get(self, keys: list[str]) -> list[dict[str, Any]]:
        """The items at ``keys`` (at most 100), strongly consistent, retrying with backoff what
        DynamoDB leaves unprocessed."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            self.table: {
                "Keys": [{"userId": {"S": key}} for key in keys],
                "ConsistentRead": True,
                "ProjectionExpression": _PROJECTION,
                "ExpressionAttributeNames": _NAMES,
            }
        }
        for attempt in range(8):
            with translate_errors():
                result = self.client.batch_get_item(RequestItems=request)
            items += result.get("Responses", {}).get(self.table, [])
            request = dict(result.get("UnprocessedKeys") or {})
            if not request.get(self.table):
                return items
            self.sleep(0.025 * 2**attempt * (0.5 + random.random()))
        raise RetryableError("The database was busy; try again")


def _entity(item: dict[str, Any]) -> GroupRuleEntity | None:
    """The rule of a stored group item; None for a ledger without a rule."""
    data = from_item(item)
    if "groupMode" not in data:
        return None
    return GroupRuleEntity.model_validate(data)
