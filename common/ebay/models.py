"""Typed views of what eBay returns, in the product's units: cents, and epoch milliseconds for
eBay's instants (an auction's end keeps eBay's milliseconds; ``end_time`` is its whole second)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(_Frozen):
    """An amount in minor units (cents) and an ISO 4217 code.

    eBay's marketplaces all use two decimal places, so one cent is the smallest amount.
    """

    amount: Annotated[int, Field(ge=0)]
    currency: CurrencyCode

    @classmethod
    def from_ebay(cls, value: Any, currency: Any) -> Money:
        """Build from eBay's decimal string (``"12.50"``); sub-cent amounts are refused."""
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ValueError(f"amount must be a decimal string, got {type(value).__name__}")
        if not isinstance(currency, str):
            raise ValueError("currency must be a string")
        try:
            decimal = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
        if not decimal.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        cents = decimal * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"amount {value!r} has fractions of a cent")
        return cls(amount=int(cents), currency=currency.strip().upper())

    @classmethod
    def from_ebay_amount(cls, amount: Mapping[str, Any]) -> Money:
        """Build from an eBay ``Amount`` (``{"value": "12.50", "currency": "USD"}``).

        For a Browse ``ConvertedAmount`` the seller's original currency
        (``convertedFromValue``/``convertedFromCurrency``) wins when present: a bid must be in
        the listing's currency, not the marketplace's display currency.
        """
        if amount.get("convertedFromValue") is not None and amount.get("convertedFromCurrency"):
            return cls.from_ebay(amount["convertedFromValue"], amount["convertedFromCurrency"])
        return cls.from_ebay(amount.get("value"), amount.get("currency"))

    def to_ebay_value(self) -> str:
        whole, cents = divmod(self.amount, 100)
        return f"{whole}.{cents:02d}"

    def to_ebay(self) -> dict[str, str]:
        return {"currency": self.currency, "value": self.to_ebay_value()}

    def display(self) -> str:
        symbol = {"USD": "$", "GBP": "£", "EUR": "€", "AUD": "AU$", "CAD": "C$"}.get(self.currency)
        whole, cents = divmod(self.amount, 100)
        number = f"{whole:,}.{cents:02d}"
        return f"{symbol}{number}" if symbol else f"{number} {self.currency}"


