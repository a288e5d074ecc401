"""What clients send to /groups and get back. The stored rule is common.data.groups'."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from common.data.groups import GroupLimit, GroupMode
from rest.schemas.shared import Strict

# common.models.GroupId, without a space at either end: a snipe's groupId arrives stripped
# (rest.schemas.shared.Strict), so a rule for " cams" could never apply to any snipe.
GroupIdParam = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]([A-Za-z0-9 _.:-]*[A-Za-z0-9_.:-])?$",
        description="The groupId the group's snipes carry",
    ),
]


class GroupRuleRequest(Strict):
    mode: GroupMode = Field(
        description="WIN_UP_TO: win up to `limit` of the group's auctions. CONTINGENCY: bid on "
        "them in the order they end and stop at the first loss"
    )
    limit: GroupLimit


class CurrencyTotalOut(BaseModel):
    currency: str
    totalCurrentPrice: int
    totalMaxBid: int


class GroupOut(BaseModel):
    groupId: str
    mode: GroupMode
    limit: int
    # True while no rule is stored: the default applies (WIN_UP_TO 1, a win cancels the rest).
    defaultRule: bool
    ruleUpdatedAt: int | None
    snipes: int = Field(
        description="The group's snipes that are active or that bid (took one of its slots);"
        " those cancelled or failed before bidding are not counted"
    )
    active: int = Field(description="Those PENDING, ARMED or PLACED")
    won: int = Field(description="Those WON (the wins the executor counts against `limit`)")
    # Over the active snipes, in cents of `currency`. With none: 0, 0 and null. When their
    # currencies differ the three are null and totalsByCurrency has one total per currency.
    totalCurrentPrice: int | None
    totalMaxBid: int | None
    currency: str | None
    totalsByCurrency: list[CurrencyTotalOut]


class GroupListOut(BaseModel):
    items: list[GroupOut]
