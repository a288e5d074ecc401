"""What clients send to /users/* and get back. Only the users function loads the email validator."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from pydantic import BaseModel, EmailStr, Field, StrictBool, field_validator

from common.models import LeadSeconds, UserEntity, valid_timezone
from rest.schemas.shared import Strict

# Free text shown in emails and the dashboard: any script and emoji, but no control characters
# (NUL, C0, DEL, C1) and no bidirectional overrides or isolates, which can disguise the text.
DisplayName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=80,
        pattern=r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+$",
    ),
]


class ProfileUpdateRequest(Strict):
    displayName: DisplayName | None = None
    email: EmailStr | None = None


class PreferencesRequest(Strict):
    # Strict: a JSON 0 or "false" is not a yes/no answer, and pydantic's lax mode would take it.
    emailNotifications: StrictBool = True
    bidWinNotifications: StrictBool = True
    bidLossNotifications: StrictBool = True
    timezone: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="An IANA time zone name",
            json_schema_extra={"enum": sorted(available_timezones())},
        ),
    ] = "UTC"
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


def profile_out(user: UserEntity) -> ProfileOut:
    return ProfileOut(
        userId=user.userId,
        email=user.email,
        displayName=user.displayName,
        preferences=PreferencesOut(**user.preferences.model_dump()),
        isActive=user.isActive,
        ebay=EbayLinkSummary(isLinked=bool(user.ebayAccountId), accountId=user.ebayAccountId),
        createdAt=user.createdAt,
        updatedAt=user.updatedAt,
    )
