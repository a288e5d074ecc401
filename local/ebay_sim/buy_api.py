"""eBay's Buy APIs: Browse (getItem, getItems, getItemByLegacyId) and Offer (placeProxyBid,
getBidding)."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from local.ebay_sim import engine, views
from local.ebay_sim.config import BULK_ITEMS_SCOPE
from local.ebay_sim.engine import MAX_BID_CENTS, BidRejected
from local.ebay_sim.http_common import (
    SUPPORTED_MARKETPLACES,
    access_denied,
    arrival_ms,
    authenticate,
    authenticate_bidder,
    error_response,
    origin_of,
    sim_of,
)
from local.ebay_sim.money import format_amount, parse_amount
from local.ebay_sim.simulator import ItemNotFound

_ITEM_ID = re.compile(r"^v1\|(\d{1,19})\|0$")
# buy-browse-v1.yml, getItems' item_ids: "A comma separated list ... (maximum 20)".
MAX_ITEM_IDS = 20
_CURRENCY = re.compile(r"^[A-Z]{3}$")

# Offer errors (409 unless noted) and their spec categories.
_BUSINESS_STATUS = 409
_REQUEST_CATEGORY_IDS = frozenset({120007, 120018, 120032})

routes = web.RouteTableDef()


def legacy_from_item_id(item_id: str) -> str | None:
    match = _ITEM_ID.match(item_id)
    return match.group(1) if match else None


# -- Browse ------------------------------------------------------------------------------


def _browse_error(status: int, error_id: int, message: str) -> web.Response:
    return error_response(status, error_id, "API_BROWSE", "REQUEST", message)


def _browse_marketplace(request: web.Request) -> web.Response | None:
    marketplace = request.headers.get("X-EBAY-C-MARKETPLACE-ID", "EBAY_US")
    if marketplace not in SUPPORTED_MARKETPLACES:
        return error_response(
            400,
            11011,
            "API_BROWSE",
            "REQUEST",
            f"The marketplace value {marketplace} is not supported. The supported values are:"
            f" {', '.join(SUPPORTED_MARKETPLACES)}",
        )
    return None


def _item_response(request: web.Request, legacy_id: str) -> web.Response | None:
    sim = sim_of(request)
    with sim.lock:
        try:
            auction = sim.auction(legacy_id)
        except ItemNotFound:
            return None
        body = views.item_json(
            auction, sim.now_ms(), origin_of(request), sim.seller_feedback(auction.seller)
        )
    return web.json_response(body)


@routes.get("/buy/browse/v1/item/get_item_by_legacy_id")
async def get_item_by_legacy_id(request: web.Request) -> web.Response:
    caller = authenticate(request)
    if isinstance(caller, web.Response):
        return caller
    sim_of(request).count_call("getItemByLegacyId")
    if refused := _browse_marketplace(request):
        return refused
    legacy_id = request.query.get("legacy_item_id", "")
    if not legacy_id.isdigit():
        return _browse_error(400, 11006, "The legacy ID is invalid.")
    found = _item_response(request, legacy_id)
    return found or _browse_error(404, 11003, "The specified legacy item ID was not found.")


@routes.get("/buy/browse/v1/item/")
async def get_items(request: web.Request) -> web.Response:
    """getItems: up to 20 items in one call, each cut to the method's fields. A Limited Release
    method: an application token without ``buy.item.bulk`` (the only scope its security names)
    is refused as any call without its scope is. Items eBay does not have are left out, each
    with a warning (errorId 11001); when it has none of them, the call fails with 11001."""
    caller = authenticate(request)
    if isinstance(caller, web.Response):
        return caller
    if BULK_ITEMS_SCOPE not in caller.scopes:
        return access_denied()
    sim = sim_of(request)
    sim.count_call("getItems")
    if refused := _browse_marketplace(request):
        return refused
    item_ids, group_ids = request.query.get("item_ids"), request.query.get("item_group_ids")
    if item_ids is not None and group_ids is not None:
        return _browse_error(
            400,
            11014,
            "An item_ids and an item_group_ids list cannot be used at same time. Please use only"
            " one of these lists.",
        )
    if group_ids is not None:
        # The simulator's auctions have no variations: no item group exists.
        return _browse_error(400, 11002, "The specified item group was not found.")
    wanted = [part.strip() for part in (item_ids or "").split(",") if part.strip()]
    if not wanted:
        return _browse_error(
            400,
            11017,
            "An item_ids or an item_group_ids list is required. Please use one of these lists.",
        )
    if len(wanted) > MAX_ITEM_IDS:
        return _browse_error(
            400,
            11015,
            "The maximum number of item IDs has been exceeded. Please reduce the number of item"
            f" IDs to {MAX_ITEM_IDS} or less.",
        )
    legacy_ids = [legacy_from_item_id(item_id) for item_id in wanted]
    if any(legacy is None for legacy in legacy_ids):
        return _browse_error(
            400,
            11012,
            "The specified item IDs are invalid, or the format of the specified values are"
            " invalid.",
        )
    items: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    origin = origin_of(request)
    with sim.lock:
        now = sim.now_ms()
        for item_id, legacy in dict(zip(wanted, legacy_ids, strict=True)).items():
            try:
                auction = sim.auction(legacy or "")
            except ItemNotFound:
                warnings.append(
                    {
                        "errorId": 11001,
                        "domain": "API_BROWSE",
                        "category": "REQUEST",
                        "message": "The specified item ID was not found.",
                        "parameters": [{"name": "itemId", "value": item_id}],
                    }
                )
                continue
            feedback = sim.seller_feedback(auction.seller)
            items.append(views.core_item_json(auction, now, origin, feedback))
    if not items:
        return _browse_error(400, 11001, "The specified item ID was not found.")
    body: dict[str, Any] = {"total": len(items), "items": items}
    if warnings:
        body["warnings"] = warnings
    return web.json_response(body)


@routes.get("/buy/browse/v1/item/{item_id}")
async def get_item(request: web.Request) -> web.Response:
    caller = authenticate(request)
    if isinstance(caller, web.Response):
        return caller
    sim_of(request).count_call("getItem")
    if refused := _browse_marketplace(request):
        return refused
    legacy_id = legacy_from_item_id(request.match_info["item_id"])
    found = _item_response(request, legacy_id) if legacy_id else None
    return found or _browse_error(404, 11001, "The specified item ID was not found.")


# -- Offer -------------------------------------------------------------------------------


def _offer_error(
    status: int,
    error_id: int,
    message: str,
    *,
    category: str = "REQUEST",
    parameters: list[dict[str, str]] | None = None,
) -> web.Response:
    return error_response(status, error_id, "API_OFFER", category, message, parameters=parameters)


def _offer_marketplace(request: web.Request) -> web.Response | None:
    marketplace = request.headers.get("X-EBAY-C-MARKETPLACE-ID")
    if not marketplace:
        return _offer_error(
            400, 120015, "The X-EBAY-C-MARKETPLACE-ID header is missing. This is a required header."
        )
    if marketplace not in SUPPORTED_MARKETPLACES:
        return _offer_error(
            400,
            120017,
            f"The Marketplace {marketplace} is not supported. Supported values are"
            f" {', '.join(SUPPORTED_MARKETPLACES)}.",
            parameters=[{"name": "marketplaceId", "value": marketplace}],
        )
    return None


def _item_not_found(item_id: str) -> web.Response:
    return _offer_error(
        404,
        120001,
        f"The item ID {item_id} was not found. Check that this is an active auction item ID.",
        parameters=[{"name": "itemId", "value": item_id}],
    )


def _rejection(exc: BidRejected, currency: str) -> web.Response:
    status = 400 if exc.error_id in (120011, 120013, 120014, 120016) else _BUSINESS_STATUS
    category = "REQUEST" if status == 400 or exc.error_id in _REQUEST_CATEGORY_IDS else "BUSINESS"
    parameters = [
        {"name": name, "value": format_amount(cents)} for name, cents in exc.amounts.items()
    ]
    if exc.amounts:
        parameters.append({"name": "currency", "value": currency})
    return _offer_error(
        status, exc.error_id, exc.message, category=category, parameters=parameters or None
    )


def _parse_bid_body(raw: bytes) -> tuple[int, str, bool] | web.Response:
    """(cents, currency, adult consent) from a PlaceProxyBidRequest, or eBay's 400."""
    try:
        body: Any = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return _offer_error(400, 120013, "The bid amount is missing or invalid.")
    if not isinstance(body, dict):
        return _offer_error(400, 120013, "The bid amount is missing or invalid.")
    max_amount = body.get("maxAmount")
    if not isinstance(max_amount, dict) or max_amount.get("value") in (None, ""):
        return _offer_error(400, 120016, "The maximum bid amount is missing.")
    cents = parse_amount(max_amount["value"])
    if cents is None:
        return _offer_error(400, 120013, "The bid amount is missing or invalid.")
    if cents > MAX_BID_CENTS:
        return _offer_error(400, 120011, "The bid amount exceeds the limit.")
    currency = max_amount.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        return _offer_error(
            400,
            120014,
            "The bid currency is invalid. Refer to the documentation for a list of currency codes.",
        )
    consent = body.get("userConsent")
    adult = isinstance(consent, dict) and consent.get("adultOnlyItem") is True
    return cents, currency, adult


