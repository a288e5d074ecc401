"""Connections table: one row per open WebSocket, found by user through an index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from common.data.dynamo import batch_delete, default_client, query_items, to_item, translate_errors
from common.models import ConnectionEntity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_USER_INDEX = "ByUserId"


def pooled_client(max_connections: int) -> DynamoDBClient:
    """A DynamoDB client for ``max_connections`` threads at once. botocore keeps 10 connections
    per client; the broadcaster's lanes on more threads would open and drop one per call."""
    return boto3.client("dynamodb", config=Config(max_pool_connections=max_connections))


class ConnectionsRepository:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = client or default_client()

    def put(self, connection: ConnectionEntity) -> None:
        with translate_errors():
            self.client.put_item(
                TableName=self.table, Item=to_item(connection.model_dump(exclude_none=True))
            )

    def delete(self, connection_id: str) -> None:
        """Forget one connection; deleting one that is already gone is not an error."""
        with translate_errors():
            self.client.delete_item(
                TableName=self.table, Key={"connectionId": {"S": connection_id}}
            )

    def connection_ids(self, user_id: str) -> list[str]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_USER_INDEX,
            "KeyConditionExpression": "userId = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "ProjectionExpression": "connectionId",
        }
        return [i["connectionId"]["S"] for i in query_items(self.client, **kwargs)]

    def delete_user_connections(self, user_id: str) -> int:
        ids = self.connection_ids(user_id)
        batch_delete(self.client, self.table, [{"connectionId": {"S": c}} for c in ids])
        return len(ids)
