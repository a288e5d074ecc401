"""getItems on the Browse API alone (``BrowseApi``): up to 20 items in one Browse call with the
buy.item.bulk token, and one item per call (getItem) while eBay refuses this app that Limited
Release method. eBay is played by respx."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from common.ebay.browse import BULK_RECHECK_SECONDS, MAX_ITEMS_PER_CALL, BrowseApi
from common.ebay.config import APP_SCOPE, BULK_ITEMS_SCOPE
from common.ebay.errors import BulkItemsDenied
from common.ebay.models import Money

FakeClock = Any  # conftest.py's FakeClock

API = "https://api.sandbox.ebay.com"
ITEMS_PATH = "/buy/browse/v1/item/"


def _core(legacy: str, cents: int, **extra: Any) -> dict[str, Any]:
    """A CoreItem as getItems returns it: no title, end date or buying options."""
    value = f"{cents // 100}.{cents % 100:02d}"
    return {
        "itemId": f"v1|{legacy}|0",
        "legacyItemId": legacy,
        "currentBidPrice": {"value": value, "currency": "USD"},
        "bidCount": 2,
        **extra,
    }


def _tokens(ebay: respx.MockRouter, *, bulk_granted: bool = True) -> respx.Route:
    """eBay's token endpoint: a token named after its scope, or invalid_scope for the bulk one
    when the keyset is not granted it."""

    def mint(request: httpx.Request) -> httpx.Response:
        scope = parse_qs(request.content.decode())["scope"][0]
        if scope == BULK_ITEMS_SCOPE and not bulk_granted:
            return httpx.Response(
                400,
                json={"error": "invalid_scope", "error_description": "exceeds the scope granted"},
            )
        name = "bulk-token" if scope == BULK_ITEMS_SCOPE else "app-token"
        return httpx.Response(200, json={"access_token": name, "expires_in": 7200})

    return ebay.post("/identity/v1/oauth2/token").mock(side_effect=mint)


def test_up_to_twenty_items_are_one_call_with_the_bulk_token(
    browse: BrowseApi, ebay: respx.MockRouter
) -> None:
    # Given eBay with two of three asked items (the third unknown: only a warning)
    _tokens(ebay)
    route = ebay.get(ITEMS_PATH).mock(
        return_value=httpx.Response(
            200,
            json={
                "total": 2,
                "items": [
                    _core(
                        "110000000001",
                        1250,
                        minimumPriceToBid={"value": "13.00", "currency": "USD"},
                    ),
                    _core("110000000002", 900, reservePriceMet=False),
                ],
                "warnings": [{"errorId": 11001, "message": "The specified item ID was not found."}],
            },
        )
    )
    # When their prices are read, by legacy and RESTful ids alike
    prices = browse.get_items(["110000000001", "v1|110000000002|0", "110000000003"])
    # Then one getItems call carried the three RESTful ids with the buy.item.bulk token
    assert browse.items_per_call == MAX_ITEMS_PER_CALL == 20
    request = route.calls.last.request
    assert route.call_count == 1
    assert request.url.params["item_ids"] == "v1|110000000001|0,v1|110000000002|0,v1|110000000003|0"
    assert request.headers["Authorization"] == "Bearer bulk-token"
    # and the known items come back typed, the unknown one left out
    assert [(p.legacy_item_id, p.current_bid_price) for p in prices] == [
        ("110000000001", Money(amount=1250, currency="USD")),
        ("110000000002", Money(amount=900, currency="USD")),
    ]
    assert prices[0].minimum_price_to_bid == Money(amount=1300, currency="USD")
    assert prices[1].reserve_price_met is False


def test_none_of_the_items_existing_is_an_empty_answer(
    browse: BrowseApi, ebay: respx.MockRouter
) -> None:
    _tokens(ebay)
    ebay.get(ITEMS_PATH).mock(
        return_value=httpx.Response(
            400,
            json={"errors": [{"errorId": 11001, "domain": "API_BROWSE", "message": "not found"}]},
        )
    )
    assert browse.get_items(["110000000009"]) == []


def test_more_than_twenty_items_never_reach_ebay(browse: BrowseApi) -> None:
    with pytest.raises(ValueError, match="at most 20"):
        browse.get_items([str(110000000000 + n) for n in range(21)])


def test_an_app_without_the_bulk_scope_polls_one_item_per_call_until_it_asks_again(
    browse: BrowseApi, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given a keyset that is not one of the Partners granted getItems
    tokens = _tokens(ebay, bulk_granted=False)
    items = ebay.get(ITEMS_PATH).mock(return_value=httpx.Response(200, json={"items": []}))
    one = ebay.get(url__regex=r".*/buy/browse/v1/item/v1%7C110000000001%7C0$").mock(
        return_value=httpx.Response(
            200, json={**_core("110000000001", 700), "title": "Leica", "buyingOptions": ["AUCTION"]}
        )
    )
    # When two items are asked for
    with pytest.raises(BulkItemsDenied):
        browse.get_items(["110000000001", "110000000002"])
    # Then no Browse call was made, and from now on a call takes one item, through getItem
    assert (items.call_count, one.call_count) == (0, 0)
    assert browse.items_per_call == 1
    with pytest.raises(BulkItemsDenied):
        browse.get_items(["110000000001", "110000000002"])
    prices = browse.get_items(["110000000001"])
    assert [(p.legacy_item_id, p.current_bid_price) for p in prices] == [
        ("110000000001", Money(amount=700, currency="USD"))
    ]
    assert one.call_count == 1
    asked = [parse_qs(c.request.content.decode())["scope"][0] for c in tokens.calls]
    assert asked == [BULK_ITEMS_SCOPE, APP_SCOPE]
    # When an hour has passed
    clock.now += BULK_RECHECK_SECONDS
    # Then getItems is tried again
    assert browse.items_per_call == 20


def test_a_403_from_get_items_means_it_is_refused_to_this_app(
    browse: BrowseApi, ebay: respx.MockRouter
) -> None:
    # Given eBay granting the scope but refusing the method (insufficient permissions)
    _tokens(ebay)
    ebay.get(ITEMS_PATH).mock(
        return_value=httpx.Response(
            403,
            json={"errors": [{"errorId": 1100, "domain": "ACCESS", "message": "Access denied"}]},
        )
    )
    # When items are asked for / Then it is BulkItemsDenied, and calls take one item from now on
    with pytest.raises(BulkItemsDenied):
        browse.get_items(["110000000001", "110000000002"])
    assert browse.items_per_call == 1