def parse_ebay_datetime(value: str) -> datetime:
    """Parse eBay's ISO 8601 UTC timestamps (``2024-05-01T12:00:00.000Z``)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def ebay_datetime_to_epoch(value: str) -> int:
    """Epoch seconds, rounded down (the whole second of ``ebay_datetime_to_epoch_ms``)."""
    return ebay_datetime_to_epoch_ms(value) // 1000


def ebay_datetime_to_epoch_ms(value: str) -> int:
    """Epoch milliseconds, exactly (eBay's ``.250`` stays 250 ms; finer digits are dropped).

    Integer arithmetic on the parsed fields: ``timestamp() * 1000`` is a float and can land a
    millisecond short."""
    parsed = parse_ebay_datetime(value)
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def rest_item_id(item_id: str | int) -> str:
    """eBay's RESTful item id: ``v1|<legacy>|0`` for a legacy number, unchanged otherwise."""
    text = str(item_id).strip()
    if text.isdigit():
        return f"v1|{text}|0"
    if not text:
        raise ValueError("empty item id")
    return text


def legacy_item_id(body: Mapping[str, Any]) -> str:
    """A Browse item's legacy number: ``legacyItemId``, else read from its RESTful ``itemId``."""
    legacy = body.get("legacyItemId")
    if not legacy:
        item_id = str(body["itemId"])
        parts = item_id.split("|")
        legacy = parts[1] if len(parts) == 3 else item_id
    return str(legacy)


# Readers of optional fields in eBay's JSON: absent or of another type is None.


def money_or_none(raw: Any) -> Money | None:
    if not isinstance(raw, Mapping) or raw.get("value") is None:
        return None
    return Money.from_ebay_amount(raw)


def epoch_ms_or_none(raw: Any) -> int | None:
    return ebay_datetime_to_epoch_ms(raw) if isinstance(raw, str) and raw else None


def bool_or_none(raw: Any) -> bool | None:
    return raw if isinstance(raw, bool) else None


class ClockSample(_Frozen):
    """One request's local send/receive instants and eBay's ``Date`` header.

    ``Date`` has one-second resolution: eBay's clock was in
    ``[server_date_seconds, server_date_seconds + 1)`` at some instant in
    ``[sent_ms, received_ms]``.
    """

    operation: str
    sent_ms: int
    received_ms: int
    server_date_seconds: int
    http_status: int


class EbayItem(_Frozen):
    item_id: str
    legacy_item_id: str
    title: str
    is_auction: bool
    buying_options: tuple[str, ...]
    current_bid_price: Money | None
    minimum_price_to_bid: Money | None
    bid_count: int
    end_time_ms: int | None  # eBay's itemEndDate, epoch milliseconds
    image_url: str | None
    condition: str | None
    seller_username: str | None
    reserve_price_met: bool | None
    # The Buy It Now price while one is offered (buyingOptions has FIXED_PRICE: Item.price).
    buy_it_now_price: Money | None = None

    @property
    def end_time(self) -> int | None:
        """The end's whole epoch second (what the Bids table's index and schedules use)."""
        return None if self.end_time_ms is None else self.end_time_ms // 1000


class ItemPrice(_Frozen):
    """What a price poll reads of an item: getItems returns only some of an Item's fields (no
    title, end date or buying options), and these are all a poll needs."""

    item_id: str
    legacy_item_id: str
    current_bid_price: Money | None
    minimum_price_to_bid: Money | None
    bid_count: int
    reserve_price_met: bool | None

    @classmethod
    def of(cls, item: EbayItem) -> ItemPrice:
        return cls(
            item_id=item.item_id,
            legacy_item_id=item.legacy_item_id,
            current_bid_price=item.current_bid_price,
            minimum_price_to_bid=item.minimum_price_to_bid,
            bid_count=item.bid_count,
            reserve_price_met=item.reserve_price_met,
        )


class BiddingStatus(_Frozen):
    item_id: str | None
    auction_status: str
    high_bidder: bool
    current_price: Money | None
    bid_count: int
    current_proxy_bid: Money | None
    proxy_bid_id: str | None
    auction_end_ms: int | None  # eBay's auctionEndDate, epoch milliseconds
    reserve_price_met: bool | None
    suggested_bid_amounts: tuple[Money, ...] = ()

    @property
    def is_active(self) -> bool:
        return self.auction_status == "ACTIVE"

    @property
    def auction_end_time(self) -> int | None:
        return None if self.auction_end_ms is None else self.auction_end_ms // 1000


class ProxyBidResult(_Frozen):
    proxy_bid_id: str
    # When the accepting response was sent and received, with eBay's Date.
    timing: ClockSample | None = None


class UserTokens(_Frozen):
    access_token: SecretStr
    access_expires_at: int
    refresh_token: SecretStr
    refresh_expires_at: int


class EbayUser(_Frozen):
    """The linked account, from the Commerce Identity API. ``user_id`` never changes."""

    user_id: str
    username: str


class NotificationPublicKey(BaseModel):
    """eBay's Notification API ``PublicKey``: the key that verifies a notification's
    ``X-EBAY-SIGNATURE`` (``algorithm`` "ECDSA", ``digest`` "SHA1", ``key`` a PEM public key,
    as eBay sends it without line breaks). Fields eBay may add later are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    algorithm: str
    digest: str
    key: str


class WatchItem(_Frozen):
    legacy_item_id: str
    title: str
    current_price: Money | None
    bid_count: int
    end_time_ms: int | None  # ListingDetails/EndTime, epoch milliseconds
    image_url: str | None
    listing_type: str | None

    @property
    def end_time(self) -> int | None:
        return None if self.end_time_ms is None else self.end_time_ms // 1000

    @property
    def is_auction(self) -> bool:
        return self.listing_type in {"Chinese", "Auction"}


class WatchListPage(_Frozen):
    items: list[WatchItem]
    page: int
    total_pages: int
    total_entries: int
