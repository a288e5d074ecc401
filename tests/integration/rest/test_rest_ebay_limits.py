"""eBay limiting calls (429 after the client's retries) is answered as the API document says,
on every route whose request calls eBay: POST /bids (the item look-up), POST
/ebay/auth/callback (the code exchange, the linked account), the wish list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rest import bids
from rest.openapi import build_openapi
from tests.integration.rest.conftest import make_call
from tests.integration.rest.ebay_link_helpers import auth_url, callback, consent

pytestmark = pytest.mark.integration
bids_call = make_call(bids.handler)


@pytest.fixture
def ebay_limiting(ebay_sim: str) -> Iterator[Any]:
    """Makes one of eBay's endpoints answer 429 to every call; undone after the test."""

    def limit(endpoint: str) -> None:
        httpx.post(
            f"{ebay_sim}/_sim/faults",
            json={"endpoint": endpoint, "statuses": [429], "errorRate": 1},
            timeout=5,
        ).raise_for_status()

    yield limit
    httpx.delete(f"{ebay_sim}/_sim/faults", timeout=5)


def _documented(method: str, path: str) -> set[int]:
    operation = build_openapi()["paths"][path][method.lower()]
    return {int(status) for status in operation["responses"]}


def test_a_snipe_create_while_ebay_limits_calls_is_answered_as_documented(
    rest_env, new_auction, ebay_limiting
):
    # Given an auction, and eBay's Browse API answering 429 to everything
    auction = new_auction()
    ebay_limiting("browse")
    # When the user snipes it
    status, body = bids_call(
        "POST", "/bids", body={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 5000}
    )
    # Then the answer says eBay is limiting calls, with a status the document declares
    assert body["error"]["code"] == "EBAY_RATE_LIMITED"
    assert status in _documented("POST", "/bids")


def test_a_link_while_ebay_limits_calls_is_answered_as_documented(rest_env, ebay_limiting):
    # Given a user back from eBay's consent page, and eBay's token endpoint answering 429
    code, state = consent(auth_url()["authUrl"], "limited_lou")
    ebay_limiting("token")
    # When the dashboard hands code and state over
    status, body = callback(code, state)
    # Then the answer says eBay is limiting calls, with a status the document declares
    assert body["error"]["code"] == "EBAY_RATE_LIMITED"
    assert status in _documented("POST", "/ebay/auth/callback")
