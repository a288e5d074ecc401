"""BidHistory table: written inside the bids' transactions, read here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.data.dynamo import (
    batch_delete,
    from_item,
    in_filter,
    query_items,
    repository_client,
    translate_errors,
)
from common.models import HistoryAction, HistoryEntity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_BID_INDEX = "ByOriginalBidId"


class HistoryRepository:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    def query(
        self,
        user_id: str,
        actions: list[HistoryAction] | None,
        from_ms: int | None,
        to_ms: int | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[HistoryEntity], dict[str, Any] | None]:
        """Newest first. historyId starts with 13-digit epoch ms, so a time range is a key range."""
        lower = f"{(from_ms or 0):013d}"
        upper = f"{(to_ms if to_ms is not None else 9_999_999_999_999):013d}~"
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "userId = :u AND historyId BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":u": {"S": user_id},
                ":lo": {"S": lower},
                ":hi": {"S": upper},
            },
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if actions:
            expression, values = in_filter("#ac", [a.value for a in actions], "x")
            kwargs["FilterExpression"] = expression
            kwargs["ExpressionAttributeNames"] = {"#ac": "action"}
            kwargs["ExpressionAttributeValues"].update(values)
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        with translate_errors():
            result = self.client.query(**kwargs)
        entries = [HistoryEntity.model_validate(from_item(i)) for i in result.get("Items", [])]
        return entries, result.get("LastEvaluatedKey")

    def for_bid(
        self, user_id: str, bid_id: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[HistoryEntity], dict[str, Any] | None]:
        """One snipe's entries, newest first; another user's snipe yields nothing."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_BID_INDEX,
            "KeyConditionExpression": "originalBidId = :b",
            "FilterExpression": "userId = :u",
            "ExpressionAttributeValues": {":b": {"S": bid_id}, ":u": {"S": user_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        with translate_errors():
            result = self.client.query(**kwargs)
        entries = [HistoryEntity.model_validate(from_item(i)) for i in result.get("Items", [])]
        return entries, result.get("LastEvaluatedKey")

    def delete_user_history(self, user_id: str) -> int:
        keys = list(
            query_items(
                self.client,
                TableName=self.table,
                KeyConditionExpression="userId = :u",
                ExpressionAttributeValues={":u": {"S": user_id}},
                ProjectionExpression="userId, historyId",
            )
        )
        batch_delete(self.client, self.table, keys)
        return len(keys)
