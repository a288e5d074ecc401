"""Delivering one notice, the notifier's logic: decide, guard, send, record. Ports are passed in.

At most once per (snipe, kind[, maximum]), per (user, RELINK_NEEDED, refresh expiry) and per
(user, EBAY_ACCOUNT_DELETED, the link's removal: ``ebayDeletedAt`` on the profile): the guard is
claimed with a conditional put before sending. Outcomes:

- SENT: Postmark took it (guard SENT with the MessageID);
- DUPLICATE: a guard existed (sent, rejected, unknown, or another invocation is sending);
- SKIPPED: preferences, a stale event (the snipe's status no longer matches) or missing data;
- REJECTED: Postmark refused the message (invalid or inactive address): recorded, not retried;
- UNKNOWN: the request may have reached Postmark but no answer came: recorded, not retried,
  because Postmark has no idempotency key and a retry could deliver twice.

When Postmark certainly did not take the message (unreachable, 429, 5xx) the guard is released
and :class:`~common.email.EmailNotSent` propagates, so Lambda's async retries try again; after
them the event goes to the on-failure queue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from common.clock import Clock, now_ms
from common.data.email_guards import Guard, GuardStatus, NotificationGuards, notification_key
from common.email import (
    EmailMessage,
    EmailNotSent,
    EmailOutcomeUnknown,
    EmailRejected,
    Mailer,
)
from common.models import ACTIVE_STATUSES, BidEntity, BidStatus, UserEntity
from common.notifier_client import NotificationKind
from common.observability import logger
from workers.logic.emails import render


class NotifyEvent(BaseModel):
    """The invocation payload; only ids and the kind are used, never amounts."""

    model_config = ConfigDict(extra="ignore")

    kind: NotificationKind
    userId: str = Field(min_length=1)
    bidId: str | None = Field(default=None, min_length=1)


@dataclass(frozen=True)
class NotifyResult:
    status: str  # SENT, DUPLICATE, SKIPPED, REJECTED, UNKNOWN
    reason: str = ""
    messageId: str | None = None
    errorCode: int | None = None


class UsersReader(Protocol):
    def get(self, user_id: str) -> UserEntity | None: ...


class BidsReader(Protocol):
    def get(self, user_id: str, bid_id: str) -> BidEntity | None: ...


class LinkExpiry(Protocol):
    def refresh_expiry(self, user_id: str) -> int | None: ...


STATUS_FOR_KIND = {
    NotificationKind.WON: BidStatus.WON,
    NotificationKind.LOST: BidStatus.LOST,
    NotificationKind.FAILED: BidStatus.FAILED,
    NotificationKind.OUTCOME_UNKNOWN: BidStatus.PLACED,
}


def wanted(kind: NotificationKind, user: UserEntity) -> bool:
    """The user's preferences: a master switch, then per-outcome switches for WON and LOST."""
    prefs = user.preferences
    if not user.isActive or not prefs.emailNotifications:
        return False
    if kind is NotificationKind.WON:
        return prefs.bidWinNotifications
    if kind is NotificationKind.LOST:
        return prefs.bidLossNotifications
    return True


def stale_reason(kind: NotificationKind, bid: BidEntity) -> str | None:
    """Why the stored snipe no longer warrants this email, or None when it does."""
    expected = STATUS_FOR_KIND.get(kind)
    if expected is not None:
        return None if bid.status is expected else f"snipe is {bid.status.value}"
    # PRICE_ALERT: still active, still above the maximum the updater alerted for.
    if bid.status not in ACTIVE_STATUSES:
        return f"snipe is {bid.status.value}"
    if bid.currentPrice is None or bid.currentPrice <= bid.maxBidAmount:
        return "price is not above the maximum"
    if bid.lastAlertBidAmount != bid.maxBidAmount:
        return "no alert recorded for this maximum"
    return None


