"""The price updater's logic: which items to poll this minute, within the day's eBay budget;
writing changed prices, smart alerts and countdown phases.

Polling cadence by time to the auction's end (the function runs every minute):

| time left | every |
| --- | --- |
| > 24 h | 180 min |
| 1 h - 24 h | 60 min |
| 10 min - 1 h | 5 min |
| < 10 min | every run (as the budget allows) |

An item is due when ``(minute + crc32(itemId)) % interval == 0``: stateless, and items spread
evenly over the interval instead of all polling on the hour. Due items are served soonest-ending
first, each from its share of the app's daily Browse calls (common/data/budget.py), which the
REST look-ups draw from too: items ending within 10 minutes from ``final-polls``, which keeps a
reserve nobody else may spend, so the last minutes of every auction keep their polls; within the
hour from ``hour-polls``; later ones from ``far-polls``, capped so they cannot crowd the rest out.

The calls are reserved from the budget first, then made on a small thread pool (``concurrency``
at a time, ``PRICE_UPDATER_CONCURRENCY``): one call per item, so a slow or hanging eBay call
holds up only its own worker, never the items behind it. Each call is bounded by the run's
deadline; an item whose call has not started by then is counted in ``itemsNotPolled``, apart
from ``failures`` (eBay refused or failed the call; a write or the notifier failed). The workers
only poll and return what they found: the run's counts and every write happen afterwards, in
the calling thread.

Smart alerts: alert when the price first exceeds the snipe's maximum; no repeat for further
rises at the same maximum (``lastAlertBidAmount == maxBidAmount``); a changed maximum re-arms it.
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from common.clock import Clock
from common.data.budget import FAR_POLLS, FINAL_POLLS, HOUR_POLLS, Share
from common.ebay.errors import EbayError
from common.ebay.models import EbayItem
from common.errors import DomainError
from common.models import BidEntity
from common.notify import NotificationKind, Notifier
from common.observability import logger

HORIZON_SECONDS = 400 * 86400
FINAL_SECONDS = 600  # the last minutes, polled every run from a reserved share
PHASES = ("1h", "10m", "1m")
# The executor's phases come after ours; a phase only ever moves forward.
PHASE_ORDER = {"1h": 1, "10m": 2, "1m": 3, "ARMED": 4, "FIRING": 5}
DEFAULT_CONCURRENCY = 8


class ActiveBids(Protocol):
    def active_ending_between(self, start: int, end: int) -> list[BidEntity]: ...


class SnipeWriter(Protocol):
    def apply(self, bid: BidEntity, changes: dict[str, Any], now: int) -> bool: ...


class PricePoints(Protocol):
    def add_point(
        self, ebay_item_id: str, at: int, cents: int, currency: str, auction_end: int
    ) -> int: ...


class Budget(Protocol):
    """The day's shared Browse calls (common.data.budget.CallBudget)."""

    def reserve(self, share: Share, wanted: int, now: int) -> int: ...


class ItemSource(Protocol):
    def get_item(self, item_id: str, *, deadline: float | None = None) -> EbayItem: ...


@dataclass
class RunResult:
    bidsProcessed: int = 0
    itemsDue: int = 0
    ebayCalls: int = 0  # reserved from the budget (itemsNotPolled of them were not made)
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
    """One item's poll, as a worker returns it. ``price`` is None when the call did not start,
    failed, or gave no usable price."""

    item_id: str
    started: bool = True
    failed: bool = False
    price: int | None = None


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


