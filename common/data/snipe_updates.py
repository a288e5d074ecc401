"""Narrow, version-checked changes to a snipe that are not history: its price, its alert
markers and its countdown phase (the price updater's writes).

One ``UpdateItem`` that sets only the given attributes and bumps ``version``, on the condition
that the version and status are still the ones read and the snipe is not frozen yet. So it never
overwrites the executor's or the user's changes, and theirs (which check ``version``) never
silently overwrite it: whoever comes second re-reads. Nothing is written after ``freezeAt``,
or once the snipe is sealed (the executor seals before the stored freeze when eBay's clock is
ahead of ours): from then on the snipe belongs to the executor, and a version bumped in its
crowded seconds would only cost it a conflict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.data.dynamo import ConditionalWrite, repository_client, to_value
from common.models import BidEntity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ALLOWED = frozenset({"currentPrice", "lastAlertSent", "lastAlertBidAmount", "countdownPhase"})


class SnipeUpdates:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    def apply(self, bid: BidEntity, changes: dict[str, Any], now: int) -> bool:
        """Set ``changes`` on the snipe if it is unchanged since read; False on a conflict."""
        unknown = set(changes) - ALLOWED
        if unknown:
            raise ValueError(f"not a price-updater attribute: {sorted(unknown)}")
        names = {"#st": "status", "#v": "version"}
        values: dict[str, Any] = {
            ":v": to_value(bid.version),
            ":next": to_value(bid.version + 1),
            ":st": to_value(bid.status.value),
            ":now": to_value(now),
        }
        sets = ["#v = :next"]
        for index, (name, value) in enumerate(sorted(changes.items())):
            names[f"#a{index}"] = name
            values[f":a{index}"] = to_value(value)
            sets.append(f"#a{index} = :a{index}")
        with ConditionalWrite() as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": bid.userId}, "bidId": {"S": bid.bidId}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=(
                    "#v = :v AND #st = :st AND freezeAt > :now AND attribute_not_exists(sealedAt)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        return write.happened
