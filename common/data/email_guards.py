"""Email guards on the Users table: at most one email per (snipe or user, kind[, disc]).

``NOTIFY#<bidId or userId>#<kind>[#<discriminator>]`` is put with ``attribute_not_exists``
*before* the email is sent (status ``SENDING``), then moved to ``SENT`` (with Postmark's
MessageID) or ``REJECTED`` (with its ErrorCode). A retried invocation that finds the guard sends
nothing. If the send certainly did not happen (Postmark unreachable), the guard is released so a
retry can send; see docs/data-model.md for the at-most-once reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from common.data.dynamo import (
    ConditionalWrite,
    from_item,
    repository_client,
    to_item,
    to_value,
    translate_errors,
)
from common.errors import ConflictError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

GUARD_TTL_SECONDS = 400 * 86400  # longer than any auction plus its emails


class GuardStatus(StrEnum):
    SENDING = "SENDING"
    SENT = "SENT"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"  # the request may have reached Postmark; never resent


def notification_key(subject_id: str, kind: str, discriminator: str | int | None = None) -> str:
    key = f"NOTIFY#{subject_id}#{kind}"
    return key if discriminator is None else f"{key}#{discriminator}"


@dataclass(frozen=True)
class Guard:
    key: str
    status: GuardStatus
    claimed_at: int
    error_code: int | None = None
    message_id: str | None = None


class NotificationGuards:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    def claim(self, key: str, owner_id: str, now_ms: int) -> Guard | None:
        """Take the guard (status SENDING). None when it exists: someone sent or is sending."""
        item = to_item(
            {
                "userId": key,
                "ownerId": owner_id,
                "status": GuardStatus.SENDING.value,
                "claimedAt": now_ms,
                "ttl": now_ms // 1000 + GUARD_TTL_SECONDS,
            }
        )
        # The guard exactly as this claim writes it: its own attempt whose answer timed out.
        with ConditionalWrite(lambda seen: seen == from_item(item)) as write:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(userId)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        if not write.happened:
            return None
        return Guard(key, GuardStatus.SENDING, now_ms)

    def get(self, key: str) -> Guard | None:
        item = self.client.get_item(
            TableName=self.table, Key={"userId": {"S": key}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        data = from_item(item)
        return Guard(
            key=key,
            status=GuardStatus(data["status"]),
            claimed_at=int(data.get("claimedAt", 0)),
            error_code=int(data["errorCode"]) if data.get("errorCode") is not None else None,
            message_id=data.get("messageId"),
        )

    def finish(
        self,
        guard: Guard,
        status: GuardStatus,
        *,
        message_id: str | None = None,
        error_code: int | None = None,
    ) -> None:
        """Record the outcome on the guard this invocation claimed."""
        values: dict[str, Any] = {
            ":st": to_value(status.value),
            ":sending": to_value(GuardStatus.SENDING.value),
            ":at": to_value(guard.claimed_at),
        }
        sets = ["#st = :st"]
        if message_id is not None:
            sets.append("messageId = :mid")
            values[":mid"] = to_value(message_id)
        if error_code is not None:
            sets.append("errorCode = :code")
            values[":code"] = to_value(error_code)

        def finished_already(seen: dict[str, Any] | None) -> bool:
            # This very outcome on this claim: its own attempt whose answer timed out.
            return (
                seen is not None
                and seen.get("status") == status.value
                and seen.get("claimedAt") == guard.claimed_at
                and seen.get("messageId") == message_id
                and seen.get("errorCode") == error_code
            )

        with translate_errors(), ConditionalWrite(finished_already) as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": guard.key}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#st = :sending AND claimedAt = :at",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        if not write.happened:
            raise ConflictError("The notification guard changed meanwhile") from write.failure

    def release(self, guard: Guard) -> None:
        """Delete our SENDING guard: the email certainly was not sent, a retry may send it."""
        # Not ours any more (sent, or reclaimed by another delivery): nothing to release.
        with ConditionalWrite():
            self.client.delete_item(
                TableName=self.table,
                Key={"userId": {"S": guard.key}},
                ConditionExpression="#st = :sending AND claimedAt = :at",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":sending": to_value(GuardStatus.SENDING.value),
                    ":at": to_value(guard.claimed_at),
                },
            )
