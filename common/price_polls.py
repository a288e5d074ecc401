"""The price updater's logic: which items to poll, within the day's eBay budget; writing
changed prices, smart alerts and countdown phases.

The function runs every minute. Its first round polls the items due that minute, by time to
the auction's end:

| time left | every |
| --- | --- |
| > 24 h | 180 min |
| 1 h - 24 h | 60 min |
| 10 min - 1 h | 5 min |
| < 10 min | every round (below) |

An item is due when ``(minute + crc32(itemId)) % interval == 0``: stateless, and items spread
evenly over the interval instead of all polling on the hour.

In between, nothing polls on a schedule: a run is one round and ends (a run awake polling
for its whole minute was billed for it: 53 s at 256 MB, $1.73 per 1,000 watched snipes). An
open dashboard *pulls* instead: while it shows a snipe in its last 10 minutes it sends
``refreshPrices`` on its socket when the last answer's ``nextInMs`` says the next round may
run (every 10 s while it has no answer), and the WebSocket message function calls
:func:`refresh` for that user: the items of their active snipes ending within 10 minutes (and
not frozen), polled and written exactly as a round does, for every snipe of those items, whoever
owns it. The prices reach every socket through the normal path (Bids -> stream -> broadcaster).
Two conditional writes (``RefreshClaims``) keep it cheap whatever the number of dashboards: a
user's refresh runs at most every REFRESH_SECONDS (one per user, not one per tab), and an item
polled by anyone in the last REFRESH_SECONDS is not polled again (ten dashboards watching one
auction cost the eBay calls of one).
A round whose poll of the final minutes failed (eBay failed the call, it did not start before
the deadline, the deadline cut off its writes) gives the round back, so the next refresh or
minute's run polls at once, not a pace later; not after a 429 or a refused budget (a round at
once would meet the same answer), and at most once a pace (:func:`_give_back_if_failed`).

A refresh's round fills its calls' free places (typically 13 of 20 beside 7 items in their
final minutes) with items due in the *next* minute's run, soonest-ending first, and records
them (``RefreshClaims.add_carried``, once they were polled and their snipes written: not those
whose writes the round's deadline cut off); that run leaves them out (they were polled less than
a minute before it). So the hour's and far-off polls ride in calls the final minutes pay for
anyway, instead of calls of their own in the minute's run, and every getItems call not spent
on them shortens the interval the budget allows the final minutes.

Every poll is Browse getItems, up to 20 items a call (``ItemSource.items_per_call``; one while
eBay refuses this app that Limited Release method), the items soonest-ending first. Each call
is paid from the share of the app's daily getItems calls (eBay's quota for that method, apart
from the REST look-ups' one; common/data/budget.py) of the most urgent item it carries:
``final-polls`` (items ending within 10 minutes; it keeps a reserve nobody else may spend),
``hour-polls``, ``far-polls`` (capped so they cannot crowd the rest out). A call that carries a
final-minutes item carries later items in its free places at no cost. While eBay refuses this
app getItems, the polls are getItem calls, which eBay counts on its other quota: they are then
paid from that quota's counterparts of these shares (``paid_by``).

A refresh's calls are paid from ``final-polls`` like the rounds' (its reserve, then the pool);
when that share is spent for the day, a refresh polls nothing and the minute's rounds carry on
alone within what is left.

Calls are reserved from the budget first, then made on a small thread pool (``concurrency``
at a time, ``PRICE_UPDATER_CONCURRENCY``), so a slow call holds up only its own worker. Each is
bounded by the run's deadline; a call not started by then is counted in ``itemsNotPolled``,
apart from ``failures`` (eBay refused or failed a call; a write or the notifier failed). The
workers only poll and return what they found: the counts and every write happen in the calling
thread, after each round.

Smart alerts: alert when the price first exceeds the snipe's maximum; no repeat for further
rises at the same maximum (``lastAlertBidAmount == maxBidAmount``); a changed maximum re-arms it.
"""

from __future__ import annotations

import math
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from common.clock import Clock
from common.data.budget import (
    FAR_POLLS,
    FINAL_POLLS,
    HOUR_POLLS,
    Share,
    one_item_a_call,
    seconds_to_next_day,
)
from common.data.refresh_claims import Claim
from common.ebay.errors import BulkItemsDenied, EbayError, EbayRateLimited
from common.ebay.models import ItemPrice
from common.errors import DomainError
from common.models import BidEntity
from common.notifier_client import NotificationKind, Notifier
from common.observability import logger

