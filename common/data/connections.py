"""Connections table: each user's open WebSockets, in that user's partition (userId, connectionId).

Every open socket is a row: connectionId, connectedAt, ttl, sourceIp, userAgent. Beside its rows,
a user has one *index item* (connectionId ``#index``) whose string set ``connectionIds`` names
the open sockets, so the broadcaster finds the sockets of up to 100 users with one BatchGetItem
(one read of a small item per user) instead of one Query per user.

The index item follows the rows: ``$connect`` adds the id and writes the row in one transaction,
so a socket that has a row is always in the set; ``$disconnect`` and a 410 from the management
API remove it. A socket whose ``$disconnect`` never came stays in the set until a post to it
answers 410 (the broadcaster then removes it) or the item expires: its ``ttl`` is set by every
connect to that connection's expiry (connect + API Gateway's 2-hour limit + a margin), so once
it has passed, every socket in the set has been closed by API Gateway, whether or not the set
says so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.exceptions import ClientError

from common import aws
from common.data.dynamo import (
    ConditionalWrite,
    batch_delete,
    query_items,
    raise_if_cancelled_by,
    repository_client,
    to_item,
    translate_errors,
)
from common.data.users import account_not_deleted, raise_if_account_deleted
from common.errors import FieldIssue, RetryableError, TooManyConnections
from common.models import ConnectionEntity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The sort key of a user's index item. API Gateway's connection ids are base64: never '#'.
INDEX_ITEM = "#index"
BATCH_GET_LIMIT = 100  # DynamoDB's most keys in one BatchGetItem
# API Gateway closes every connection after 2 hours: a socket connected longer ago is closed.
MAX_CONNECTION_MS = 2 * 3600 * 1000


class BatchReader(Protocol):
    """What reads the index items: boto3's client, or ``common.data.dynamo_http``'s."""

    def batch_get_item(self, **request: Any) -> Any: ...


def pooled_client(max_connections: int) -> DynamoDBClient:
    """A DynamoDB client for ``max_connections`` threads at once. botocore keeps 10 connections
    per client; the broadcaster's lanes on more threads would open and drop one per call."""
    return boto3.client("dynamodb", config=aws.config(max_pool_connections=max_connections))


