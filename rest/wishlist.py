"""HTTP API: /wishlist/* (the user's eBay watch list, to snipe from)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.clock import Clock
from common.data.budget import ITEM_LOOKUPS
from common.handler import settings_validated
from common.observability import logger, metrics
from rest.app import (
    ERROR_RESPONSES,
    RATE_LIMITED_RESPONSE,
    ErrorBody,
    caller,
    create_app,
    documented,
)
from rest.composition import WishlistSettings, wishlist_ports
from rest.logic import wishlist as logic
from rest.schemas.ebay import (
    ItemIdParam,
    PriceOut,
    WishlistItemDetailOut,
    WishlistItemOut,
    WishlistPageOut,
)
from rest.schemas.shared import Cursor, Limit

if TYPE_CHECKING:
    from common.ebay.models import Money

router = APIGatewayHttpRouter()
# Module-level so tests can move time without patching the time module.
clock: Clock = time.time


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


EBAY_RESPONSES: dict[int, OpenAPIResponse] = {
    **ERROR_RESPONSES,
    401: {
        **ERROR_RESPONSES[401],
        "description": "No caller identity, or no eBay account linked (code EBAY_NOT_LINKED)",
    },
    403: _error("eBay's call limit is reached (code EBAY_RATE_LIMITED)"),
    503: _error("eBay could not be reached (code EBAY_UNAVAILABLE)"),
}


def _price(money: Money | None) -> PriceOut | None:
    return PriceOut(amount=money.amount, currency=money.currency) if money else None


def _item_out(item: logic.WishlistItem) -> dict[str, Any]:
    return {
        "ebayItemId": item.ebay_item_id,
        "itemId": item.item_id,
        "title": item.title,
        "currentPrice": _price(item.current_price),
        "bidCount": item.bid_count,
        "auctionEndTime": item.auction_end_time,
        "auctionEndMs": item.auction_end_ms,
        "imageUrl": item.image_url,
        "hasActiveSnipe": item.active_bid_id is not None,
        "activeBidId": item.active_bid_id,
    }


@router.get("/wishlist/items", tags=["wishlist"], responses=documented(EBAY_RESPONSES))
def list_items(
    limit: Annotated[Limit, Query()] = 20,
    cursor: Annotated[Cursor | None, Query()] = None,
) -> WishlistPageOut:
    who = caller(router)
    p = wishlist_ports()
    items, next_cursor = logic.list_watched_auctions(
        who.user_id,
        limit,
        cursor,
        p.links,
        p.cipher,
        p.ebay,
        p.bids,
        p.cursors(),
        clock,
    )
    return WishlistPageOut(
        items=[WishlistItemOut(**_item_out(i)) for i in items], nextCursor=next_cursor
    )


LOOKUP_RESPONSES = documented({**EBAY_RESPONSES, 429: RATE_LIMITED_RESPONSE})


@router.get("/wishlist/items/<itemId>", tags=["wishlist"], responses=LOOKUP_RESPONSES)
def get_item(itemId: Annotated[ItemIdParam, Path()]) -> WishlistItemDetailOut:
    who = caller(router)
    p = wishlist_ports()
    # Cached briefly and paid from the item-lookups share of the day's eBay calls.
    lookups = p.items.for_user(ITEM_LOOKUPS, who.user_id, clock)
    detail = logic.live_item(who.user_id, itemId, lookups, p.bids, clock)
    return WishlistItemDetailOut(
        **_item_out(detail.item),
        isAuction=detail.is_auction,
        isActive=detail.is_active,
        minimumPriceToBid=_price(detail.minimum_price_to_bid),
    )


app = create_app()
app.include_router(router)


@settings_validated(WishlistSettings)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
