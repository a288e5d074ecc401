"""The realtime protocol: the envelope every server message shares, and its size rules.

``{"v": 1, "type", "eventId", "serverTime", "bidId", "ebayItemId", "data"}``; documented with a
JSON Schema per type in docs/realtime-protocol.md. API Gateway drops frames over 32 KB, so
every message is encoded compactly and checked against that limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

VERSION = 1
MAX_MESSAGE_BYTES = 32 * 1024
# What a client may send: actions are tiny; anything bigger is refused with an error message.
MAX_CLIENT_MESSAGE_BYTES = 4 * 1024
MAX_TEXT = 512  # characters kept of free-text fields (titles, URLs, reasons)

SNIPE_FIELDS = (
    "status",
    "itemTitle",
    "itemImageUrl",
    "maxBidAmount",
    "currency",
    "currentPrice",
    "leadSeconds",
    "groupId",
    "auctionEndTime",
    "auctionEndMs",
    "countdownPhase",
    "placedAt",
    "msBeforeEnd",
    "finalPrice",
    "failureReason",
    "cancelReason",
)


class MessageTooLarge(ValueError):
    """An encoded message would exceed API Gateway's 32 KB frame."""


def envelope(
    kind: str,
    event_id: str,
    server_time: int,
    data: Mapping[str, Any],
    *,
    bid_id: str | None = None,
    ebay_item_id: str | None = None,
) -> dict[str, Any]:
    return {
        "v": VERSION,
        "type": kind,
        "eventId": event_id,
        "serverTime": server_time,
        "bidId": bid_id,
        "ebayItemId": ebay_item_id,
        "data": dict(data),
    }


def encode(message: Mapping[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"{message.get('type')} is {len(body)} bytes")
    return body


def _clip(value: Any) -> Any:
    return value[:MAX_TEXT] if isinstance(value, str) else value


def snipe_view(image: Mapping[str, Any]) -> dict[str, Any]:
    """What a client sees of a snipe: its user-facing fields, free text clipped."""
    return {k: _clip(image[k]) for k in SNIPE_FIELDS if image.get(k) is not None}


def snapshot_messages(
    event_id: str, server_time: int, snipes: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """The ``snapshot`` answer to ``sync``, in as many parts as 32 KB frames need."""
    parts: list[list[dict[str, Any]]] = [[]]
    size = 0
    for snipe in snipes:
        item = len(json.dumps(snipe, separators=(",", ":"), ensure_ascii=False).encode()) + 1
        if parts[-1] and size + item > MAX_MESSAGE_BYTES - 1024:
            parts.append([])
            size = 0
        parts[-1].append(snipe)
        size += item
    for index, part in enumerate(parts, start=1):
        yield envelope(
            "snapshot",
            event_id if len(parts) == 1 else f"{event_id}:{index}",
            server_time,
            {"snipes": part, "part": index, "parts": len(parts), "serverTime": server_time},
        )