def run(
    bids: ActiveBids,
    writer: SnipeWriter,
    prices: PricePoints,
    budget: Budget,
    ebay: ItemSource,
    notifier: Notifier,
    clock: Clock = time.time,
    deadline: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> RunResult:
    started = clock()
    now = int(started)
    result = RunResult()
    active = bids.active_ending_between(now, now + HORIZON_SECONDS)
    result.bidsProcessed = len(active)
    by_item: dict[str, list[BidEntity]] = defaultdict(list)
    for bid in active:
        by_item[bid.ebayItemId].append(bid)

    minute = now // 60
    ends = {item: min(b.auctionEndTime for b in group) for item, group in by_item.items()}
    due = sorted(
        (item for item in by_item if is_due(item, ends[item] - now, minute)), key=ends.__getitem__
    )
    result.itemsDue = len(due)
    polled: list[str] = []
    for share in (FINAL_POLLS, HOUR_POLLS, FAR_POLLS):
        items = [item for item in due if poll_share(ends[item] - now) is share]
        if items:
            polled += items[: budget.reserve(share, len(items), now)]
    result.itemsOverBudget = len(due) - len(polled)
    result.ebayCalls = len(polled)

    fresh: dict[str, int] = {}
    for poll in _poll_all(polled, by_item, ebay, clock, deadline, concurrency):
        result.itemsNotPolled += not poll.started
        result.failures += poll.failed
        if poll.price is None:
            continue
        item_id, price = poll.item_id, poll.price
        fresh[item_id] = price
        if any(b.currentPrice != price for b in by_item[item_id]):
            try:
                prices.add_point(item_id, now, price, by_item[item_id][0].currency, ends[item_id])
            except DomainError:
                logger.warning("price point not stored", ebay_item_id=item_id)

    for item_id, group in by_item.items():
        for bid in group:
            _update_bid(bid, fresh.get(item_id), now, writer, notifier, result)

    result.executionTime = int((clock() - started) * 1000)
    logger.info("price update run", **result.as_dict())
    return result


def _poll_all(
    items: list[str],
    by_item: dict[str, list[BidEntity]],
    ebay: ItemSource,
    clock: Clock,
    deadline: float | None,
    concurrency: int,
) -> list[Poll]:
    """Every item's poll, in the order given. Leaving the pool waits for the calls in flight,
    which the deadline bounds."""
    if not items:
        return []
    workers = max(1, min(concurrency, len(items)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="price-poll") as pool:
        return list(
            pool.map(lambda item_id: _poll(item_id, by_item[item_id], ebay, clock, deadline), items)
        )


def _poll(
    item_id: str,
    group: list[BidEntity],
    ebay: ItemSource,
    clock: Clock,
    deadline: float | None,
) -> Poll:
    """Runs on a worker thread: reads shared state, returns its findings, changes nothing."""
    if deadline is not None and clock() > deadline:
        return Poll(item_id, started=False)
    try:
        item = ebay.get_item(group[0].itemId, deadline=deadline)
    except EbayError as exc:
        logger.warning("price poll failed", ebay_item_id=item_id, error=type(exc).__name__)
        return Poll(item_id, failed=True)
    money = item.current_bid_price or item.minimum_price_to_bid
    if money is None:
        return Poll(item_id)
    if money.currency != group[0].currency:
        # A price in another currency cannot be compared with the maximum.
        logger.warning("price in another currency", ebay_item_id=item_id, currency=money.currency)
        return Poll(item_id)
    return Poll(item_id, price=money.amount)


def _update_bid(
    bid: BidEntity,
    price: int | None,
    now: int,
    writer: SnipeWriter,
    notifier: Notifier,
    result: RunResult,
) -> None:
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
        return
    try:
        written = writer.apply(bid, changes, now)
    except DomainError:
        result.failures += 1
        logger.warning("snipe update failed", bid_id=bid.bidId)
        return
    if not written:
        # The user or the executor changed it meanwhile; the next run sees their version.
        result.conflicts += 1
        return
    result.priceUpdates += "currentPrice" in changes
    result.phaseUpdates += "countdownPhase" in changes
    if alert:
        try:
            notifier.notify(NotificationKind.PRICE_ALERT, bid.userId, bid.bidId)
        except DomainError:
            result.failures += 1
            logger.warning("price alert not handed to the notifier", bid_id=bid.bidId)
            return
        result.alertsSent += 1
