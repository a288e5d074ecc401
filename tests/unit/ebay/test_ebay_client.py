"""``EbayClient``: every API on one transport and one application token cache."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import httpx
import respx

from common.ebay.client import EbayClient
from common.ebay.config import EbayConfig
from common.ebay.credentials import AppCredentials
from common.ebay.models import Money

# conftest.py is not importable; this names the type of its `clock` fixture (FakeClock).
FakeClock = Any

ITEM = {"itemId": "v1|123|0", "legacyItemId": "123", "title": "Lens", "buyingOptions": ["AUCTION"]}
KEY = {"algorithm": "ECDSA", "digest": "SHA1", "key": "-----BEGIN PUBLIC KEY-----x"}


def test_browse_and_get_public_key_share_one_application_token(
    ebay: respx.MockRouter, clock: FakeClock, config: EbayConfig, credentials: AppCredentials
) -> None:
    # Given one client, and eBay minting application tokens
    client = EbayClient(config, credentials, http=httpx.Client(), clock=clock, sleep=clock.sleep)
    tokens = ebay.post("/identity/v1/oauth2/token").mock(
        return_value=httpx.Response(200, json={"access_token": "app-token", "expires_in": 7200})
    )
    ebay.get("/buy/browse/v1/item/get_item_by_legacy_id").mock(
        return_value=httpx.Response(200, json=ITEM)
    )
    ebay.get(url__regex=r".*/public_key/kid-1$").mock(return_value=httpx.Response(200, json=KEY))
    # When an item and a notification key are read
    client.get_item_by_legacy_id("123")
    client.get_public_key("kid-1")
    # Then one token served both APIs
    assert tokens.call_count == 1


def test_every_apis_answers_leave_their_clock_sample_on_the_client(
    ebay: respx.MockRouter, clock: FakeClock, config: EbayConfig, credentials: AppCredentials
) -> None:
    # Given eBay answering a bid and a bidding read, each with its Date
    client = EbayClient(config, credentials, http=httpx.Client(), clock=clock, sleep=clock.sleep)
    date = {"Date": formatdate(clock.now, usegmt=True)}
    ebay.post(url__regex=r".*/place_proxy_bid$").mock(
        return_value=httpx.Response(200, json={"proxyBidId": "pb-1"}, headers=date)
    )
    ebay.get(url__regex=r".*/bidding/v1%7C123%7C0$").mock(
        return_value=httpx.Response(
            200, json={"itemId": "v1|123|0", "auctionStatus": "ACTIVE"}, headers=date
        )
    )
    # When both are called through the client
    client.place_proxy_bid("user-token", "123", Money(amount=2500, currency="USD"))
    client.get_bidding("user-token", "123")
    # Then the client's samples hold both, in order
    assert [s.operation for s in client.recent_clock_samples()] == [
        "place_proxy_bid",
        "get_bidding",
    ]
    assert client.last_clock_sample is not None
    assert client.last_clock_sample.operation == "get_bidding"
