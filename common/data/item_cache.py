"""A brief cache of eBay Browse item look-ups, shared by every REST container: ``ITEMCACHE#<id>``
on the Users table.

Why DynamoDB and not a dict in each container: the cache is there to stop repeated look-ups of
one item from spending the app's daily Browse calls, and Lambda spreads one user's requests, let
alone many users', over as many containers as run at once (a fresh one starts empty). A shared
item makes the second look-up free whichever container serves it, for one small read (a few ms,
half a read unit) and one write per real call.

``ITEM_CACHE_SECONDS`` (45 s): the look-ups it serves are a snipe's creation (which checks that
the auction runs, its currency and the minimum bid; the executor checks eBay again when it bids)
and the wishlist's item page (its price also reaches the dashboard through the price updater).
A "no such item" answer is kept as long, so a client asking for one missing id again and again
costs one call. An entry is used only while ``expiresAt`` (epoch ms) is ahead: DynamoDB's TTL
(``ttl``) removes it later, but not on time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.data.dynamo import repository_client, to_item, translate_errors
from common.ebay.models import EbayItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ITEM_CACHE_SECONDS = 45
# DynamoDB deletes expired items within days; this only bounds how long they are kept.
KEEP_SECONDS = 3600


def item_cache_key(item_id: str) -> str:
    return f"ITEMCACHE#{item_id}"


@dataclass(frozen=True)
class CachedLookup:
    """A look-up's answer: the item, or None for "eBay has no such item"."""

    item: EbayItem | None


class ItemCache:
    def __init__(
        self,
        table: str,
        client: DynamoDBClient | None = None,
        seconds: int = ITEM_CACHE_SECONDS,
    ) -> None:
        self.table = table
        self.client = repository_client(client)
        self.seconds = seconds

    def get(self, item_id: str, now_ms: int) -> CachedLookup | None:
        """The answer stored for ``item_id`` less than ``seconds`` ago, or None."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table, Key={"userId": {"S": item_cache_key(item_id)}}
            ).get("Item")
        if not item or int(item.get("expiresAt", {}).get("N", "0")) <= now_ms:
            return None
        body = item.get("item", {}).get("S")
        return CachedLookup(EbayItem.model_validate_json(body) if body else None)

    def put(self, item_id: str, found: EbayItem | None, now_ms: int) -> None:
        """Keep eBay's answer for ``item_id`` (None: no such item) for ``seconds``."""
        data = {
            "userId": item_cache_key(item_id),
            "item": found.model_dump_json() if found else None,
            "expiresAt": now_ms + self.seconds * 1000,
            "ttl": now_ms // 1000 + KEEP_SECONDS,
        }
        with translate_errors():
            self.client.put_item(TableName=self.table, Item=to_item(data))
