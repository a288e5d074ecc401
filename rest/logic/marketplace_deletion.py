"""eBay's Marketplace Account Deletion/Closure notifications (developer.ebay.com/
marketplace-account-deletion): answering the endpoint's challenge, and deleting what is held for
an eBay account eBay says was closed.

A notice that proves it is eBay's (``common.ebay.notifications``: its signature under the key
getPublicKey returns, a body that parses, an ``eventDate`` within ``MAX_NOTICE_AGE_SECONDS``)
deletes, for the user who linked that eBay account:

1. their snipes that have not begun bidding: PENDING or ARMED and unsealed become CANCELLED
   (``cancelReason`` EBAY_ACCOUNT_DELETED) with their history, each conditional on no seal; a
   sealed snipe is placing its bid and is left to finish, as an unlink leaves it;
2. the link: tokens and link attributes off the profile and the ``EBAYACCOUNT#`` guard, in one
   transaction that, like an unlink, waits for a sealed snipe (then the answer is 503 and eBay
   delivers the notice again; step 1 has already stopped every other snipe from sealing);
3. step 1 again, for a snipe made between 1 and 2 (none can seal once the link is gone);
4. an email (the notifier's EBAY_ACCOUNT_DELETED, at most one per removal).

Every step is idempotent, because eBay retries a notice until it gets a 2xx. The notice is
remembered (``common.data.ebay_deletions``): matched to its user before anything is deleted, so a
retry after the guard is gone still finds them, and DONE once finished, so a replay of a
notice that was handled changes nothing. A notice for an eBay account nobody linked writes
nothing and is answered 204 like any other.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from common.clock import Clock, now_ms
from common.data.ebay_deletions import NoticeState
from common.data.ports import BidStore, DeletionNoticeStore
from common.ebay.errors import EbayError
from common.ebay.notifications import (
    KeyLookupsExhausted,
    SignatureError,
    challenge_response,
    parse_signature_header,
    verify,
)
from common.errors import (
    ConflictError,
    FieldIssue,
    NoticeRejected,
    RetryableError,
    SnipeSealedError,
    UpstreamUnavailable,
)
from common.history import history_entry
from common.models import BidEntity, BidStatus, HistoryAction
from common.notifier_client import NotificationKind, Notifier
from common.observability import logger

if TYPE_CHECKING:
    from common.ebay.models import NotificationPublicKey

TOPIC = "MARKETPLACE_ACCOUNT_DELETION"
CANCEL_REASON = "EBAY_ACCOUNT_DELETED"
# eBay retries a notice it could not deliver; one older than this is not a delivery but a
# replay, refused (412) whatever its signature. A notice id is remembered for longer.
MAX_NOTICE_AGE_SECONDS = 30 * 86_400
MAX_CLOCK_AHEAD_SECONDS = 300
NOTICE_MEMORY_SECONDS = MAX_NOTICE_AGE_SECONDS + 15 * 86_400
MAX_BODY_BYTES = 64 * 1024
CANCEL_ATTEMPTS = 5
CANCELLABLE = (BidStatus.PENDING, BidStatus.ARMED)
# The user-facing text of the 412: the same whatever failed, so it says nothing to a forger.
REJECTED = "This notice could not be verified as eBay's"


class KeySource(Protocol):
    def get(self, kid: str) -> NotificationPublicKey | None: ...


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str | None = None
    userId: str = Field(min_length=1, max_length=256)
    eiasToken: str | None = None


class _Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    notificationId: str = Field(min_length=1, max_length=256)
    eventDate: AwareDatetime
    data: _Data


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="ignore")

    topic: str


class DeletionNotice(BaseModel):
    """The fields of eBay's AsyncAPI contract (marketplace_account_deletion.yaml) used here."""

    model_config = ConfigDict(extra="ignore")

    metadata: _Metadata
    notification: _Notification


@dataclass(frozen=True)
class NoticeOutcome:
    # DELETED: the user's eBay data is gone now or was before; NO_USER: nobody linked that
    # account; ALREADY_HANDLED: a retry or replay of a finished notice; IGNORED: another topic.
    status: str
    cancelled: int = 0


def challenge(challenge_code: str, verification_token: str, endpoint: str) -> str:
    """The endpoint's answer to eBay's ``GET <endpoint>?challenge_code=...``."""
    return challenge_response(challenge_code, verification_token, endpoint)