HORIZON_SECONDS = 400 * 86400
FINAL_SECONDS = 600  # the last minutes, polled every round from a reserved share
PHASES = ("1h", "10m", "1m")
# The executor's phases come after ours; a phase only ever moves forward.
PHASE_ORDER = {"1h": 1, "10m": 2, "1m": 3, "ARMED": 4, "FIRING": 5}
DEFAULT_CONCURRENCY = 8
# A user's refresh at most this often (an open dashboard asks once per round, when
# ``nextInMs`` says; two tabs or a script asking faster get ``throttled``).
REFRESH_SECONDS = 5
# Refreshes' rounds of the final minutes, seconds apart whoever asks (:func:`pace`): never
# closer, never further than the schedule's minute.
MIN_INTERVAL = 5.0
MAX_INTERVAL = 60.0
# The minute's run keeps the pace for the refreshes this long; an older one is not trusted.
PACE_TTL_SECONDS = 180
# How long a refresh's eBay call may take (the WebSocket message function's Timeout is 10 s).
REFRESH_CALL_SECONDS = 4.0
# The rounds' writes stop this long after the deadline (the next run writes what is left):
# the function's Timeout leaves room for them.
WRITE_GRACE_SECONDS = 3.0


class ActiveBids(Protocol):
    def active_ending_between(self, start: int, end: int) -> list[BidEntity]: ...

    def get(self, user_id: str, bid_id: str) -> BidEntity | None: ...


class SnipeWriter(Protocol):
    def apply(self, bid: BidEntity, changes: dict[str, Any], now: int) -> bool: ...


class PricePoints(Protocol):
    def add_point(
        self, ebay_item_id: str, at: int, cents: int, currency: str, auction_end: int
    ) -> int: ...


class Budget(Protocol):
    """The day's shared getItems calls (common.data.budget.CallBudget)."""

    def reserve(self, share: Share, wanted: int, now: int) -> int: ...

    def plan(self, share: Share, now: int) -> int: ...


class RefreshClaims(Protocol):
    """Conditional writes that let refreshes through (common.data.refresh_claims.RefreshClaims):
    one per user every ``seconds``; one round of the final minutes every ``interval_ms``,
    whoever asks (each answers when its window reopens, taken or not), which a round whose
    poll failed gives back (at most once a pace); and the pace the minute's run set for those
    rounds."""

    def claim_user(self, user_id: str, now_ms: int, seconds: int) -> Claim: ...

    def claim_round(self, now_ms: int, interval_ms: int) -> Claim: ...

    def give_back_round(self, taken_ms: int, interval_ms: int) -> bool: ...

    def pace_ms(self, now_ms: int) -> int | None: ...

    def set_pace(self, interval_ms: int, now_ms: int, keep_seconds: int) -> None: ...

    def carried(self, minute: int) -> frozenset[str]: ...

    def add_carried(self, minute: int, items: Sequence[str], now_ms: int) -> None: ...


class ItemSource(Protocol):
    """common.ebay.EbayClient: one Browse call for up to ``items_per_call`` items."""

    @property
    def items_per_call(self) -> int: ...

    def get_items(
        self, item_ids: Sequence[str], *, deadline: float | None = None
    ) -> list[ItemPrice]: ...


class Ports(Protocol):
    """What a run or a refresh reads and writes (the price updater's:
    workers.composition.PriceUpdaterPorts; the WebSocket actions':
    realtime.composition.ActionsPorts)."""

    @property
    def bids(self) -> ActiveBids: ...

    @property
    def updates(self) -> SnipeWriter: ...

    @property
    def prices(self) -> PricePoints: ...

    @property
    def budget(self) -> Budget: ...

    @property
    def ebay(self) -> ItemSource: ...

    @property
    def notifier(self) -> Notifier: ...

    @property
    def claims(self) -> RefreshClaims: ...


