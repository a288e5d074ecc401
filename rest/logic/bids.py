"""Snipes: create (validated against eBay), list, read, change and cancel."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from common.clock import Clock, new_id, now_ms
from common.data.cursor import CursorCodec
from common.data.ports import BidStore, UserStore
from common.ebay.errors import (
    EbayError,
    InvalidItemId,
    ItemNotFound,
)
from common.ebay.models import EbayItem
from common.errors import (
    ActiveSnipeExists,
    BadRequestError,
    ConflictError,
    DomainError,
    FieldIssue,
    IdempotencyKeyReused,
    IdempotencyKeyTaken,
    RateLimited,
    RetryableError,
    SnipeSealedError,
    UpstreamRateLimited,
    UpstreamUnavailable,
    ValidationFailed,
)
from common.history import history_entry
from common.models import (
    ACTIVE_STATUSES,
    CHANGEABLE_STATUSES,
    DEFAULT_LEAD_SECONDS,
    FREEZE_WINDOW_SECONDS,
    IDEMPOTENCY_KEY_PATTERN,
    BidEntity,
    BidStatus,
    HistoryAction,
    KeyedCreate,
    UserEntity,
)
from common.observability import logger
from common.scheduling import ScheduleError, SnipeScheduler, needs_immediate_invoke
from rest.logic import caps
from rest.logic.filters import parse_enum_list
from rest.logic.upstream import upstream_error

# After an auction ends the executor needs a few seconds to learn the outcome; a group's other
# snipe firing inside that window cannot be cancelled in time.
OUTCOME_DELAY_SECONDS = 10
BIDS_SCOPE = "bids"
ACTIVE_BIDS_SCOPE = "bids:active"
BAD_CURSOR = "The cursor is not valid for this listing; start again without it"


class AuctionLookup(Protocol):
    def get_item_by_legacy_id(self, legacy_item_id: str) -> EbayItem: ...


@dataclass(frozen=True)
class NewSnipe:
    ebay_item_id: str
    max_bid_amount: int
    currency: str | None
    lead_seconds: int | None
    group_id: str | None
    # The client's token for this create (the Idempotency-Key header): a retry carrying it
    # answers with the snipe the first attempt made, whose answer the client never got.
    idempotency_key: str | None = None


# Why a snipe whose wake-up could not be arranged was withdrawn (its create answered 503).
SCHEDULE_FAILED = "SCHEDULE_FAILED"
NOT_SCHEDULED = "The snipe could not be scheduled; please try again"
IDEMPOTENCY_KEY_FIELD = "Idempotency-Key"
KEY_REUSED = "Idempotency-Key reused with a different request"
# What a keyed retry of a create that landed may be refused with before its answer: the guard
# (the transaction), the cap that snipe filled, or eBay's view of the item having moved since
# the first attempt (its minimum now above the maximum, the last moment to create passed, eBay
# unreachable or its share of calls spent). Each is answered with that snipe instead.
REFUSALS_OF_A_REPEAT = (
    IdempotencyKeyTaken,
    ActiveSnipeExists,
    RateLimited,
    ValidationFailed,
    BadRequestError,
    UpstreamUnavailable,
    UpstreamRateLimited,
)


def fetch_auction(auctions: AuctionLookup, legacy_item_id: str) -> EbayItem:
    """Look the item up on eBay and turn eBay's failures into errors a client can act on."""
    try:
        return auctions.get_item_by_legacy_id(legacy_item_id)
    except (ItemNotFound, InvalidItemId) as exc:
        raise ValidationFailed(
            "eBay has no item with this number",
            [FieldIssue("ebayItemId", "no such eBay item")],
        ) from exc
    except EbayError as exc:
        raise upstream_error(
            exc,
            rate_limited="eBay's daily call limit is reached; try again later",
            unreachable="eBay could not be reached; try again shortly",
            failed="eBay refused the lookup: ",
        ) from exc


class CreationPorts(Protocol):
    """What creating a snipe writes and checks (the bids function's: rest.composition.BidsPorts)."""

    @property
    def users(self) -> UserStore: ...

    @property
    def bids(self) -> BidStore: ...

    @property
    def scheduler(self) -> SnipeScheduler: ...

    @property
    def snipe_cap(self) -> caps.ActiveSnipeCap: ...