def handle_notice(
    body: bytes,
    signature_header: str | None,
    keys: KeySource,
    deletions: DeletionNoticeStore,
    bids: BidStore,
    notifier: Notifier,
    history_ttl_days: int,
    clock: Clock = time.time,
) -> NoticeOutcome:
    """Verify a POSTed notice and act on it. NoticeRejected (412) when it is not provably
    eBay's or too old; UpstreamUnavailable or RetryableError (503) when it cannot be verified or
    finished now, so eBay delivers it again."""
    message = _verified(body, signature_header, keys)
    topic = _topic(message)
    if topic != TOPIC:
        logger.info("notice of another topic ignored", topic=topic)
        return NoticeOutcome("IGNORED")
    try:
        notice = DeletionNotice.model_validate(message)
    except ValidationError:
        # eBay signed it, so asking for it again would bring the same body: log, answer 2xx.
        logger.error("eBay's deletion notice lacks the fields its contract promises")
        return NoticeOutcome("IGNORED")
    _check_fresh(notice, clock())

    notification_id = notice.notification.notificationId
    record = deletions.notice(notification_id)
    if record is not None and record.state is NoticeState.DONE:
        logger.info("deletion notice already handled", notification_id=notification_id)
        return NoticeOutcome("ALREADY_HANDLED")
    owner = record.owner_id if record else deletions.account_owner(notice.notification.data.userId)
    if owner is None:
        # Most notices: eBay reports every closed account to every subscribed application.
        # Nothing is written for them; a replay of one changes nothing either.
        logger.info("deletion notice for an eBay account nobody linked")
        return NoticeOutcome("NO_USER")
    if record is None:
        expires_at = int(clock()) + NOTICE_MEMORY_SECONDS
        owner = deletions.begin(notification_id, owner, expires_at).owner_id or owner

    cancelled = cancel_pending_snipes(owner, bids, history_ttl_days, clock)
    try:
        removed = deletions.remove_link(owner, notice.notification.data.userId, now_ms(clock))
    except SnipeSealedError as exc:
        raise RetryableError(
            "A bid of this user is being placed; deliver the notice again", exc.details
        ) from exc
    cancelled += cancel_pending_snipes(owner, bids, history_ttl_days, clock)
    notifier.notify(NotificationKind.EBAY_ACCOUNT_DELETED, owner)
    deletions.finish(notification_id)
    logger.info(
        "ebay account deleted",
        notification_id=notification_id,
        link_removed=removed,
        snipes_cancelled=cancelled,
    )
    return NoticeOutcome("DELETED", cancelled)


def cancel_pending_snipes(
    user_id: str, bids: BidStore, history_ttl_days: int, clock: Clock = time.time
) -> int:
    """CANCELLED (EBAY_ACCOUNT_DELETED) for every PENDING or ARMED snipe of the user that is
    not sealed, each conditional on its version and on no seal; returns how many."""
    # Through the set of active snipes: what this reads follows what is active, not the
    # user's history (common/data/active_snipes.py).
    pending = [bid for bid in bids.active_snipes(user_id) if bid.status in CANCELLABLE]
    return sum(_cancel(bid, bids, history_ttl_days, clock) for bid in pending)


def _cancel(bid: BidEntity, bids: BidStore, history_ttl_days: int, clock: Clock) -> bool:
    for _ in range(CANCEL_ATTEMPTS):
        if bid.status not in CANCELLABLE or bid.sealed:
            # Sealed: its bid is being placed with what was sealed; it finishes on its own.
            return False
        now = now_ms(clock)
        after = bid.model_copy(
            update={
                "status": BidStatus.CANCELLED,
                "cancelReason": CANCEL_REASON,
                "countdownPhase": None,
                "updatedAt": now,
            }
        )
        entry = history_entry(
            after, HistoryAction.CANCEL, now, history_ttl_days, {"reason": CANCEL_REASON}
        )
        try:
            bids.transition(bid, after, entry, allowed=CANCELLABLE, unsealed=True)
        except ConflictError:
            # Another writer moved its version (the executor's claim or countdown, the price
            # updater) or sealed it: read it again and decide on what it is now.
            current = bids.get(bid.userId, bid.bidId)
            if current is None:
                return False
            bid = current
            continue
        return True
    logger.warning("snipe not cancelled after repeated races", bid_id=bid.bidId)
    return False


def _verified(body: bytes, signature_header: str | None, keys: KeySource) -> Any:
    """The parsed body, once its signature is verified under eBay's key."""
    try:
        header = parse_signature_header(signature_header)
        if len(body) > MAX_BODY_BYTES:
            raise SignatureError("the body is larger than any notice")
        message = json.loads(body)
    except (SignatureError, ValueError, RecursionError) as exc:
        logger.info("deletion notice rejected", reason=type(exc).__name__)
        raise NoticeRejected(REJECTED, [FieldIssue("X-EBAY-SIGNATURE", "not verified")]) from exc
    try:
        key = keys.get(header.kid)
    except KeyLookupsExhausted as exc:
        raise RetryableError("Too many unknown signing keys; deliver the notice again") from exc
    except EbayError as exc:
        raise UpstreamUnavailable("eBay's public key could not be read; try again") from exc
    try:
        valid = key is not None and verify(body, message, header, key)
    except SignatureError:
        logger.warning("eBay's public key could not be used", kid=header.kid)
        raise UpstreamUnavailable("eBay's public key could not be read; try again") from None
    if not valid:
        logger.info("deletion notice rejected", reason="signature", known_key=key is not None)
        raise NoticeRejected(REJECTED, [FieldIssue("X-EBAY-SIGNATURE", "not verified")])
    return message


def _check_fresh(notice: DeletionNotice, now: float) -> None:
    event = notice.notification.eventDate.timestamp()
    if now - event > MAX_NOTICE_AGE_SECONDS or event - now > MAX_CLOCK_AHEAD_SECONDS:
        logger.info("deletion notice refused for its age", age_seconds=int(now - event))
        raise NoticeRejected(REJECTED, [FieldIssue("eventDate", "too old or in the future")])


def _topic(message: Any) -> str | None:
    metadata = message.get("metadata") if isinstance(message, dict) else None
    topic = metadata.get("topic") if isinstance(metadata, dict) else None
    return topic if isinstance(topic, str) else None
