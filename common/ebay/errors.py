"""eBay failures as types a caller can act on, each with words a user understands.

The Buy Offer API's error ids are mapped one to one (``OFFER_ERRORS``); the Browse ids of
getItem/getItemByLegacyId that concern a sniper are in ``BROWSE_ERRORS``. Unknown ids stay
plain :class:`EbayError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from common.ebay.models import ClockSample, Money


class EbayError(Exception):
    """An eBay call failed. ``error_id`` is eBay's ``errorId`` when it sent one."""

    default_user_message: ClassVar[str] = "eBay refused the request."
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        error_id: int | None = None,
        http_status: int | None = None,
        parameters: Mapping[str, str] | None = None,
        timing: ClockSample | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.http_status = http_status
        self.parameters: dict[str, str] = dict(parameters or {})
        self.timing = timing

    @property
    def user_message(self) -> str:
        return self.default_user_message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(error_id={self.error_id!r}, "
            f"http_status={self.http_status!r}, message={self.message!r})"
        )


# --- The listing is gone or over -------------------------------------------------------------


class ItemNotFound(EbayError):
    default_user_message = "eBay has no listing with this item number."


class AuctionClosed(EbayError):
    """The auction can no longer take bids."""

    default_user_message = "The auction has ended."


class AuctionEnded(AuctionClosed):
    default_user_message = "The auction has ended."


class EndedByBuyItNow(AuctionClosed):
    default_user_message = "The auction ended early: the seller sold it with Buy It Now."


class ItemUnavailable(EbayError):
    default_user_message = (
        "eBay says the item is unavailable right now (the seller may be editing the listing)."
    )


class NoBiddingActivity(EbayError):
    default_user_message = "You have not bid on this auction on eBay."


# --- The amount was refused ------------------------------------------------------------------


class BidRejected(EbayError):
    """eBay refused the bid's amount or currency; another amount might be accepted."""

    default_user_message = "eBay refused the bid amount."


