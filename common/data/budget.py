"""A daily eBay call budget: one atomic counter item per UTC day on the Users table.

``BUDGET#ebay#<yyyy-mm-dd>`` holds ``calls``; a reservation is a conditional ``ADD`` that
succeeds only if the total stays within the limit, so concurrent runs can never overspend.
DynamoDB's TTL removes the counter a few days later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from common.data.dynamo import default_client, from_item, to_value, translate_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEEP_SECONDS = 3 * 86400
_ATTEMPTS = 5


def utc_day(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d")


def budget_key(day: str, api: str = "ebay") -> str:
    return f"BUDGET#{api}#{day}"


class CallBudget:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = client or default_client()

    def spent(self, day: str) -> int:
        item = self.client.get_item(
            TableName=self.table, Key={"userId": {"S": budget_key(day)}}, ConsistentRead=True
        ).get("Item")
        return int(from_item(item).get("calls", 0)) if item else 0

    def reserve(self, day: str, wanted: int, limit: int, now: int) -> int:
        """Reserve up to ``wanted`` calls of ``day`` without exceeding ``limit``; returns how many.

        First asks for all of them; if that would overspend, reads the count and asks for what
        is left on the condition that the count is still the one read (another run may race).
        """
        if wanted <= 0 or limit <= 0:
            return 0
        if self._add(
            day,
            wanted,
            "attribute_not_exists(calls) OR calls <= :room",
            {":room": to_value(limit - wanted)},
            now,
        ):
            return wanted
        for _attempt in range(_ATTEMPTS):
            used = self.spent(day)
            grant = min(wanted, limit - used)
            if grant <= 0:
                return 0
            condition = "calls = :used" if used else "attribute_not_exists(calls) OR calls = :used"
            if self._add(day, grant, condition, {":used": to_value(used)}, now):
                return grant
        return 0

    def _add(
        self, day: str, amount: int, condition: str, values: dict[str, dict[str, str]], now: int
    ) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": budget_key(day)}},
                UpdateExpression="ADD calls :n SET #ttl = if_not_exists(#ttl, :ttl)",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":n": to_value(amount),
                    ":ttl": to_value(now + KEEP_SECONDS),
                    **values,
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            with translate_errors():
                raise
        return True
