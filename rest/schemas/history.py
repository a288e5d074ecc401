"""What clients get back from /bids/{bidId}/history and /history."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from common.models import BidStatus, HistoryAction
from rest.schemas.shared import enum_list_pattern

ActionFilter = Annotated[
    str,
    Field(max_length=200, pattern=enum_list_pattern(HistoryAction), description="e.g. CREATE"),
]


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
