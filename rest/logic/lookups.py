"""eBay Browse item look-ups on behalf of one user: cached briefly, and counted in the app's
daily Browse calls of every method but getItems under a share (common/data/budget.py), so that
one account cannot spend the quota everyone else's snipes are created with.

A look-up answered by the cache (common/data/item_cache.py) costs no call and no share. Otherwise
one call of the share is taken first (BrowseShareExhausted, a 429 with Retry-After, when the
user's part or the share is spent) and eBay is asked; its answer, an item or "no such item",
is cached. A call taken and then failed stays counted: eBay counted it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from common.clock import Clock, now_ms
from common.errors import DomainError
from common.observability import logger

if TYPE_CHECKING:
    from common.data.budget import Share
    from common.data.item_cache import CachedLookup
    from common.ebay.models import EbayItem


class ItemSource(Protocol):
    def get_item_by_legacy_id(self, legacy_id: str | int) -> EbayItem: ...

    def get_item(self, item_id: str) -> EbayItem: ...


class LookupCache(Protocol):
    def get(self, item_id: str, now_ms: int) -> CachedLookup | None: ...

    def put(self, item_id: str, found: EbayItem | None, now_ms: int) -> None: ...


class SharedBudget(Protocol):
    def take_one(self, share: Share, user_id: str, now: int) -> None: ...


@dataclass(frozen=True)
class MeteredItems:
    """An ItemSource for ``user_id``'s look-ups, paid from ``share``."""

    ebay: ItemSource
    cache: LookupCache
    budget: SharedBudget
    share: Share
    user_id: str
    clock: Clock

    def get_item_by_legacy_id(self, legacy_id: str | int) -> EbayItem:
        key = str(legacy_id).strip()
        return self._look_up(key, lambda: self.ebay.get_item_by_legacy_id(key))

    def get_item(self, item_id: str) -> EbayItem:
        return self._look_up(item_id, lambda: self.ebay.get_item(item_id))

    def _look_up(self, key: str, call: Callable[[], EbayItem]) -> EbayItem:
        from common.ebay.errors import InvalidItemId, ItemNotFound

        now = now_ms(self.clock)
        cached = self.cache.get(key, now)
        if cached is not None:
            if cached.item is None:
                raise ItemNotFound(f"no item {key} (cached)")
            return cached.item
        self.budget.take_one(self.share, self.user_id, now // 1000)
        try:
            found = call()
        except (ItemNotFound, InvalidItemId):
            self._keep(key, None, now)
            raise
        self._keep(key, found, now)
        return found

    def _keep(self, key: str, found: EbayItem | None, now: int) -> None:
        try:
            self.cache.put(key, found, now)
        except DomainError:
            # The answer is good without the cache; the next look-up calls eBay again.
            logger.warning("item look-up not cached", item_id=key)
