"""Commerce Identity (``IdentityApi``) and eBay's clock (``probe_clock``, the samples every
response leaves on the ``Transport``), each alone on a mock transport."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from common.ebay.clock import probe_clock
from common.ebay.config import EbayConfig
from common.ebay.errors import EbayUnavailable
from common.ebay.identity import IdentityApi
from common.ebay.models import Money
from common.ebay.offer import BuyOfferApi
from common.ebay.transport import Transport

# conftest.py is not importable; this names the type of its `clock` fixture (FakeClock).
FakeClock = Any


def test_get_user_reads_the_linked_account(
    clock: FakeClock, make_transport: Callable[..., Transport]
) -> None:
    # Given the Commerce Identity API (on the apiz host in production)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"userId": "u-immutable", "username": "bidder_1", "accountType": "INDIVIDUAL"}
        )

    identity = IdentityApi(make_transport(handler, cfg=EbayConfig.for_environment("production")))
    # When asked who the token belongs to
    user = identity.get_user("user-token")
    # Then the immutable id and the name come back
    assert str(seen[0].url) == "https://apiz.ebay.com/commerce/identity/v1/user/"
    assert user.user_id == "u-immutable"


def test_probe_clock_samples_ebays_date(
    clock: FakeClock, make_transport: Callable[..., Transport]
) -> None:
    # Given eBay's clock 1.5 s ahead of ours and a 40 ms round trip
    def handler(request: httpx.Request) -> httpx.Response:
        assert "Authorization" not in request.headers
        clock.now += 0.04
        return httpx.Response(401, headers={"Date": formatdate(clock.now + 1.5, usegmt=True)})

    transport = make_transport(handler)
    # When probed 3 times, 0.3 s apart
    samples = probe_clock(transport, 3, interval_s=0.3)
    # Then each sample brackets eBay's Date with our send and receive instants
    assert len(samples) == 3
    for sample in samples:
        assert sample.received_ms - sample.sent_ms == 40
        assert sample.server_date_seconds == int(sample.received_ms / 1000 + 1.5)
    assert transport.recent_clock_samples()[-3:] == samples
    assert transport.last_clock_sample == samples[-1]


def test_probe_clock_fails_when_ebay_is_unreachable(
    make_transport: Callable[..., Transport],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(EbayUnavailable):
        probe_clock(make_transport(handler), 2)


def test_every_call_records_a_clock_sample(
    clock: FakeClock, make_transport: Callable[..., Transport]
) -> None:
    observed: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"proxyBidId": "p"}, headers={"Date": formatdate(clock.now, usegmt=True)}
        )

    transport = make_transport(handler)
    transport.on_clock_sample = observed.append
    BuyOfferApi(transport).place_proxy_bid("t", "1", Money(amount=100, currency="USD"))
    assert [s.operation for s in observed] == ["place_proxy_bid"]
