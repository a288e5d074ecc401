"""Retries: backoff with jitter, Retry-After, the caller's deadline, and bids that may have
been accepted. The clock is fake: sleeping only moves it."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from common.ebay.client import EbayClient
from common.ebay.errors import DeadlineExceeded, EbayRateLimited, EbayUnavailable
from common.ebay.models import Money

# conftest.py is not importable; this names the type of its `clock` fixture (FakeClock).
FakeClock = Any

BID = Money(amount=2500, currency="USD")
ITEM = {"itemId": "v1|123|0", "legacyItemId": "123", "title": "Lens", "buyingOptions": ["AUCTION"]}


def token_or(
    responses: list[httpx.Response | Exception], calls: list[httpx.Request]
) -> Callable[[httpx.Request], httpx.Response]:
    """Answer the token endpoint with an app token; other calls pop the scripted answers."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/identity/v1/oauth2/token":
            return httpx.Response(200, json={"access_token": "app-token", "expires_in": 7200})
        calls.append(request)
        answer = responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_reads_retry_server_errors_with_backoff(
    make_client: Callable[..., EbayClient], clock: FakeClock, status: int
) -> None:
    # Given eBay failing twice, then answering
    calls: list[httpx.Request] = []
    client = make_client(
        token_or(
            [httpx.Response(status), httpx.Response(status), httpx.Response(200, json=ITEM)], calls
        )
    )
    # When an item is read
    item = client.get_item_by_legacy_id("123")
    # Then it was tried three times, waiting a jittered, growing, capped delay between tries
    assert item.legacy_item_id == "123"
    assert len(calls) == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.2
    assert 0 <= clock.sleeps[1] <= 0.4


