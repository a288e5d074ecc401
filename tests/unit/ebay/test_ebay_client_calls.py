"""What the client sends to eBay and how it reads the answers (OAuth, Browse, Buy Offer,
Commerce Identity), with eBay played by respx."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from common.ebay.client import EbayClient
from common.ebay.config import EbayConfig
from common.ebay.credentials import AppCredentials
from common.ebay.errors import (
    AuctionEnded,
    BidTooLow,
    EbayAuthError,
    EbayUnavailable,
    InvalidGrant,
    InvalidItemId,
    ItemNotFound,
)
from common.ebay.models import Money, UserTokens

# conftest.py is not importable; this names the type of its `clock` fixture (FakeClock).
FakeClock = Any

API = "https://api.sandbox.ebay.com"
TOKEN_URL = f"{API}/identity/v1/oauth2/token"
ITEM_JSON: dict[str, Any] = {
    "itemId": "v1|110552222222|0",
    "legacyItemId": "110552222222",
    "title": "Vintage lens",
    "buyingOptions": ["AUCTION", "FIXED_PRICE"],
    "currentBidPrice": {"value": "12.50", "currency": "USD"},
    "minimumPriceToBid": {"value": "13.00", "currency": "USD"},
    "bidCount": 3,
    "itemEndDate": "2023-11-15T22:13:20.250Z",
    "image": {"imageUrl": "https://i.ebayimg.com/x.jpg"},
    "condition": "Used",
    "seller": {"username": "camera_shop", "feedbackScore": 10},
    "reservePriceMet": False,
}


@pytest.fixture
def ebay() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client(
    ebay: respx.MockRouter, clock: FakeClock, config: EbayConfig, credentials: AppCredentials
) -> EbayClient:
    # A real transport, intercepted by respx.
    return EbayClient(config, credentials, http=httpx.Client(), clock=clock, sleep=clock.sleep)


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


# --- OAuth -----------------------------------------------------------------------------------


def test_authorization_url_carries_the_runame_scopes_and_state(client: EbayClient) -> None:
    # When the user is sent to eBay to link their account
    url = client.authorization_url("state-123", ["scope-a", "scope-b"])
    # Then the URL is eBay's authorize page with the app's RuName as redirect_uri
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://auth.sandbox.ebay.com/oauth2/authorize"
    )
    assert query == {
        "client_id": "sniper-app-id",
        "redirect_uri": "Sniper-RuName",
        "response_type": "code",
        "scope": "scope-a scope-b",
        "state": "state-123",
    }


def test_exchange_code_posts_the_grant_with_basic_auth(
    client: EbayClient, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given eBay accepting the code
    route = ebay.post("/identity/v1/oauth2/token").mock(
        return_value=httpx.Response(
            200,
            json={
                "access_token": "v^1.1#user-access",
                "expires_in": 7200,
                "refresh_token": "v^1.1#user-refresh",
                "refresh_token_expires_in": 47304000,
                "token_type": "User Access Token",
            },
        )
    )
    # When the code is exchanged
    tokens = client.exchange_code("auth-code")
    # Then the form and credentials are eBay's, and expiries are absolute
    request = route.calls.last.request
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": "auth-code",
        "redirect_uri": "Sniper-RuName",
    }
    expected = base64.b64encode(b"sniper-app-id:SBX-client-secret-do-not-log").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert tokens.access_token.get_secret_value() == "v^1.1#user-access"
    assert tokens.access_expires_at == int(clock.now) + 7200
    assert tokens.refresh_expires_at == int(clock.now) + 47304000
    assert "user-access" not in repr(tokens)


def test_invalid_grant_is_its_own_error(client: EbayClient, ebay: respx.MockRouter) -> None:
    ebay.post("/identity/v1/oauth2/token").mock(
        return_value=httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": "the provided authorization grant code is invalid",
            },
        )
    )
    with pytest.raises(InvalidGrant):
        client.exchange_code("used-code")


def test_refresh_keeps_the_refresh_token_and_its_expiry(
    client: EbayClient, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given tokens whose access part expired
    old = UserTokens(
        access_token=SecretStr("old-access"),
        access_expires_at=int(clock.now) - 10,
        refresh_token=SecretStr("the-refresh"),
        refresh_expires_at=1_800_000_000,
    )
    route = ebay.post("/identity/v1/oauth2/token").mock(
        return_value=httpx.Response(200, json={"access_token": "new-access", "expires_in": 7200})
    )
    # When refreshed
    new = client.refresh_user_token(old, ["scope-a"])
    # Then only the access token changed
    assert form(route.calls.last.request) == {
        "grant_type": "refresh_token",
        "refresh_token": "the-refresh",
        "scope": "scope-a",
    }
    assert new.access_token.get_secret_value() == "new-access"
    assert new.access_expires_at == int(clock.now) + 7200
    assert new.refresh_token == old.refresh_token
    assert new.refresh_expires_at == 1_800_000_000


def test_application_token_is_cached_until_near_expiry(
    client: EbayClient, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given eBay minting 2-hour application tokens
    route = app_token_route(ebay)
    ebay.get("/buy/browse/v1/item/get_item_by_legacy_id").mock(
        return_value=httpx.Response(200, json=ITEM_JSON)
    )
    # When three items are read within the hour
    for _ in range(3):
        client.get_item_by_legacy_id("110552222222")
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
    client.get_item_by_legacy_id("110552222222")
    # Then a new one is minted
    assert route.call_count == 2


def test_a_refused_application_token_is_replaced_once(
    client: EbayClient, ebay: respx.MockRouter
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
    assert client.get_item_by_legacy_id("110552222222").bid_count == 3
    assert route.call_count == 2


# --- Browse ----------------------------------------------------------------------------------


def test_item_by_legacy_id_is_read_into_the_products_units(
    client: EbayClient, ebay: respx.MockRouter
) -> None:
    # Given an auction on eBay
    app_token_route(ebay)
    route = ebay.get("/buy/browse/v1/item/get_item_by_legacy_id").mock(
        return_value=httpx.Response(200, json=ITEM_JSON)
    )
    # When read
    item = client.get_item_by_legacy_id(110552222222)
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


def test_get_item_url_encodes_the_rest_id(client: EbayClient, ebay: respx.MockRouter) -> None:
    app_token_route(ebay)
    route = ebay.get(url__regex=r".*/buy/browse/v1/item/v1%7C110552222222%7C0$").mock(
        return_value=httpx.Response(200, json={**ITEM_JSON, "buyingOptions": ["FIXED_PRICE"]})
    )
    item = client.get_item("v1|110552222222|0")
    assert route.called
    assert item.is_auction is False


def test_browse_not_found_is_item_not_found(client: EbayClient, ebay: respx.MockRouter) -> None:
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
        client.get_item_by_legacy_id("1")
    assert caught.value.http_status == 404


def test_a_malformed_item_number_never_reaches_ebay(client: EbayClient) -> None:
    with pytest.raises(InvalidItemId):
        client.get_item_by_legacy_id("12;DROP")


# --- Buy Offer -------------------------------------------------------------------------------


def test_place_proxy_bid_sends_the_amount_and_consent(
    client: EbayClient, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given eBay accepting a bid
    route = ebay.post(url__regex=r".*/bidding/v1%7C123%7C0/place_proxy_bid$").mock(
        return_value=httpx.Response(
            200, json={"proxyBidId": "pb-1"}, headers={"Date": formatdate(clock.now, usegmt=True)}
        )
    )
    # When a $25.00 bid is placed on a legacy item number
    result = client.place_proxy_bid(
        SecretStr("user-token"), "123", Money(amount=2500, currency="USD"), adult_only=True
    )
    # Then eBay gets its own money format and the user's token
    request = route.calls.last.request
    assert json.loads(request.content) == {
        "maxAmount": {"currency": "USD", "value": "25.00"},
        "userConsent": {"adultOnlyItem": True},
    }
    assert request.headers["Authorization"] == "Bearer user-token"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-EBAY-C-MARKETPLACE-ID"] == "EBAY_US"
    # And the result says when it was sent and what eBay's clock said
    assert result.proxy_bid_id == "pb-1"
    assert result.timing is not None
    assert result.timing.server_date_seconds == int(clock.now)
    assert result.timing.sent_ms == int(clock.now * 1000)


def test_a_prepared_bid_is_sent_as_built_and_resent_on_a_retry(
    client: EbayClient, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given a bid built ahead of its instant, and eBay busy (429) once before accepting it
    amount = Money(amount=2500, currency="USD")
    prepared = client.prepare_proxy_bid(SecretStr("user-token"), "123", amount)
    route = ebay.post(url__regex=r".*/bidding/v1%7C123%7C0/place_proxy_bid$").mock(
        side_effect=[
            httpx.Response(429, json={"errors": [{"errorId": 2001}]}, headers={"Retry-After": "0"}),
            httpx.Response(
                200,
                json={"proxyBidId": "pb-2"},
                headers={"Date": formatdate(clock.now, usegmt=True)},
            ),
        ]
    )

    # When it is placed
    result = client.place_proxy_bid(
        SecretStr("user-token"), "123", amount, deadline=clock.now + 30, prepared=prepared
    )

    # Then eBay got the prepared request twice: the amount, the consent and the token
    assert result.proxy_bid_id == "pb-2"
    assert len(route.calls) == 2
    for call in route.calls:
        assert call.request.content == prepared.built.content
        assert json.loads(call.request.content) == {
            "maxAmount": {"currency": "USD", "value": "25.00"},
            "userConsent": {"adultOnlyItem": False},
        }
        assert call.request.headers["Authorization"] == "Bearer user-token"


def test_a_prepared_bid_for_another_amount_is_refused(client: EbayClient) -> None:
    prepared = client.prepare_proxy_bid(
        SecretStr("user-token"), "123", Money(amount=2500, currency="USD")
    )
    with pytest.raises(ValueError, match="another item or amount"):
        client.place_proxy_bid(
            SecretStr("user-token"), "123", Money(amount=2600, currency="USD"), prepared=prepared
        )


def test_a_rejected_bid_raises_the_typed_error_with_timing(
    client: EbayClient, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    ebay.post(url__regex=r".*/place_proxy_bid$").mock(
        return_value=httpx.Response(
            409,
            json={
                "errors": [
                    {
                        "errorId": 120008,
                        "domain": "API_OFFER",
                        "message": "The bid amount is too low.",
                        "parameters": [
                            {"name": "minimumBid", "value": "26.00"},
                            {"name": "currency", "value": "USD"},
                        ],
                    }
                ]
            },
            headers={"Date": formatdate(clock.now, usegmt=True)},
        )
    )
    with pytest.raises(BidTooLow) as caught:
        client.place_proxy_bid("user-token", "v1|123|0", Money(amount=2500, currency="USD"))
    assert caught.value.minimum == Money(amount=2600, currency="USD")
    assert caught.value.timing is not None


def test_get_bidding_reads_the_auction_state(client: EbayClient, ebay: respx.MockRouter) -> None:
    ebay.get(url__regex=r".*/buy/offer/v1_beta/bidding/v1%7C123%7C0$").mock(
        return_value=httpx.Response(
            200,
            json={
                "itemId": "v1|123|0",
                "auctionStatus": "ENDED",
                "highBidder": True,
                "currentPrice": {"value": "30.00", "currency": "USD"},
                "bidCount": 7,
                "currentProxyBid": {
                    "proxyBidId": "pb-1",
                    "maxAmount": {"value": "40.00", "currency": "USD"},
                },
                "auctionEndDate": "2023-11-15T22:13:20.000Z",
                "reservePriceMet": True,
                "suggestedBidAmounts": [{"value": "31.00", "currency": "USD"}],
            },
        )
    )
    status = client.get_bidding("user-token", "123")
    assert status.is_active is False
    assert status.high_bidder is True
    assert status.current_price == Money(amount=3000, currency="USD")
    assert status.current_proxy_bid == Money(amount=4000, currency="USD")
    assert status.proxy_bid_id == "pb-1"
    assert status.auction_end_time == 1_700_086_400
    assert status.suggested_bid_amounts == (Money(amount=3100, currency="USD"),)


def test_get_bidding_on_an_ended_auction(client: EbayClient, ebay: respx.MockRouter) -> None:
    ebay.get(url__regex=r".*/bidding/.*").mock(
        return_value=httpx.Response(
            409, json={"errors": [{"errorId": 120012, "message": "The auction has ended."}]}
        )
    )
    with pytest.raises(AuctionEnded):
        client.get_bidding("user-token", "123")


def test_an_expired_user_token_is_an_auth_error(client: EbayClient, ebay: respx.MockRouter) -> None:
    ebay.get(url__regex=r".*/bidding/.*").mock(
        return_value=httpx.Response(
            401,
            json={
                "errors": [{"errorId": 1001, "domain": "OAuth", "message": "Invalid access token"}]
            },
        )
    )
    with pytest.raises(EbayAuthError):
        client.get_bidding("user-token", "123")


# --- Identity and clock ----------------------------------------------------------------------


def test_get_user_reads_the_linked_account(
    clock: FakeClock, make_client: Callable[..., EbayClient]
) -> None:
    # Given the Commerce Identity API (on the apiz host in production)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"userId": "u-immutable", "username": "bidder_1", "accountType": "INDIVIDUAL"}
        )

    client = make_client(handler, cfg=EbayConfig.for_environment("production"))
    # When asked who the token belongs to
    user = client.get_user("user-token")
    # Then the immutable id and the name come back
    assert str(seen[0].url) == "https://apiz.ebay.com/commerce/identity/v1/user/"
    assert user.user_id == "u-immutable"
    assert client.get_user_account_id("user-token") == "u-immutable"


def test_probe_clock_samples_ebays_date(
    clock: FakeClock, make_client: Callable[..., EbayClient]
) -> None:
    # Given eBay's clock 1.5 s ahead of ours and a 40 ms round trip
    def handler(request: httpx.Request) -> httpx.Response:
        assert "Authorization" not in request.headers
        clock.now += 0.04
        return httpx.Response(401, headers={"Date": formatdate(clock.now + 1.5, usegmt=True)})

    client = make_client(handler)
    # When probed 3 times, 0.3 s apart
    samples = client.probe_clock(3, interval_s=0.3)
    # Then each sample brackets eBay's Date with our send and receive instants
    assert len(samples) == 3
    for sample in samples:
        assert sample.received_ms - sample.sent_ms == 40
        assert sample.server_date_seconds == int(sample.received_ms / 1000 + 1.5)
    assert client.recent_clock_samples()[-3:] == samples
    assert client.last_clock_sample == samples[-1]


def test_probe_clock_fails_when_ebay_is_unreachable(make_client: Callable[..., EbayClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(EbayUnavailable):
        make_client(handler).probe_clock(2)


def test_every_call_records_a_clock_sample(
    clock: FakeClock, make_client: Callable[..., EbayClient]
) -> None:
    observed: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"proxyBidId": "p"}, headers={"Date": formatdate(clock.now, usegmt=True)}
        )

    client = make_client(handler)
    client.transport.on_clock_sample = observed.append
    client.place_proxy_bid("t", "1", Money(amount=100, currency="USD"))
    assert [s.operation for s in observed] == ["place_proxy_bid"]


# --- Configuration ---------------------------------------------------------------------------


def test_local_config_takes_both_urls_and_strips_the_authorize_path() -> None:
    config = EbayConfig.for_environment(
        "local",
        api_base_url="http://127.0.0.1:9100/",
        auth_base_url="http://127.0.0.1:9100/oauth2/authorize",
    )
    assert config.authorize_url == "http://127.0.0.1:9100/oauth2/authorize"
    assert config.token_url == "http://127.0.0.1:9100/identity/v1/oauth2/token"
    assert config.trading_url == "http://127.0.0.1:9100/ws/api.dll"
    assert config.identity_base_url == "http://127.0.0.1:9100"


def test_local_config_needs_a_url() -> None:
    with pytest.raises(ValueError, match="api_base_url"):
        EbayConfig.for_environment("local")


@pytest.mark.parametrize(
    ("environment", "api", "auth"),
    [
        ("production", "https://api.ebay.com", "https://auth.ebay.com"),
        ("sandbox", API, "https://auth.sandbox.ebay.com"),
    ],
)
def test_environment_hosts(environment: str, api: str, auth: str) -> None:
    config = EbayConfig.for_environment(environment)
    assert config.token_url == f"{api}/identity/v1/oauth2/token"
    assert config.authorize_url == f"{auth}/oauth2/authorize"
