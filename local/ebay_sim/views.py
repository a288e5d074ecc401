"""eBay's JSON shapes for an auction: Browse Item, Offer Bidding, and the admin view."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from typing import Any

from local.ebay_sim import engine
from local.ebay_sim.engine import Auction
from local.ebay_sim.money import format_amount, increment


def ebay_time(ms: int) -> str:
    """eBay's timestamp format: ``2026-11-22T00:10:00.000Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_ebay_time(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def amount(cents: int, currency: str) -> dict[str, str]:
    return {"currency": currency, "value": format_amount(cents)}


def image_url(auction: Auction, origin: str) -> str:
    return auction.image_url or f"{origin}/images/{auction.legacy_id}.svg"


def item_json(
    auction: Auction, now_ms: int, origin: str, seller_feedback: tuple[int, str]
) -> dict[str, Any]:
    """The Browse API Item for an auction, as getItem and getItemByLegacyId return it."""
    currency = auction.currency
    price = engine.current_price(auction)
    options = ["AUCTION"]
    if engine.buy_it_now_available(auction, now_ms):
        options.append("FIXED_PRICE")
    item: dict[str, Any] = {
        "itemId": auction.item_id,
        "legacyItemId": auction.legacy_id,
        "title": auction.title,
        "buyingOptions": options,
        "currentBidPrice": amount(price, currency),
        "price": amount(
            auction.buy_it_now_price
            if "FIXED_PRICE" in options and auction.buy_it_now_price is not None
            else price,
            currency,
        ),
        "bidCount": engine.bid_count(auction),
        "uniqueBidderCount": engine.unique_bidder_count(auction),
        "itemCreationDate": ebay_time(auction.created_ms),
        "itemEndDate": ebay_time(auction.end_ms),
        "image": {"imageUrl": image_url(auction, origin)},
        "condition": auction.condition,
        "conditionId": auction.condition_id,
        "seller": {
            "username": auction.seller,
            "feedbackScore": seller_feedback[0],
            "feedbackPercentage": seller_feedback[1],
        },
        "itemWebUrl": f"{origin}/itm/{auction.legacy_id}",
        "listingMarketplaceId": "EBAY_US",
        "adultOnly": auction.adult_only,
    }
    if not engine.is_ended(auction, now_ms):
        item["minimumPriceToBid"] = amount(engine.minimum_to_bid(auction), currency)
    # buy-browse-v1.yml, Item.reservePriceMet: "returned only for auctions that have a reserve
    # price"; active or ended, it says whether the leading maximum reached the reserve.
    if auction.reserve_price is not None:
        item["reservePriceMet"] = engine.reserve_met(auction)
    return item


# buy-browse-v1.yml, getItems (``/item/``): "For this method, only the following fields are
# returned" (bidCount, currentBidPrice, ..., uniqueBidderCount, and shippingOptions). Of those,
# the ones an auction here has.
GET_ITEMS_FIELDS = frozenset(
    {
        "bidCount",
        "currentBidPrice",
        "itemCreationDate",
        "itemId",
        "itemWebUrl",
        "legacyItemId",
        "minimumPriceToBid",
        "price",
        "reservePriceMet",
        "uniqueBidderCount",
    }
)


def core_item_json(
    auction: Auction, now_ms: int, origin: str, seller_feedback: tuple[int, str]
) -> dict[str, Any]:
    """The CoreItem of an auction as getItems returns it: the Item, cut to that method's
    fields (no title, no itemEndDate, no buyingOptions)."""
    item = item_json(auction, now_ms, origin, seller_feedback)
    return {name: value for name, value in item.items() if name in GET_ITEMS_FIELDS}


