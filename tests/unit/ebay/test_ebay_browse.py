"""eBay's Browse API alone (``BrowseApi`` with its application tokens): an item read into the
product's units, and the application token cache it uses, with eBay played by respx."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from common.ebay.browse import BrowseApi
from common.ebay.errors import InvalidItemId, ItemNotFound
from common.ebay.models import Money

# conftest.py is not importable; this names the type of its `clock` fixture (FakeClock).
FakeClock = Any

ITEM_JSON: dict[str, Any] = {
    "itemId": "v1|110552222222|0",
    "legacyItemId": "110552222222",
    "title": "Vintage lens",
    "buyingOptions": ["AUCTION", "FIXED_PRICE"],
    "currentBidPrice": {"value": "12.50", "currency": "USD"},
    "minimumPriceToBid": {"value": "13.00", "currency": "USD"},
    "price": {"value": "90.00", "currency": "USD"},
    "bidCount": 3,
    "itemEndDate": "2023-11-15T22:13:20.250Z",
    "image": {"imageUrl": "https://i.ebayimg.com/x.jpg"},
    "condition": "Used",
    "seller": {"username": "camera_shop", "feedbackScore": 10},
    "reservePriceMet": False,
}


def app_token_route(
    ebay: respx.MockRouter, token: str = "app-token", expires_in: int = 7200
) -> respx.Route:
    return ebay.post(
        "/identity/v1/oauth2/token", data__contains={"grant_type": "client_credentials"}
    ).mock(
        return_value=httpx.Response(
            200,
            json={
                "access_token": token,
                "expires_in": expires_in,
                "token_type": "Application Access Token",
            },
        )
    )


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


# --- Application tokens ----------------------------------------------------------------------


def test_application_token_is_cached_until_near_expiry(
    browse: BrowseApi, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given eBay minting 2-hour application tokens
    route = app_token_route(ebay)
    ebay.get("/buy/browse/v1/item/get_item_by_legacy_id").mock(
        return_value=httpx.Response(200, json=ITEM_JSON)
    )
    # When three items are read within the hour
    for _ in range(3):
        browse.get_item_by_legacy_id("110552222222")
        clock.now += 600
    # Then one token served them all
    assert route.call_count == 1
    form_sent = form(route.calls.last.request)
    assert form_sent == {
        "grant_type": "client_credentials",
        "scope": "https://api.ebay.com/oauth/api_scope",
    }
    # When the token is within 5 minutes of expiry
    clock.now += 7200 - 1800 - 299
    browse.get_item_by_legacy_id("110552222222")
    # Then a new one is minted
    assert route.call_count == 2


def test_a_refused_application_token_is_replaced_once(
    browse: BrowseApi, ebay: respx.MockRouter
) -> None:
    # Given eBay refusing the cached token once (revoked early)
    route = app_token_route(ebay)
    ebay.get("/buy/browse/v1/item/get_item_by_legacy_id").mock(
        side_effect=[
            httpx.Response(
                401, json={"errors": [{"errorId": 1001, "message": "Invalid access token"}]}
            ),
            httpx.Response(200, json=ITEM_JSON),
        ]
    )
    # When read / Then a new token is minted and the read succeeds
    assert browse.get_item_by_legacy_id("110552222222").bid_count == 3
    assert route.call_count == 2


# --- Items -----------------------------------------------------------------------------------


def test_item_by_legacy_id_is_read_into_the_products_units(
    browse: BrowseApi, ebay: respx.MockRouter
) -> None:
    # Given an auction on eBay
    app_token_route(ebay)
    route = ebay.get("/buy/browse/v1/item/get_item_by_legacy_id").mock(
        return_value=httpx.Response(200, json=ITEM_JSON)
    )
    # When read
    item = browse.get_item_by_legacy_id(110552222222)
    # Then the request carried the app token and marketplace, and the item is typed
    request = route.calls.last.request
    assert request.url.params["legacy_item_id"] == "110552222222"
    assert request.headers["Authorization"] == "Bearer app-token"
    assert request.headers["X-EBAY-C-MARKETPLACE-ID"] == "EBAY_US"
    assert item.is_auction is True
    assert item.current_bid_price == Money(amount=1250, currency="USD")
    assert item.minimum_price_to_bid == Money(amount=1300, currency="USD")
    assert item.end_time_ms == 1_700_086_400_250  # eBay's milliseconds kept
    assert item.end_time == 1_700_086_400
    assert item.image_url == "https://i.ebayimg.com/x.jpg"
    assert item.seller_username == "camera_shop"
    assert item.reserve_price_met is False
    assert item.buying_options == ("AUCTION", "FIXED_PRICE")
    assert item.buy_it_now_price == Money(amount=9000, currency="USD")


def test_an_auction_without_buy_it_now_has_no_buy_it_now_price(
    browse: BrowseApi, ebay: respx.MockRouter
) -> None:
    # Given an auction whose Buy It Now went with its first bid (eBay's price is then the bid's)
    app_token_route(ebay)
    ebay.get("/buy/browse/v1/item/get_item_by_legacy_id").mock(
        return_value=httpx.Response(200, json={**ITEM_JSON, "buyingOptions": ["AUCTION"]})
    )
    # When read, then it has no Buy It Now price
    assert browse.get_item_by_legacy_id(110552222222).buy_it_now_price is None


def test_get_item_url_encodes_the_rest_id(browse: BrowseApi, ebay: respx.MockRouter) -> None:
    app_token_route(ebay)
    route = ebay.get(url__regex=r".*/buy/browse/v1/item/v1%7C110552222222%7C0$").mock(
        return_value=httpx.Response(200, json={**ITEM_JSON, "buyingOptions": ["FIXED_PRICE"]})
    )
    item = browse.get_item("v1|110552222222|0")
    assert route.called
    assert item.is_auction is False


def test_browse_not_found_is_item_not_found(browse: BrowseApi, ebay: respx.MockRouter) -> None:
    app_token_route(ebay)
    ebay.get("/buy/browse/v1/item/get_item_by_legacy_id").mock(
        return_value=httpx.Response(
            404,
            json={
                "errors": [
                    {"errorId": 11003, "message": "The specified legacy item ID was not found."}
                ]
            },
        )
    )
    with pytest.raises(ItemNotFound) as caught:
        browse.get_item_by_legacy_id("1")
    assert caught.value.http_status == 404


def test_a_malformed_item_number_never_reaches_ebay(browse: BrowseApi) -> None:
    with pytest.raises(InvalidItemId):
        browse.get_item_by_legacy_id("12;DROP")
