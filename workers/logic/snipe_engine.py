"""The bid executor's logic: claim a snipe, fire it on time, record what happened, exactly once.

Plain code with its ports passed in (repository, eBay, token source, scheduler, notifier, clock):
``workers/bid_executor.py`` wires the real ones, tests pass their own. Why the timing works this
way, with measured figures: docs/sniping-engine.md.

Exactly-once rests on DynamoDB conditions, never on read-then-write:
- a run claims a PENDING snipe (PENDING -> ARMED with its execution id, on the version it read);
  a duplicate delivery, a retry or a concurrent run finds it claimed and does nothing;
- a claim is taken over only when its run must be dead (older than the function's timeout) or
  can no longer bid (the auction has ended); the new run first asks eBay (getBidding) whether
  the bid was already accepted, and records PLACED without bidding again if so;
- every outcome (PLACED, WON, LOST, FAILED, CANCELLED) is one ``BidStore.transition`` with
  its history entry, conditional on the version the run read;
- before its first claim a run sets the snipe's follow-up after the end, so a snipe whose run
  and Lambda's retry both died is still taken over and finished then.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from common.clock import Clock, now_ms
from common.data.group_slots import Ledger
from common.data.ports import BidStore
from common.ebay.errors import (
    CannotLowerProxyBid,
    DeadlineExceeded,
    EbayAuthError,
    EbayError,
    EbayRateLimited,
    EbayUnavailable,
    NoBiddingActivity,
)
from common.ebay.models import BiddingStatus, ClockSample, Money, ProxyBidResult
from common.errors import (
    AccountDeletedError,
    ConflictError,
    EbayNotLinkedError,
    RetryableError,
)
from common.history import history_entry
from common.models import FREEZE_WINDOW_SECONDS, BidEntity, BidStatus, HistoryAction
from common.observability import logger
from common.scheduling import SnipeScheduler, needs_immediate_invoke
from workers.logic.snipe_timing import ClockEstimate, ClockProbe, wait_until

if TYPE_CHECKING:
    from common.ebay.offer import PreparedBid

# A run older than this is dead: Lambda stops a run at the function's Timeout (template.yaml).
CLAIM_LEASE_SECONDS = 300
# A live claim is taken over for having ended only this long after the end by our clock:
# eBay's clock may be seconds behind ours (the follow-up after the end comes a minute after).
TAKEOVER_AFTER_END_SECONDS = 30
# Seconds the run needs besides waiting: token, clock measurement, bid, outcome.
RUN_OVERHEAD_SECONDS = 20
# Start measuring eBay's clock this long before the fire instant, about one probe a second
# (the answers are eBay's free 401s): more probes, a finer estimate (docs/sniping-engine.md).
MEASURE_FROM_SECONDS = 20
EDGE_PROBES = 18
# Read the snipe this long after its freeze instant (FREEZE_WINDOW_SECONDS before the fire
# time, when the API stops taking changes): clocks of two Lambdas differ by milliseconds.
FROZEN_MARGIN_SECONDS = 0.5
# Stop measuring this long before firing: the last answers must be in before the fine wait.
MEASURE_UNTIL_SECONDS = 1.0
# Every clock probe is answered, or given up, this long before the fire instant.
PROBE_DEADLINE_SECONDS = 0.5
# A bid must reach eBay this much before the end at the latest (latency jitter).
END_SAFETY_MS = 30
# After the end, eBay reports the outcome; wait this long, retry for a few seconds.
OUTCOME_AFTER_END_SECONDS = 1.5
OUTCOME_POLL_SECONDS = 6.0
OUTCOME_RETRY_DELAY_SECONDS = 60
# After the end, a run that cannot learn from getBidding whether an earlier run's bid went in
# asks again later, for this long; then it records FAILED.
UNKNOWN_GIVE_UP_SECONDS = 3600
# Between attempts at the bid that were not confirmed: after a refusal to serve (429, 503), and
# after an answer that never came (a timeout or a 5xx, sent again at once).
RESEND_PAUSE_S = 0.1
RESEND_PAUSE_AFTER_UNANSWERED_S = 0.02
# Before the seal, the run reads the snipe again at least this often: a lead time changed
# meanwhile moves the seal (instants are always the stored snipe's, never a stale copy's).
SEAL_RECHECK_SECONDS = 2.0
WAIT_RECHECK_SECONDS = 10.0
# A seal refused this many times by changes of others (the user, the price updater) gives up.
MAX_SEAL_ATTEMPTS = 20
# A seal not answered (RetryableError) is sent again after this pause, until the end.
SEAL_RETRY_PAUSE_S = 0.05
# The seal comes at most this long before the stored freeze instant, however far ahead eBay's
# clock looks (one eBay host's Date header minutes off must not seal a snipe minutes early).
MAX_EARLY_SEAL_SECONDS = 10
# A recording (PLACED, WON, LOST, FAILED, CANCELLED) that DynamoDB does not answer in time is
# written again after a pause that doubles from RECORD_RETRY_PAUSE_S, this many times (PLACED,
# after eBay took the bid, more), while the invocation has RECORD_SPARE_MS left; then the
# follow-up after the end records it. A version race is read again at most this many times.
MAX_RECORD_TIMEOUTS = 6
# The run's first read of the snipe, before anything is decided: then Lambda's retry.
FIRST_READ_ATTEMPTS = 5
# Claim writes per run: one that stays unanswered or conflicting that often ends the run.
CLAIM_ATTEMPTS = 5
# A group's ledger not answered in time is tried again after this pause, until the fire instant.
GROUP_RETRY_PAUSE_S = 0.2
MAX_PLACED_RECORD_TIMEOUTS = 30
MAX_RECORD_CONFLICTS = 5
RECORD_RETRY_PAUSE_S = 0.25
RECORD_RETRY_PAUSE_MAX_S = 2.0
RECORD_SPARE_MS = 5_000
# A failed token refresh is retried this often, until this long before the fire instant.
TOKEN_RETRY_SECONDS = 5.0
TOKEN_LAST_TRY_BEFORE_FIRE_SECONDS = 3.0
# The link read again once sealed (its token bids): a read that times out is tried again after
# this pause, until this long before the fire instant.
SEALED_TOKEN_RETRY_SECONDS = 0.25
SEALED_TOKEN_LAST_TRY_SECONDS = 1.0
# A LOST snipe's reason when the auction ended below the seller's reserve: no sale.
RESERVE_NOT_MET_REASON = "The reserve price was not met: the item did not sell"
# A placed snipe whose outcome eBay has not reported this long after the end stops asking.
OUTCOME_GIVE_UP_SECONDS = 3600
PHASE_ARMED = "ARMED"
PHASE_FIRING = "FIRING"
PHASE_SEALED = "SEALED"
PHASE_OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"  # the notifier's kind (common.notifier_client.NotificationKind)
GROUP_WON = "GROUP_WON"
GROUP_STOPPED = "GROUP_STOPPED"
WIN_UP_TO = "WIN_UP_TO"
CONTINGENCY = "CONTINGENCY"

NOT_LINKED_REASON = "Your eBay account is not linked: link it so snipes can bid for you."
MISSED_REASON = "The sniper could not bid before the auction ended."
NO_ANSWER_REASON = "eBay did not accept the bid in time (it was unavailable or too slow)."
NOT_SEALED_REASON = "The snipe kept changing until its last moment, so it was not placed."
LINK_UNREAD_REASON = (
    "The sniper could not read your eBay link in time to bid (the database was busy)."
)
GROUP_UNREAD_REASON = (
    "Not placed: the group's count of bids could not be read in time (the database was busy),"
    " and bidding could have won more than the group's limit."
)
GROUP_UNKNOWN_REASON = (
    "Not placed: whether another snipe of its group won could not be learnt from eBay in time,"
    " and bidding could have won more than the group's limit."
)
GROUP_ORDER_REASON = (
    "Not placed: an earlier auction of this contingency group had not been decided yet."
)
UNCONFIRMED_REASON = (
    "eBay could not say whether it took the bid (it did not answer in time), and still could"
    " not an hour after the end: see the auction on eBay."
)
OUTCOME_UNKNOWN_REASON = (
    "The bid was placed, but eBay had not reported the outcome an hour after the end:"
    " see the auction on eBay."
)


class RecordPending(Exception):
    """A recording could not be written while the run had time: the run ends, and the
    follow-up after the end (``SnipeEngine._follow_up_after_end``) takes the snipe over."""

    def __init__(self, bid: BidEntity) -> None:
        super().__init__(bid.bidId)
        self.bid = bid


def _retry_pause(failures: int) -> float:
    """The pause before trying a database call again after its ``failures``-th timeout:
    doubling from RECORD_RETRY_PAUSE_S, at most RECORD_RETRY_PAUSE_MAX_S."""
    return float(min(RECORD_RETRY_PAUSE_S * 2 ** (failures - 1), RECORD_RETRY_PAUSE_MAX_S))


def _wrote(current: BidEntity, after: BidEntity) -> bool:
    """Whether the stored snipe is ``after`` as this very write stored it (its answer lost):
    the same status, written at the same millisecond by the same run. No other writer touches
    a snipe in the states the executor records (the price updater stops at the freeze or the
    seal)."""
    return (
        current.status is after.status
        and current.updatedAt == after.updatedAt
        and current.executionId == after.executionId
    )


def _aimed(probe: ClockProbe) -> int:
    """Aimed probes made so far (the first two samples are plain ones)."""
    return max(0, len(probe.samples) - 2)


class EbayBidding(Protocol):
    def probe_clock(self, n: int = 5, *, deadline: float | None = None) -> list[ClockSample]: ...

    def place_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
        deadline: float | None = None,
        *,
        retry_on_timeout: bool = False,
        read_timeout: float | None = None,
        prepared: PreparedBid | None = None,
    ) -> ProxyBidResult: ...

    def prepare_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
    ) -> PreparedBid: ...

    def get_bidding(
        self, access_token: str | SecretStr, item_id: str, *, deadline: float | None = None
    ) -> BiddingStatus: ...


class TokenSource(Protocol):
    """The user's access token, valid until at least ``valid_until`` (epoch s)."""

    def __call__(
        self, user_id: str, valid_until: int, force_refresh: bool = False
    ) -> SecretStr: ...