def bidding_json(auction: Auction, bidder: str, now_ms: int) -> dict[str, Any]:
    """The Offer API Bidding for one buyer who has bid on the auction."""
    currency = auction.currency
    proxy = auction.proxies[bidder]
    ended = engine.is_ended(auction, now_ms)
    top = engine.leader(auction)
    # buy-offer-v1_beta.yml, Bidding.highBidder: true while ACTIVE means "winning", and with
    # auctionStatus ENDED it means "won". Bidding.reservePriceMet: below the reserve at the end
    # "the item is not sold", so then nobody won and nobody is the high bidder: the leader is
    # highBidder until the end, and after it only the winner (engine.winner needs the reserve).
    high = (
        engine.winner(auction, now_ms) == bidder
        if ended
        else top is not None and top.bidder == bidder
    )
    body: dict[str, Any] = {
        "itemId": auction.item_id,
        "auctionStatus": "ENDED" if ended else "ACTIVE",
        "auctionEndDate": ebay_time(auction.end_ms),
        "bidCount": engine.bid_count(auction),
        "currentPrice": amount(engine.current_price(auction), currency),
        "currentProxyBid": {
            "proxyBidId": proxy.proxy_bid_id,
            "maxAmount": amount(proxy.max_amount, currency),
        },
        "highBidder": high,
    }
    # Bidding.reservePriceMet: "returned only for auctions that have a reserve price".
    if auction.reserve_price is not None:
        body["reservePriceMet"] = engine.reserve_met(auction)
    if not ended:
        first = engine.minimum_to_bid(auction)
        second = first + increment(first)
        third = second + increment(second)
        body["suggestedBidAmounts"] = [amount(c, currency) for c in (first, second, third)]
    return body


def admin_json(auction: Auction, now_ms: int, watched_by: list[str]) -> dict[str, Any]:
    """The whole state of an auction for tests, amounts in integer cents."""
    top = engine.leader(auction)
    ended = engine.is_ended(auction, now_ms)
    reason = engine.end_reason(auction, now_ms)
    body: dict[str, Any] = {
        "legacyItemId": auction.legacy_id,
        "itemId": auction.item_id,
        "title": auction.title,
        "seller": auction.seller,
        "currency": auction.currency,
        "startPrice": auction.start_price,
        "reservePrice": auction.reserve_price,
        "buyItNowPrice": auction.buy_it_now_price,
        "buyItNowAvailable": engine.buy_it_now_available(auction, now_ms),
        "adultOnly": auction.adult_only,
        "imageUrl": auction.image_url,
        "endTime": ebay_time(auction.end_ms),
        "endTimeMs": auction.end_ms,
        "status": "ENDED" if ended else "ACTIVE",
        "endedBy": reason.value if reason else None,
        "currentPrice": engine.current_price(auction),
        "minimumPriceToBid": None if ended else engine.minimum_to_bid(auction),
        "highBidder": top.bidder if top else None,
        "reservePriceMet": engine.reserve_met(auction),
        "bidCount": engine.bid_count(auction),
        "uniqueBidderCount": engine.unique_bidder_count(auction),
        "watchedBy": watched_by,
        "bids": [
            {
                "bidder": bid.bidder,
                "maxAmount": bid.max_amount,
                "receivedAt": bid.received_at,
                "proxyBidId": bid.proxy_bid_id,
                "accepted": bid.accepted,
                "errorId": bid.error_id,
            }
            for bid in auction.bids
        ],
    }
    if ended:
        body["winner"] = engine.winner(auction, now_ms)
        body["finalPrice"] = engine.final_price(auction, now_ms)
    return body


_PALETTE = ("#2f6fde", "#e5533d", "#f5af02", "#86b817", "#6b4fbb", "#1a9e8f")


def placeholder_svg(auction: Auction) -> str:
    """A small picture for an auction without an image, served from the simulator."""
    colour = _PALETTE[int(auction.legacy_id) % len(_PALETTE)]
    words = [w for w in auction.title.split() if w[:1].isalnum()]
    initials = html.escape("".join(w[0] for w in words[:2]).upper() or "?")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" viewBox="0 0 400 300">'
        f'<rect width="400" height="300" fill="{colour}"/>'
        '<text x="200" y="175" font-family="sans-serif" font-size="96" fill="#fff" '
        f'text-anchor="middle">{initials}</text></svg>'
    )


def svg_data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
