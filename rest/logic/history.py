"""The audit trail: every change of every snipe, newest first."""

from __future__ import annotations

from common.data.cursor import CursorCodec
from common.data.ports import HistoryStore
from common.errors import FieldIssue, NotFoundError, ValidationFailed
from common.models import HistoryAction, HistoryEntity
from rest.logic.filters import parse_enum_list


def parse_actions(raw: str | None) -> list[HistoryAction] | None:
    return parse_enum_list(raw, HistoryAction, "action")


def list_history(
    user_id: str,
    actions: list[HistoryAction] | None,
    from_ms: int | None,
    to_ms: int | None,
    limit: int,
    cursor: str | None,
    history: HistoryStore,
    codec: CursorCodec,
) -> tuple[list[HistoryEntity], str | None]:
    if from_ms is not None and to_ms is not None and from_ms > to_ms:
        raise ValidationFailed("Empty time range", [FieldIssue("from", "must not be after 'to'")])
    scope = f"history:{from_ms}:{to_ms}"
    start = codec.decode(cursor, user_id, scope)
    page, last = history.query(user_id, actions, from_ms, to_ms, limit, start)
    return page, codec.encode(last, user_id, scope)


def snipe_history(
    user_id: str,
    bid_id: str,
    limit: int,
    cursor: str | None,
    history: HistoryStore,
    codec: CursorCodec,
) -> tuple[list[HistoryEntity], str | None]:
    scope = f"history-bid:{bid_id}"
    start = codec.decode(cursor, user_id, scope)
    page, last = history.for_bid(user_id, bid_id, limit, start)
    if not page and start is None:
        # Every snipe has at least its CREATE entry: none means unknown or someone else's.
        raise NotFoundError("No snipe with this id", [FieldIssue("bidId", "not found")])
    return page, codec.encode(last, user_id, scope)
