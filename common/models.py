"""Domain types and stored entities shared by every function.

API input and output models live beside their routes (`rest/schemas/`, a module per resource);
what is stored lives here. Attribute names are the DynamoDB attribute names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Constrained types, defined once.
Cents = Annotated[
    int, Field(strict=True, ge=100, le=10_000_000, description="Amount in integer cents")
]
LeadSeconds = Annotated[
    int, Field(strict=True, ge=1, le=30, description="Seconds before the end to bid")
]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
LegacyItemId = Annotated[
    str, Field(pattern=r"^[0-9]{6,19}$", description="eBay's numeric (legacy) item id")
]
GroupId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 _.:-]+$")]
# A client's token for one create (POST /bids' Idempotency-Key header): its retry of the same
# request answers with the snipe the first made (rest/logic/bids.py).
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
EpochSeconds = Annotated[int, Field(ge=0)]
EpochMillis = Annotated[int, Field(ge=0)]

DEFAULT_LEAD_SECONDS = 6  # what Gixen, eSnipe and AuctionSniper default to
FREEZE_WINDOW_SECONDS = 5  # no change this close to the fire time: the executor seals it then
ACTIVE_SHARD = "ACTIVE"
EBAY_LINKED = "LINKED"


class BidStatus(StrEnum):
    PENDING = "PENDING"
    ARMED = "ARMED"
    PLACED = "PLACED"
    WON = "WON"
    LOST = "LOST"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES

    @property
    def is_final(self) -> bool:
        return not self.is_active


ACTIVE_STATUSES = frozenset({BidStatus.PENDING, BidStatus.ARMED, BidStatus.PLACED})
CHANGEABLE_STATUSES = frozenset({BidStatus.PENDING, BidStatus.ARMED})


class HistoryAction(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    CANCEL = "CANCEL"
    PLACE = "PLACE"
    WIN = "WIN"
    LOSE = "LOSE"
    FAIL = "FAIL"


class Money(BaseModel):
    """An amount in integer cents with its currency."""

    model_config = ConfigDict(frozen=True)

    amount: int
    currency: CurrencyCode


def valid_timezone(name: str) -> str:
    if name not in _timezones():
        raise ValueError(f"'{name}' is not an IANA time zone name")
    return name


_TZ_CACHE: set[str] = set()


def _timezones() -> set[str]:
    if not _TZ_CACHE:
        _TZ_CACHE.update(available_timezones())
    return _TZ_CACHE


class Preferences(BaseModel):
    emailNotifications: bool = True
    bidWinNotifications: bool = True
    bidLossNotifications: bool = True
    timezone: str = "UTC"
    defaultLeadSeconds: LeadSeconds | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return valid_timezone(value)


class UserEntity(BaseModel):
    """A row of the Users table (PK userId)."""

    model_config = ConfigDict(extra="ignore")

    userId: str
    email: str
    displayName: str | None = None
    preferences: Preferences = Field(default_factory=Preferences)
    isActive: bool = True
    createdAt: EpochMillis
    updatedAt: EpochMillis
    # eBay linkage (all absent until the user links an account)
    ebayAccountId: str | None = None
    ebayLinkedAt: EpochMillis | None = None
    ebayTokens: str | None = None  # KMS envelope, see common/token_crypto.py
    ebayAccessExpiresAt: EpochSeconds | None = None
    ebayRefreshExpiresAt: EpochSeconds | None = None
    ebayLinkState: str | None = None  # "LINKED" while linked: key of the sparse index
    relinkWarnedFor: EpochSeconds | None = None
    # When eBay's Marketplace Account Deletion notice removed the link (rest/logic/
    # marketplace_deletion.py): the notifier's email about it, once per removal.
    ebayDeletedAt: EpochMillis | None = None


class KeyedCreate(BaseModel):
    """The record of a snipe created with an Idempotency-Key: the snipe it made and what that
    create asked for, as it was stored then, whatever the snipe has become since (edited,
    cancelled, finished). A retry is compared with this, not with the snipe."""

    model_config = ConfigDict(frozen=True)

    bidId: str
    ebayItemId: str
    maxBidAmount: int
    leadSeconds: int
    groupId: str | None = None
    currency: str

    @classmethod
    def of(cls, bid: BidEntity) -> KeyedCreate:
        """The record of ``bid`` as its create stores it."""
        return cls(
            bidId=bid.bidId,
            ebayItemId=bid.ebayItemId,
            maxBidAmount=bid.maxBidAmount,
            leadSeconds=bid.leadSeconds,
            groupId=bid.groupId,
            currency=bid.currency,
        )


class BidEntity(BaseModel):
    """A snipe: a row of the Bids table (PK userId, SK bidId)."""

    model_config = ConfigDict(extra="ignore")

    userId: str
    bidId: str
    ebayItemId: str
    itemId: str
    maxBidAmount: int
    currency: str
    leadSeconds: int
    groupId: str | None = None
    status: BidStatus
    auctionEndTime: EpochSeconds
    itemTitle: str
    itemImageUrl: str | None = None
    currentPrice: int | None = None
    lastAlertSent: EpochMillis | None = None
    lastAlertBidAmount: int | None = None
    createdAt: EpochMillis
    updatedAt: EpochMillis
    version: int = 1
    # filled in by the sniping engine
    placedAt: EpochMillis | None = None
    msBeforeEnd: int | None = None
    finalPrice: int | None = None
    failureReason: str | None = None
    cancelReason: str | None = None
    executionId: str | None = None
    countdownPhase: str | None = None
    # eBay's end instant with its milliseconds (auctionEndTime is its whole second, for the
    # index and the schedules); None on snipes stored before it was kept.
    auctionEndMs: EpochMillis | None = None
    # The seal (docs/sniping-engine.md, "One seal"): set by the executor's conditional write at
    # the freeze instant; from then on no API change, cancel, group cancel, unlink or account
    # deletion may touch the snipe, and the executor bids exactly what it sealed.
    sealedAt: EpochMillis | None = None
    # The Idempotency-Key of the request that created it, if it sent one.
    idempotencyKey: str | None = None

    @property
    def fire_at(self) -> int:
        """Epoch second at which the bid should reach eBay."""
        return self.auctionEndTime - self.leadSeconds

    @property
    def end_ms(self) -> int:
        """The auction's end, epoch milliseconds (eBay's own where it was kept)."""
        return self.auctionEndMs if self.auctionEndMs is not None else self.auctionEndTime * 1000

    @property
    def fire_at_ms(self) -> int:
        """Epoch millisecond at which the bid should reach eBay."""
        return self.end_ms - self.leadSeconds * 1000

    @property
    def sealed(self) -> bool:
        return self.sealedAt is not None

    @property
    def freeze_at(self) -> int:
        """From this epoch second on, the snipe can no longer be changed."""
        return self.fire_at - FREEZE_WINDOW_SECONDS

    def to_item(self) -> dict[str, Any]:
        item = self.model_dump(exclude_none=True, mode="json")
        # A placed snipe whose outcome eBay never reported leaves the active index (the
        # engine's PHASE_OUTCOME_UNKNOWN): nothing is left to do for it.
        if self.status in ACTIVE_STATUSES and self.countdownPhase != "OUTCOME_UNKNOWN":
            item["activeShard"] = ACTIVE_SHARD
        item["freezeAt"] = self.freeze_at
        return item


class ConnectionEntity(BaseModel):
    """A Connections row (PK userId, SK connectionId): one open WebSocket of one user."""

    model_config = ConfigDict(extra="ignore")

    connectionId: str
    userId: str
    connectedAt: EpochMillis
    ttl: EpochSeconds  # connect time + API Gateway's 2-hour limit + a margin
    sourceIp: str | None = None
    userAgent: str | None = None


class HistoryEntity(BaseModel):
    """A BidHistory row (PK userId, SK historyId)."""

    model_config = ConfigDict(extra="ignore")

    userId: str
    historyId: str
    originalBidId: str
    action: HistoryAction
    timestamp: EpochMillis
    ebayItemId: str
    status: BidStatus
    details: dict[str, Any] = Field(default_factory=dict)
    ttl: EpochSeconds | None = None