def test_reads_retry_timeouts_and_connection_errors(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    # Given a connection refused, then a read timeout, then an answer
    calls: list[httpx.Request] = []
    client = make_client(
        token_or(
            [
                httpx.ConnectError("refused"),
                httpx.ReadTimeout("slow"),
                httpx.Response(200, json=ITEM),
            ],
            calls,
        )
    )
    # When an item is read / Then the read succeeds on the third try
    assert client.get_item("v1|123|0").title == "Lens"
    assert len(calls) == 3


def test_retries_give_up_with_unavailable(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    # Given eBay always failing
    calls: list[httpx.Request] = []
    client = make_client(token_or([httpx.Response(503)] * 10, calls))
    # When an item is read / Then the client stops after the policy's attempts
    with pytest.raises(EbayUnavailable) as caught:
        client.get_item_by_legacy_id("123")
    assert len(calls) == 4
    assert caught.value.http_status == 503
    assert caught.value.maybe_processed is False


def test_retry_after_is_honoured_on_429(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    # Given eBay rate-limiting with Retry-After: 3
    calls: list[httpx.Request] = []
    client = make_client(
        token_or(
            [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=ITEM)],
            calls,
        )
    )
    # When an item is read
    client.get_item_by_legacy_id("123")
    # Then the client waited exactly what eBay asked before the second try
    assert clock.sleeps == [3.0]
    assert len(calls) == 2


def test_retry_after_as_http_date(make_client: Callable[..., EbayClient], clock: FakeClock) -> None:
    # Given a Retry-After written as a date 2 s ahead
    retry_at = formatdate(clock.now + 2, usegmt=True)
    calls: list[httpx.Request] = []
    client = make_client(
        token_or(
            [
                httpx.Response(503, headers={"Retry-After": retry_at}),
                httpx.Response(200, json=ITEM),
            ],
            calls,
        )
    )
    # When read / Then the wait is the time until that date
    client.get_item_by_legacy_id("123")
    assert clock.sleeps == [2.0]


def test_a_long_retry_after_is_not_waited_for(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    # Given a daily limit reached: eBay says to come back in an hour
    calls: list[httpx.Request] = []
    client = make_client(token_or([httpx.Response(429, headers={"Retry-After": "3600"})], calls))
    # When read / Then the caller gets the rate limit at once, with the wait eBay asked for
    with pytest.raises(EbayRateLimited) as caught:
        client.get_item_by_legacy_id("123")
    assert caught.value.retry_after == 3600.0
    assert clock.sleeps == []


def test_no_retry_starts_past_the_deadline(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    # Given eBay asking to retry in 5 s while the caller has 3 s left
    calls: list[httpx.Request] = []
    client = make_client(
        token_or(
            [httpx.Response(503, headers={"Retry-After": "5"}), httpx.Response(200, json=ITEM)],
            calls,
        )
    )
    client.application_token()
    # When read with that deadline
    with pytest.raises(DeadlineExceeded) as caught:
        client.get_item_by_legacy_id("123", deadline=clock.now + 3)
    # Then the client did not sleep past the deadline nor try again, and says why
    assert len(calls) == 1
    assert clock.sleeps == []
    assert isinstance(caught.value.last_error, EbayUnavailable)
    assert caught.value.http_status == 503


def test_a_deadline_already_past_sends_nothing(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    calls: list[httpx.Request] = []
    client = make_client(token_or([httpx.Response(200, json={"proxyBidId": "p"})], calls))
    with pytest.raises(DeadlineExceeded) as caught:
        client.place_proxy_bid("user-token", "123", BID, deadline=clock.now - 0.1)
    assert calls == []
    assert caught.value.maybe_processed is False


def test_request_timeouts_are_clipped_to_the_deadline(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    # Given 0.75 s left before the deadline
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"proxyBidId": "p-1"})

    client = make_client(handler)
    # When a bid is placed
    client.place_proxy_bid("user-token", "123", BID, deadline=clock.now + 0.75)
    # Then no phase of the request may take longer than what remains
    assert seen[0]["read"] == pytest.approx(0.75)
    assert seen[0]["connect"] == pytest.approx(0.75)


def test_default_timeouts_without_deadline(make_client: Callable[..., EbayClient]) -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"proxyBidId": "p-1"})

    make_client(handler).place_proxy_bid("user-token", "123", BID, read_timeout=1.5)
    assert seen[0]["connect"] == 2.0
    assert seen[0]["read"] == 1.5


def test_a_timed_out_bid_is_not_retried_by_default(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    # Given eBay not answering a bid in time (it may have accepted it)
    calls: list[httpx.Request] = []
    client = make_client(
        token_or([httpx.ReadTimeout("slow"), httpx.Response(200, json={"proxyBidId": "p"})], calls)
    )
    # When the bid is placed
    with pytest.raises(EbayUnavailable) as caught:
        client.place_proxy_bid("user-token", "123", BID)
    # Then it was sent once and the caller learns the outcome is unknown
    assert len(calls) == 1
    assert caught.value.maybe_processed is True


def test_a_timed_out_bid_is_retried_when_asked(
    make_client: Callable[..., EbayClient], clock: FakeClock
) -> None:
    calls: list[httpx.Request] = []
    client = make_client(
        token_or([httpx.ReadTimeout("slow"), httpx.Response(200, json={"proxyBidId": "p"})], calls)
    )
    result = client.place_proxy_bid("user-token", "123", BID, retry_on_timeout=True)
    assert result.proxy_bid_id == "p"
    assert len(calls) == 2


def test_a_bid_answered_500_is_not_retried_by_default(
    make_client: Callable[..., EbayClient],
) -> None:
    # Given eBay failing with a 500 after (maybe) taking the bid
    calls: list[httpx.Request] = []
    client = make_client(
        token_or([httpx.Response(500), httpx.Response(200, json={"proxyBidId": "p"})], calls)
    )
    # When placed / Then the caller decides: the outcome is unknown
    with pytest.raises(EbayUnavailable) as caught:
        client.place_proxy_bid("user-token", "123", BID)
    assert len(calls) == 1
    assert caught.value.maybe_processed is True


def test_a_bid_that_never_left_is_retried(
    make_client: Callable[..., EbayClient],
) -> None:
    # Given a connection refused, then a 503: eBay has not seen the bid either time
    calls: list[httpx.Request] = []
    client = make_client(
        token_or(
            [
                httpx.ConnectError("refused"),
                httpx.Response(503),
                httpx.Response(200, json={"proxyBidId": "p"}),
            ],
            calls,
        )
    )
    # When placed / Then the client retries on its own
    assert client.place_proxy_bid("user-token", "123", BID).proxy_bid_id == "p"
    assert len(calls) == 3
