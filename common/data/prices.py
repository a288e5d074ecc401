"""Price history per eBay item: ``PRICES#<ebayItemId>`` on the Users table.

One item per eBay listing (not per snipe): every user sniping it sees the same prices, the
Bids stream carries no history churn, and the executor's full-image writes of a snipe cannot
drop it. ``points`` is a list of ``[epochSeconds, cents]``, oldest first, capped at
``MAX_POINTS``; ``ttl`` removes it 30 days after the auction ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.data.dynamo import (
    ConditionalWrite,
    from_item,
    repository_client,
    to_value,
    translate_errors,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_POINTS = 200
KEEP_AFTER_END_SECONDS = 30 * 86400


def price_history_key(ebay_item_id: str) -> str:
    return f"PRICES#{ebay_item_id}"


class PriceHistory:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    def add_point(
        self, ebay_item_id: str, at: int, cents: int, currency: str, auction_end: int
    ) -> int:
        """Add a point (an atomic list_append); trim the oldest beyond MAX_POINTS. Returns size.

        Only a point later than the last one is appended (``lastAt``): a write botocore sends
        again after a timeout, though the first one landed, appends nothing twice. Returns 0
        when the point was not added."""
        key = {"userId": {"S": price_history_key(ebay_item_id)}}
        with ConditionalWrite() as append:
            result = self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=(
                    "SET points = list_append(if_not_exists(points, :empty), :pt), "
                    "currency = :cur, #ttl = :ttl, lastAt = :at"
                ),
                ConditionExpression="attribute_not_exists(lastAt) OR lastAt < :at",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":empty": {"L": []},
                    ":pt": to_value([[at, cents]]),
                    ":cur": to_value(currency),
                    ":ttl": to_value(auction_end + KEEP_AFTER_END_SECONDS),
                    ":at": to_value(at),
                },
                ReturnValues="UPDATED_NEW",
            )
        if not append.happened:
            return 0
        size = len(result["Attributes"]["points"]["L"])
        excess = size - MAX_POINTS
        if excess > 0:
            # Only the oldest go; the size condition makes a racing append skip the trim
            # (the next append trims instead).
            removals = ", ".join(f"points[{i}]" for i in range(excess))
            with ConditionalWrite() as trim:
                self.client.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression=f"REMOVE {removals}",
                    ConditionExpression="size(points) = :n",
                    ExpressionAttributeValues={":n": to_value(size)},
                )
            if trim.happened:
                size = MAX_POINTS
        return size

    def points(self, ebay_item_id: str) -> list[tuple[int, int]]:
        """[epochSeconds, cents] of the listing, oldest first; [] if none was seen."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table,
                Key={"userId": {"S": price_history_key(ebay_item_id)}},
                ConsistentRead=True,
            ).get("Item")
        if not item:
            return []
        return [(int(at), int(cents)) for at, cents in from_item(item).get("points", [])]
