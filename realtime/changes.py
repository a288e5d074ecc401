"""From one change of a snipe (old and new image of the Bids stream) to the messages its owner
sees. Pure: no AWS, no clock of its own, so tests drive it with plain dicts.

A change nobody can see (``updatedAt``, ``version``, ``executionId``, alert bookkeeping) gives
no message. Each message's eventId is the stream record's eventID plus the message type, so a
redelivered record (at-least-once) repeats the same ids and a client drops the duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.models import BidStatus
from realtime.protocol import envelope, snipe_view

# Fields the owner edits or sees in the list; a change to one is a `bid.updated`.
UPDATE_FIELDS = (
    "maxBidAmount",
    "leadSeconds",
    "groupId",
    "itemTitle",
    "itemImageUrl",
    "auctionEndTime",
    "auctionEndMs",
)
OUTCOMES = {BidStatus.WON.value, BidStatus.LOST.value}
STATUSES = frozenset(status.value for status in BidStatus)


class MalformedSnipe(ValueError):
    """A Bids record whose image cannot be a snipe: that record fails, alone."""


@dataclass(frozen=True, slots=True)
class Change:
    event_id: str
    event_name: str  # INSERT, MODIFY, REMOVE
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None

    @property
    def image(self) -> Mapping[str, Any]:
        return self.new or self.old or {}

    @property
    def owner(self) -> str | None:
        user = self.image.get("userId")
        return user if isinstance(user, str) and user else None


def messages_for(change: Change, now_ms: int) -> list[dict[str, Any]]:
    image = change.image
    if change.owner is None or "bidId" not in image:
        return []  # not a snipe (the Bids table holds snipes only): nothing to show
    _check(image)
    old, new = change.old or {}, change.new or {}
    bid_id, item_id = str(image["bidId"]), _str_or_none(image.get("ebayItemId"))

    def message(kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return envelope(
            kind, f"{change.event_id}:{kind}", now_ms, data, bid_id=bid_id, ebay_item_id=item_id
        )

    if change.event_name == "INSERT":
        return [message("bid.created", snipe_view(new))]
    if change.event_name == "REMOVE":
        return [message("bid.cancelled", {"status": old.get("status"), "reason": "DELETED"})]

    messages = []
    status, previous_status = new.get("status"), old.get("status")
    changed = {
        name: {"from": old.get(name), "to": new.get(name)}
        for name in UPDATE_FIELDS
        if old.get(name) != new.get(name)
    }
    status_moved = status != previous_status
    if changed or (status_moved and status in (BidStatus.PENDING, BidStatus.ARMED)):
        messages.append(message("bid.updated", {"status": status, "changes": changed}))
    if old.get("currentPrice") != new.get("currentPrice") and new.get("currentPrice") is not None:
        messages.append(
            message(
                "price.changed",
                {
                    "previousPrice": old.get("currentPrice"),
                    "currentPrice": new["currentPrice"],
                    "currency": new.get("currency"),
                },
            )
        )
    phase = new.get("countdownPhase")
    if phase is not None and phase != old.get("countdownPhase"):
        end = int(new["auctionEndTime"])
        # eBay's end with its milliseconds; a snipe stored before they were kept has its second.
        end_ms = int(new.get("auctionEndMs") or end * 1000)
        messages.append(
            message(
                "countdown",
                {
                    "phase": phase,
                    "auctionEndTime": end,
                    "auctionEndMs": end_ms,
                    "secondsRemaining": max(0, end - now_ms // 1000),
                    "serverTime": now_ms,
                },
            )
        )
    if status_moved:
        messages += _status_messages(new, message)
    return messages


def _status_messages(new: Mapping[str, Any], message: Any) -> list[dict[str, Any]]:
    status = new.get("status")
    if status == BidStatus.PLACED:
        return [
            message(
                "bid.placed",
                {
                    "placedAt": new.get("placedAt"),
                    "msBeforeEnd": new.get("msBeforeEnd"),
                    "amount": new.get("maxBidAmount"),
                    "currency": new.get("currency"),
                },
            )
        ]
    if status in OUTCOMES:
        return [
            message(
                "bid.outcome",
                {
                    "outcome": status,
                    "finalPrice": new.get("finalPrice"),
                    "currency": new.get("currency"),
                    "maxBidAmount": new.get("maxBidAmount"),
                },
            )
        ]
    if status == BidStatus.FAILED:
        return [message("bid.failed", {"reason": new.get("failureReason") or "UNKNOWN"})]
    if status == BidStatus.CANCELLED:
        return [message("bid.cancelled", {"status": status, "reason": new.get("cancelReason")})]
    return []


def _check(image: Mapping[str, Any]) -> None:
    status = image.get("status")
    if status not in STATUSES:
        raise MalformedSnipe(f"status {status!r} is not a snipe status")
    for name in ("currentPrice", "maxBidAmount", "auctionEndTime", "finalPrice", "placedAt"):
        value = image.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise MalformedSnipe(f"{name} is not a number")


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
