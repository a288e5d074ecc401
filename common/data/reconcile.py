"""What the snipe reconciler reads and writes (workers/logic/reconcile.py says why).

- :class:`ActiveSnipePages`: the ``ActiveByEndTime`` index (active snipes by auction end), one
  page at a time, so a run can stop after a bounded number of pages; never a scan.
- :class:`ReconcileMarks`: when the reconciler last woke the bid executor for a snipe, and when
  it may again. ``RECONCILE#<bidId>#<kind>`` items on the Users table (like the other guards:
  the Bids table and its stream carry snipes only), with ``ownerId`` so account deletion finds
  them through ``ByOwner``, and a ``ttl``. A mark is written on the attempt count the run read,
  so of two runs that read the same mark one records the next attempt and invokes; the other
  does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from common.data.bids import ACTIVE_INDEX
from common.data.dynamo import (
    ConditionalWrite,
    from_item,
    repository_client,
    to_item,
    to_value,
    translate_errors,
)
from common.models import ACTIVE_SHARD, BidEntity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def reconcile_mark_key(bid_id: str, kind: str) -> str:
    return f"RECONCILE#{bid_id}#{kind}"


@dataclass(frozen=True, slots=True)
class ReconcileMark:
    """The reconciler's last invocation of the executor for one snipe and kind."""

    attempts: int
    invoked_at: int  # epoch seconds
    next_at: int  # epoch seconds: not again before this


class ActiveSnipePages:
    def __init__(self, bids_table: str, client: DynamoDBClient | None = None) -> None:
        self.table = bids_table
        self.client = repository_client(client)

    def ending_between(
        self, start: int, end: int, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[BidEntity], dict[str, Any] | None]:
        """One page (at most ``limit``) of the active snipes whose auction ends in
        [start, end], soonest first, and the key to read the next page from (None: no more)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": ACTIVE_INDEX,
            "KeyConditionExpression": "activeShard = :a AND auctionEndTime BETWEEN :s AND :e",
            "ExpressionAttributeValues": {
                ":a": {"S": ACTIVE_SHARD},
                ":s": to_value(start),
                ":e": to_value(end),
            },
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        with translate_errors():
            result = self.client.query(**kwargs)
        bids = [BidEntity.model_validate(from_item(i)) for i in result.get("Items", [])]
        return bids, result.get("LastEvaluatedKey") or None


class ReconcileMarks:
    def __init__(
        self, users_and_app_state_table: str, client: DynamoDBClient | None = None
    ) -> None:
        self.table = users_and_app_state_table
        self.client = repository_client(client)

    def get(self, bid_id: str, kind: str) -> ReconcileMark | None:
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table,
                Key={"userId": {"S": reconcile_mark_key(bid_id, kind)}},
                ConsistentRead=True,
            ).get("Item")
        if not item:
            return None
        data = from_item(item)
        return ReconcileMark(
            attempts=int(data["attempts"]),
            invoked_at=int(data["invokedAt"]),
            next_at=int(data["nextAt"]),
        )

    def record(
        self,
        bid: BidEntity,
        kind: str,
        previous: ReconcileMark | None,
        mark: ReconcileMark,
        expires_at: int,
    ) -> bool:
        """Store ``mark`` if the stored one is still ``previous``; False when another run
        recorded an attempt meanwhile (it invokes, this one must not)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Item": to_item(
                {
                    "userId": reconcile_mark_key(bid.bidId, kind),
                    "ownerId": bid.userId,
                    "bidId": bid.bidId,
                    "attempts": mark.attempts,
                    "invokedAt": mark.invoked_at,
                    "nextAt": mark.next_at,
                    "ttl": expires_at,
                }
            ),
            "ConditionExpression": "attribute_not_exists(userId)",
        }
        if previous is not None:
            request["ConditionExpression"] = "attempts = :prev"
            request["ExpressionAttributeValues"] = {":prev": to_value(previous.attempts)}
        with ConditionalWrite() as write:
            self.client.put_item(**request)
        return write.happened
