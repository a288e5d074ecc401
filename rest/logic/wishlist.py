"""The user's eBay watch list (active auctions, live prices) and one live item from Browse.

The item look-up goes through ``rest.logic.lookups.MeteredItems`` in the API: cached for 45 s
and counted in the ``item-lookups`` share of the app's daily Browse calls, with a per-user part
(common/data/budget.py), so one account cannot spend the calls everyone's snipes live on; a
spent share answers 429 with Retry-After.

Paging: eBay's GetMyeBayBuying pages hold every watched listing (ended ones and fixed-price ones
too), and only active auctions are shown, so one of our pages does not match one of eBay's. The
cursor holds a position in eBay's list, ``(page, index)`` at a fixed eBay page size; a request
reads from there until it has ``limit`` active auctions or has read ``MAX_EBAY_PAGES`` pages,
and answers the position after the last entry it looked at. eBay sorts the watch list by end
time, so between two requests an item that ends can shift the positions by one: a later page
may then repeat or skip one entry, which for a watch list is acceptable (no state is kept).

The eBay client's modules load on the first request (as ``rest.composition`` builds it), not at
cold start.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

from common.clock import Clock
from common.data.cursor import CursorCodec
from common.data.ports import BidStore, EbayLinkStore
from common.ebay_tokens import call_with_user_token
from common.errors import (
    BadRequestError,
    FieldIssue,
    NotFoundError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from rest.logic.upstream import upstream_error

if TYPE_CHECKING:
    from common.ebay.errors import EbayError
    from common.ebay.models import EbayItem, Money, UserTokens, WatchItem, WatchListPage
    from common.token_crypto import TokenCipher

WISHLIST_SCOPE = "wishlist"
EBAY_PAGE_SIZE = 100
MAX_EBAY_PAGES = 3
RATE_LIMITED = "eBay's call limit for your watch list is reached; try again in a few minutes"


class WatchListSource(Protocol):
    def get_watch_list(
        self, access_token: str | SecretStr, page: int = 1, per_page: int = 25
    ) -> WatchListPage: ...

    def refresh_user_token(self, tokens: UserTokens) -> UserTokens: ...


class ItemSource(Protocol):
    def get_item_by_legacy_id(self, legacy_id: str | int) -> EbayItem: ...

    def get_item(self, item_id: str) -> EbayItem: ...


@dataclass(frozen=True)
class WishlistItem:
    ebay_item_id: str
    item_id: str
    title: str
    current_price: Money | None
    bid_count: int
    auction_end_time: int | None
    auction_end_ms: int | None
    image_url: str | None
    active_bid_id: str | None


@dataclass(frozen=True)
class ItemDetail:
    item: WishlistItem
    is_auction: bool
    is_active: bool
    minimum_price_to_bid: Money | None


def list_watched_auctions(
    user_id: str,
    limit: int,
    cursor: str | None,
    links: EbayLinkStore,
    cipher: TokenCipher,
    ebay: WatchListSource,
    bids: BidStore,
    codec: CursorCodec,
    clock: Clock = time.time,
    *,
    page_size: int = EBAY_PAGE_SIZE,
) -> tuple[list[WishlistItem], str | None]:
    """Up to ``limit`` active auctions of the watch list from the cursor's position on."""
    page, index = _position(codec.decode(cursor, user_id, WISHLIST_SCOPE))
    found: list[WatchItem] = []
    reads = 0
    more = True
    while more and len(found) < limit and reads < MAX_EBAY_PAGES:
        result = _watch_page(user_id, page, page_size, links, cipher, ebay, clock)
        reads += 1
        now = int(clock())
        while index < len(result.items) and len(found) < limit:
            entry = result.items[index]
            index += 1
            if entry.is_auction and entry.end_time is not None and entry.end_time > now:
                found.append(entry)
        if index >= len(result.items):
            more = page < result.total_pages and bool(result.items)
            page, index = page + 1, 0
        else:
            more = True
    snipes = active_snipes_by_item(user_id, bids)
    items = [_from_watch(entry, snipes.get(entry.legacy_item_id)) for entry in found]
    next_cursor = codec.encode({"p": page, "i": index}, user_id, WISHLIST_SCOPE) if more else None
    return items, next_cursor


def live_item(
    user_id: str, item_id: str, ebay: ItemSource, bids: BidStore, clock: Clock = time.time
) -> ItemDetail:
    """Public item data from Browse, with the caller's active snipe on it if any."""
    from common.ebay.errors import EbayError, InvalidItemId, ItemNotFound

    try:
        legacy = item_id.isdigit()
        found = ebay.get_item_by_legacy_id(item_id) if legacy else ebay.get_item(item_id)
    except (ItemNotFound, InvalidItemId) as exc:
        raise NotFoundError(
            "eBay has no item with this number", [FieldIssue("itemId", "no such eBay item")]
        ) from exc
    except EbayError as exc:
        raise _upstream(exc) from exc
    snipe = active_snipes_by_item(user_id, bids).get(found.legacy_item_id)
    price = found.current_bid_price or found.minimum_price_to_bid
    item = WishlistItem(
        ebay_item_id=found.legacy_item_id,
        item_id=found.item_id,
        title=found.title,
        current_price=price,
        bid_count=found.bid_count,
        auction_end_time=found.end_time,
        auction_end_ms=found.end_time_ms,
        image_url=found.image_url,
        active_bid_id=snipe,
    )
    ends = found.end_time
    return ItemDetail(
        item=item,
        is_auction=found.is_auction,
        is_active=found.is_auction and ends is not None and ends > int(clock()),
        minimum_price_to_bid=found.minimum_price_to_bid,
    )


def active_snipes_by_item(user_id: str, bids: BidStore) -> dict[str, str]:
    """ebayItemId → bidId of the user's active snipes (at most one per item, by its guard),
    read through the set of their ids: what it costs follows the active snipes, not the user's
    history."""
    return {bid.ebayItemId: bid.bidId for bid in bids.active_snipes(user_id)}


def _watch_page(
    user_id: str,
    page: int,
    page_size: int,
    links: EbayLinkStore,
    cipher: TokenCipher,
    ebay: WatchListSource,
    clock: Clock,
) -> WatchListPage:
    from common.ebay.errors import EbayError

    try:
        return call_with_user_token(
            user_id,
            lambda token: ebay.get_watch_list(token, page, page_size),
            links,
            cipher,
            ebay,
            clock,
        )
    except EbayError as exc:
        raise _upstream(exc) from exc


def _position(key: dict[str, object] | None) -> tuple[int, int]:
    if key is None:
        return 1, 0
    page, index = key.get("p"), key.get("i")
    if not isinstance(page, int) or not isinstance(index, int) or page < 1 or index < 0:
        message = "The cursor is not valid for this listing; start again without it"
        raise BadRequestError(message, [FieldIssue("cursor", message)])
    return page, index


def _from_watch(entry: WatchItem, active_bid_id: str | None) -> WishlistItem:
    from common.ebay.models import rest_item_id

    return WishlistItem(
        ebay_item_id=entry.legacy_item_id,
        item_id=rest_item_id(entry.legacy_item_id),
        title=entry.title,
        current_price=entry.current_price,
        bid_count=entry.bid_count,
        auction_end_time=entry.end_time,
        auction_end_ms=entry.end_time_ms,
        image_url=entry.image_url,
        active_bid_id=active_bid_id,
    )


def _upstream(exc: EbayError) -> UpstreamRateLimited | UpstreamUnavailable:
    return upstream_error(exc, rate_limited=RATE_LIMITED, failed="eBay could not be reached: ")