@dataclass
class RunResult:
    bidsProcessed: int = 0
    itemsDue: int = 0  # due in the minute's round
    itemsCarried: int = 0  # of those, polled ahead by a refresh's round (not polled again)
    # of those, in their final minutes, left to a refresh's round less than the pace ago
    finalLeft: int = 0
    rounds: int = 0  # polling rounds (0 or 1)
    pollInterval: int = 0  # ms between refreshes' rounds of the final minutes (0: none set)
    itemPolls: int = 0  # items asked of eBay, over every round
    ebayCalls: int = 0  # reserved from the budget (itemsNotPolled's calls were not made)
    itemsOverBudget: int = 0
    priceUpdates: int = 0
    alertsSent: int = 0
    phaseUpdates: int = 0
    conflicts: int = 0
    failures: int = 0
    itemsNotPolled: int = 0  # reserved, but not started before the run's deadline
    executionTime: int = 0  # ms

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Poll:
    """One call's findings, as a worker returns them: legacy item id -> price in the snipes'
    currency. ``started`` is False when the call did not start (the deadline had passed, or
    getItems was refused before any call); ``rate_limited`` when eBay answered 429."""

    items: tuple[str, ...]
    started: bool = True
    failed: bool = False
    rate_limited: bool = False
    prices: dict[str, int] = field(default_factory=dict)


def poll_interval_minutes(seconds_left: float) -> int:
    if seconds_left > 86400:
        return 180
    if seconds_left > 3600:
        return 60
    if seconds_left > 600:
        return 5
    return 1


def is_due(ebay_item_id: str, seconds_left: float, minute: int) -> bool:
    interval = poll_interval_minutes(seconds_left)
    return (minute + zlib.crc32(ebay_item_id.encode())) % interval == 0


def poll_share(seconds_left: float) -> Share:
    """Which share of the day's Browse calls pays for polling an item ending this soon."""
    if seconds_left <= FINAL_SECONDS:
        return FINAL_POLLS
    if seconds_left <= 3600:
        return HOUR_POLLS
    return FAR_POLLS


def paid_by(share: Share, items_per_call: int) -> Share:
    """The share a poll is counted on: ``share`` for getItems' calls; while eBay refuses this
    app getItems (one item a call: getItem, counted by eBay on its other quota), its browse
    counterpart (common.data.budget.one_item_a_call)."""
    return one_item_a_call(share) if items_per_call == 1 else share


def countdown_phase(seconds_left: float) -> str | None:
    if seconds_left <= 60:
        return "1m"
    if seconds_left <= 600:
        return "10m"
    if seconds_left <= 3600:
        return "1h"
    return None


def phase_advances(current: str | None, new: str | None) -> bool:
    return new is not None and PHASE_ORDER[new] > PHASE_ORDER.get(current or "", 0)


def alert_due(bid: BidEntity, price: int) -> bool:
    """First crossing above this maximum: alert; already alerted for this maximum: don't."""
    return price > bid.maxBidAmount and bid.lastAlertBidAmount != bid.maxBidAmount


def final_demand(windows: Iterable[tuple[float, float]], per_call: int) -> float:
    """Call-seconds: the integral over time of the calls one round would need (one per
    ``per_call`` items in their final minutes at that instant), over the given windows."""
    events = sorted(
        (t, d) for start, end in windows if end > start for t, d in ((start, 1), (end, -1))
    )
    demand, active, last = 0.0, 0, 0.0
    for at, change in events:
        if active:
            demand += math.ceil(active / per_call) * (at - last)
        active += change
        last = at
    return demand


def pace(windows: Iterable[tuple[float, float]], calls: int, per_call: int) -> float:
    """Seconds between rounds of the final minutes so that ``calls`` last through the given
    windows (today's final minutes of the known snipes), within MIN_INTERVAL..MAX_INTERVAL."""
    if calls <= 0:
        return MAX_INTERVAL
    demand = final_demand(windows, per_call)
    return min(MAX_INTERVAL, max(MIN_INTERVAL, demand / calls))