def create_snipe(
    user_id: str,
    request: NewSnipe,
    ports: CreationPorts,
    auctions: AuctionLookup,
    clock: Clock,
    history_ttl_days: int,
) -> tuple[BidEntity, list[str]]:
    """Schedule a snipe on an eBay auction; never for a deleted account (AccountDeletedError),
    whose token may outlive it by up to an hour, nor beyond the owner's cap on active snipes
    (TooManyActiveSnipes, 429). ``auctions`` looks the item up: in the API, metered from the
    snipe-creation share of the day's eBay calls (rest.logic.lookups).

    With an idempotency key, a create whose key made a snipe already (its answer lost: a
    timeout, a 503 after the transaction landed) answers with that snipe, whatever became of it
    since (a cancel in between does not make another); nothing is written for it. The same key
    with a different request is IdempotencyKeyReused (409)."""
    _check_idempotency_key(request.idempotency_key)
    # The profile is read anyway (its default lead time), so the tombstone is checked here,
    # before eBay is asked. A deletion that begins after this read is caught by the create's
    # ConditionCheck on the profile (common/data/bids.py) and, for the schedule, by the
    # scheduler (common.scheduling.UnlessOwnerDeleted).
    user = ports.users.get_live(user_id)
    lead = request.lead_seconds
    if lead is None:
        lead = (user.preferences.defaultLeadSeconds if user else None) or DEFAULT_LEAD_SECONDS
    auctions = _Remembered(auctions)
    try:
        bid = _store_new(user_id, request, lead, ports, auctions, clock, history_ttl_days)
    except REFUSALS_OF_A_REPEAT as refusal:
        bid = _created_before(user_id, request, refusal, ports, clock)
        if _withdrawn(bid):
            # The key's snipe was withdrawn and its create answered 503 ("try again"): this is
            # that retry, which makes the snipe, taking the key over.
            bid = _retry_withdrawn(
                user_id, request, lead, bid, ports, auctions, clock, history_ttl_days
            )
    return bid, _warnings(user, bid, ports.bids, auctions.item)


@dataclass
class _Remembered:
    """An AuctionLookup keeping the item eBay described, for the create's warnings."""

    lookup: AuctionLookup
    item: EbayItem | None = None

    def get_item_by_legacy_id(self, legacy_item_id: str) -> EbayItem:
        self.item = self.lookup.get_item_by_legacy_id(legacy_item_id)
        return self.item


def _retry_withdrawn(
    user_id: str,
    request: NewSnipe,
    lead: int,
    withdrawn: BidEntity,
    ports: CreationPorts,
    auctions: AuctionLookup,
    clock: Clock,
    history_ttl_days: int,
) -> BidEntity:
    """The snipe made again for the retry of a create whose snipe, ``withdrawn``, had no wake-up
    (503). Refused for itself (eBay's view of the item, the cap), the refusal. A racing retry
    that took the key over first made it: this one is answered with that snipe, as any repeat
    is; if that one was withdrawn too, 503 again."""
    try:
        return _store_new(
            user_id, request, lead, ports, auctions, clock, history_ttl_days, withdrawn.bidId
        )
    except REFUSALS_OF_A_REPEAT as refusal:
        made = _created_before(user_id, request, refusal, ports, clock)
        if made.bidId == withdrawn.bidId:
            raise
    if _withdrawn(made):
        raise RetryableError(NOT_SCHEDULED)
    return made


def _withdrawn(bid: BidEntity) -> bool:
    return bid.status is BidStatus.CANCELLED and bid.cancelReason == SCHEDULE_FAILED


