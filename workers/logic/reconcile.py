"""The snipe reconciler: nothing waits forever.

A snipe's executor is woken by a one-time schedule, or by an asynchronous invoke when the snipe is
close to its end (common/scheduling.py). Either can be lost: a delivery that never came, a
function killed between committing the snipe and making its schedule, an invoke Lambda dropped.
Nothing else would then look at the snipe: PENDING forever, no bid, no word to the user. Every
minute the reconciler reads the ``ActiveByEndTime`` index (two key ranges, a bounded number of
pages, never a scan) and invokes the bid executor (Lambda ``Event``, ``{"userId", "bidId",
"purpose": "reconcile"}``) for

- **overdue** snipes: still PENDING when ``now >= fire_at - OVERDUE_BEFORE_FIRE_SECONDS`` and
  the auction has not ended. A schedule wakes the executor at least 90 s before the fire instant
  and its first act is the claim (PENDING -> ARMED), so a snipe still PENDING 60 s before it has
  lost its wake-up. Found by a run 0-60 s after that (the schedule's minute), the executor bids
  with what time is left;
- **stale** snipes: still active (PENDING, ARMED, PLACED) ``STALE_AFTER_END_SECONDS`` after the
  auction's end. The executor owns every decision about money and every final state: it asks
  eBay whether it holds our bid, and records PLACED and the outcome, FAILED with the reason in
  words, or the outcome as unknown, and the notifier emails the user. The reconciler never
  writes a snipe.

A duplicate wake-up is harmless (the executor's claim is a conditional write), but the
reconciler does not invoke for the same snipe every minute: it records each invocation on a
mark (common/data/reconcile.py) written on the attempt count it read, so concurrent runs invoke
once, and invokes again only after the mark's ``nextAt``: an overdue snipe once more a run later
(if its first wake was lost too), a stale one after 15 min, then doubling up to a day.

The order of work is the order of urgency: overdue snipes first (their auctions end within
seconds), then stale ones, at most ``MAX_SETTLES_PER_RUN`` invocations of them. A run stops
reading at ``MAX_PAGES`` pages of ``PAGE_SIZE`` per range and at its deadline; what it did not
reach is counted (``notReached``) and left for the next minute.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from common.clock import Clock
from common.data.reconcile import ReconcileMark
from common.errors import RetryableError
from common.models import BidEntity, BidStatus
from common.observability import logger

# The executor is awake at least 90 s before the fire instant (common.scheduling); 60 s before
# it, a PENDING snipe has lost its wake-up.
OVERDUE_BEFORE_FIRE_SECONDS = 60
# The executor settles a snipe within a minute or two of the end, or keeps asking eBay for up to
# an hour (its outcome follow-ups); active an hour after the end, nothing is looking at it.
STALE_AFTER_END_SECONDS = 3600
# The longest lead a snipe may have (common.models.LeadSeconds): overdue snipes end at most
# OVERDUE_BEFORE_FIRE_SECONDS + this after now.
MAX_LEAD_SECONDS = 30
PAGE_SIZE = 100
MAX_PAGES = 5
MAX_SETTLES_PER_RUN = 50
# An overdue snipe still PENDING at the next run (a minute later) is woken once more.
WAKE_RETRY_SECONDS = 45
SETTLE_RETRY_SECONDS = 15 * 60
SETTLE_RETRY_MAX_SECONDS = 86400
# A mark outlives its next attempt by this long, then TTL removes it.
MARK_KEEP_SECONDS = 2 * 86400

WAKE = "WAKE"
SETTLE = "SETTLE"
PURPOSE = "reconcile"


class ActiveSnipes(Protocol):
    def ending_between(
        self, start: int, end: int, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[BidEntity], dict[str, Any] | None]: ...


class Marks(Protocol):
    def get(self, bid_id: str, kind: str) -> ReconcileMark | None: ...

    def record(
        self,
        bid: BidEntity,
        kind: str,
        previous: ReconcileMark | None,
        mark: ReconcileMark,
        expires_at: int,
    ) -> bool: ...


class ExecutorWaker(Protocol):
    """Invokes the bid executor for a snipe (asynchronously); RetryableError if it could not."""

    def wake(self, user_id: str, bid_id: str) -> None: ...


@dataclass
class RunResult:
    snipesRead: int = 0
    overdueWoken: int = 0
    staleSettleRequested: int = 0
    recentlyInvoked: int = 0  # due, but invoked within its mark's wait (or by a concurrent run)
    invokeFailures: int = 0  # the mark or the invoke failed; the next run tries again
    notReached: int = 0  # ranges left unread or snipes left unhandled: page limit or deadline
    executionTime: int = 0  # ms

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def end_seconds(bid: BidEntity) -> float:
    return bid.end_ms / 1000


def is_overdue(bid: BidEntity, now: float) -> bool:
    """PENDING although its executor should have claimed it by now, and still biddable."""
    return (
        bid.status is BidStatus.PENDING
        and now >= bid.fire_at_ms / 1000 - OVERDUE_BEFORE_FIRE_SECONDS
        and now < end_seconds(bid)
    )


def is_stale(bid: BidEntity, now: float) -> bool:
    """Still active long after its auction ended."""
    return bid.status.is_active and now >= end_seconds(bid) + STALE_AFTER_END_SECONDS


def retry_after(kind: str, attempts: int) -> int:
    """Seconds after the ``attempts``-th invocation before another one."""
    if kind == WAKE:
        return WAKE_RETRY_SECONDS
    return int(min(SETTLE_RETRY_SECONDS * 2 ** (attempts - 1), SETTLE_RETRY_MAX_SECONDS))


def run(
    snipes: ActiveSnipes,
    marks: Marks,
    executor: ExecutorWaker,
    clock: Clock,
    deadline: float,
    *,
    page_size: int | None = None,
    max_pages: int | None = None,
    max_settles: int | None = None,
) -> RunResult:
    """One pass; ``deadline`` (epoch s, the clock's) is when to stop starting work."""
    started = time.perf_counter()
    result = RunResult()
    pages = MAX_PAGES if max_pages is None else max_pages
    size = PAGE_SIZE if page_size is None else page_size
    settles_left = MAX_SETTLES_PER_RUN if max_settles is None else max_settles
    now = clock()

    soon = (math.floor(now), math.ceil(now) + OVERDUE_BEFORE_FIRE_SECONDS + MAX_LEAD_SECONDS)
    for bid in _read(snipes, soon, size, pages, clock, deadline, result):
        if is_overdue(bid, clock()):
            if clock() >= deadline:
                result.notReached += 1
                continue
            if _invoke_once(bid, WAKE, marks, executor, clock, result):
                result.overdueWoken += 1
                logger.warning(
                    "overdue snipe woken",
                    bid_id=bid.bidId,
                    seconds_to_fire=round(bid.fire_at_ms / 1000 - clock(), 1),
                )

    if clock() < deadline:
        ended = (0, math.floor(now) - STALE_AFTER_END_SECONDS)
        for bid in _read(snipes, ended, size, pages, clock, deadline, result):
            if not is_stale(bid, clock()):
                continue
            if settles_left <= 0 or clock() >= deadline:
                result.notReached += 1
                continue
            if _invoke_once(bid, SETTLE, marks, executor, clock, result):
                settles_left -= 1
                result.staleSettleRequested += 1
                logger.warning(
                    "stale snipe handed to the executor to settle",
                    bid_id=bid.bidId,
                    status=bid.status.value,
                    seconds_since_end=round(clock() - end_seconds(bid)),
                )
    else:
        result.notReached += 1

    result.executionTime = int((time.perf_counter() - started) * 1000)
    logger.info("reconcile run", **result.as_dict())
    return result


def _read(
    snipes: ActiveSnipes,
    window: tuple[int, int],
    size: int,
    pages: int,
    clock: Clock,
    deadline: float,
    result: RunResult,
) -> Iterator[BidEntity]:
    """The active snipes ending in ``window``, page by page, while pages and time last."""
    start_key: dict[str, Any] | None = None
    for _ in range(pages):
        page, start_key = snipes.ending_between(window[0], window[1], size, start_key)
        result.snipesRead += len(page)
        yield from page
        if start_key is None:
            return
        if clock() >= deadline:
            break
    result.notReached += 1
    logger.warning("reconcile run stopped before the end of a range", start=window[0])


def _invoke_once(
    bid: BidEntity,
    kind: str,
    marks: Marks,
    executor: ExecutorWaker,
    clock: Clock,
    result: RunResult,
) -> bool:
    """Record the attempt on the snipe's mark, then invoke; False when not due or not ours.
    Recorded first: a run that dies in between leaves a mark and no invocation, which the next
    attempt after ``nextAt`` makes up for; the other order could invoke twice per attempt."""
    now = int(clock())
    try:
        previous = marks.get(bid.bidId, kind)
        if previous is not None and previous.next_at > now:
            result.recentlyInvoked += 1
            return False
        attempts = (previous.attempts if previous else 0) + 1
        mark = ReconcileMark(attempts, now, now + retry_after(kind, attempts))
        if not marks.record(bid, kind, previous, mark, mark.next_at + MARK_KEEP_SECONDS):
            result.recentlyInvoked += 1
            return False
        executor.wake(bid.userId, bid.bidId)
    except RetryableError as exc:
        result.invokeFailures += 1
        logger.warning("reconcile invoke failed", bid_id=bid.bidId, kind=kind, error=repr(exc))
        return False
    return True