class BidTooLow(BidRejected):
    def __init__(self, message: str, *, minimum: Money | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.minimum = minimum

    @property
    def user_message(self) -> str:
        if self.minimum is not None:
            return f"Your maximum is below eBay's minimum bid of {self.minimum.display()}."
        return "Your maximum is below eBay's minimum bid."


class BidTooHigh(BidRejected):
    default_user_message = "eBay says your maximum bid is too high for this auction."


class BidExceedsLimit(BidRejected):
    default_user_message = "Your maximum is above the bid limit eBay allows on your account."


class BidAboveBuyItNowPrice(BidRejected):
    default_user_message = (
        "Your maximum is above the Buy It Now price: buy it outright instead of bidding."
    )


class CannotLowerProxyBid(BidRejected):
    default_user_message = "You already have a higher maximum bid on eBay, and it can't be lowered."


class InvalidBidAmount(BidRejected):
    default_user_message = "eBay could not read the bid amount."


class MissingBidAmount(InvalidBidAmount):
    default_user_message = "The bid was sent without a maximum amount."


class WholeAmountRequired(BidRejected):
    default_user_message = "This auction only accepts whole amounts, without cents."


class CurrencyMismatch(BidRejected):
    default_user_message = "The bid must be in the currency the seller listed the item in."


class InvalidCurrency(BidRejected):
    default_user_message = "eBay does not accept the bid's currency."


# --- The buyer may not bid (fixable on eBay, not here) ---------------------------------------


class NotEligibleToBid(EbayError):
    default_user_message = "eBay says you are not eligible to bid on this item."


class SellerCannotBid(NotEligibleToBid):
    default_user_message = "You are the seller of this item, so you can't bid on it."


class SellerRestriction(NotEligibleToBid):
    default_user_message = "The seller's restrictions do not allow you to bid on this item."


class PreApprovalRequired(NotEligibleToBid):
    default_user_message = "The seller must pre-approve you before you can bid on this auction."


class UserAgreementRequired(NotEligibleToBid):
    default_user_message = "You must accept a user agreement on eBay before bidding on this item."


class AdultItemsNotAllowed(NotEligibleToBid):
    default_user_message = "Your eBay account is not allowed to bid on adult items."


class PrivacyAgreementRequired(NotEligibleToBid):
    default_user_message = (
        "You must accept a privacy agreement on eBay before bidding on this item."
    )


class BusinessOnlyAuction(NotEligibleToBid):
    default_user_message = "This auction is open to business buyers only."


class PurchaseLimitExceeded(NotEligibleToBid):
    default_user_message = "eBay blocked the bid: you have reached the item purchase limit."


class FeedbackRestriction(NotEligibleToBid):
    default_user_message = "The seller does not accept bids from accounts with your feedback score."


class ShippingLocationRestriction(NotEligibleToBid):
    default_user_message = "The seller does not ship to your location."


class PayPalAccountRequired(NotEligibleToBid):
    default_user_message = "This auction requires an eBay account linked to PayPal."


class BuyerPolicyViolation(NotEligibleToBid):
    default_user_message = "eBay blocked the bid because of a buyer policy violation."


class UnpaidItemsBlock(NotEligibleToBid):
    default_user_message = "eBay blocked the bid because you have unpaid items."


class CreditCardVerificationRequired(NotEligibleToBid):
    default_user_message = "eBay needs to verify your credit card before you can bid on this item."


class AdultConsentRequired(EbayError):
    """Retry with ``adult_only=True`` once the user has consented."""

    default_user_message = "This is an adult-only item: confirm you consent to bid on it."


# --- Our request or configuration was wrong --------------------------------------------------


class EbayRequestError(EbayError):
    """eBay rejected the request's form: a bug or misconfiguration on our side."""

    default_user_message = "eBay could not process the request. Please try again later."


class MarketplaceHeaderMissing(EbayRequestError):
    pass


class UnsupportedMarketplace(EbayRequestError):
    default_user_message = "eBay does not support bidding on this marketplace."


class InvalidItemId(EbayRequestError):
    default_user_message = "That is not a valid eBay item number."


class EbayProtocolError(EbayError):
    """eBay answered with something we could not read."""

    default_user_message = "eBay sent an unexpected answer. Please try again later."


# --- Authentication, limits, availability ----------------------------------------------------


class EbayAuthError(EbayError):
    """A token (or the app's credentials) was refused: invalid, expired or lacking a scope."""

    default_user_message = "eBay no longer accepts this app's access: please link your account."


class InvalidGrant(EbayAuthError):
    """OAuth ``invalid_grant``: the code or refresh token is expired, used or revoked."""

    default_user_message = (
        "Your eBay authorization has expired or was revoked: please link your account again."
    )


class InvalidScope(EbayAuthError):
    """OAuth ``invalid_scope``: the keyset is not granted a scope it asked for."""


class BulkItemsDenied(EbayAuthError):
    """This app may not call getItems, a Limited Release method "available only to select
    Partners" (its ``buy.item.bulk`` scope was refused): poll one item per call instead."""

    default_user_message = "eBay does not let this app read items in bulk."


class EbayRateLimited(EbayError):
    retryable = True
    default_user_message = "eBay is limiting how often we can call it. Please try again later."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class EbayUnavailable(EbayError):
    """eBay failed (5xx, timeout, connection error) after the retries allowed.

    ``maybe_processed`` is True when eBay may have acted on the request even though no answer
    arrived (a read timeout or a 5xx): for a bid, check with :meth:`get_bidding`.
    """

    retryable = True
    default_user_message = "eBay is not responding right now. Please try again later."

    def __init__(self, message: str, *, maybe_processed: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.maybe_processed = maybe_processed


class DeadlineExceeded(EbayUnavailable):
    """The caller's deadline passed before eBay answered successfully."""

    default_user_message = "eBay did not answer in time."

    def __init__(self, message: str, *, last_error: EbayError | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.last_error = last_error


# --- Tables ----------------------------------------------------------------------------------

OFFER_ERRORS: dict[int, type[EbayError]] = {
    120000: EbayUnavailable,
    120001: ItemNotFound,
    120002: EndedByBuyItNow,
    120003: SellerCannotBid,
    120004: NotEligibleToBid,
    120005: BidAboveBuyItNowPrice,
    120006: SellerRestriction,
    120007: BidTooHigh,
    120008: BidTooLow,
    120009: CurrencyMismatch,
    120010: CannotLowerProxyBid,
    120011: BidExceedsLimit,
    120012: AuctionEnded,
    120013: InvalidBidAmount,
    120014: InvalidCurrency,
    120015: MarketplaceHeaderMissing,
    120016: MissingBidAmount,
    120017: UnsupportedMarketplace,
    120018: WholeAmountRequired,
    120019: PreApprovalRequired,
    120020: UserAgreementRequired,
    120021: AdultItemsNotAllowed,
    120022: PrivacyAgreementRequired,
    120023: BusinessOnlyAuction,
    120024: ItemUnavailable,
    120025: PurchaseLimitExceeded,
    120026: FeedbackRestriction,
    120027: ShippingLocationRestriction,
    120028: PayPalAccountRequired,
    120029: BuyerPolicyViolation,
    120030: UnpaidItemsBlock,
    120031: CreditCardVerificationRequired,
    120032: AdultConsentRequired,
    120033: NoBiddingActivity,
}

BROWSE_ERRORS: dict[int, type[EbayError]] = {
    11000: EbayUnavailable,
    11001: ItemNotFound,
    11002: ItemNotFound,
    11003: ItemNotFound,
    11004: ItemUnavailable,
    11005: InvalidItemId,
    11006: InvalidItemId,
    11008: ItemUnavailable,
    11009: EbayRequestError,
    11010: EbayRequestError,
    11011: UnsupportedMarketplace,
    11012: InvalidItemId,
    11013: InvalidItemId,
    11014: EbayRequestError,
    11015: EbayRequestError,
    11016: EbayRequestError,
    11018: EbayRequestError,
    11501: EbayRequestError,
}

# eBay's platform-wide ids (OAuth and API gateway).
PLATFORM_ERRORS: dict[int, type[EbayError]] = {
    1001: EbayAuthError,  # invalid access token
    1002: EbayAuthError,  # missing access token
    1003: EbayAuthError,  # token not of the expected type
    1004: EbayAuthError,
    1100: EbayAuthError,  # insufficient permissions (scope)
    2001: EbayRateLimited,  # too many requests
    2003: EbayUnavailable,  # internal error
}

ERROR_CLASSES: dict[int, type[EbayError]] = {**PLATFORM_ERRORS, **BROWSE_ERRORS, **OFFER_ERRORS}


def _parameters(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return {}
    out: dict[str, str] = {}
    for entry in raw:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            value = entry.get("value")
            out[entry["name"]] = "" if value is None else str(value)
    return out


_MINIMUM_NAMES = ("minimumBidAmount", "minimumBid", "minimumPriceToBid", "minBidAmount", "minimum")


def _minimum_from(parameters: Mapping[str, str]) -> Money | None:
    """The minimum bid eBay quoted, if a parameter carries it.

    Accepts ``{"name": "minimumBidAmount", "value": "12.50"}`` with the currency in a
    ``currency`` parameter, or the value as ``"USD 12.50"``/``"12.50 USD"``.
    """
    raw = next((parameters[n] for n in _MINIMUM_NAMES if parameters.get(n)), None)
    if raw is None:
        return None
    parts = raw.replace(",", "").split()
    currency = parameters.get("currency") or parameters.get("currencyCode")
    value = raw
    if len(parts) == 2:
        first, second = parts
        value, currency = (second, first) if first.isalpha() else (first, second)
    try:
        return Money.from_ebay(value, currency) if currency else None
    except ValueError:
        return None


def error_for(
    error_id: int | None,
    message: str,
    *,
    http_status: int | None = None,
    parameters: Mapping[str, str] | None = None,
    timing: ClockSample | None = None,
) -> EbayError:
    """The typed error for an eBay ``errorId`` (plain :class:`EbayError` if unknown)."""
    params = dict(parameters or {})
    cls = ERROR_CLASSES.get(error_id) if error_id is not None else None
    kwargs: dict[str, Any] = {
        "error_id": error_id,
        "http_status": http_status,
        "parameters": params,
        "timing": timing,
    }
    if cls is None:
        if http_status == 401:
            cls = EbayAuthError
        elif http_status == 429:
            cls = EbayRateLimited
        elif http_status is not None and http_status >= 500:
            cls = EbayUnavailable
        else:
            cls = EbayError
    if cls is BidTooLow:
        return BidTooLow(message, minimum=_minimum_from(params), **kwargs)
    return cls(message, **kwargs)


def error_from_body(
    body: Any, *, http_status: int | None, timing: ClockSample | None = None
) -> EbayError:
    """The first error of an eBay REST error body ``{"errors": [{errorId, message, ...}]}``."""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, Mapping):
        return error_for(
            None, f"eBay answered HTTP {http_status}", http_status=http_status, timing=timing
        )
    raw_id = first.get("errorId")
    try:
        error_id = int(raw_id) if raw_id is not None else None
    except (TypeError, ValueError):
        error_id = None
    message = str(first.get("message") or first.get("longMessage") or "eBay error")
    return error_for(
        error_id,
        message,
        http_status=http_status,
        parameters=_parameters(first.get("parameters")),
        timing=timing,
    )