@routes.post("/buy/offer/v1_beta/bidding/{item_id}/place_proxy_bid")
async def place_proxy_bid(request: web.Request) -> web.Response:
    caller = authenticate_bidder(request)
    if isinstance(caller, web.Response):
        return caller
    if refused := _offer_marketplace(request):
        return refused
    parsed = _parse_bid_body(await request.read())
    if isinstance(parsed, web.Response):
        return parsed
    cents, currency, adult_consent = parsed
    item_id = request.match_info["item_id"]
    legacy_id = legacy_from_item_id(item_id)
    sim = sim_of(request)
    assert caller.username is not None
    with sim.lock:
        try:
            auction = sim.auction(legacy_id or "")
        except ItemNotFound:
            return _item_not_found(item_id)
        arrived = arrival_ms(request)
        if currency != auction.currency and not engine.is_ended(auction, arrived):
            return _offer_error(
                409,
                120009,
                "The bid currency needs to match the item price currency.",
                category="BUSINESS",
            )
        try:
            record = sim.place_bid(
                auction.legacy_id,
                caller.username,
                cents,
                adult_consent=adult_consent,
                at_ms=arrived,
            )
        except BidRejected as exc:
            return _rejection(exc, auction.currency)
    return web.json_response({"proxyBidId": record.proxy_bid_id})


@routes.get("/buy/offer/v1_beta/bidding/{item_id}")
async def get_bidding(request: web.Request) -> web.Response:
    caller = authenticate_bidder(request)
    if isinstance(caller, web.Response):
        return caller
    if refused := _offer_marketplace(request):
        return refused
    item_id = request.match_info["item_id"]
    legacy_id = legacy_from_item_id(item_id)
    sim = sim_of(request)
    with sim.lock:
        try:
            auction = sim.auction(legacy_id or "")
        except ItemNotFound:
            return _item_not_found(item_id)
        if caller.username not in auction.proxies:
            return _offer_error(
                404,
                120033,
                f"There is no bidding activity for this auction (item ID {item_id}).",
                parameters=[{"name": "itemId", "value": item_id}],
            )
        body = views.bidding_json(auction, caller.username, sim.now_ms())
    return web.json_response(body)
