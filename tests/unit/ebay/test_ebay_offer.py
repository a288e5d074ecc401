"""eBay's Buy Offer API alone (``BuyOfferApi``): placing a proxy bid, prepared or not, and reading
the bidding, with eBay played by respx."""

from __future__ import annotations

import json
from email.utils import formatdate
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from common.ebay.errors import AuctionEnded, BidTooLow, EbayAuthError
from common.ebay.models import Money
from common.ebay.offer import BuyOfferApi

# conftest.py is not importable; this names the type of its `clock` fixture (FakeClock).
FakeClock = Any


def test_place_proxy_bid_sends_the_amount_and_consent(
    offer: BuyOfferApi, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given eBay accepting a bid
    route = ebay.post(url__regex=r".*/bidding/v1%7C123%7C0/place_proxy_bid$").mock(
        return_value=httpx.Response(
            200, json={"proxyBidId": "pb-1"}, headers={"Date": formatdate(clock.now, usegmt=True)}
        )
    )
    # When a $25.00 bid is placed on a legacy item number
    result = offer.place_proxy_bid(
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
    offer: BuyOfferApi, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given a bid built ahead of its instant, and eBay busy (429) once before accepting it
    amount = Money(amount=2500, currency="USD")
    prepared = offer.prepare_proxy_bid(SecretStr("user-token"), "123", amount)
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
    result = offer.place_proxy_bid(
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


def test_a_prepared_bid_for_another_amount_is_refused(offer: BuyOfferApi) -> None:
    prepared = offer.prepare_proxy_bid(
        SecretStr("user-token"), "123", Money(amount=2500, currency="USD")
    )
    with pytest.raises(ValueError, match="another item or amount"):
        offer.place_proxy_bid(
            SecretStr("user-token"), "123", Money(amount=2600, currency="USD"), prepared=prepared
        )


def test_a_rejected_bid_raises_the_typed_error_with_timing(
    offer: BuyOfferApi, ebay: respx.MockRouter, clock: FakeClock
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
        offer.place_proxy_bid("user-token", "v1|123|0", Money(amount=2500, currency="USD"))
    assert caught.value.minimum == Money(amount=2600, currency="USD")
    assert caught.value.timing is not None


def test_get_bidding_reads_the_auction_state(offer: BuyOfferApi, ebay: respx.MockRouter) -> None:
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
    status = offer.get_bidding("user-token", "123")
    assert status.is_active is False
    assert status.high_bidder is True
    assert status.current_price == Money(amount=3000, currency="USD")
    assert status.current_proxy_bid == Money(amount=4000, currency="USD")
    assert status.proxy_bid_id == "pb-1"
    assert status.auction_end_time == 1_700_086_400
    assert status.suggested_bid_amounts == (Money(amount=3100, currency="USD"),)


def test_get_bidding_on_an_ended_auction(offer: BuyOfferApi, ebay: respx.MockRouter) -> None:
    ebay.get(url__regex=r".*/bidding/.*").mock(
        return_value=httpx.Response(
            409, json={"errors": [{"errorId": 120012, "message": "The auction has ended."}]}
        )
    )
    with pytest.raises(AuctionEnded):
        offer.get_bidding("user-token", "123")


def test_an_expired_user_token_is_an_auth_error(offer: BuyOfferApi, ebay: respx.MockRouter) -> None:
    ebay.get(url__regex=r".*/bidding/.*").mock(
        return_value=httpx.Response(
            401,
            json={
                "errors": [{"errorId": 1001, "domain": "OAuth", "message": "Invalid access token"}]
            },
        )
    )
    with pytest.raises(EbayAuthError):
        offer.get_bidding("user-token", "123")