class ConnectionsRepository:
    def __init__(
        self,
        table: str,
        client: DynamoDBClient | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        batch_client: BatchReader | None = None,
    ) -> None:
        """``batch_client``: what ``connection_ids_by_user`` reads through, when not ``client``
        (the broadcaster's ``common.data.dynamo_http``: a twentieth of boto3's CPU per call)."""
        self.table = table
        self.client = repository_client(client)
        self.batch_client: BatchReader | DynamoDBClient = batch_client or self.client
        self.clock = clock
        self.sleep = sleep

    def put(
        self,
        connection: ConnectionEntity,
        *,
        users_and_app_state_table: str | None = None,
        max_connections: int | None = None,
    ) -> None:
        """Record an open socket: its user's index item and its row, in one transaction.

        With ``users_and_app_state_table``, only if the user's profile there carries no deletion
        mark (AccountDeletedError otherwise): an account deletion marks the profile before it
        closes and forgets the user's sockets, so a socket either is recorded before the mark
        (and closed) or not at all.

        With ``max_connections``, only if the index names fewer of the user's sockets
        (TooManyConnections otherwise), so concurrent connects cannot pass the cap together.
        The set may still name sockets whose ``$disconnect`` never came: when it is full, those
        that cannot be open any more (no row, or connected more than API Gateway's 2 hours ago)
        are removed and the write is tried once more."""
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
        index: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._index_key(connection.userId),
            "UpdateExpression": "ADD connectionIds :id SET #ttl = :ttl",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": {
                ":id": {"SS": [connection.connectionId]},
                ":ttl": {"N": str(connection.ttl)},
            },
        }
        if max_connections is not None:
            # A retried $connect of a socket already counted passes.
            index["ConditionExpression"] = (
                "attribute_not_exists(connectionIds) OR size(connectionIds) < :max"
                " OR contains(connectionIds, :self)"
            )
            index["ExpressionAttributeValues"][":max"] = {"N": str(max_connections)}
            index["ExpressionAttributeValues"][":self"] = {"S": connection.connectionId}
        items: list[Any] = [
            {"Update": index},
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(connection.model_dump(exclude_none=True)),
                }
            },
        ]
        if users_and_app_state_table is not None:
            items.append(account_not_deleted(users_and_app_state_table, connection.userId))
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if users_and_app_state_table is not None:
                raise_if_account_deleted(exc, len(items) - 1)
            if max_connections is not None:
                raise_if_cancelled_by(
                    exc,
                    0,
                    TooManyConnections(
                        f"You have {max_connections} live connections open, the most one "
                        "account may have; close one (another tab or terminal) and connect again",
                        [FieldIssue("connection", f"at most {max_connections} per user")],
                    ),
                )
            with translate_errors():
                raise

    def _forget_closed(self, user_id: str) -> bool:
        """Remove from the user's index the sockets that cannot be open any more; whether any
        were."""
        items = query_items(
            self.client,
            TableName=self.table,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
            ProjectionExpression="connectionId, connectedAt, connectionIds",
        )
        rows = {i["connectionId"]["S"]: i for i in items}
        listed = rows.pop(INDEX_ITEM, {}).get("connectionIds", {}).get("SS", [])
        opened_after = int(self.clock() * 1000) - MAX_CONNECTION_MS
        closed = [
            connection_id
            for connection_id in listed
            if connection_id not in rows
            or int(rows[connection_id].get("connectedAt", {}).get("N", "0")) < opened_after
        ]
        if not closed:
            return False
        with translate_errors(), ConditionalWrite():
            self.client.update_item(
                TableName=self.table,
                Key=self._index_key(user_id),
                UpdateExpression="DELETE connectionIds :ids",
                ConditionExpression="attribute_exists(userId)",
                ExpressionAttributeValues={":ids": {"SS": sorted(closed)}},
            )
        return True

    def delete(self, user_id: str, connection_id: str) -> None:
        """Forget one socket; forgetting one that is already gone is not an error."""
        with translate_errors():
            with ConditionalWrite():
                # DELETE on a missing item would create one (without a ttl): only if it exists.
                self.client.update_item(
                    TableName=self.table,
                    Key=self._index_key(user_id),
                    UpdateExpression="DELETE connectionIds :id",
                    ConditionExpression="attribute_exists(userId)",
                    ExpressionAttributeValues={":id": {"SS": [connection_id]}},
                )
            self.client.delete_item(
                TableName=self.table,
                Key={"userId": {"S": user_id}, "connectionId": {"S": connection_id}},
            )

    def connection_ids(self, user_id: str) -> list[str]:
        """The user's sockets, from their rows."""
        return [i["connectionId"]["S"] for i in self._partition(user_id) if not _is_index(i)]

    def connection_ids_by_user(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        """Each user's open sockets, from their index items: one BatchGetItem per 100 users.
        A user without sockets maps to an empty list."""
        found: dict[str, list[str]] = {user_id: [] for user_id in user_ids}
        now = self.clock()
        users = list(found)
        for start in range(0, len(users), BATCH_GET_LIMIT):
            keys = [self._index_key(u) for u in users[start : start + BATCH_GET_LIMIT]]
            for item in self._batch_get(keys):
                if "ttl" in item and int(item["ttl"]["N"]) < now:
                    continue  # expired, not yet deleted: every socket it names is closed
                ids = item.get("connectionIds", {}).get("SS", [])
                found[item["userId"]["S"]] = sorted(ids)
        return found

    def delete_user_connections(self, user_id: str) -> int:
        """Remove the user's rows and index item; answers how many sockets they had."""
        items = list(self._partition(user_id))
        keys = [{"userId": i["userId"], "connectionId": i["connectionId"]} for i in items]
        batch_delete(self.client, self.table, keys)
        return sum(1 for i in items if not _is_index(i))

    def _partition(self, user_id: str) -> Any:
        return query_items(
            self.client,
            TableName=self.table,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
            ProjectionExpression="userId, connectionId",
        )

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every item of ``keys``, retrying (with backoff) what DynamoDB leaves unprocessed."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            self.table: {
                "Keys": keys,
                "ProjectionExpression": "userId, connectionIds, #ttl",
                "ExpressionAttributeNames": {"#ttl": "ttl"},
            }
        }
        for attempt in range(8):
            with translate_errors():
                result = self.batch_client.batch_get_item(RequestItems=request)
            items += result.get("Responses", {}).get(self.table, [])
            request = dict(result.get("UnprocessedKeys") or {})
            if not request.get(self.table):
                return items
            self.sleep(0.025 * 2**attempt * (0.5 + random.random()))
        raise RetryableError("The database was busy; try again")

    @staticmethod
    def _index_key(user_id: str) -> dict[str, Any]:
        return {"userId": {"S": user_id}, "connectionId": {"S": INDEX_ITEM}}


def _is_index(item: dict[str, Any]) -> bool:
    return bool(item["connectionId"]["S"] == INDEX_ITEM)
