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

Then, until just before its deadline, the run keeps polling the items in their last 10 minutes
(whose snipes can still be written: not frozen) every ``interval`` seconds (:func:`pace`): a
price change there reaches the dashboard within seconds, not at the next minute. Only while
the dashboard is open: the run stays awake for it only while an owner of those snipes has a
WebSocket open (``Watchers``, checked before each round), since a run awake for its whole
minute is billed for it (53 s at 256 MB: $1.73 per 1,000 snipes whose last minutes nobody
shares, four times everything else a snipe costs; docs/deployment.md, "Cost"). Unwatched,
those items are polled in each minute's first round, as every item is, and their alerts come
from it.

Every poll is Browse getItems, up to 20 items a call (``ItemSource.items_per_call``; one while
eBay refuses this app that Limited Release method), the items soonest-ending first. Each call
is paid from the share of the app's daily Browse calls (common/data/budget.py) of the most
urgent item it carries, which the REST look-ups draw from too: ``final-polls`` (items ending
within 10 minutes; it keeps a reserve nobody else may spend), ``hour-polls``, ``far-polls``
(capped so they cannot crowd the rest out). A call that carries a final-minutes item carries
later items in its free places at no cost.

The pace is the budget's share by urgency, over time: the final minutes' calls left for today
(``Budget.plan``: its reserve and what the others leave of the pool) spread over the seconds of
today during which known snipes are in their final minutes, each second costing one call per
20 items then in their final minutes: at least MIN_INTERVAL, at most MAX_INTERVAL apart.
Snipes created later today are counted from the run after their creation on.

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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from common.clock import Clock
from common.data.budget import (
    FAR_POLLS,
    FINAL_POLLS,
    HOUR_POLLS,
    Share,
    seconds_to_next_day,
)
from common.ebay.errors import BulkItemsDenied, EbayError
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
# Rounds of the final minutes, seconds apart: never closer (a change then reaches the
# dashboard within about this plus a second), never further than the schedule's minute.
MIN_INTERVAL = 5.0
MAX_INTERVAL = 60.0
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
    """The day's shared Browse calls (common.data.budget.CallBudget)."""

    def reserve(self, share: Share, wanted: int, now: int) -> int: ...

    def plan(self, share: Share, now: int) -> int: ...


class Watchers(Protocol):
    """Who has the dashboard open (common.data.connections.ConnectionsRepository)."""

    def connection_ids_by_user(self, user_ids: Sequence[str]) -> dict[str, list[str]]: ...


class ItemSource(Protocol):
    """common.ebay.EbayClient: one Browse call for up to ``items_per_call`` items."""

    @property
    def items_per_call(self) -> int: ...

    def get_items(
        self, item_ids: Sequence[str], *, deadline: float | None = None
    ) -> list[ItemPrice]: ...


class Ports(Protocol):
    """What a run reads and writes (the function's: workers.composition.PriceUpdaterPorts)."""

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
    def watchers(self) -> Watchers: ...


@dataclass
class RunResult:
    bidsProcessed: int = 0
    itemsDue: int = 0  # due in the minute's first round
    rounds: int = 0  # polling rounds (the first and those of the final minutes)
    itemPolls: int = 0  # items asked of eBay, over every round
    ebayCalls: int = 0  # reserved from the budget (itemsNotPolled's calls were not made)
    itemsOverBudget: int = 0
    priceUpdates: int = 0
    alertsSent: int = 0
    phaseUpdates: int = 0
    conflicts: int = 0
    failures: int = 0
    itemsNotPolled: int = 0  # reserved, but not started before the run's deadline
    pollInterval: int = 0  # ms between rounds of the final minutes (0: none this run)
    unwatched: bool = False  # final minutes' rounds stopped: nobody had the dashboard open
    executionTime: int = 0  # ms

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Poll:
    """One call's findings, as a worker returns them: legacy item id -> price in the snipes'
    currency. ``started`` is False when the call did not start (the deadline had passed, or
    getItems was refused before any call)."""

    items: tuple[str, ...]
    started: bool = True
    failed: bool = False
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
        self.watchers, self.clock = ports.watchers, clock
        self.deadline, self.concurrency = deadline, concurrency
        self.result = RunResult()
        self.by_item: dict[str, list[BidEntity]] = defaultdict(list)

    def load(self, now: int) -> None:
        active = self.bids.active_ending_between(now, now + HORIZON_SECONDS)
        self.result.bidsProcessed = len(active)
        for bid in active:
            self.by_item[bid.ebayItemId].append(bid)

    def end(self, item_id: str) -> int:
        return min(bid.auctionEndTime for bid in self.by_item[item_id])

    def watched(self, now: int, deadline: float) -> bool:
        """Whether an owner of a snipe that is, or will be before ``deadline``, in its final
        minutes (and not frozen) has the dashboard open. True when there is none (the loop
        ends on its own then) or when the connections cannot be read (as before this check)."""
        owners = sorted(
            {
                bid.userId
                for item, bids in self.by_item.items()
                if bids
                and self.end(item) - FINAL_SECONDS < deadline
                and self.writable_until(item) > now
                for bid in bids
            }
        )
        if not owners:
            return True
        try:
            return any(self.watchers.connection_ids_by_user(owners).values())
        except DomainError:
            self.result.failures += 1
            logger.warning("open dashboards not read: polling on", users=len(owners))
            return True

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

    def final_windows(self, now: int) -> list[tuple[float, float]]:
        """Each item's final minutes still to come today (UTC), while it can be written."""
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
                granted += mine[: self.budget.reserve(share, len(mine), now)]
        polled = sum(len(call) for call in granted)
        self.result.itemsOverBudget += len(items) - polled
        self.result.ebayCalls += len(granted)
        self.result.itemPolls += polled

        fresh: dict[str, int] = {}
        for poll in self._poll_all(granted):
            self.result.itemsNotPolled += 0 if poll.started else len(poll.items)
            self.result.failures += poll.failed
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
        if not changes or now >= bid.freeze_at:
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
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """The minute's run: its first round, then the final minutes' rounds until ``deadline``
    (none without a deadline) while an owner of those snipes has the dashboard open."""
    started = clock()
    now = int(started)
    state = _Run(ports, clock, deadline, concurrency)
    state.load(now)
    due = state.due_items(now)
    state.result.itemsDue = len(due)
    state.poll_round(due, now, every_bid=True)

    if deadline is not None and state.final_items(now):
        per_call = max(1, ports.ebay.items_per_call)
        interval = pace(state.final_windows(now), ports.budget.plan(FINAL_POLLS, now), per_call)
        state.result.pollInterval = round(interval * 1000)
        next_round = started + interval
        # Nobody would see these prices before the next minute's first round: no more rounds.
        state.result.unwatched = not state.watched(now, deadline)
        while not state.result.unwatched:
            # A round that overran its interval is followed at once, not twice.
            next_round = max(next_round, clock())
            if next_round >= deadline:
                break
            if next_round > clock():
                sleep(next_round - clock())
            now = int(clock())
            final = state.final_items(now)
            if not final and not any(
                state.end(item) - FINAL_SECONDS < deadline and state.writable_until(item) > now
                for item in state.by_item
                if state.by_item[item]
            ):
                break  # nothing is, or will be before the deadline, in its final minutes
            if not state.watched(now, deadline):
                state.result.unwatched = True
                break
            if final:
                state.poll_round(final, now, every_bid=False)
            next_round += interval

    result = state.result
    result.executionTime = int((clock() - started) * 1000)
    logger.info("price update run", **result.as_dict())
    return result
