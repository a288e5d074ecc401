"""What clients send (…Request) and get back (…Out). Stored shapes live in common/models.py."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from common.models import (
    BidStatus,
    Cents,
    CurrencyCode,
    GroupId,
    HistoryAction,
    LeadSeconds,
    LegacyItemId,
)

Limit = Annotated[int, Field(ge=1, le=100)]
# common.data.cursor's shape: base64url of the position, a dot, base64url of 18 signature bytes.
# Only this function can tell whether one is signed and still valid (400 when not).
Cursor = Annotated[
    str, Field(min_length=1, max_length=2048, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{24}$")
]


def enum_list_pattern(kind: type[StrEnum]) -> str:
    """A comma-separated list of ``kind``'s values, as rest.logic.filters reads it."""
    one = "|".join(member.value for member in kind)
    return rf"^({one})(,({one}))*$"


StatusFilter = Annotated[
    str, Field(max_length=200, pattern=enum_list_pattern(BidStatus), description="e.g. WON,LOST")
]
ActionFilter = Annotated[
    str,
    Field(max_length=200, pattern=enum_list_pattern(HistoryAction), description="e.g. CREATE"),
]
# Ids are 23 characters (common.clock.new_id); anything far longer is refused before it becomes
# a DynamoDB sort key, which DynamoDB itself refuses over 1,024 bytes (a 500, not a 404).
BidIdParam = Annotated[str, Field(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------- bids
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


# ---------------------------------------------------------------- history
class HistoryOut(BaseModel):
    historyId: str
    bidId: str
    action: HistoryAction
    status: BidStatus
    ebayItemId: str
    timestamp: int
    details: dict[str, object]


class HistoryPageOut(BaseModel):
    items: list[HistoryOut]
    nextCursor: str | None