def _store_new(
    user_id: str,
    request: NewSnipe,
    lead: int,
    ports: CreationPorts,
    auctions: AuctionLookup,
    clock: Clock,
    history_ttl_days: int,
    replaces: str | None = None,
) -> BidEntity:
    bids, cap = ports.bids, ports.snipe_cap
    caps.check_room(user_id, cap, clock)  # before an eBay call is spent on it
    item = fetch_auction(auctions, request.ebay_item_id)
    now = now_ms(clock)
    _check_biddable(item, request, lead, now // 1000)
    bid = _new_bid(user_id, new_id(clock), request, item, lead, now)
    caps.create_counted(
        bids,
        bid,
        history_entry(
            bid,
            HistoryAction.CREATE,
            now,
            history_ttl_days,
            {"maxBidAmount": bid.maxBidAmount, "leadSeconds": lead, "groupId": bid.groupId},
        ),
        cap,
        clock,
        replaces,
    )
    _wake_or_withdraw(bid, ports.scheduler, bids, clock, history_ttl_days)
    return bid


def _created_before(
    user_id: str,
    request: NewSnipe,
    refusal: DomainError,
    ports: CreationPorts,
    clock: Clock,
) -> BidEntity:
    """The snipe an earlier attempt of this request (same idempotency key) created, whatever
    became of it since (edited, cancelled, finished), when there was one; the refusal
    otherwise. The create's transaction refuses a key that made a snipe already and names that
    snipe (IdempotencyKeyTaken); a refusal before the transaction (the guard of the snipe that
    attempt made, the cap it filled, eBay's view of the item since: REFUSALS_OF_A_REPEAT)
    reads the key's record instead. Nothing is written; a pending snipe's wake-up is arranged
    again."""
    key = request.idempotency_key
    if key is None:
        raise refusal
    made = refusal.made if isinstance(refusal, IdempotencyKeyTaken) else None
    made = made or ports.bids.keyed_create(user_id, key)
    earlier = _made_with_key(user_id, request, made, ports.bids) if made else None
    if earlier is None:
        raise refusal
    _wake_again(earlier, ports.scheduler, ports.bids, clock)
    return earlier


def _warnings(
    user: UserEntity | None, bid: BidEntity, bids: BidStore, item: EbayItem | None = None
) -> list[str]:
    warnings = []
    if user is None or not user.ebayAccountId:
        warnings.append("Link your eBay account before the auction ends, or the snipe cannot fire")
    bin_price = item.buy_it_now_price if item else None
    if bin_price and bin_price.currency == bid.currency and bid.maxBidAmount > bin_price.amount:
        warnings.append(
            f"Your maximum is above the Buy It Now price of {bin_price.display()}: eBay"
            " refuses such a bid while Buy It Now is offered (it goes with the auction's first"
            " bid), so buy it outright, or lower the maximum"
        )
    if bid.groupId:
        warnings += group_overlap_warnings(bid, bids)
    return warnings


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        rule = "1-64 characters of A-Z, a-z, 0-9, _ and -"
        raise BadRequestError(
            f"The {IDEMPOTENCY_KEY_FIELD} header must be {rule}",
            [FieldIssue(IDEMPOTENCY_KEY_FIELD, f"must be {rule}")],
        )


def _made_with_key(
    user_id: str, request: NewSnipe, made: KeyedCreate, bids: BidStore
) -> BidEntity | None:
    """The snipe ``made`` (the record of the create that used this request's key) when the
    request is that create's again, compared with what that create asked for, not with the
    snipe as it is now (the user may have changed it since); None if it is gone.
    IdempotencyKeyReused when the key comes with another request."""
    same = (
        made.ebayItemId == request.ebay_item_id
        and made.maxBidAmount == request.max_bid_amount
        and request.lead_seconds in (None, made.leadSeconds)
        and made.groupId == request.group_id
        and request.currency in (None, made.currency)
    )
    if not same:
        raise IdempotencyKeyReused(
            KEY_REUSED,
            [FieldIssue(IDEMPOTENCY_KEY_FIELD, "already used for another request")],
        )
    earlier = bids.get(user_id, made.bidId)
    if earlier is not None:
        logger.info("snipe create repeated", bid_id=earlier.bidId)
    return earlier


def _wake_again(bid: BidEntity, scheduler: SnipeScheduler, bids: BidStore, clock: Clock) -> None:
    """The wake-up of a snipe created by an earlier attempt, whose request may have failed
    before arranging it. Scheduling again is harmless (it moves the schedule to where it is);
    an invocation the earlier attempt started is not started again (:func:`_wake_once`). A
    failure withdraws nothing: the reconciler wakes a snipe whose wake-up was lost."""
    if bid.status != BidStatus.PENDING:
        return
    try:
        _wake_once(bid, scheduler, bids, clock)
    except ScheduleError:
        logger.warning("repeated snipe's wake-up not arranged", bid_id=bid.bidId)


def _wake_once(bid: BidEntity, scheduler: SnipeScheduler, bids: BidStore, clock: Clock) -> str:
    """Arrange a created snipe's wake-up; how ("schedule", "invoke", or "invoked" when another
    attempt already started the invocation). Within INVOKE_NOW_WITHIN_SECONDS of its fire time
    the scheduler starts an executor invocation that waits in Lambda (billed) until then, so a
    create and its retries under one idempotency key, racing or not, start one per fire time:
    the one whose conditional claim on the snipe's guard wins (``BidStore.claim_wake``). When
    the invocation then fails to start, the claim is given back for a retry. When the claim
    cannot be written, it invokes anyway: a second waiting executor costs its wait (its claim
    keeps the bid single), a snipe without one would never fire."""
    now = clock()
    claim: str | None = None
    if needs_immediate_invoke(bid.fire_at, now):
        try:
            claim = bids.claim_wake(bid, bid.fire_at)
        except DomainError:
            logger.warning("snipe's wake-up claim not written", bid_id=bid.bidId)
        else:
            if claim is None:
                logger.info("snipe already woken for its fire time", bid_id=bid.bidId)
                return "invoked"
    try:
        return scheduler.wake(bid.userId, bid.bidId, bid.fire_at, now)
    except ScheduleError:
        if claim is not None:
            try:
                bids.give_back_wake(bid, claim)
            except DomainError:
                logger.warning("snipe's wake-up claim not given back", bid_id=bid.bidId)
        raise


def _new_bid(
    user_id: str, bid_id: str, request: NewSnipe, item: EbayItem, lead: int, now: int
) -> BidEntity:
    price = item.current_bid_price
    currency = price or item.minimum_price_to_bid
    return BidEntity(
        userId=user_id,
        bidId=bid_id,
        ebayItemId=request.ebay_item_id,
        itemId=item.item_id,
        maxBidAmount=request.max_bid_amount,
        currency=currency.currency if currency else (request.currency or "USD"),
        leadSeconds=lead,
        groupId=request.group_id,
        status=BidStatus.PENDING,
        auctionEndTime=item.end_time or 0,
        auctionEndMs=item.end_time_ms,
        itemTitle=item.title,
        itemImageUrl=item.image_url,
        currentPrice=price.amount if price else None,
        createdAt=now,
        updatedAt=now,
        idempotencyKey=request.idempotency_key,
    )


def _wake_or_withdraw(
    bid: BidEntity,
    scheduler: SnipeScheduler,
    bids: BidStore,
    clock: Clock,
    history_ttl_days: int,
) -> None:
    """Schedule the new snipe's executor (or invoke it now). A snipe without a wake-up would
    silently never fire, so if that fails the snipe is withdrawn (CANCELLED, reason
    SCHEDULE_FAILED, which frees the item for a retry) and the request fails with 503."""
    try:
        how = _wake_once(bid, scheduler, bids, clock)
    except ScheduleError as exc:
        now = now_ms(clock)
        after = bid.model_copy(
            update={
                "status": BidStatus.CANCELLED,
                "cancelReason": SCHEDULE_FAILED,
                "updatedAt": now,
            }
        )
        entry = history_entry(
            after, HistoryAction.CANCEL, now, history_ttl_days, {"reason": SCHEDULE_FAILED}
        )
        bids.transition(bid, after, entry, allowed=[BidStatus.PENDING])
        logger.warning("snipe withdrawn: no schedule", bid_id=bid.bidId)
        raise RetryableError(NOT_SCHEDULED) from exc
    logger.info("snipe wake-up arranged", bid_id=bid.bidId, how=how, fire_at=bid.fire_at)


class PriceReader(Protocol):
    def points(self, ebay_item_id: str) -> list[tuple[int, int]]: ...


def snipe_with_prices(
    user_id: str, bid_id: str, bids: BidStore, prices: PriceReader
) -> tuple[BidEntity, list[tuple[int, int]]]:
    """The caller's snipe (NotFoundError for anyone else's) and its listing's price history."""
    bid = bids.require(user_id, bid_id)
    return bid, prices.points(bid.ebayItemId)


def _check_biddable(item: EbayItem, request: NewSnipe, lead: int, now_s: int) -> None:
    if not item.is_auction:
        raise ValidationFailed(
            "This item is not an auction", [FieldIssue("ebayItemId", "not an auction")]
        )
    if item.end_time is None or item.end_time <= now_s:
        raise ValidationFailed(
            "This auction has ended", [FieldIssue("ebayItemId", "the auction has ended")]
        )
    if item.end_time - lead - FREEZE_WINDOW_SECONDS <= now_s:
        raise ValidationFailed(
            "This auction ends too soon to schedule a snipe",
            [FieldIssue("ebayItemId", "ends too soon to snipe")],
        )
    reference = item.minimum_price_to_bid or item.current_bid_price
    if reference and request.currency and request.currency != reference.currency:
        raise ValidationFailed(
            f"This auction is in {reference.currency}",
            [FieldIssue("currency", f"must be {reference.currency}, the auction's currency")],
        )
    minimum = item.minimum_price_to_bid
    if minimum and request.max_bid_amount < minimum.amount:
        text = f"below eBay's minimum bid of {minimum.amount} cents ({minimum.currency})"
        raise BadRequestError(
            f"Your maximum is {text}", [FieldIssue("maxBidAmount", f"must not be {text}")]
        )


def group_overlap_warnings(bid: BidEntity, bids: BidStore) -> list[str]:
    """Snipes of one group whose fire times fall before the other's outcome is known: the
    group's limit holds (the executor's slot ledger), so the later one may not bid at all."""
    warnings = []
    for other in bids.active_snipes(bid.userId):
        if other.bidId == bid.bidId or other.groupId != bid.groupId:
            continue
        first, second = sorted((bid, other), key=lambda b: b.auctionEndTime)
        if second.fire_at <= first.auctionEndTime + OUTCOME_DELAY_SECONDS:
            warnings.append(
                f"Snipe {other.bidId} in group '{bid.groupId}' ends within "
                f"{second.auctionEndTime - first.auctionEndTime} s of this one: the later"
                " one bids only if the earlier one's outcome is known in time"
            )
    return warnings


def parse_statuses(raw: str | None) -> list[BidStatus] | None:
    return parse_enum_list(raw, BidStatus, "status")


def list_snipes(
    user_id: str,
    statuses: list[BidStatus] | None,
    limit: int,
    cursor: str | None,
    bids: BidStore,
    codec: CursorCodec,
) -> tuple[list[BidEntity], str | None]:
    """A page of the user's snipes, newest first: the active ones unless ``statuses`` says
    otherwise. Active statuses alone are read through the set of active snipes (what the page
    reads follows what is active); any finished status pages through the user's partition, a
    bounded read per page (BidsRepository.list_page). Each kind has its own cursors: one of
    the other kind, another user's or a tampered one is a 400 naming ``cursor``."""
    wanted = set(statuses or ACTIVE_STATUSES)
    if wanted <= ACTIVE_STATUSES:
        after = _active_position(codec.decode(cursor, user_id, ACTIVE_BIDS_SCOPE))
        page, last = bids.active_page(user_id, wanted, limit, after)
        position = {"bidId": last} if last else None
        return page, codec.encode(position, user_id, ACTIVE_BIDS_SCOPE)
    start = codec.decode(cursor, user_id, BIDS_SCOPE)
    page, last_key = bids.list_page(user_id, wanted, limit, start)
    return page, codec.encode(last_key, user_id, BIDS_SCOPE)


def _active_position(position: dict[str, Any] | None) -> str | None:
    if position is None:
        return None
    bid_id = position.get("bidId")
    if not isinstance(bid_id, str):
        raise BadRequestError(BAD_CURSOR, [FieldIssue("cursor", BAD_CURSOR)])
    return bid_id


def update_snipe(
    user_id: str,
    bid_id: str,
    max_bid_amount: int | None,
    lead_seconds: int | None,
    bids: BidStore,
    clock: Clock,
    history_ttl_days: int,
    scheduler: SnipeScheduler,
) -> BidEntity:
    if max_bid_amount is None and lead_seconds is None:
        raise ValidationFailed(
            "Nothing to change", [FieldIssue("body", "give maxBidAmount and/or leadSeconds")]
        )

    def change(before: BidEntity, now: int) -> tuple[BidEntity, dict[str, Any]]:
        changes: dict[str, Any] = {"updatedAt": now}
        details: dict[str, Any] = {}
        if max_bid_amount is not None and max_bid_amount != before.maxBidAmount:
            _check_above_price(max_bid_amount, before)
            changes.update(maxBidAmount=max_bid_amount, lastAlertSent=None, lastAlertBidAmount=None)
            details["maxBidAmount"] = {"from": before.maxBidAmount, "to": max_bid_amount}
        if lead_seconds is not None and lead_seconds != before.leadSeconds:
            changes["leadSeconds"] = lead_seconds
            details["leadSeconds"] = {"from": before.leadSeconds, "to": lead_seconds}
        after = before.model_copy(update=changes)
        if after.freeze_at <= now // 1000:
            raise ConflictError(
                "With this lead time the snipe would already be inside its freeze window",
                [FieldIssue("leadSeconds", "too large this close to the end")],
            )
        return after, details

    before, changed = _apply(
        user_id, bid_id, change, HistoryAction.UPDATE, bids, clock, history_ttl_days
    )
    if changed.fire_at != before.fire_at:
        try:
            scheduler.wake(changed.userId, changed.bidId, changed.fire_at, clock())
        except ScheduleError:
            # Harmless: the old wake-up is still >= 60 s before the new fire time, and an
            # executor woken early moves its own wake-up.
            logger.warning("snipe wake-up not moved", bid_id=bid_id)
    return changed


def _check_above_price(max_bid_amount: int, bid: BidEntity) -> None:
    """A maximum below the auction's price as last read (a price only rises) is below eBay's
    minimum bid: refused as a create with it is (BadRequestError, 400), not accepted for a
    snipe that can only fail at the end."""
    if bid.currentPrice is not None and max_bid_amount < bid.currentPrice:
        text = f"below the auction's current price of {bid.currentPrice} cents ({bid.currency})"
        raise BadRequestError(
            f"Your maximum is {text}", [FieldIssue("maxBidAmount", f"must not be {text}")]
        )


def cancel_snipe(
    user_id: str,
    bid_id: str,
    bids: BidStore,
    clock: Clock,
    history_ttl_days: int,
    scheduler: SnipeScheduler,
) -> BidEntity:
    def cancel(before: BidEntity, now: int) -> tuple[BidEntity, dict[str, Any]]:
        update = {"status": BidStatus.CANCELLED, "cancelReason": "USER", "updatedAt": now}
        return before.model_copy(update=update), {"reason": "USER"}

    _, cancelled = _apply(
        user_id, bid_id, cancel, HistoryAction.CANCEL, bids, clock, history_ttl_days
    )
    try:
        scheduler.cancel([bid_id])
    except ScheduleError:
        # Harmless: the executor finds the snipe CANCELLED, and the schedule deletes itself.
        logger.warning("cancelled snipe's schedule not deleted", bid_id=bid_id)
    return cancelled


# A user's change that lost a race to another writer's version bump (the executor's claim or
# countdown phase, the price updater) is applied again to the snipe as it now is, while the
# snipe is still unsealed and changeable.
CHANGE_ATTEMPTS = 4


def _apply(
    user_id: str,
    bid_id: str,
    change: Callable[[BidEntity, int], tuple[BidEntity, dict[str, Any]]],
    action: HistoryAction,
    bids: BidStore,
    clock: Clock,
    history_ttl_days: int,
) -> tuple[BidEntity, BidEntity]:
    """(before, after) of a user's change, written conditionally on the version read, a freeze
    instant still ahead and no seal: the seal and the change are exclusive (docs/sniping-engine.md,
    "One seal")."""
    for attempt in range(CHANGE_ATTEMPTS):
        before = bids.require(user_id, bid_id)
        now = now_ms(clock)
        _check_changeable(before, now // 1000)
        after, details = change(before, now)
        entry = history_entry(after, action, now, history_ttl_days, details)
        try:
            written = bids.transition(
                before,
                after,
                entry,
                allowed=CHANGEABLE_STATUSES,
                freeze_before=now // 1000,
                unsealed=True,
            )
        except ConflictError:
            if attempt == CHANGE_ATTEMPTS - 1:
                _check_changeable(bids.require(user_id, bid_id), now_ms(clock) // 1000)
                raise
            continue
        return before, written
    raise AssertionError("unreachable")


def _check_changeable(bid: BidEntity, now_s: int) -> None:
    if bid.sealed and bid.status in CHANGEABLE_STATUSES:
        raise SnipeSealedError(
            "The bid is being placed: this snipe was sealed for bidding and can no longer change",
            [FieldIssue("bidId", "sealed: the bid is being placed")],
        )
    if bid.status not in CHANGEABLE_STATUSES:
        raise ConflictError(
            f"This snipe is {bid.status.value} and can no longer change",
            [FieldIssue("status", bid.status.value)],
        )
    if bid.freeze_at <= now_s:
        raise ConflictError(
            f"This snipe fires within {FREEZE_WINDOW_SECONDS} s and can no longer change",
            [FieldIssue("bidId", "inside the freeze window")],
        )
