"""What clients send (…Request) and get back (…Out). Stored shapes live in common/models.py."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from common.models import (
    BidStatus,
    Cents,
    CurrencyCode,
    GroupId,
    HistoryAction,
    LeadSeconds,
    LegacyItemId,
    valid_timezone,
)

Limit = Annotated[int, Field(ge=1, le=100)]
Cursor = Annotated[str, Field(min_length=1, max_length=2048)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------- users
class ProfileUpdateRequest(_Strict):
    displayName: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    email: EmailStr | None = None


class PreferencesRequest(_Strict):
    emailNotifications: bool = True
    bidWinNotifications: bool = True
    bidLossNotifications: bool = True
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    defaultLeadSeconds: LeadSeconds | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return valid_timezone(value)


class PreferencesOut(BaseModel):
    emailNotifications: bool
    bidWinNotifications: bool
    bidLossNotifications: bool
    timezone: str
    defaultLeadSeconds: int | None


class EbayLinkSummary(BaseModel):
    isLinked: bool
    accountId: str | None = None


class ProfileOut(BaseModel):
    userId: str
    email: str
    displayName: str | None
    preferences: PreferencesOut
    isActive: bool
    ebay: EbayLinkSummary
    createdAt: int
    updatedAt: int


class DeletedCounts(BaseModel):
    bids: int
    history: int
    connections: int


class AccountDeletedOut(BaseModel):
    deleted: DeletedCounts


# ---------------------------------------------------------------- bids
class CreateBidRequest(_Strict):
    ebayItemId: LegacyItemId
    maxBidAmount: Cents
    currency: CurrencyCode | None = None
    leadSeconds: LeadSeconds | None = None
    groupId: GroupId | None = None


class UpdateBidRequest(_Strict):
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
