from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from common.ebay.models import Money, ebay_datetime_to_epoch, ebay_datetime_to_epoch_ms


@given(cents=st.integers(min_value=0, max_value=10**12), currency=st.sampled_from(["USD", "GBP"]))
def test_cents_round_trip_through_ebay_value(cents: int, currency: str) -> None:
    # Given an amount in cents
    money = Money(amount=cents, currency=currency)
    # When it goes to eBay's decimal string and back
    back = Money.from_ebay_amount(money.to_ebay())
    # Then nothing is lost
    assert back == money


@pytest.mark.parametrize(
    ("value", "cents"),
    [("12.50", 1250), ("12.5", 1250), ("12", 1200), ("0.01", 1), ("12.500", 1250), (" 7.00", 700)],
)
def test_ebay_values_become_cents(value: str, cents: int) -> None:
    # Given eBay's ways of writing an amount / When converted / Then the cents are exact
    assert Money.from_ebay(value, "USD").amount == cents


@pytest.mark.parametrize("value", ["12.505", "0.001", "abc", "NaN", "Infinity", "-1.00", "", None])
def test_sub_cent_and_malformed_values_are_refused(value: object) -> None:
    # Given an amount that is not a whole number of cents (or not an amount)
    # When converted / Then it is refused rather than rounded
    with pytest.raises((ValueError, ValidationError)):
        Money.from_ebay(value, "USD")


def test_to_ebay_pads_cents() -> None:
    # Given 5 cents / When sent to eBay / Then it is written "0.05"
    assert Money(amount=5, currency="USD").to_ebay() == {"currency": "USD", "value": "0.05"}


def test_converted_amount_uses_the_sellers_currency() -> None:
    # Given a Browse ConvertedAmount shown in USD for a listing in GBP
    raw = {
        "value": "13.10",
        "currency": "USD",
        "convertedFromValue": "10.00",
        "convertedFromCurrency": "GBP",
    }
    # When converted / Then the listing's own currency wins (a bid must be in it)
    assert Money.from_ebay_amount(raw) == Money(amount=1000, currency="GBP")


def test_currency_must_be_an_iso_code() -> None:
    with pytest.raises(ValidationError):
        Money(amount=100, currency="usd$")


def test_display_for_users() -> None:
    assert Money(amount=123456, currency="USD").display() == "$1,234.56"
    assert Money(amount=50, currency="SEK").display() == "0.50 SEK"


def test_ebay_timestamps_become_epoch_seconds() -> None:
    assert ebay_datetime_to_epoch("2023-11-14T22:13:20.000Z") == 1_700_000_000
    assert ebay_datetime_to_epoch("2023-11-14T22:13:20.999Z") == 1_700_000_000


def test_ebay_timestamps_keep_their_milliseconds() -> None:
    # Given eBay's end instants with milliseconds / Then every one is kept, exactly (a float
    # timestamp * 1000 loses one for some of them)
    assert ebay_datetime_to_epoch_ms("2023-11-14T22:13:07.250Z") == 1_699_999_987_250
    assert ebay_datetime_to_epoch_ms("2023-11-14T22:13:20.999Z") == 1_700_000_000_999
    assert ebay_datetime_to_epoch_ms("2023-11-14T22:13:20Z") == 1_700_000_000_000
    for ms in range(1000):
        text = f"2031-05-17T09:41:07.{ms:03d}Z"
        assert ebay_datetime_to_epoch_ms(text) % 1000 == ms