class _Run:
    """One invocation: the active snipes read at its start, by item, kept current as it writes."""

    def __init__(
        self, ports: Ports, clock: Clock, deadline: float | None, concurrency: int
    ) -> None:
        self.bids, self.writer, self.prices = ports.bids, ports.updates, ports.prices
        self.budget, self.ebay, self.notifier = ports.budget, ports.ebay, ports.notifier
        self.clock = clock
        self.deadline, self.concurrency = deadline, concurrency
        self.result = RunResult()
        self.by_item: dict[str, list[BidEntity]] = defaultdict(list)
        # items whose call was made and answered and whose snipes were then written
        self.polled: set[str] = set()
        # items not polled for a reason a round at once would meet again: the budget refused
        # their call (the share is spent), or eBay answered 429 (it asks us to slow down)
        self.held_back: set[str] = set()

    def load(self, now: int, horizon: int = HORIZON_SECONDS, start: int | None = None) -> None:
        """The active snipes ending from ``start`` (default ``now``) to ``now + horizon``."""
        active = self.bids.active_ending_between(now if start is None else start, now + horizon)
        self.result.bidsProcessed += len(active)
        for bid in active:
            self.by_item[bid.ebayItemId].append(bid)

    def end(self, item_id: str) -> int:
        return min(bid.auctionEndTime for bid in self.by_item[item_id])

    def writable_until(self, item_id: str) -> int:
        """The last second a snipe of the item can still be written (its freeze)."""
        return max((bid.freeze_at for bid in self.by_item[item_id]), default=0)

    def final_items(self, now: int) -> list[str]:
        """Items in their final minutes with a snipe not frozen yet, soonest-ending first."""
        return sorted(
            (
                item
                for item in self.by_item
                if self.by_item[item]
                and self.end(item) - now <= FINAL_SECONDS
                and self.writable_until(item) > now
            ),
            key=self.end,
        )

    def due_items(self, now: int) -> list[str]:
        minute = now // 60
        return sorted(
            (item for item in self.by_item if is_due(item, self.end(item) - now, minute)),
            key=self.end,
        )

    def due_next_minute(self, now: int, room: int, carried: frozenset[str]) -> list[str]:
        """Up to ``room`` items the next minute's run will find due and not in their final
        minutes (it polls those anyway), not carried for it yet, soonest-ending first."""
        minute = now // 60 + 1
        return sorted(
            (
                item
                for item in self.by_item
                if self.by_item[item]
                and item not in carried
                and self.end(item) - minute * 60 > FINAL_SECONDS
                and is_due(item, self.end(item) - minute * 60, minute)
            ),
            key=self.end,
        )[:room]

    def final_windows(self, now: int) -> list[tuple[float, float]]:
        """Each item's final minutes still to come today (eBay's day, Pacific time), while it can
        be written."""
        midnight = now + seconds_to_next_day(now)
        return [
            (max(now, self.end(item) - FINAL_SECONDS), min(midnight, self.writable_until(item)))
            for item in self.by_item
            if self.by_item[item]
        ]

    # ------------------------------------------------------------------ a round
    def poll_round(self, items: list[str], now: int, every_bid: bool) -> None:
        """Poll ``items`` (soonest-ending first) within the budget, then write what changed.
        ``every_bid``: also move the countdown phase of snipes whose items were not polled."""
        self.result.rounds += 1
        size = max(1, self.ebay.items_per_call)
        calls = [items[start : start + size] for start in range(0, len(items), size)]
        granted: list[list[str]] = []
        for share in (FINAL_POLLS, HOUR_POLLS, FAR_POLLS):
            mine = [call for call in calls if poll_share(self.end(call[0]) - now) is share]
            if mine:
                grant = self.budget.reserve(paid_by(share, size), len(mine), now)
                granted += mine[:grant]
                self.held_back.update(item for call in mine[grant:] for item in call)
        polled = sum(len(call) for call in granted)
        self.result.itemsOverBudget += len(items) - polled
        self.result.ebayCalls += len(granted)
        self.result.itemPolls += polled

        fresh: dict[str, int] = {}
        answered: set[str] = set()
        for poll in self._poll_all(granted):
            self.result.itemsNotPolled += 0 if poll.started else len(poll.items)
            self.result.failures += poll.failed
            if poll.rate_limited:
                self.held_back.update(poll.items)
            if poll.started and not poll.failed:
                answered.update(poll.items)
            fresh.update(poll.prices)
        for item_id, price in fresh.items():
            group = self.by_item[item_id]
            if group and any(bid.currentPrice != price for bid in group):
                try:
                    self.prices.add_point(item_id, now, price, group[0].currency, self.end(item_id))
                except DomainError:
                    logger.warning("price point not stored", ebay_item_id=item_id)
        touched = self.by_item if every_bid else items
        for item_id in list(touched):
            if self.deadline is not None and self.clock() > self.deadline + WRITE_GRACE_SECONDS:
                return  # the next run writes the rest; the function's Timeout is near
            self.by_item[item_id] = [
                kept
                for bid in self.by_item[item_id]
                if (kept := self._update_bid(bid, fresh.get(item_id), now)) is not None
            ]
            if item_id in answered:
                self.polled.add(item_id)

    def _poll_all(self, calls: list[list[str]]) -> list[Poll]:
        """Every call's poll, in the order given. Leaving the pool waits for the calls in
        flight, which the deadline bounds."""
        if not calls:
            return []
        workers = max(1, min(self.concurrency, len(calls)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="price-poll") as pool:
            return list(pool.map(self._poll, calls))

    def _poll(self, items: list[str]) -> Poll:
        """Runs on a worker thread: reads shared state, returns its findings, changes nothing."""
        if self.deadline is not None and self.clock() > self.deadline:
            return Poll(tuple(items), started=False)
        try:
            found = self.ebay.get_items(
                [self.by_item[item][0].itemId for item in items], deadline=self.deadline
            )
        except BulkItemsDenied:
            return Poll(tuple(items), started=False)  # no call made; the next round asks 1 a call
        except EbayRateLimited:
            logger.warning("price poll rate limited", items=len(items))
            return Poll(tuple(items), failed=True, rate_limited=True)
        except EbayError as exc:
            logger.warning("price poll failed", items=len(items), error=type(exc).__name__)
            return Poll(tuple(items), failed=True)
        prices: dict[str, int] = {}
        for item in found:
            group = self.by_item.get(item.legacy_item_id)
            money = item.current_bid_price or item.minimum_price_to_bid
            if not group or money is None:
                continue
            if money.currency != group[0].currency:
                # A price in another currency cannot be compared with the maximum.
                logger.warning(
                    "price in another currency",
                    ebay_item_id=item.legacy_item_id,
                    currency=money.currency,
                )
                continue
            prices[item.legacy_item_id] = money.amount
        return Poll(tuple(items), prices=prices)

    # ------------------------------------------------------------------ writes
    def _update_bid(self, bid: BidEntity, price: int | None, now: int) -> BidEntity | None:
        """Write what changed; returns the snipe as it now stands (None: no longer active)."""
        result = self.result
        changes: dict[str, Any] = {}
        alert = False
        if price is not None and price != bid.currentPrice:
            changes["currentPrice"] = price
        if price is not None and alert_due(bid, price):
            alert = True
            changes["lastAlertSent"] = now * 1000
            changes["lastAlertBidAmount"] = bid.maxBidAmount
        phase = countdown_phase(bid.auctionEndTime - now)
        if phase_advances(bid.countdownPhase, phase):
            changes["countdownPhase"] = phase
        # From its freeze, or its seal (which may come sooner), the snipe is the executor's.
        if not changes or now >= bid.freeze_at or bid.sealed:
            return bid
        try:
            written = self.writer.apply(bid, changes, now)
        except DomainError:
            result.failures += 1
            logger.warning("snipe update failed", bid_id=bid.bidId)
            return bid
        if not written:
            # The user or the executor changed it meanwhile: carry on with their version.
            result.conflicts += 1
            current = self.bids.get(bid.userId, bid.bidId)
            return current if current is not None and current.status.is_active else None
        result.priceUpdates += "currentPrice" in changes
        result.phaseUpdates += "countdownPhase" in changes
        if alert:
            try:
                self.notifier.notify(NotificationKind.PRICE_ALERT, bid.userId, bid.bidId)
            except DomainError:
                result.failures += 1
                logger.warning("price alert not handed to the notifier", bid_id=bid.bidId)
            else:
                result.alertsSent += 1
        return bid.model_copy(update={**changes, "version": bid.version + 1})


def run(
    ports: Ports,
    clock: Clock = time.time,
    deadline: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> RunResult:
    """The minute's run: one round of the items due this minute, then it ends (an open
    dashboard pulls fresher prices in the final minutes: :func:`refresh`). Its round of the final
    minutes is one of the paced rounds (:func:`_claim_final_round`): less than the pace after a
    refresh's round, it leaves those items to the rounds; when its poll of them failed, it gives
    the round back (:func:`_give_back_if_failed`). When a snipe is, or will be before the next
    run, in its final minutes, it sets the pace of the rounds from the day's budget
    (:func:`pace`)."""
    started = clock()
    now = int(started)
    state = _Run(ports, clock, deadline, concurrency)
    state.load(now)
    due = state.due_items(now)
    state.result.itemsDue = len(due)
    carried = _carried(ports.claims, now // 60)
    due = [item for item in due if item not in carried or state.end(item) - now <= FINAL_SECONDS]
    state.result.itemsCarried = state.result.itemsDue - len(due)
    final = set(state.final_items(now))
    round_ = _claim_final_round(ports.claims, now * 1000) if final.intersection(due) else None
    if round_ is not None and round_.held_since is not None:
        # That round polled the items in their final minutes then; those that entered them
        # since (it neither polled them nor carried them ahead) are this run's.
        left = {item for item in final if state.end(item) - round_.held_since <= FINAL_SECONDS}
        state.result.finalLeft = sum(1 for item in due if item in left)
        due = [item for item in due if item not in left]
    state.poll_round(due, now, every_bid=True)
    if round_ is not None and round_.taken_ms is not None:
        _give_back_if_failed(
            state,
            ports.claims,
            [item for item in due if item in final],
            round_.taken_ms,
            round_.interval_ms,
        )
    if state.final_items(now + 60) or state.final_items(now):
        per_call = max(1, ports.ebay.items_per_call)
        interval = pace(
            state.final_windows(now),
            ports.budget.plan(paid_by(FINAL_POLLS, per_call), now),
            per_call,
        )
        state.result.pollInterval = round(interval * 1000)
        try:
            ports.claims.set_pace(state.result.pollInterval, now * 1000, PACE_TTL_SECONDS)
        except DomainError:
            state.result.failures += 1
            logger.warning("refresh pace not stored")
    result = state.result
    result.executionTime = int((clock() - started) * 1000)
    logger.info("price update run", **result.as_dict())
    return result


@dataclass(frozen=True, slots=True)
class _FinalRound:
    """The minute's run and the round of the final minutes. ``taken_ms``: when the run took it
    (its claim's instant; None when it did not). ``held_since``: the epoch second of the
    refresh's round that holds it, less than the pace ago (None: the run polls the final
    minutes). ``interval_ms``: the pace the claim was asked with."""

    taken_ms: int | None
    held_since: int | None
    interval_ms: int


def _claim_final_round(claims: RefreshClaims, now_ms: int) -> _FinalRound:
    """Whether the minute's round polls the final minutes: as a refresh's round does, it takes
    the round of the final minutes (``claim_round``, at the pace the last run set), so the
    pace the budget planned holds for every round, the minute's own included. Refused, the
    refresh's round that holds it, less than the pace ago, has the fresher prices and the run
    leaves it the items in their final minutes then. When the claims cannot be read, it polls
    them without the round (the budget still bounds each call)."""
    interval_ms = round(MIN_INTERVAL * 1000)
    try:
        interval_ms = claims.pace_ms(now_ms) or interval_ms
        claim = claims.claim_round(now_ms, interval_ms)
    except DomainError:
        logger.warning("final minutes' round not claimed")
        return _FinalRound(None, None, interval_ms)
    if claim:
        return _FinalRound(now_ms, None, interval_ms)
    return _FinalRound(None, (now_ms + claim.reopens_in_ms - interval_ms) // 1000, interval_ms)


def _give_back_if_failed(
    state: _Run, claims: RefreshClaims, final: Sequence[str], taken_ms: int, interval_ms: int
) -> bool:
    """Give back the round of the final minutes taken at ``taken_ms`` when its poll of the items
    in their final minutes (``final``) failed, so the next refresh or minute's run polls them at
    once instead of a pace later; True when given back.

    Failed: an item was not answered and written (eBay failed the call: a 5xx, a timeout; the
    call did not start before the deadline; the deadline cut off the writes). Not given back
    when a round at once would meet the same answer and spend calls for nothing: the budget
    refused the call (the share is spent until eBay's midnight), or eBay answered 429 (it asks
    us to slow down: the pace stands). And the claims give a round back at most once a pace
    (``give_back_round``'s condition), so a failing eBay costs at most one round more per pace,
    never a loop of rounds; the next run's plan counts the calls it spent."""
    missed = {item for item in final if item not in state.polled}
    if not missed or missed & state.held_back:
        return False
    try:
        given = claims.give_back_round(taken_ms, interval_ms)
    except DomainError:
        logger.warning("failed round not given back")  # it ages out a pace after it was taken
        return False
    logger.info("failed round given back" if given else "failed round kept", items=len(missed))
    return given


def _carried(claims: RefreshClaims, minute: int) -> frozenset[str]:
    """What refreshes' rounds polled ahead of ``minute``'s run; none when it cannot be read (the
    run then polls them again: a call perhaps, never a poll missed)."""
    try:
        return claims.carried(minute)
    except DomainError:
        logger.warning("items polled ahead not read")
        return frozenset()


def _carry_ahead(state: _Run, claims: RefreshClaims, final: list[str], now: int) -> list[str]:
    """Items due in the next minute's run for the free places of the calls ``final`` needs
    (module docstring), the snipes of those items loaded into ``state``."""
    room = -len(final) % max(1, state.ebay.items_per_call)
    if not room:
        return []
    try:
        carried = claims.carried(now // 60 + 1)
        state.load(now, HORIZON_SECONDS, start=now + FINAL_SECONDS + 1)
    except DomainError:
        logger.warning("items due next minute not read")
        return []
    return state.due_next_minute(now, room, carried)


@dataclass
class RefreshResult:
    """What one ``refreshPrices`` did. ``throttled``: the user's last refresh was less than
    REFRESH_SECONDS ago (nothing read or polled). ``items``: the user's items in their final
    minutes. ``shared``: a round of the final minutes ran less than the pace ago, whoever asked
    for it, so none now (its prices reach every socket through the stream). ``nextInMs``: how
    long until this user's next refresh may run a round: after a round it ran, the pace (what
    is left of the user's own window when that round failed and gave the round back); when
    ``shared``, what is left of the pace since that round, but not before the user's own
    window reopens (REFRESH_SECONDS from now: asking sooner is ``throttled``); when
    ``throttled``, when the user's window reopens. 0 without ``items``."""

    throttled: bool = False
    items: int = 0
    shared: bool = False
    itemPolls: int = 0
    ebayCalls: int = 0
    itemsOverBudget: int = 0
    priceUpdates: int = 0
    alertsSent: int = 0
    failures: int = 0
    nextInMs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def refresh(user_id: str, ports: Ports, clock: Clock = time.time) -> RefreshResult:
    """A round of the final minutes now, for an open dashboard of ``user_id``: when one of
    their active snipes is in its final minutes (not frozen), every item in its final minutes
    is polled (20 a call, whoever's snipes they carry: one call serves every dashboard), the
    calls' free places carrying items due in the next minute's run, and what changed is
    written to every snipe of those items, as the minute's round does.

    At most one refresh per user every REFRESH_SECONDS, and one round whoever asks every
    interval the minute's run paced from the day's budget (MIN_INTERVAL when it set none):
    ten dashboards cost the eBay calls of one."""
    started = clock()
    now, now_ms = int(started), int(started * 1000)
    claims = ports.claims
    user = claims.claim_user(user_id, now_ms, REFRESH_SECONDS)
    if not user:
        return RefreshResult(throttled=True, nextInMs=user.reopens_in_ms)
    state = _Run(ports, clock, started + REFRESH_CALL_SECONDS, DEFAULT_CONCURRENCY)
    state.load(now, FINAL_SECONDS)
    final = state.final_items(now)
    mine = [item for item in final if any(bid.userId == user_id for bid in state.by_item[item])]
    result = RefreshResult(items=len(mine))
    if not mine:
        return result
    interval_ms = claims.pace_ms(now_ms) or round(MIN_INTERVAL * 1000)
    round_ = claims.claim_round(now_ms, interval_ms)
    result.nextInMs = max(round_.reopens_in_ms, user.reopens_in_ms)
    if not round_:
        result.shared = True
        return result
    ahead = _carry_ahead(state, claims, final, now)
    state.poll_round(final + ahead, now, every_bid=False)
    if _give_back_if_failed(state, claims, final, now_ms, interval_ms):
        # the next round may run at once: this user's at the end of their own window
        result.nextInMs = user.reopens_in_ms
    if carried := [item for item in ahead if item in state.polled]:
        try:
            claims.add_carried(now // 60 + 1, carried, now_ms)
        except DomainError:
            logger.warning("items polled ahead not recorded")  # the next run polls them again
    done = state.result
    result.itemPolls, result.ebayCalls = done.itemPolls, done.ebayCalls
    result.itemsOverBudget, result.priceUpdates = done.itemsOverBudget, done.priceUpdates
    result.alertsSent, result.failures = done.alertsSent, done.failures
    logger.info("prices refreshed", user_id=user_id, **result.as_dict())
    return result
