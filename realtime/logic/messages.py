"""A client's message on its socket: ``ping`` -> ``pong``, ``sync`` -> ``snapshot`` of the
caller's active snipes with the server's clock, ``refreshPrices`` -> ``pricesRefreshed`` (the
prices of the caller's snipes in their final minutes polled now: common/price_polls.py's
``refresh``; the new prices themselves arrive as every change does, through the stream and the
broadcaster, on every socket of every owner), anything else (unknown action, invalid JSON, an
oversized message) -> an ``error`` to that connection, which stays open. Answers go through the
management API, as the broadcaster's do.

``sync`` reads the active snipes through the set of their ids (``BidStore.active_snipes``):
what it costs follows what is active, not the user's history, which only GET /bids and GET
/history page through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from common.models import BidEntity
from common.price_polls import RefreshResult
from realtime.fanout import Pusher
from realtime.protocol import (
    MAX_CLIENT_MESSAGE_BYTES,
    encode,
    envelope,
    snapshot_messages,
    snipe_view,
)


@dataclass(frozen=True)
class ClientMessage:
    """What a client sent, and on which socket, as the handler read it from the event."""

    connection_id: str
    request_id: str
    user_id: str | None  # what the $connect authorizer put in the connection's context
    body: str


class ActiveSnipes(Protocol):
    def active_snipes(self, user_id: str) -> list[BidEntity]: ...


# Polls the prices of that user's snipes in their final minutes (common.price_polls.refresh with
# the function's ports).
Refresh = Callable[[str], RefreshResult]


def answer(
    message: ClientMessage,
    bids: Callable[[], ActiveSnipes],
    pusher: Pusher,
    now_ms: Callable[[], int],
    refresh: Refresh,
) -> None:
    """Post the replies to ``message`` to its connection. ``bids`` is asked for only by a
    ``sync``, ``refresh`` only by a ``refreshPrices``: a ``ping`` reaches no table."""
    for reply in replies(message, bids, now_ms, refresh):
        pusher.post(message.connection_id, encode(reply))


def replies(
    message: ClientMessage,
    bids: Callable[[], ActiveSnipes],
    now_ms: Callable[[], int],
    refresh: Refresh,
) -> list[dict[str, Any]]:
    def error(code: str, text: str) -> list[dict[str, Any]]:
        return [envelope("error", message.request_id, now_ms(), {"code": code, "message": text})]

    action = _action(message.body)
    if action is TOO_LARGE:
        return error("MESSAGE_TOO_LARGE", f"the limit is {MAX_CLIENT_MESSAGE_BYTES} bytes")
    if action is NOT_JSON:
        return error("INVALID_JSON", 'send JSON such as {"action": "ping"}')
    if action == "ping":
        return [envelope("pong", message.request_id, now_ms(), {"serverTime": now_ms()})]
    if action == "sync" and message.user_id:
        snipes = [_view(b) for b in bids().active_snipes(message.user_id)]
        return list(snapshot_messages(message.request_id, now_ms(), snipes))
    if action == "refreshPrices" and message.user_id:
        done = refresh(message.user_id)
        data = {
            "throttled": done.throttled,
            "items": done.items,
            "polled": done.itemPolls,
            "nextInMs": done.nextInMs,
        }
        return [envelope("pricesRefreshed", message.request_id, now_ms(), data)]
    return error("UNKNOWN_ACTION", "actions are ping, sync and refreshPrices")


TOO_LARGE, NOT_JSON = object(), object()


def _action(body: str) -> object:
    if len(body.encode()) > MAX_CLIENT_MESSAGE_BYTES:
        return TOO_LARGE
    try:
        document = json.loads(body)
    except ValueError:
        return NOT_JSON
    return document.get("action") if isinstance(document, dict) else NOT_JSON


def _view(bid: BidEntity) -> dict[str, Any]:
    return {"bidId": bid.bidId, "ebayItemId": bid.ebayItemId, **snipe_view(bid.model_dump())}
