"""Every error id eBay publishes for the Buy Offer API maps to a class a caller can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from common.ebay import errors
from common.ebay.errors import (
    ERROR_CLASSES,
    OFFER_ERRORS,
    AdultConsentRequired,
    AuctionEnded,
    BidTooLow,
    CannotLowerProxyBid,
    CurrencyMismatch,
    EbayAuthError,
    EbayError,
    EbayRateLimited,
    EbayUnavailable,
    EndedByBuyItNow,
    ItemNotFound,
    NoBiddingActivity,
    NotEligibleToBid,
    error_for,
    error_from_body,
)
from common.ebay.models import Money

CONTRACTS = Path(__file__).resolve().parents[3].parent / "shared" / "contracts" / "ebay"


def _spec_error_ids(name: str, operations: set[str] | None = None) -> list[tuple[int, str]]:
    path = CONTRACTS / name
    if not path.exists():
        return []
    spec: dict[str, Any] = yaml.safe_load(path.read_text())
    found: dict[int, str] = {}
    for operations_by_method in spec["paths"].values():
        for operation in operations_by_method.values():
            if operations and operation.get("operationId") not in operations:
                continue
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    continue  # 2xx ids are warnings, not errors
                codes = response.get("x-response-codes", {}).get("errors", {})
                for error_id, error in codes.items():
                    found[int(error_id)] = error["description"]
    return sorted(found.items())


OFFER_IDS = _spec_error_ids("buy-offer-v1_beta.yml")
BROWSE_IDS = _spec_error_ids("buy-browse-v1.yml", {"getItem", "getItemByLegacyId"})
SKIP_NO_SPEC = pytest.mark.skipif(
    not OFFER_IDS, reason=f"eBay's OpenAPI documents are not at {CONTRACTS}"
)


@SKIP_NO_SPEC
@pytest.mark.parametrize(("error_id", "description"), OFFER_IDS or [(0, "")])
def test_every_offer_spec_error_id_has_its_own_class(error_id: int, description: str) -> None:
    # Given an error id from eBay's published Buy Offer contract
    # When eBay answers with it
    error = error_from_body(
        {"errors": [{"errorId": error_id, "message": description}]}, http_status=409
    )
    # Then it maps to a specific subclass with words for the user
    assert error_id in OFFER_ERRORS
    assert type(error) is OFFER_ERRORS[error_id]
    assert type(error) is not EbayError
    assert error.error_id == error_id
    assert error.user_message
    assert "{" not in error.user_message


@SKIP_NO_SPEC
def test_the_table_has_no_ids_the_spec_does_not_know() -> None:
    assert set(OFFER_ERRORS) == {error_id for error_id, _ in OFFER_IDS}


@SKIP_NO_SPEC
@pytest.mark.parametrize(("error_id", "description"), BROWSE_IDS or [(0, "")])
def test_every_browse_item_error_id_is_mapped(error_id: int, description: str) -> None:
    error = error_for(error_id, description, http_status=400)
    assert type(error) is ERROR_CLASSES[error_id]
    assert type(error) is not EbayError


@pytest.mark.parametrize(
    ("error_id", "cls"),
    [
        (120001, ItemNotFound),
        (11001, ItemNotFound),
        (11003, ItemNotFound),
        (120002, EndedByBuyItNow),
        (120008, BidTooLow),
        (120009, CurrencyMismatch),
        (120010, CannotLowerProxyBid),
        (120012, AuctionEnded),
        (120032, AdultConsentRequired),
        (120033, NoBiddingActivity),
        (120004, NotEligibleToBid),
        (120000, EbayUnavailable),
        (1001, EbayAuthError),
    ],
)
def test_the_ids_the_product_acts_on(error_id: int, cls: type[EbayError]) -> None:
    assert isinstance(error_for(error_id, "x"), cls)


def test_unknown_ids_stay_plain_errors_with_their_id() -> None:
    error = error_for(999_999, "something new", http_status=409)
    assert type(error) is EbayError
    assert error.error_id == 999_999


@pytest.mark.parametrize(
    ("status", "cls"), [(401, EbayAuthError), (429, EbayRateLimited), (503, EbayUnavailable)]
)
def test_bodiless_errors_are_typed_by_status(status: int, cls: type[EbayError]) -> None:
    assert isinstance(error_from_body(None, http_status=status), cls)


@pytest.mark.parametrize(
    "parameters",
    [
        [{"name": "minimumBid", "value": "12.50"}, {"name": "currency", "value": "USD"}],
        [{"name": "minimumBidAmount", "value": "USD 12.50"}],
        [{"name": "minimumBidAmount", "value": "12.50 USD"}],
    ],
)
def test_bid_too_low_reads_the_minimum(parameters: list[dict[str, str]]) -> None:
    # Given eBay's "too low" error quoting the minimum bid
    body = {"errors": [{"errorId": 120008, "message": "too low", "parameters": parameters}]}
    # When mapped
    error = error_from_body(body, http_status=409)
    # Then the minimum is known, in cents, and the user reads it
    assert isinstance(error, BidTooLow)
    assert error.minimum == Money(amount=1250, currency="USD")
    assert error.user_message == "Your maximum is below eBay's minimum bid of $12.50."


def test_bid_too_low_without_a_minimum_still_explains() -> None:
    error = error_from_body({"errors": [{"errorId": 120008}]}, http_status=409)
    assert isinstance(error, BidTooLow)
    assert error.minimum is None
    assert error.user_message == "Your maximum is below eBay's minimum bid."


def test_buy_it_now_message_is_plain_words() -> None:
    error = error_for(120002, "The auction was ended because...")
    assert error.user_message == "The auction ended early: the seller sold it with Buy It Now."


def test_every_error_class_has_its_own_user_message() -> None:
    classes = {
        obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, EbayError)
    }
    # Then no class falls back to a missing message
    assert classes
    for cls in classes:
        assert cls.default_user_message, cls.__name__