# (kind WON|LOST|FAILED|OUTCOME_UNKNOWN, userId, bidId)
Notify = Callable[[str, str, str], None]


class GroupRuleView(Protocol):
    @property
    def mode(self) -> str: ...

    @property
    def limit(self) -> int: ...


class GroupRules(Protocol):
    """A group's rule: WIN_UP_TO ``limit`` of its snipes, or CONTINGENCY (in order of their
    ends, stop at the first loss); WIN_UP_TO 1 when none was set."""

    def rule(self, user_id: str, group_id: str) -> GroupRuleView: ...


class GroupSlotLedger(Protocol):
    def read(self, user_id: str, group_id: str) -> Ledger: ...

    def take(
        self, user_id: str, group_id: str, bid_id: str, limit: int, *, contingency: bool
    ) -> bool: ...

    def settle(self, user_id: str, group_id: str, bid_id: str, *, won: bool) -> bool: ...


@dataclass
class SnipeEngine:
    bids: BidStore
    ebay: EbayBidding
    tokens: TokenSource
    scheduler: SnipeScheduler
    notify: Notify
    history_ttl_days: int
    groups: GroupRules
    slots: GroupSlotLedger
    clock: Clock = time.time
    sleep: Callable[[float], None] = time.sleep
    # Milliseconds left in this invocation (Lambda's context.get_remaining_time_in_millis).
    remaining_ms: Callable[[], int] = field(default=lambda: CLAIM_LEASE_SECONDS * 1000)
    execution_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    edge_probes: int = EDGE_PROBES

    # ------------------------------------------------------------------ entry point

    def run(self, user_id: str, bid_id: str) -> str:
        """Do whatever the snipe needs now; returns what happened, for logs and tests."""
        try:
            try:
                return self._run(user_id, bid_id)
            except RecordPending as pending:
                self._follow_up(pending.bid)
                return "record-pending"
        except AccountDeletedError:
            # A schedule this run made found its owner's account being deleted, and was taken
            # back; the deletion removes the snipe.
            logger.info("account being deleted; run ends", bid_id=bid_id)
            return "account-deleted"

    def _run(self, user_id: str, bid_id: str) -> str:
        bid = self._first_read(user_id, bid_id)
        if bid is None:
            return "gone"
        if bid.status is BidStatus.PLACED:
            return self._learn_outcome(bid)
        if bid.status.is_final:
            return "already-" + bid.status.value.lower()
        now = self.clock()
        if self._too_early(bid, now):
            self.scheduler.wake(bid.userId, bid.bidId, bid.fire_at, now)
            logger.info("woken too early; wake-up moved", bid_id=bid.bidId, fire_at=bid.fire_at)
            return "rescheduled"
        claimed = self._claim(bid)
        if claimed is None:
            return "claimed-elsewhere"
        return self._fire(claimed)

    def _first_read(self, user_id: str, bid_id: str) -> BidEntity | None:
        """The snipe, read again after a doubling pause if the database does not answer in
        time: a run invoked seconds before its fire instant has no time for Lambda's retry a
        minute later. Nothing is decided yet, so after FIRST_READ_ATTEMPTS the run ends."""
        for attempt in range(1, FIRST_READ_ATTEMPTS + 1):
            try:
                return self.bids.get(user_id, bid_id)
            except RetryableError:
                if attempt == FIRST_READ_ATTEMPTS:
                    raise
                logger.warning("snipe not read in time; reading again", bid_id=bid_id)
                self.sleep(_retry_pause(attempt))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ claim

    def _too_early(self, bid: BidEntity, now: float) -> bool:
        needed = bid.fire_at - now + bid.leadSeconds + RUN_OVERHEAD_SECONDS
        return needed > self.remaining_ms() / 1000 and not needs_immediate_invoke(bid.fire_at, now)

    def _claim(self, bid: BidEntity) -> BidEntity | None:
        followed_up = False
        # The claim whose answer was lost, sent again as it was (its updatedAt too): a repeat
        # that finds it stored is then recognised as this run's (wrote_already).
        armed: BidEntity | None = None
        # Whether a claim of this run may have gone in, not yet settled by a read.
        maybe_ours = False
        for _ in range(CLAIM_ATTEMPTS):
            if bid.status is BidStatus.ARMED and not self._may_take_over(bid):
                logger.info("snipe claimed by another run", bid_id=bid.bidId)
                return None
            if bid.status not in (BidStatus.PENDING, BidStatus.ARMED):
                return None
            if bid.status is BidStatus.PENDING and not followed_up:
                self._follow_up_after_end(bid)
                followed_up = True
            armed = armed or bid.model_copy(
                update={
                    "status": BidStatus.ARMED,
                    "executionId": self.execution_id,
                    "countdownPhase": PHASE_ARMED,
                    "updatedAt": now_ms(self.clock),
                }
            )
            try:
                claimed = self.bids.replace(bid, armed, allowed=[bid.status])
            except (ConflictError, RetryableError) as exc:
                # Someone changed it (another run's claim, the price updater, the user), or no
                # answer in time (the claim may have gone in): read it again.
                maybe_ours = maybe_ours or isinstance(exc, RetryableError)
                try:
                    current = self.bids.get(bid.userId, bid.bidId)
                except RetryableError:
                    # The copy in hand and the same claim again: every claim is conditional
                    # on the version, and one that went in is recognised as this run's.
                    logger.warning("snipe not re-read in time; claiming again", bid_id=bid.bidId)
                    continue
                if current is None:
                    return None
                if current.status is BidStatus.ARMED and current.executionId == self.execution_id:
                    # This run's claim, whose answer was lost (or this very invocation's
                    # earlier attempt): ours.
                    logger.info("snipe claimed", bid_id=bid.bidId, found_on_reread=True)
                    return current
                bid, armed, maybe_ours = current, None, False
                continue
            logger.info(
                "snipe claimed",
                bid_id=bid.bidId,
                execution_id=self.execution_id,
                took_over=bid.status is BidStatus.ARMED,
            )
            return claimed
        if maybe_ours:
            # The claim may be this run's, and nobody else may take it for a lease: Lambda's
            # retry of this invocation (same request id, so same execution id) takes it over.
            raise RetryableError("The claim was not answered in time; try again")
        return None

    def _follow_up_after_end(self, bid: BidEntity) -> None:
        """Set before the first claim: a run can die once it has claimed, and so can Lambda's
        one retry, after which nothing would ever look at the snipe again (ARMED forever, no
        outcome, no email). This follow-up wakes a run after the end whatever happened: it finds
        the snipe final and stops, learns a PLACED one's outcome, or takes over the dead claim
        (PLACED if eBay holds the bid, else FAILED)."""
        at = bid.auctionEndTime + OUTCOME_RETRY_DELAY_SECONDS
        try:
            self.scheduler.check_outcome_at(bid.userId, bid.bidId, at)
        except RetryableError as exc:
            # A safety net only: the run goes on to bid without it. ScheduleError (Scheduler
            # refused or did not answer), or the owner's profile not read in time by the
            # scheduler that takes a deleted account's schedules back (the schedule, if made,
            # stays: the follow-up finds the snipe final or gone and stops).
            logger.warning("no follow-up after the end", bid_id=bid.bidId, error=repr(exc))

    def _follow_up(self, bid: BidEntity) -> None:
        """A recording this run could not make: the follow-up after the end (set at the claim)
        is set again for a minute from now at the earliest, in case it was never set."""
        at = max(int(self.clock()), bid.auctionEndTime) + OUTCOME_RETRY_DELAY_SECONDS
        self._check_outcome_at(bid, at)

    def _check_outcome_at(self, bid: BidEntity, at: int) -> None:
        """A run after the end, at ``at``. A Scheduler that refuses or does not answer, or the
        owner's profile not read in time (RetryableError), must not end a run that has claimed:
        the follow-up set at the claim still comes, and a snipe left active an hour after its
        end is handed to a run by the reconciler's stale sweep (I5)."""
        try:
            self.scheduler.check_outcome_at(bid.userId, bid.bidId, at)
        except RetryableError as exc:
            logger.warning("no run scheduled after the end", bid_id=bid.bidId, error=repr(exc))

    def _may_take_over(self, bid: BidEntity) -> bool:
        """An ARMED snipe's run is dead (past its timeout, or an earlier attempt of this very
        invocation: Lambda retries an event with its request id) or can no longer bid: the
        auction ended TAKEOVER_AFTER_END_SECONDS ago by our clock, a margin for eBay's clock
        being behind ours (a live run bids by eBay's clock, seconds after our end)."""
        now = self.clock()
        return (
            bid.executionId == self.execution_id
            or now * 1000 >= bid.end_ms + TAKEOVER_AFTER_END_SECONDS * 1000
            or now * 1000 >= bid.updatedAt + CLAIM_LEASE_SECONDS * 1000
        )

    # ------------------------------------------------------------------ firing

    def _fire(self, bid: BidEntity) -> str:
        # A sealed snipe taken over (its run died after sealing) may have bid: it is settled
        # by eBay's word below, never cancelled for its group.
        if not bid.sealed and (closed := self._group_closed_if_known(bid)):
            return self._cancel_for_group(bid, closed)
        try:
            token = self._token_for(bid)
        except (EbayNotLinkedError, EbayError, RetryableError) as exc:
            return self._no_token(bid, exc)
        amount = Money(amount=bid.maxBidAmount, currency=bid.currency)
        # A previous run may have been cut short after eBay accepted its bid.
        held = self._holds_bid(bid, token, amount)
        if held:
            local_clock = ClockEstimate(x_ms=0.0, offset_ms=0.0, round_trip_ms=0.0, samples=0)
            return self._placed_then_outcome(bid, None, local_clock, recovered=True)
        if self.clock() >= bid.auctionEndTime:
            return self._ended_before_firing(bid, held)
        return self._measure_seal_and_place(bid, token)

    def _no_token(
        self, bid: BidEntity, exc: EbayNotLinkedError | EbayError | RetryableError
    ) -> str:
        """No token for the user. Unsealed, the snipe never bid (a bid only follows the seal):
        FAILED, in words. Sealed, an earlier run may have bid (taken over after it died, or a
        follow-up after the end, when the user may have unlinked): nobody can ask eBay without
        a token, so the snipe is asked about later, and after UNKNOWN_GIVE_UP_SECONDS it is
        PLACED with that said in words, never a FAILED that eBay might contradict (I3)."""
        if bid.sealed:
            logger.warning("no token to ask eBay about a sealed snipe", bid_id=bid.bidId)
            return self._ended_before_firing(bid, None)
        if isinstance(exc, EbayNotLinkedError):
            return self._fail(bid, NOT_LINKED_REASON)
        if isinstance(exc, RetryableError):
            return self._fail(bid, LINK_UNREAD_REASON)
        return self._fail(bid, exc.user_message)

    def _ended_before_firing(self, bid: BidEntity, held: bool | None) -> str:
        """The auction ended before this run could bid; ``held`` is getBidding's word on an
        earlier run's bid (None: it could not say)."""
        if held is None:
            # getBidding failed: an earlier run's bid may be at eBay. FAILED now could
            # contradict eBay; the snipe stays claimed and a later run asks again.
            if self.clock() < bid.auctionEndTime + UNKNOWN_GIVE_UP_SECONDS:
                return self._ask_later(bid)
            if bid.sealed:
                # Sealed, so it may have bid: never record that it did not (I3).
                return self._unconfirmed(bid)
        return self._fail(bid, MISSED_REASON)

    def _measure_seal_and_place(self, bid: BidEntity, token: SecretStr) -> str:
        # eBay's clock may differ from ours by seconds: every wait below is in eBay's time,
        # converted with the latest estimate.
        # A probe eBay leaves unanswered must not hold the run past the fire instant (the
        # client's read timeout is seconds): each has a deadline PROBE_DEADLINE_SECONDS before
        # it, on our clock until eBay's is known.
        probe_deadline = bid.fire_at_ms / 1000 - PROBE_DEADLINE_SECONDS

        def probe_clock(n: int) -> list[ClockSample]:
            return self.ebay.probe_clock(n, deadline=probe_deadline)

        probe = ClockProbe(probe_clock, self.clock, self.sleep)
        local_clock = ClockEstimate(x_ms=0.0, offset_ms=0.0, round_trip_ms=0.0, samples=0)
        try:
            rough = probe.measure(0)
        except EbayUnavailable:
            rough = local_clock
        probe_deadline = rough.send_at_s(bid.fire_at_ms - PROBE_DEADLINE_SECONDS * 1000)
        current = self._wait_to_measure(bid, rough)
        if current is None:
            return "claimed-elsewhere"
        sealed = self._seal_when_frozen(current, probe, rough)
        if isinstance(sealed, str):
            return sealed
        bid = sealed
        # From here the maximum and the instants are the sealed snipe's, and nobody else may
        # change it: the user's changes and a group's cancel are conditional on no seal.
        try:
            token = self._token_of_sealed_link(bid)
        except (EbayNotLinkedError, EbayError, RetryableError) as exc:
            return self._no_token(bid, exc)
        probe_deadline = rough.send_at_s(bid.fire_at_ms - PROBE_DEADLINE_SECONDS * 1000)
        if bid.groupId and (refused := self._group_slot(bid, token)):
            return refused
        amount = Money(amount=bid.maxBidAmount, currency=bid.currency)
        try:
            estimate = probe.measure(
                max(0, self.edge_probes - _aimed(probe)),
                until_ebay_ms=bid.fire_at_ms - MEASURE_UNTIL_SECONDS * 1000,
            )
        except EbayUnavailable:
            if not probe.samples:
                # No Date from eBay at all: fire on our own clock, assuming it agrees.
                logger.warning("no clock sample from eBay; firing on our clock", bid_id=bid.bidId)
            estimate = probe.estimate() if probe.samples else local_clock
        return self._place(bid, token, amount, estimate)

    def _token_for(self, bid: BidEntity) -> SecretStr:
        """The user's token for the bid. A failed refresh does not fail the snipe while the
        token in hand is still valid at the end; otherwise the refresh is retried until
        shortly before the fire instant (EbayError then)."""
        last_try = bid.fire_at_ms / 1000 - TOKEN_LAST_TRY_BEFORE_FIRE_SECONDS
        failure: EbayError | RetryableError
        while True:
            # The link is read from DynamoDB: a read that timed out (RetryableError) is retried
            # like a failed refresh, not the run's end.
            try:
                return self.tokens(bid.userId, bid.auctionEndTime + 120)
            except EbayNotLinkedError:
                raise
            except (EbayError, RetryableError) as exc:
                logger.warning("token refresh failed", bid_id=bid.bidId, error=repr(exc))
                failure = exc
            try:
                # Valid through the end without a refresh: enough for this bid.
                return self.tokens(bid.userId, bid.auctionEndTime + 1)
            except EbayNotLinkedError:
                raise
            except (EbayError, RetryableError) as exc:
                failure = exc
            if self.clock() + TOKEN_RETRY_SECONDS > last_try:
                raise failure
            self.sleep(TOKEN_RETRY_SECONDS)

    def _token_of_sealed_link(self, bid: BidEntity) -> SecretStr:
        """The token of the link the seal checked, read again: the one in hand was read at the
        claim, minutes before, and the user may have unlinked that account since (200) and
        linked another; its token, still valid at eBay, must not bid. From the seal until the
        auction's end the link cannot change (unlink, a link to another account and the
        account's deletion are refused while sealed), so this is the account that bids. It was
        valid through the end at the claim: no refresh is due. A read that times out is tried
        again until SEALED_TOKEN_LAST_TRY_SECONDS before the fire instant; then no bid."""
        last_try = bid.fire_at_ms / 1000 - SEALED_TOKEN_LAST_TRY_SECONDS
        while True:
            try:
                return self.tokens(bid.userId, bid.auctionEndTime + 1)
            except RetryableError:
                if self.clock() + SEALED_TOKEN_RETRY_SECONDS > last_try:
                    raise
                logger.warning("sealed link not read in time; reading again", bid_id=bid.bidId)
                self.sleep(SEALED_TOKEN_RETRY_SECONDS)

    def _wait_to_measure(self, bid: BidEntity, rough: ClockEstimate) -> BidEntity | None:
        """Sleep until MEASURE_FROM_SECONDS before the fire instant of the snipe as stored,
        reading it again every WAIT_RECHECK_SECONDS: a lead time lengthened meanwhile brings
        the fire instant nearer. None once the snipe is no longer this run's."""
        while True:
            current = self._reread(bid)
            if current is None or not self._still_mine(current):
                return None
            bid = current
            start = rough.send_at_s(current.fire_at_ms - MEASURE_FROM_SECONDS * 1000)
            now = self.clock()
            if now >= start:
                return current
            wait_until(min(start, now + WAIT_RECHECK_SECONDS), self.clock, self.sleep)

    def _token_for_call(self, bid: BidEntity) -> SecretStr:
        """A token for one call now: refreshed when due, or the one in hand while the refresh
        fails and it is still valid."""
        try:
            return self.tokens(bid.userId, int(self.clock()) + 120)
        except EbayNotLinkedError:
            raise
        except (EbayError, RetryableError) as exc:
            logger.warning("token refresh failed", bid_id=bid.bidId, error=repr(exc))
            return self.tokens(bid.userId, int(self.clock()) + 10)

    def _reread(self, bid: BidEntity) -> BidEntity | None:
        """The snipe as stored; the copy in hand when the database does not answer in time
        (it is read again at the next check, and every write is conditional on its version)."""
        try:
            return self.bids.get(bid.userId, bid.bidId)
        except RetryableError:
            logger.warning("snipe not re-read in time; keeping the copy in hand", bid_id=bid.bidId)
            return bid

    def _seal_when_frozen(
        self, bid: BidEntity, probe: ClockProbe, rough: ClockEstimate
    ) -> BidEntity | str:
        """Measure eBay's clock until the stored snipe's freeze instant, then seal it: one
        conditional write that either wins over every change of the user (who can no longer
        change or cancel it) or loses to one (and the snipe is read again). It also sets the
        countdown phase FIRING: one write per snipe in the crowded seconds, not two. Returns
        the sealed snipe, or what happened instead."""
        attempts = 0
        # The seal whose answer was lost (its copy and sealedAt), to be written again as it was.
        lost: tuple[BidEntity, int] | None = None
        current = self._reread(bid)
        while True:
            if current is None or not self._still_mine(current):
                logger.info("snipe changed hands or ended before its seal", bid_id=bid.bidId)
                return "claimed-elsewhere"
            if current.sealed:
                # Sealed by an earlier attempt of this run whose answer was lost, or of this
                # very invocation (Lambda's retry).
                return current
            now = self.clock()
            if now * 1000 >= current.end_ms:
                return self._fail(current, MISSED_REASON)
            seal_at = self._seal_instant(current, probe, rough)
            if now >= seal_at:
                attempts += 1
                # A repeat after a timeout is the very same seal (copy and sealedAt): one
                # whose answer was lost is then recognised as this run's (wrote_already).
                firing, sealed_at = lost or (
                    current.model_copy(update={"countdownPhase": PHASE_FIRING}),
                    now_ms(self.clock),
                )
                try:
                    sealed = self.bids.seal(firing, self.execution_id, sealed_at)
                except RetryableError:
                    # No answer in time (or a throttle, a conflict on the owner's profile): the
                    # seal is conditional on the version, so it is sent again without a read
                    # first, after a short pause (an error that comes back at once must not
                    # spend the seal's chances in milliseconds), until the auction's end (the
                    # check above), not a number of attempts.
                    logger.warning("seal not answered in time; sealing again", bid_id=bid.bidId)
                    lost = (firing, sealed_at)
                    self.sleep(SEAL_RETRY_PAUSE_S)
                    continue
                except ConflictError:
                    # Changed meanwhile (the user, the price updater): read again.
                    lost = None
                    if attempts >= MAX_SEAL_ATTEMPTS:
                        return self._fail(current, NOT_SEALED_REASON)
                    current = self._reread(current)
                    continue
                except EbayNotLinkedError:
                    return self._fail(current, NOT_LINKED_REASON)
                logger.info("snipe sealed", bid_id=bid.bidId, max_bid=sealed.maxBidAmount)
                return sealed
            self._measure_toward(min(seal_at, now + SEAL_RECHECK_SECONDS), probe, rough)
            current = self._reread(current)

    def _seal_instant(self, bid: BidEntity, probe: ClockProbe, rough: ClockEstimate) -> float:
        """When to seal, on our clock: the stored freeze instant (the API's, on our clock), or
        FREEZE_WINDOW_SECONDS before the fire instant on eBay's clock (by the latest estimate)
        if that comes sooner. eBay's clock ahead of ours by s seconds brings its fire instant s
        seconds sooner on ours than the stored instants say: sealing at the stored freeze left
        the seal 5 - s seconds before firing (1.3 s in bench/snipe_timing.py, whose eBay is
        3.7 s ahead), too little for 200 seals in the same second. A change the user makes in
        those s seconds is refused as for any sealed snipe (409 SNIPE_SEALED: the bid is being
        placed). Never more than MAX_EARLY_SEAL_SECONDS before the stored freeze."""
        estimate = probe.estimate() if probe.samples else rough
        by_ebay = estimate.send_at_s(bid.fire_at_ms - FREEZE_WINDOW_SECONDS * 1000)
        return max(min(float(bid.freeze_at), by_ebay), bid.freeze_at - MAX_EARLY_SEAL_SECONDS)

    def _measure_toward(self, until: float, probe: ClockProbe, rough: ClockEstimate) -> None:
        """Probe eBay's clock while waiting until ``until`` (our clock)."""
        left = self.edge_probes - _aimed(probe)
        if left > 0:
            with suppress(EbayUnavailable):
                probe.measure(min(2, left), until_ebay_ms=rough.ebay_time_ms(until * 1000))
        wait_until(until, self.clock, self.sleep)

    def _place(
        self, bid: BidEntity, token: SecretStr, amount: Money, estimate: ClockEstimate
    ) -> str:
        deadline = estimate.send_at_s(bid.end_ms - END_SAFETY_MS)
        prepared = self._prepare_and_wait(bid, token, amount, estimate)
        # True once an attempt may have reached eBay unanswered (a timeout, a 5xx).
        uncertain = False
        attempts = 0
        while True:
            sent_ms = self.clock() * 1000
            remaining = deadline - self.clock()
            if remaining <= 0:
                return self._out_of_time(bid, token, amount, estimate, attempts, uncertain)
            attempts += 1
            try:
                result = self.ebay.place_proxy_bid(
                    token,
                    bid.itemId,
                    amount,
                    deadline=deadline,
                    retry_on_timeout=False,
                    read_timeout=min(2.0, max(0.25, remaining / 3)),
                    prepared=prepared,
                )
            except (EbayUnavailable, EbayRateLimited) as exc:
                uncertain = self._not_confirmed(bid, exc, deadline) or uncertain
                continue
            except CannotLowerProxyBid as exc:
                # eBay holds a bid of this user's at or above this maximum: our own, after an
                # unanswered attempt or from an earlier run cut short, if it holds exactly this
                # amount. With getBidding unable to say, it is taken for ours: eBay does hold
                # the user's bid, and the outcome is learnt from getBidding later.
                held = self._holds_bid(bid, token, amount)
                if held or held is None:
                    return self._placed_then_outcome(bid, None, estimate)
                return self._fail(bid, exc.user_message)
            except EbayAuthError:
                try:
                    token = self.tokens(bid.userId, bid.auctionEndTime + 120, True)
                except RetryableError:
                    # The link not read in time: eBay refused the token, not the link, so the
                    # run tries again (the deadline above bounds it) rather than FAILED.
                    self._pause_before_resend(deadline, False)
                    continue
                except (EbayNotLinkedError, EbayError):
                    if uncertain:
                        # An earlier attempt may have reached eBay: never FAILED (I3).
                        return self._ask_later(bid)
                    return self._fail(bid, NOT_LINKED_REASON)
                prepared = self.ebay.prepare_proxy_bid(token, bid.itemId, amount)
                continue
            except EbayError as exc:
                return self._refused(bid, token, amount, estimate, exc, uncertain)
            sample = result.timing
            return self._placed_then_outcome(
                bid, estimate.ebay_time_ms(sample.sent_ms if sample else sent_ms), estimate
            )

    def _prepare_and_wait(
        self, bid: BidEntity, token: SecretStr, amount: Money, estimate: ClockEstimate
    ) -> PreparedBid:
        """The bid request, built and logged before the wait: after it, nothing but sending."""
        send_at = estimate.send_at_s(bid.fire_at_ms)
        prepared = self.ebay.prepare_proxy_bid(token, bid.itemId, amount)
        logger.info(
            "firing",
            bid_id=bid.bidId,
            x_ms=round(estimate.x_ms, 1),
            offset_ms=round(estimate.offset_ms, 1),
            rtt_ms=round(estimate.round_trip_ms, 1),
            samples=estimate.samples,
            send_at=round(send_at, 3),
        )
        wait_until(send_at, self.clock, self.sleep)
        return prepared

    def _not_confirmed(
        self, bid: BidEntity, exc: EbayUnavailable | EbayRateLimited, deadline: float
    ) -> bool:
        """A 5xx or a timeout (maybe processed), or a 429/503 the client could not wait out (its
        Retry-After or back-off outlasts the time left); True if the attempt may have reached
        eBay. The bid is sent again at once rather than checked first: the same maximum cannot
        be taken twice, since eBay refuses a bidder's repeat of its own maximum ("cannot
        lower") and, once outbid, a maximum below the price ("too low"), and either refusal is
        checked against getBidding. A check first would cost a round trip the last seconds may
        not have."""
        maybe = bool(getattr(exc, "maybe_processed", False))
        logger.warning(
            "bid not confirmed",
            bid_id=bid.bidId,
            http_status=exc.http_status,
            maybe_processed=maybe,
            deadline=isinstance(exc, DeadlineExceeded),
        )
        self._pause_before_resend(deadline, maybe)
        return maybe

    def _refused(
        self,
        bid: BidEntity,
        token: SecretStr,
        amount: Money,
        estimate: ClockEstimate,
        exc: EbayError,
        uncertain: bool,
    ) -> str:
        """eBay refused the bid. After an unanswered attempt, a refusal (too low once our own
        bid raised the price and a rival's beat it, or ended) may be about a bid eBay took."""
        if uncertain:
            held = self._holds_bid(bid, token, amount)
            if held:
                return self._placed_then_outcome(bid, None, estimate)
            if held is None:
                # getBidding cannot say: FAILED could contradict eBay (I3).
                return self._ask_later(bid)
        return self._fail(bid, exc.user_message)

    def _pause_before_resend(self, deadline: float, maybe_processed: bool) -> None:
        """A short pause before the next attempt, shorter than the time left: eBay's
        Retry-After is honoured by the client while there is time; in the last second, one
        more attempt is worth more than the politeness."""
        pause = RESEND_PAUSE_AFTER_UNANSWERED_S if maybe_processed else RESEND_PAUSE_S
        left = deadline - self.clock()
        if left > 0:
            self.sleep(min(pause, left / 3))

    def _out_of_time(
        self,
        bid: BidEntity,
        token: SecretStr,
        amount: Money,
        estimate: ClockEstimate,
        attempts: int,
        uncertain: bool,
    ) -> str:
        """No attempt was confirmed before the end. One that went unanswered may still have
        been taken: eBay's getBidding says (after the end, with seconds to answer)."""
        if uncertain:
            held = self._holds_bid(bid, token, amount, deadline=self.clock() + 5)
            if held:
                return self._placed_then_outcome(bid, None, estimate)
            if held is None:
                # eBay may have taken an unanswered attempt and cannot say: ask again later
                # rather than record a FAILED that eBay might contradict (I3).
                return self._ask_later(bid)
        return self._fail(bid, NO_ANSWER_REASON if attempts else MISSED_REASON)

    def _ask_later(self, bid: BidEntity) -> str:
        """Whether eBay holds the bid is unknown: the snipe stays claimed, and a run after the
        end (when it may take the claim over) asks again, until UNKNOWN_GIVE_UP_SECONDS."""
        at = max(int(self.clock()), bid.auctionEndTime) + OUTCOME_RETRY_DELAY_SECONDS
        self._check_outcome_at(bid, at)
        logger.warning("whether eBay holds the bid is unknown; asking later", bid_id=bid.bidId)
        return "check-pending"

    def _unconfirmed(self, bid: BidEntity) -> str:
        """An hour after the end eBay still cannot say whether it took a sealed snipe's bid:
        PLACED (it may have bid), saying so in words, off the active index, the user told."""
        done = self._transition(
            bid,
            {
                "status": BidStatus.PLACED,
                "failureReason": UNCONFIRMED_REASON,
                "countdownPhase": PHASE_OUTCOME_UNKNOWN,
            },
            HistoryAction.PLACE,
            {"unconfirmed": UNCONFIRMED_REASON},
            allowed=[BidStatus.ARMED],
        )
        if done is None:
            return "claimed-elsewhere"
        logger.warning("bid unconfirmed an hour after the end", bid_id=bid.bidId)
        self._notify(OUTCOME_UNKNOWN, done)
        return "outcome-unknown"

    def _holds_bid(
        self, bid: BidEntity, token: SecretStr, amount: Money, deadline: float | None = None
    ) -> bool | None:
        """Whether eBay holds our proxy bid of exactly this amount; None when getBidding
        cannot say (it failed)."""
        try:
            status = self.ebay.get_bidding(token, bid.itemId, deadline=deadline)
        except NoBiddingActivity:
            return False
        except EbayError as exc:
            logger.warning("could not check for an earlier bid", bid_id=bid.bidId, error=repr(exc))
            return None
        return status.current_proxy_bid == amount

    def _placed_then_outcome(
        self,
        bid: BidEntity,
        placed_at: float | None,
        estimate: ClockEstimate,
        recovered: bool = False,
    ) -> str:
        placed = self._record_placed(bid, placed_at, recovered)
        if placed is None:
            return "claimed-elsewhere"
        end_local = estimate.send_at_s(bid.end_ms) + estimate.round_trip_ms / 2000
        wait_for = end_local + OUTCOME_AFTER_END_SECONDS - self.clock()
        if wait_for + OUTCOME_POLL_SECONDS + 5 > self.remaining_ms() / 1000:
            self._check_outcome_at(bid, bid.auctionEndTime + OUTCOME_RETRY_DELAY_SECONDS)
            return "placed"
        if wait_for > 0:
            self.sleep(wait_for)
        return self._learn_outcome(placed, poll_seconds=OUTCOME_POLL_SECONDS)

    # ------------------------------------------------------------------ outcome

    def _learn_outcome(self, bid: BidEntity, poll_seconds: float = 0.0) -> str:
        """WON or LOST from getBidding once eBay has ended the auction; else try again later,
        for up to OUTCOME_GIVE_UP_SECONDS after the end, then say so and stop (I5)."""
        give_up_at = self.clock() + poll_seconds
        while True:
            try:
                token = self._token_for_call(bid)
                status = self.ebay.get_bidding(token, bid.itemId, deadline=self.clock() + 10)
            except (EbayError, EbayNotLinkedError, RetryableError) as exc:
                # eBay's error, or the link not read in time: asked again, like eBay's silence.
                logger.warning("outcome not known yet", bid_id=bid.bidId, error=repr(exc))
                status = None
            if status is not None and not status.is_active:
                return self._record_outcome(bid, status)
            if self.clock() * 1000 >= bid.end_ms + OUTCOME_GIVE_UP_SECONDS * 1000:
                return self._outcome_unknown(bid)
            if self.clock() + 1 > give_up_at:
                at = max(int(self.clock()) + OUTCOME_RETRY_DELAY_SECONDS, bid.auctionEndTime)
                self._check_outcome_at(bid, at)
                return "outcome-pending"
            self.sleep(1.0)

    def _outcome_unknown(self, bid: BidEntity) -> str:
        """eBay holds our bid but has not said how the auction ended: the snipe stays PLACED
        (it did bid) with the reason in words, leaves the active index, and the user is told."""
        done = self._transition(
            bid,
            {"failureReason": OUTCOME_UNKNOWN_REASON, "countdownPhase": PHASE_OUTCOME_UNKNOWN},
            HistoryAction.FAIL,
            {"reason": OUTCOME_UNKNOWN_REASON},
            allowed=[BidStatus.PLACED],
        )
        if done is None:
            return "already-recorded"
        logger.warning("outcome unknown an hour after the end; stopped asking", bid_id=bid.bidId)
        self._notify(OUTCOME_UNKNOWN, done)
        return "outcome-unknown"

    def _record_outcome(self, bid: BidEntity, status: BiddingStatus) -> str:
        # eBay sells only when the reserve is met: a high bidder below it has not won. The
        # field is absent for auctions without a reserve (buy-offer-v1_beta.yml, Bidding).
        won = status.high_bidder and status.reserve_price_met is not False
        price = status.current_price.amount if status.current_price else None
        action = HistoryAction.WIN if won else HistoryAction.LOSE
        new_status = BidStatus.WON if won else BidStatus.LOST
        details: dict[str, Any] = {"finalPrice": price}
        changes: dict[str, Any] = {
            "status": new_status,
            "finalPrice": price,
            "countdownPhase": None,
            # An "outcome unknown" or "unconfirmed" reason a PLACED snipe may carry is answered
            # now; a LOST one's reason is read as "not sold" (emails).
            "failureReason": None,
        }
        if not won and status.reserve_price_met is False:
            # Nobody won: the record says so in words, or the email would tell of a sale
            # "above your maximum" at a price below it.
            details["reason"] = changes["failureReason"] = RESERVE_NOT_MET_REASON
        recorded = self._transition(
            bid,
            changes,
            action,
            details,
            allowed=[BidStatus.PLACED],
        )
        if recorded is None:
            return "already-recorded"
        logger.info("snipe outcome", bid_id=bid.bidId, status=new_status.value, final_price=price)
        self._notify(new_status.value, recorded)
        if bid.groupId:
            # The outcome is recorded; the ledger and the siblings are settled from it later
            # if the database does not answer now: a sibling's run settles this holder from
            # its record (_settle_siblings) and cancels itself on claim (_group_closed).
            try:
                self.slots.settle(bid.userId, bid.groupId, bid.bidId, won=won)
                if closed := self._group_closed(recorded):
                    self._cancel_group(recorded, closed)
            except RetryableError:
                logger.warning("group not settled in time; its snipes settle it", bid_id=bid.bidId)
        return new_status.value.lower()

    # ------------------------------------------------------------------ groups

    def _group_members(self, bid: BidEntity, statuses: Sequence[BidStatus]) -> list[BidEntity]:
        """The group's other snipes in ``statuses`` (active ones: the callers ask for PENDING and
        ARMED), read through the owner's set of active snipes, not their history."""
        return [
            b
            for b in self.bids.active_snipes(bid.userId)
            if b.groupId == bid.groupId and b.bidId != bid.bidId and b.status in statuses
        ]

    def _group_closed(self, bid: BidEntity) -> str | None:
        """GROUP_WON once the group has won its limit, GROUP_STOPPED once a contingency group
        has lost one: then its other snipes have nothing left to do."""
        if not bid.groupId:
            return None
        rule = self.groups.rule(bid.userId, bid.groupId)
        ledger = self.slots.read(bid.userId, bid.groupId)
        if rule.mode == CONTINGENCY and ledger.lost:
            return GROUP_STOPPED
        return GROUP_WON if ledger.held - ledger.pending >= rule.limit else None

    def _group_closed_if_known(self, bid: BidEntity) -> str | None:
        """``_group_closed`` on claim; None when the database does not answer in time: the
        sealed snipe takes its group's slot before it bids (``_group_slot``), and that
        conditional write keeps the group's limit (I4) whatever this read would have said."""
        try:
            return self._group_closed(bid)
        except RetryableError:
            logger.warning("group not read in time; its slot decides", bid_id=bid.bidId)
            return None

    def _group_slot(self, bid: BidEntity, token: SecretStr) -> str | None:
        """Take one of the group's slots for this sealed snipe: None when it may bid, else what
        was recorded instead. The database not answering in time is tried again until the fire
        instant (taking a slot again is idempotent: a holder already holds it; a settle counts
        once), then no bid: without the slot, bidding could break the group's limit (I4)."""
        while True:
            try:
                return self._take_group_slot(bid, token)
            except RetryableError:
                if self.clock() + GROUP_RETRY_PAUSE_S > bid.fire_at_ms / 1000:
                    return self._fail(bid, GROUP_UNREAD_REASON)
                logger.warning("group slot not taken in time; trying again", bid_id=bid.bidId)
                self.sleep(GROUP_RETRY_PAUSE_S)

    def _take_group_slot(self, bid: BidEntity, token: SecretStr) -> str | None:
        """One try at the slot. A full ledger is first settled where eBay can say (siblings
        whose auctions have ended); when it still cannot be known in time, no bid (I4)."""
        assert bid.groupId
        rule = self.groups.rule(bid.userId, bid.groupId)
        contingency = rule.mode == CONTINGENCY
        if contingency and self._earlier_undecided(bid):
            return self._fail(bid, GROUP_ORDER_REASON)
        for _ in range(3):
            if self.slots.take(
                bid.userId, bid.groupId, bid.bidId, rule.limit, contingency=contingency
            ):
                return None
            if not self._settle_siblings(bid, token):
                break
        if closed := self._group_closed(bid):
            return self._cancel_for_group(bid, closed, sealed=True)
        return self._fail(bid, GROUP_UNKNOWN_REASON)

    def _earlier_undecided(self, bid: BidEntity) -> bool:
        """A contingency group bids in the order its auctions end: a sibling ending earlier
        that has not bid yet must be decided first."""
        return any(
            other.end_ms < bid.end_ms
            for other in self._group_members(bid, [BidStatus.PENDING, BidStatus.ARMED])
        )

    def _settle_siblings(self, bid: BidEntity, token: SecretStr) -> bool:
        """Settle the ledger's holders whose outcome can be known now: from their records, or
        from eBay (getBidding) for those whose auction has ended. True if any was settled."""
        assert bid.groupId
        settled = False
        ledger = self.slots.read(bid.userId, bid.groupId)
        for other_id in sorted(ledger.unsettled - {bid.bidId}):
            # A sibling the database does not answer about in time is left unsettled, as one
            # whose outcome eBay cannot say yet: the others may still free a slot.
            try:
                settled |= self._settle_sibling(bid, other_id, token)
            except (RetryableError, RecordPending) as exc:
                logger.info("sibling not settled in time", bid_id=other_id, error=repr(exc))
        return settled

    def _settle_sibling(self, bid: BidEntity, other_id: str, token: SecretStr) -> bool:
        assert bid.groupId
        other = self.bids.get(bid.userId, other_id)
        if other is None or other.status in (BidStatus.FAILED, BidStatus.CANCELLED):
            return self.slots.settle(bid.userId, bid.groupId, other_id, won=False)
        if other.status in (BidStatus.WON, BidStatus.LOST):
            won = other.status is BidStatus.WON
            return self.slots.settle(bid.userId, bid.groupId, other_id, won=won)
        if other.status is BidStatus.PLACED and self.clock() * 1000 >= other.end_ms:
            deadline = min(self.clock() + 2.0, bid.fire_at_ms / 1000 - MEASURE_UNTIL_SECONDS)
            try:
                status = self.ebay.get_bidding(token, other.itemId, deadline=deadline)
            except EbayError as exc:
                logger.info("sibling's outcome unknown", bid_id=other_id, error=repr(exc))
                return False
            if not status.is_active:
                self._record_outcome(other, status)
                return True
        return False

    def _cancel_group(self, decided: BidEntity, reason: str) -> None:
        """Cancel the decided group's unsealed snipes. A sibling the database does not answer
        about in time is skipped: its own run finds the group decided on claim and cancels
        itself (``_fire``), or, sealed, cannot take a slot (``_group_slot``)."""
        cancelled = []
        for other in self._group_members(decided, [BidStatus.PENDING, BidStatus.ARMED]):
            try:
                done = self._cancel_for_group(other, reason, decided_by=decided.bidId)
            except RecordPending:
                continue
            if done == "cancelled":
                cancelled.append(other.bidId)
        if cancelled:
            self.scheduler.cancel(cancelled)
            logger.info("group snipes cancelled", by_bid_id=decided.bidId, cancelled=cancelled)

    def _cancel_for_group(
        self, bid: BidEntity, reason: str, decided_by: str | None = None, *, sealed: bool = False
    ) -> str:
        """CANCELLED because its group is decided. Another snipe's run may do this only while
        the snipe is unsealed; a sealed one's own run does it (``sealed``)."""
        details: dict[str, Any] = {"reason": reason}
        if decided_by:
            details["decidedBy"] = decided_by
        done = self._transition(
            bid,
            {"status": BidStatus.CANCELLED, "cancelReason": reason, "countdownPhase": None},
            HistoryAction.CANCEL,
            details,
            allowed=[BidStatus.PENDING, BidStatus.ARMED],
            mine_only=sealed,
            unsealed=not sealed,
        )
        return "cancelled" if done else "claimed-elsewhere"

    # ------------------------------------------------------------------ writes

    def _still_mine(self, bid: BidEntity | None) -> bool:
        return (
            bid is not None
            and bid.status is BidStatus.ARMED
            and bid.executionId == self.execution_id
        )

    def _record_placed(
        self, bid: BidEntity, placed_at: float | None, recovered: bool = False
    ) -> BidEntity | None:
        changes: dict[str, Any] = {"status": BidStatus.PLACED, "countdownPhase": None}
        details: dict[str, Any] = {"maxBidAmount": bid.maxBidAmount}
        if placed_at is not None:
            changes["placedAt"] = round(placed_at)
            changes["msBeforeEnd"] = bid.end_ms - round(placed_at)
            details.update(placedAt=changes["placedAt"], msBeforeEnd=changes["msBeforeEnd"])
        if recovered:
            details["recovered"] = "eBay already held this bid (an earlier run was cut short)"
        placed = self._transition(
            bid, changes, HistoryAction.PLACE, details, allowed=[BidStatus.ARMED]
        )
        if placed is not None:
            logger.info(
                "snipe placed",
                bid_id=bid.bidId,
                placed_at=changes.get("placedAt"),
                ms_before_end=changes.get("msBeforeEnd"),
                recovered=recovered,
            )
        return placed

    def _fail(self, bid: BidEntity, reason: str) -> str:
        failed = self._transition(
            bid,
            {"status": BidStatus.FAILED, "failureReason": reason, "countdownPhase": None},
            HistoryAction.FAIL,
            {"reason": reason},
            allowed=[BidStatus.ARMED],
        )
        if failed is None:
            return "claimed-elsewhere"
        logger.info("snipe failed", bid_id=bid.bidId, reason=reason)
        if bid.groupId:
            # FAILED claims no bid: a slot it took goes back (a contingency group stops here).
            # Not in time: skipped, a sibling settles it from this record (_settle_siblings).
            with suppress(RetryableError):
                self.slots.settle(bid.userId, bid.groupId, bid.bidId, won=False)
        self._notify(BidStatus.FAILED.value, failed)
        return "failed"

    def _transition(
        self,
        bid: BidEntity,
        changes: dict[str, Any],
        action: HistoryAction,
        details: dict[str, Any],
        allowed: Sequence[BidStatus],
        mine_only: bool = True,
        unsealed: bool = False,
    ) -> BidEntity | None:
        """One conditional write with its history; on a version race (the price updater, a
        countdown phase) reread and retry while the snipe is still ours in an allowed status.

        A write DynamoDB does not answer in time (RetryableError: it may or may not have gone
        in) is written again as it was, after a short pause, while the invocation has time: it
        is conditional on the version, so a repeat of a write that went in fails, and is
        recognised as this write (by the data layer, or on the read after the conflict). When it
        still cannot be written, the run ends with ``RecordPending``: the follow-up after the
        end takes the snipe over and records it from eBay's word. PLACED, after eBay accepted
        the bid, tries longest (I3)."""
        conflicts = 0
        timeouts = 0
        # The write to make: kept as it is across timeouts, made anew after a conflict's read.
        write: tuple[BidEntity, Any] | None = None
        while True:
            if write is None:
                now = now_ms(self.clock)
                after = bid.model_copy(update={**changes, "updatedAt": now})
                write = (after, history_entry(after, action, now, self.history_ttl_days, details))
            after, entry = write
            try:
                return self.bids.transition(bid, after, entry, allowed=allowed, unsealed=unsealed)
            except ConflictError:
                conflicts += 1
                verdict, current = self._after_conflict(bid, after, allowed, mine_only, unsealed)
                if verdict == "written" or current is None:
                    return current
                if conflicts >= MAX_RECORD_CONFLICTS:
                    if verdict == "unread":
                        raise RecordPending(bid) from None
                    return None
                if verdict == "changed":
                    bid, write = current, None
            except RetryableError:
                timeouts += 1
                placed = after.status is BidStatus.PLACED
                if not self._may_retry_record(timeouts, persistent=placed):
                    logger.warning(
                        "outcome not recorded in time; the follow-up records it",
                        bid_id=bid.bidId,
                        status=after.status.value,
                    )
                    raise RecordPending(bid) from None
                self.sleep(_retry_pause(timeouts))

    def _after_conflict(
        self,
        bid: BidEntity,
        after: BidEntity,
        allowed: Sequence[BidStatus],
        mine_only: bool,
        unsealed: bool,
    ) -> tuple[str, BidEntity | None]:
        """What a conflicting write of ``after`` on ``bid`` found: ("written", stored) when an
        earlier attempt of this very write went in; ("changed", stored) to write it again on
        the stored snipe; ("gone", None) when the snipe is no longer this run's to record;
        ("unread", bid) when it was not read in time (the same write again decides)."""
        try:
            current = self.bids.get(bid.userId, bid.bidId)
        except RetryableError:
            return "unread", bid
        if current is not None and _wrote(current, after):
            return "written", current
        if current is None or current.status not in allowed:
            return "gone", None
        if unsealed and current.sealed:
            return "gone", None
        if mine_only and current.status is BidStatus.ARMED and not self._still_mine(current):
            return "gone", None
        return "changed", current

    def _may_retry_record(self, timeouts: int, *, persistent: bool) -> bool:
        """Whether a write that timed out ``timeouts`` times is tried again: while the
        invocation has time for an attempt (two client timeouts) and the pause, and a bound."""
        bound = MAX_PLACED_RECORD_TIMEOUTS if persistent else MAX_RECORD_TIMEOUTS
        return timeouts < bound and self.remaining_ms() > RECORD_SPARE_MS

    def _notify(self, kind: str, bid: BidEntity) -> None:
        # An email must never stand in the way of recording the outcome: failures are logged.
        try:
            self.notify(kind, bid.userId, bid.bidId)
        except Exception as exc:  # the outermost edge of a best-effort side effect
            logger.warning("notifier not invoked", bid_id=bid.bidId, kind=kind, error=repr(exc))
