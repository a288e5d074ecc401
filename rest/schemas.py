"""What clients send (…Request) and get back (…Out). Stored shapes live in common/models.py."""

from __future__ import annotations

from typing import Annotated

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
Cursor = Annotated[str, Field(min_length=1, max_length=2048)]
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


class UpdateBidRequest(Strict):
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
