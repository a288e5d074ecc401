"""The realtime protocol: the envelope every server message shares, and its size rules.

``{"v": 1, "type", "eventId", "serverTime", "bidId", "ebayItemId", "data"}``; documented with a
JSON Schema per type in docs/realtime-protocol.md. API Gateway drops frames over 32 KB, so
every message is encoded compactly and checked against that limit.

Several messages for one socket from one stream batch travel as one ``batch`` frame (``frames``):
``data.events`` holds them, whole and in order, and a client reads each as if it had come alone.
A socket then costs one post per batch, however many of its owner's snipes changed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
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


BATCH = "batch"
# What a batch's envelope adds around its events (with room for a 13-digit serverTime).
_BATCH_HEAD = b'{"v":1,"type":"batch","eventId":"batch-%s","serverTime":%d,"bidId":null,'
_BATCH_HEAD_END = b'"ebayItemId":null,"data":{"events":['
_BATCH_TAIL = b"]}}"
_BATCH_OVERHEAD = len(_BATCH_HEAD % (b"0" * 32, 10**13)) + len(_BATCH_HEAD_END) + len(_BATCH_TAIL)


def frames(payloads: Sequence[bytes], server_time: int) -> list[tuple[int, bytes]]:
    """The frames that carry ``payloads`` (encoded messages, in order) to one socket: each as
    ``(how many messages it holds, its bytes)``, in order. A lone message is sent as it is;
    more travel as ``batch`` messages of at most 32 KB each, the encoded messages copied in
    (no decoding, no encoding again)."""
    if len(payloads) == 1:
        return [(1, payloads[0])]
    result: list[tuple[int, bytes]] = []
    group: list[bytes] = []
    size = _BATCH_OVERHEAD
    for payload in payloads:
        if group and size + len(payload) + 1 > MAX_MESSAGE_BYTES:
            result.append(_frame(group, server_time))
            group, size = [], _BATCH_OVERHEAD
        group.append(payload)
        size += len(payload) + 1
    result.append(_frame(group, server_time))
    return result


def _frame(group: list[bytes], server_time: int) -> tuple[int, bytes]:
    if len(group) == 1:
        return 1, group[0]
    head = _BATCH_HEAD % (uuid.uuid4().hex.encode(), server_time)
    return len(group), head + _BATCH_HEAD_END + b",".join(group) + _BATCH_TAIL


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
