"""The once-per-expiry relink warning marker: ``relinkWarnedFor`` on the user item.

Set with one conditional write to the refresh-token expiry it warns about, so two token-worker
runs (or a retry) cannot both warn; linking again removes it (``EbayLinksRepository.link``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.data.dynamo import ConditionalWrite, repository_client, to_value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class RelinkWarnings:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    def mark(self, user_id: str, refresh_expires_at: int) -> bool:
        """Claim the warning for this expiry; False if already warned or the link changed."""
        return self._update(
            user_id,
            "SET relinkWarnedFor = :exp",
            "ebayRefreshExpiresAt = :exp AND "
            "(attribute_not_exists(relinkWarnedFor) OR relinkWarnedFor <> :exp)",
            refresh_expires_at,
        )

    def unmark(self, user_id: str, refresh_expires_at: int) -> bool:
        """Give the claim back (the warning could not be handed over); the next run retries."""
        return self._update(
            user_id, "REMOVE relinkWarnedFor", "relinkWarnedFor = :exp", refresh_expires_at
        )

    def _update(self, user_id: str, expression: str, condition: str, expiry: int) -> bool:
        with ConditionalWrite() as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": user_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues={":exp": to_value(expiry)},
            )
        return write.happened
