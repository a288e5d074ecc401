"""What clients send to /bids and get back. Stored shapes live in common/models.py."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel, ConfigDict, Field

from common.models import (
    IDEMPOTENCY_KEY_PATTERN,
    BidStatus,
    Cents,
    CurrencyCode,
    GroupId,
    LeadSeconds,
    LegacyItemId,
)
from rest.schemas.shared import Strict, enum_list_pattern

StatusFilter = Annotated[
    str, Field(max_length=200, pattern=enum_list_pattern(BidStatus), description="e.g. WON,LOST")
]


# Checked by the logic (400 naming the header, rest/logic/bids.py); the pattern is documented.
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A fresh token per create, sent again with each retry of it: a retry whose"
        " first attempt did create the snipe answers 201 with that snipe (as it is now: edited,"
        " cancelled or finished since, it is not made again; only a snipe withdrawn because it"
        " could not be scheduled, whose create answered 503, is made again) instead of 409."
        " Kept a day. The same key with another request is 409 IDEMPOTENCY_KEY_REUSED.",
        json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN, "minLength": 1, "maxLength": 64},
    ),
]


class CreateBidRequest(Strict):
    ebayItemId: LegacyItemId
    maxBidAmount: Cents
    currency: CurrencyCode | None = None
    leadSeconds: LeadSeconds | None = None
    groupId: GroupId | None = None


def _one_of_given(*names: str) -> dict[str, Any]:
    """JSON Schema for "at least one of these, not null" (a request changing nothing is 422)."""
    return {
        "anyOf": [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in names
        ]
    }


class UpdateBidRequest(Strict):
    model_config = ConfigDict(json_schema_extra=_one_of_given("maxBidAmount", "leadSeconds"))

    maxBidAmount: Cents | None = None
    leadSeconds: LeadSeconds | None = None


class BidOut(BaseModel):
    bidId: str
    ebayItemId: str
    itemId: str
    itemTitle: str
    itemImageUrl: str | None
    maxBidAmount: int
    currency: str
    leadSeconds: int
    groupId: str | None
    status: BidStatus
    auctionEndTime: int
    # eBay's end with its milliseconds (auctionEndTime is its whole second, kept for clients
    # that read seconds); a snipe stored before milliseconds were kept gives that second * 1000.
    auctionEndMs: int
    fireAt: int
    currentPrice: int | None
    lastAlertSent: int | None
    lastAlertBidAmount: int | None
    placedAt: int | None
    msBeforeEnd: int | None
    finalPrice: int | None
    failureReason: str | None
    cancelReason: str | None
    createdAt: int
    updatedAt: int


class BidDetailOut(BidOut):
    # The listing's prices as the price updater saw them change: [epochSeconds, cents], oldest
    # first, at most 200 (shared by every snipe of the listing; eBay's public data).
    priceHistory: list[tuple[int, int]]


class CreatedBidOut(BidOut):
    warnings: list[str] = Field(default_factory=list)


class BidPageOut(BaseModel):
    items: list[BidOut]
    nextCursor: str | None