def notify(
    event: NotifyEvent,
    users: UsersReader,
    bids: BidsReader,
    links: LinkExpiry,
    guards: NotificationGuards,
    mailer: Mailer,
    dashboard_url: str,
    clock: Clock = time.time,
) -> NotifyResult:
    log: dict[str, Any] = {"kind": event.kind.value, "user_id": event.userId, "bid_id": event.bidId}
    user = users.get(event.userId)
    if user is None:
        logger.info("notification skipped: no such user", **log)
        return NotifyResult("SKIPPED", "no such user")
    if not wanted(event.kind, user):
        logger.info("notification skipped: preferences", **log)
        return NotifyResult("SKIPPED", "preferences")
    subject = _subject(event, user, bids, links, log)
    if isinstance(subject, NotifyResult):
        return subject
    key, bid, refresh_expires_at = subject

    guard = guards.claim(key, event.userId, now_ms(clock))
    if guard is None:
        existing = guards.get(key)
        status = existing.status.value if existing else "GONE"
        logger.info("notification already handled", guard_status=status, **log)
        return NotifyResult("DUPLICATE", status)

    content = render(event.kind, user, dashboard_url, bid, refresh_expires_at)
    message = EmailMessage(
        to=user.email,
        subject=content.subject,
        html_body=content.html_body,
        text_body=content.text_body,
        tag=event.kind.value.lower().replace("_", "-"),
        metadata={k: v for k, v in {"userId": event.userId, "bidId": event.bidId}.items() if v},
    )
    return _send(message, guard, guards, mailer, log)


def _subject(
    event: NotifyEvent,
    user: UserEntity,
    bids: BidsReader,
    links: LinkExpiry,
    log: dict[str, Any],
) -> tuple[str, BidEntity | None, int | None] | NotifyResult:
    """What the email is about: its guard's key, the snipe and the refresh expiry it names;
    or SKIPPED when the stored data no longer warrants it."""
    if event.kind is NotificationKind.RELINK_NEEDED:
        refresh_expires_at = links.refresh_expiry(event.userId)
        if refresh_expires_at is None:
            return NotifyResult("SKIPPED", "not linked")
        key = notification_key(event.userId, event.kind.value, refresh_expires_at)
        return key, None, refresh_expires_at
    if event.kind is NotificationKind.EBAY_ACCOUNT_DELETED:
        if user.ebayDeletedAt is None:
            return NotifyResult("SKIPPED", "no eBay account deletion recorded")
        return notification_key(event.userId, event.kind.value, user.ebayDeletedAt), None, None
    if not event.bidId:
        return NotifyResult("SKIPPED", "bidId missing")
    bid = bids.get(event.userId, event.bidId)
    if bid is None:
        return NotifyResult("SKIPPED", "no such snipe")
    reason = stale_reason(event.kind, bid)
    if reason:
        logger.info("notification skipped: stale", reason=reason, **log)
        return NotifyResult("SKIPPED", reason)
    disc = bid.maxBidAmount if event.kind is NotificationKind.PRICE_ALERT else None
    return notification_key(bid.bidId, event.kind.value, disc), bid, None


def _send(
    message: EmailMessage,
    guard: Guard,
    guards: NotificationGuards,
    mailer: Mailer,
    log: dict[str, Any],
) -> NotifyResult:
    try:
        message_id = mailer.send(message)
    except EmailRejected as exc:
        guards.finish(guard, GuardStatus.REJECTED, error_code=exc.error_code)
        logger.warning("postmark rejected the email", error_code=exc.error_code, **log)
        return NotifyResult("REJECTED", "postmark rejected it", errorCode=exc.error_code)
    except EmailOutcomeUnknown:
        guards.finish(guard, GuardStatus.UNKNOWN)
        logger.warning("postmark's answer was lost; not resending", **log)
        return NotifyResult("UNKNOWN", "no answer from postmark")
    except EmailNotSent:
        guards.release(guard)
        logger.warning("postmark unavailable; the invocation will be retried", **log)
        raise
    guards.finish(guard, GuardStatus.SENT, message_id=message_id)
    logger.info("email sent", message_id=message_id, **log)
    return NotifyResult("SENT", messageId=message_id)
