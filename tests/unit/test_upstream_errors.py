from __future__ import annotations

from common.ebay.errors import EbayAuthError, EbayRateLimited, EbayUnavailable, ItemNotFound
from common.errors import UpstreamRateLimited, UpstreamUnavailable
from rest.logic.upstream import upstream_error

TEXTS = {"rate_limited": "slow down", "failed": "eBay said: ", "unreachable": "no eBay"}


def test_a_rate_limit_is_a_429_with_the_callers_words() -> None:
    error = upstream_error(EbayRateLimited("limit"), **TEXTS)
    assert isinstance(error, UpstreamRateLimited)
    assert error.message == "slow down"


def test_an_unreachable_ebay_or_refused_credentials_read_as_unreachable_when_the_caller_says() -> (
    None
):
    for exc in (EbayUnavailable("down"), EbayAuthError("creds")):
        error = upstream_error(exc, **TEXTS)
        assert isinstance(error, UpstreamUnavailable)
        assert error.message == "no eBay"
        without = upstream_error(exc, rate_limited="x", failed="eBay said: ")
        assert without.message == "eBay said: " + exc.user_message


def test_any_other_refusal_carries_ebays_own_words() -> None:
    exc = ItemNotFound("gone")
    error = upstream_error(exc, **TEXTS)
    assert isinstance(error, UpstreamUnavailable)
    assert error.message == "eBay said: " + exc.user_message
