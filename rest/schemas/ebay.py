"""What clients send to /ebay/auth/* and /wishlist/* and get back."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from rest.schemas.shared import Strict

# eBay's authorization codes are ~200 characters of base64 with ^ and # separators. A SecretStr:
# the code is a credential until used, and Powertools logs route arguments at DEBUG.
AuthCode = Annotated[SecretStr, Field(min_length=1, max_length=2048)]
OAuthState = Annotated[str, Field(min_length=1, max_length=256)]
# A legacy item number, or eBay's RESTful id (v1|<legacy>|<variation>).
ItemIdParam = Annotated[str, Field(pattern=r"^([0-9]{6,19}|v1\|[0-9]{6,19}\|[0-9]{1,19})$")]


# ---------------------------------------------------------------- /ebay/auth
class AuthUrlOut(BaseModel):
    authUrl: str
    state: str
    expiresAt: int = Field(description="When the state stops working, epoch seconds")


class AuthCallbackRequest(Strict):
    code: AuthCode
    state: OAuthState


class LinkStatusOut(BaseModel):
    isLinked: bool
    accountId: str | None
    linkedAt: int | None = Field(description="Epoch milliseconds")
    tokenExpiresAt: int | None = Field(
        description="When eBay's refresh token expires and the user must link again, epoch s"
    )


class UnlinkOut(BaseModel):
    unlinked: bool = Field(description="False when no eBay account was linked")
    pendingSnipes: int = Field(
        description="Active snipes kept; they cannot fire until an account is linked again"
    )


# ---------------------------------------------------------------- /wishlist
class PriceOut(BaseModel):
    amount: int = Field(description="Integer cents")
    currency: str


class WishlistItemOut(BaseModel):
    ebayItemId: str
    itemId: str
    title: str
    currentPrice: PriceOut | None
    bidCount: int
    auctionEndTime: int | None
    auctionEndMs: int | None = Field(description="eBay's end, epoch milliseconds")
    imageUrl: str | None
    hasActiveSnipe: bool
    activeBidId: str | None


class WishlistPageOut(BaseModel):
    items: list[WishlistItemOut]
    nextCursor: str | None


class WishlistItemDetailOut(WishlistItemOut):
    isAuction: bool
    isActive: bool
    minimumPriceToBid: PriceOut | None
