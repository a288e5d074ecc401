"""Money as integer cents, eBay's US bid increment table and eBay's amount strings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# (upper bound exclusive in cents, increment in cents), eBay US bid increments.
_INCREMENTS: tuple[tuple[int, int], ...] = (
    (100, 5),
    (500, 25),
    (2_500, 50),
    (10_000, 100),
    (25_000, 250),
    (50_000, 500),
    (100_000, 1_000),
    (250_000, 2_500),
    (500_000, 5_000),
)
_TOP_INCREMENT = 10_000


def increment(cents: int) -> int:
    """The bid increment that applies at a price of ``cents``."""
    for upper, step in _INCREMENTS:
        if cents < upper:
            return step
    return _TOP_INCREMENT


def format_amount(cents: int) -> str:
    """eBay writes amounts as strings with two decimals: ``"12.50"``."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def format_trading_amount(cents: int) -> str:
    """The Trading API writes amounts without trailing zeros: ``12.5``, ``12.0``."""
    text = f"{cents // 100}.{cents % 100:02d}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def parse_amount(value: object) -> int | None:
    """Cents from an eBay amount value (a string, as the spec says, or a JSON number).

    ``None`` when the value is not a positive amount with at most two decimals.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    cents = amount * 100
    if cents != cents.to_integral_value():
        return None
    return int(cents)
