"""The price updater's rules with fakes: smart alerts, cadence, budget, countdown phases,
polling on a thread pool (a blocked call, exact counts, the deadline), getItems' 20 items a
call, one round a run, and the final minutes pulled by open dashboards' refreshes (one a user
every 5 s, one round whoever asks at the pace the run sets from the budget)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from common import price_polls as logic
from common.data.budget import FINAL_POLLS, FINAL_POLLS_1, Share
from common.ebay.errors import BulkItemsDenied, EbayRateLimited, EbayUnavailable
from common.ebay.models import ItemPrice, Money
from common.models import BidEntity, BidStatus
from common.notifier_client import NotificationKind
from tests.memory import MemoryRefreshClaims as FakeClaims

NOW = 1_900_000_020  # second 20 of a minute


def _bid(**fields: Any) -> BidEntity:
    data: dict[str, Any] = {
        "userId": "u1",
        "bidId": "b1",
        "ebayItemId": "110000000001",
        "itemId": "v1|110000000001|0",
        "maxBidAmount": 5000,
        "currency": "USD",
        "leadSeconds": 6,
        "status": BidStatus.PENDING,
        "auctionEndTime": NOW + 300,
        "itemTitle": "Leica",
        "createdAt": 1,
        "updatedAt": 1,
    }
    data.update(fields)
    return BidEntity(**data)


@dataclass
class FakeStore:
    """Active snipes in memory; apply() mirrors SnipeUpdates' condition."""

    bids: dict[str, BidEntity] = field(default_factory=dict)
    points: list[tuple[str, int, int]] = field(default_factory=list)

    def active_ending_between(self, start: int, end: int) -> list[BidEntity]:
        return [b for b in self.bids.values() if start <= b.auctionEndTime <= end]

    def get(self, user_id: str, bid_id: str) -> BidEntity | None:
        return self.bids.get(bid_id)

    def apply(self, bid: BidEntity, changes: dict[str, Any], now: int) -> bool:
        stored = self.bids[bid.bidId]
        if stored.version != bid.version or stored.status != bid.status:
            return False
        if stored.sealed or now >= stored.freeze_at:  # SnipeUpdates' condition
            return False
        self.bids[bid.bidId] = stored.model_copy(update={**changes, "version": bid.version + 1})
        return True

    def add_point(self, ebay_item_id: str, at: int, cents: int, currency: str, end: int) -> int:
        self.points.append((ebay_item_id, at, cents))
        return len(self.points)


@dataclass
class FakeBudget:
    """CallBudget's interface: ``limit_left`` calls in all, or ``per_share`` for some shares."""

    limit_left: int = 10_000
    per_share: dict[str, int] = field(default_factory=dict)
    asked: list[tuple[str, int]] = field(default_factory=list)

    def plan(self, share: Share, now: int) -> int:
        return min(self.limit_left, self.per_share.get(share.name, self.limit_left))

    def reserve(self, share: Share, wanted: int, now: int) -> int:
        self.asked.append((share.name, wanted))
        left = min(self.limit_left, self.per_share.get(share.name, self.limit_left))
        grant = max(0, min(wanted, left))
        self.limit_left -= grant
        if share.name in self.per_share:
            self.per_share[share.name] -= grant
        return grant


@dataclass
class FakeEbay:
    """Prices by legacy id, ``per_call`` items a call (getItems' 20; 1 as without it). Called
    from the updater's worker threads: ``on_call`` (given the call's first legacy id) lets a
    test hold a call or make calls meet; ``calls`` lists each call's RESTful ids."""

    prices: dict[str, int] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)
    fail: bool = False
    rate_limited: bool = False
    failing: set[str] = field(default_factory=set)
    on_call: Callable[[str], object] | None = None
    threads: set[str] = field(default_factory=set)
    per_call: int = 20
    refuse_bulk: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def items_per_call(self) -> int:
        return self.per_call

    def get_items(self, item_ids: list[str], *, deadline: float | None = None) -> list[ItemPrice]:
        assert len(item_ids) <= self.per_call
        if self.refuse_bulk and len(item_ids) > 1:
            self.per_call = 1  # as the client: one item a call from now on
            raise BulkItemsDenied("getItems is refused to this app")
        legacy = [item_id.split("|")[1] for item_id in item_ids]
        with self.lock:
            self.calls.append(list(item_ids))
            self.threads.add(threading.current_thread().name)
        if self.on_call is not None:
            self.on_call(legacy[0])
        if self.rate_limited:
            raise EbayRateLimited("too many requests", http_status=429)
        if self.fail or self.failing & set(legacy):
            raise EbayUnavailable("down")
        return [
            ItemPrice(
                item_id=f"v1|{number}|0",
                legacy_item_id=number,
                current_bid_price=Money(amount=self.prices[number], currency="USD"),
                minimum_price_to_bid=None,
                bid_count=3,
                reserve_price_met=None,
            )
            for number in legacy
            if number in self.prices
        ]

    @property
    def polled(self) -> list[str]:
        return [item_id for call in self.calls for item_id in call]


@dataclass
class FakeNotifier:
    calls: list[tuple[NotificationKind, str, str | None]] = field(default_factory=list)

    def notify(self, kind: NotificationKind, user_id: str, bid_id: str | None = None) -> None:
        self.calls.append((kind, user_id, bid_id))


@dataclass
class FakeClock:
    now: float

    def __call__(self) -> float:
        return self.now


def _run(
    store,
    ebay,
    notifier,
    budget=None,
    now=NOW,
    clock=None,
    deadline=None,
    concurrency=8,
    claims=None,
):
    ports = SimpleNamespace(
        bids=store,
        updates=store,
        prices=store,
        budget=budget or FakeBudget(),
        ebay=ebay,
        notifier=notifier,
        claims=claims or FakeClaims(),
    )
    return logic.run(
        ports,  # type: ignore[arg-type]
        clock or (lambda: float(now)),
        deadline,
        concurrency,
    )


def _refresh(user_id, store, ebay, claims, at, budget=None, notifier=None, clock=None):
    ports = SimpleNamespace(
        bids=store,
        updates=store,
        prices=store,
        budget=budget or FakeBudget(),
        ebay=ebay,
        notifier=notifier or FakeNotifier(),
        claims=claims,
    )
    return logic.refresh(  # type: ignore[arg-type]
        user_id, ports, clock or (lambda: float(at))
    )


def _items(n: int, price: int) -> tuple[FakeStore, dict[str, int]]:
    """n snipes on n items ending within 10 minutes (polled every run), soonest first; eBay's
    price for each."""
    store, prices = FakeStore(), {}
    for i in range(n):
        legacy = str(120000000000 + i)
        store.bids[f"b{i}"] = _bid(
            userId=f"u{i}",
            bidId=f"b{i}",
            ebayItemId=legacy,
            itemId=f"v1|{legacy}|0",
            auctionEndTime=NOW + 100 + i,
        )
        prices[legacy] = price
    return store, prices


def test_alert_rule_first_crossing_no_repeat_reset_on_a_changed_maximum():
    assert not logic.alert_due(_bid(), 5000)  # at the maximum is not above it
    assert logic.alert_due(_bid(), 5001)
    alerted = _bid(lastAlertBidAmount=5000)
    assert not logic.alert_due(alerted, 7000)  # further rises: no repeat
    raised = _bid(maxBidAmount=8000, lastAlertBidAmount=5000)
    assert not logic.alert_due(raised, 7000)  # re-armed, but not exceeded yet
    assert logic.alert_due(raised, 8100)


def test_a_run_alerts_once_then_not_again_until_the_maximum_is_raised():
    # Given a snipe with a 50.00 maximum, ending in 5 minutes (polled every run)
    store = FakeStore({"b1": _bid()})
    ebay, notifier = FakeEbay({"110000000001": 5100}), FakeNotifier()
    # When the price first exceeds it
    first = _run(store, ebay, notifier)
    # Then the price is written, the alert recorded and the notifier asked once
    bid = store.bids["b1"]
    assert (bid.currentPrice, bid.lastAlertBidAmount, bid.lastAlertSent) == (5100, 5000, NOW * 1000)
    assert notifier.calls == [(NotificationKind.PRICE_ALERT, "u1", "b1")]
    assert (first.priceUpdates, first.alertsSent, first.ebayCalls) == (1, 1, 1)
    # When the price rises again at the same maximum
    ebay.prices["110000000001"] = 5600
    second = _run(store, ebay, notifier, now=NOW + 60)
    # Then the price changes but no new alert goes out
    assert store.bids["b1"].currentPrice == 5600
    assert (second.priceUpdates, second.alertsSent) == (1, 0)
    # When the user raises the maximum above the price and the price passes it
    store.bids["b1"] = store.bids["b1"].model_copy(update={"maxBidAmount": 6000})
    ebay.prices["110000000001"] = 6200
    third = _run(store, ebay, notifier, now=NOW + 120)
    # Then there is a new alert for the new maximum
    assert third.alertsSent == 1
    assert store.bids["b1"].lastAlertBidAmount == 6000
    assert len(notifier.calls) == 2


def test_an_unchanged_price_writes_nothing():
    store = FakeStore({"b1": _bid(currentPrice=4000, countdownPhase="10m")})
    result = _run(store, FakeEbay({"110000000001": 4000}), FakeNotifier())
    assert (result.priceUpdates, result.phaseUpdates) == (0, 0)
    assert store.bids["b1"].version == 1
    assert store.points == []


def test_one_browse_call_per_item_however_many_users_snipe_it():
    store = FakeStore(
        {
            "b1": _bid(),
            "b2": _bid(userId="u2", bidId="b2"),
            "b3": _bid(userId="u3", bidId="b3", maxBidAmount=9000),
        }
    )
    ebay, notifier = FakeEbay({"110000000001": 5100}), FakeNotifier()
    result = _run(store, ebay, notifier)
    assert ebay.calls == [["v1|110000000001|0"]]
    assert result.priceUpdates == 3
    assert sorted(c[1] for c in notifier.calls) == ["u1", "u2"]  # u3's maximum is not exceeded
    assert len(store.points) == 1


def test_cadence_far_items_wait_near_items_poll_every_run():
    assert logic.poll_interval_minutes(3 * 86400) == 180
    assert logic.poll_interval_minutes(5 * 3600) == 60
    assert logic.poll_interval_minutes(1800) == 5
    assert logic.poll_interval_minutes(300) == 1
    # over three hours of minutes, an item days away is due exactly once
    due = [logic.is_due("110000000001", 3 * 86400, m) for m in range(180)]
    assert due.count(True) == 1


def test_the_budget_limits_calls_and_serves_the_soonest_ending_first():
    store = FakeStore(
        {
            "b1": _bid(ebayItemId="110000000001", auctionEndTime=NOW + 500),
            "b2": _bid(
                bidId="b2",
                ebayItemId="110000000002",
                itemId="v1|110000000002|0",
                auctionEndTime=NOW + 100,
            ),
        }
    )
    ebay = FakeEbay({"110000000001": 100, "110000000002": 100}, per_call=1)
    result = _run(store, ebay, FakeNotifier(), budget=FakeBudget(limit_left=1))
    assert ebay.calls == [["v1|110000000002|0"]]
    assert (result.ebayCalls, result.itemsOverBudget) == (1, 1)


def test_each_item_is_polled_from_the_share_for_its_time_left():
    # Given items ending in 5 minutes, 30 minutes and 2 hours (each due this minute), and a
    # budget whose far-off share is spent while the final minutes still have their reserve
    minute = NOW // 60
    ends = {}
    for seconds_left in (300, 1800, 7200):
        item = next(
            str(number)
            for number in range(110_000_000_001, 110_000_001_000)
            if str(number) not in ends and logic.is_due(str(number), seconds_left, minute)
        )
        ends[item] = NOW + seconds_left
    final, hour, _far = ends
    store = FakeStore(
        {
            f"b{i}": _bid(
                bidId=f"b{i}", ebayItemId=item, itemId=f"v1|{item}|0", auctionEndTime=ends[item]
            )
            for i, item in enumerate(ends)
        }
    )
    # (one item a call, so each item is a call of its own: as while eBay refuses getItems, when
    # the polls are paid from the browse quota's counterparts)
    ebay = FakeEbay(dict.fromkeys(ends, 100), per_call=1)
    budget = FakeBudget(per_share={"far-polls-1": 0})
    # When the updater runs
    result = _run(store, ebay, FakeNotifier(), budget=budget)
    # Then each item asked its own share, the final minutes first, and only the far one waits
    assert budget.asked == [("final-polls-1", 1), ("hour-polls-1", 1), ("far-polls-1", 1)]
    assert sorted(ebay.polled) == sorted([f"v1|{final}|0", f"v1|{hour}|0"])
    assert (result.ebayCalls, result.itemsOverBudget) == (2, 1)


def test_countdown_phases_move_forward_only():
    assert logic.countdown_phase(4000) is None
    assert logic.countdown_phase(3600) == "1h"
    assert logic.countdown_phase(600) == "10m"
    assert logic.countdown_phase(60) == "1m"
    assert logic.phase_advances(None, "1h")
    assert logic.phase_advances("1h", "10m")
    assert not logic.phase_advances("10m", "1h")
    assert not logic.phase_advances("ARMED", "1m")  # the executor's phases come later
    store = FakeStore({"b1": _bid(auctionEndTime=NOW + 590)})
    result = _run(store, FakeEbay(fail=True), FakeNotifier())
    assert store.bids["b1"].countdownPhase == "10m"
    assert (result.phaseUpdates, result.failures) == (1, 1)


def test_nothing_is_written_once_the_snipe_is_frozen():
    # fire at end - 6 s, frozen 5 s before that: 11 s before the end
    store = FakeStore({"b1": _bid(auctionEndTime=NOW + 10)})
    result = _run(store, FakeEbay({"110000000001": 9999}), FakeNotifier())
    assert store.bids["b1"].version == 1
    assert result.alertsSent == 0


def test_a_hanging_call_does_not_hold_up_the_other_items():
    # Given 10 items, and eBay holding the call for the soonest-ending one (polled first) until
    # every other item has been polled: a poller that waits for it never gets there
    store, prices = _items(10, price=4500)
    held = "120000000000"
    others_polled = threading.Event()
    answered: list[str] = []

    def hold(legacy: str) -> None:
        if legacy == held:
            # Bounded only so that a serial poller fails this test instead of hanging it.
            if not others_polled.wait(timeout=10):
                raise EbayUnavailable("held until the read timeout")
            return
        answered.append(legacy)
        if len(answered) == len(prices) - 1:
            others_polled.set()

    ebay = FakeEbay(prices, on_call=hold, per_call=1)
    # When a run polls them four at a time
    result = _run(store, ebay, FakeNotifier(), concurrency=4)
    # Then the other items were polled while it was held, and every price is written this run
    assert others_polled.is_set()
    assert {b.currentPrice for b in store.bids.values()} == {4500}
    assert (result.ebayCalls, result.priceUpdates, result.failures) == (10, 10, 0)


def test_the_run_counts_are_exact_when_items_are_polled_concurrently():
    # Given 50 items over their maximum, eBay failing 10 of them, and every call waiting until
    # five are in flight together
    store, prices = _items(50, price=5100)
    failing = set(list(prices)[::5])
    five_at_once = threading.Barrier(5, timeout=10)
    ebay = FakeEbay(prices, failing=failing, on_call=lambda _: five_at_once.wait(), per_call=1)
    notifier = FakeNotifier()
    # When a run polls them five at a time
    result = _run(store, ebay, notifier, concurrency=5)
    # Then no count is lost: 40 prices and alerts, 10 failures, a phase for every snipe
    assert len(ebay.calls) == 50
    assert len(ebay.threads) == 5
    assert (result.ebayCalls, result.failures, result.itemsNotPolled) == (50, 10, 0)
    assert (result.priceUpdates, result.alertsSent, result.phaseUpdates) == (40, 40, 50)
    assert len(notifier.calls) == 40
    assert len(store.points) == 40
    unpriced = {b.ebayItemId for b in store.bids.values() if b.currentPrice is None}
    assert unpriced == failing


def test_items_not_started_by_the_deadline_are_not_polled_rather_than_failed():
    # Given 5 items, the run's deadline 30 s away, eBay failing the second item, and the
    # first two calls taking until after the deadline
    store, prices = _items(5, price=4500)
    first, second = list(prices)[:2]
    clock = FakeClock(float(NOW))
    past_the_deadline = threading.Barrier(2, action=lambda: setattr(clock, "now", NOW + 31.0))
    ebay = FakeEbay(
        prices, failing={second}, on_call=lambda _: past_the_deadline.wait(10), per_call=1
    )
    # When a run polls them two at a time
    result = _run(store, ebay, FakeNotifier(), clock=clock, deadline=NOW + 30, concurrency=2)
    # Then the three items not started are counted apart from eBay's one failure
    assert sorted(ebay.polled) == [f"v1|{first}|0", f"v1|{second}|0"]
    assert (result.ebayCalls, result.itemsNotPolled, result.failures) == (5, 3, 1)
    assert result.priceUpdates == 1
    assert [b.currentPrice for b in store.bids.values()] == [4500, None, None, None, None]


# ---------------------------------------------------------------- getItems and the rounds


def _ending(store: FakeStore, prices: dict[str, int], seconds_left: int, n: int = 1) -> list[str]:
    """n more snipes on items ending ``seconds_left`` from NOW; returns their legacy ids."""
    made = []
    for _ in range(n):
        legacy = str(130000000000 + len(store.bids))
        bid_id = f"b{len(store.bids)}"
        store.bids[bid_id] = _bid(
            userId=f"u{len(store.bids)}",
            bidId=bid_id,
            ebayItemId=legacy,
            itemId=f"v1|{legacy}|0",
            auctionEndTime=NOW + seconds_left,
        )
        prices[legacy] = 4000
        made.append(legacy)
    return made


def _due_item(seconds_left: int, taken: set[str]) -> str:
    """A legacy id due in the minute of NOW for an auction ending ``seconds_left`` away."""
    return next(
        str(number)
        for number in range(140_000_000_001, 140_000_010_000)
        if str(number) not in taken and logic.is_due(str(number), seconds_left, NOW // 60)
    )


def test_twenty_items_are_one_call_soonest_ending_first():
    # Given 25 items in their final minutes
    store, prices = _items(25, price=4500)
    ebay, budget = FakeEbay(prices), FakeBudget()
    # When a run polls them
    result = _run(store, ebay, FakeNotifier(), budget=budget)
    # Then two getItems calls carried them, the 20 soonest-ending first, from the final share
    assert [len(call) for call in ebay.calls] == [20, 5]
    assert ebay.calls[0][0] == "v1|120000000000|0"
    assert budget.asked == [("final-polls", 2)]
    assert (result.ebayCalls, result.itemPolls, result.priceUpdates) == (2, 25, 25)


def test_a_call_for_the_final_minutes_carries_later_items_at_no_cost():
    # Given an item ending in 5 minutes and two due this minute, ending in 30 min and 2 h
    taken: set[str] = set()
    ends = {}
    for seconds_left in (300, 1800, 7200):
        item = _due_item(seconds_left, taken)
        taken.add(item)
        ends[item] = NOW + seconds_left
    store = FakeStore(
        {
            f"b{i}": _bid(bidId=f"b{i}", ebayItemId=item, itemId=f"v1|{item}|0", auctionEndTime=end)
            for i, (item, end) in enumerate(ends.items())
        }
    )
    ebay, budget = FakeEbay(dict.fromkeys(ends, 4200)), FakeBudget()
    # When a run polls them
    result = _run(store, ebay, FakeNotifier(), budget=budget)
    # Then one call, paid from the final minutes' share, brought all three prices
    assert [len(call) for call in ebay.calls] == [3]
    assert budget.asked == [("final-polls", 1)]
    assert {b.currentPrice for b in store.bids.values()} == {4200}
    assert result.ebayCalls == 1


def test_a_run_is_one_round_and_sets_the_pace_of_the_refreshes():
    # Given three auctions in their last 5 minutes, one ending in 30 minutes (due now), and a
    # run whose deadline is 53 s away
    store, prices = FakeStore(), {}
    _ending(store, prices, 300, n=3)
    later = _due_item(1800, set(prices))
    store.bids["late"] = _bid(
        bidId="late", ebayItemId=later, itemId=f"v1|{later}|0", auctionEndTime=NOW + 1800
    )
    prices[later] = 4000
    ebay, budget, claims = FakeEbay(prices), FakeBudget(), FakeClaims()
    clock = FakeClock(float(NOW))
    # When the minute's run runs
    result = _run(
        store, ebay, FakeNotifier(), budget=budget, clock=clock, deadline=NOW + 53, claims=claims
    )
    # Then it made one round, one call for the four items, and returned at once
    assert result.rounds == 1
    assert [len(call) for call in ebay.calls] == [4]
    assert budget.asked == [("final-polls", 1)]
    assert clock.now == NOW
    # and it left the refreshes a pace of 5 s, for 3 minutes
    assert result.pollInterval == 5000
    assert (claims.pace, claims.pace_until) == (5000, (NOW + 180) * 1000)


def test_a_run_with_nothing_near_its_final_minutes_sets_no_pace():
    # Given one auction ending in 30 minutes
    store, prices = FakeStore(), {}
    _ending(store, prices, 1800)
    claims = FakeClaims()
    # When the minute's run runs
    result = _run(store, FakeEbay(prices), FakeNotifier(), deadline=NOW + 53, claims=claims)
    # Then no pace is set: no refresh has anything to poll
    assert (result.pollInterval, claims.pace) == (0, None)


def test_the_pace_spreads_the_final_minutes_calls_over_todays_final_minutes():
    # Given two auctions' final minutes overlapping by 300 s, and 25 items in the overlap
    two = [(0.0, 600.0), (300.0, 900.0)]
    crowd = two + [(300.0, 600.0)] * 24
    # When the call-seconds they need are counted / Then a call serves 20 items at once
    assert logic.final_demand(two, 20) == 900
    assert logic.final_demand(crowd, 20) == 300 + 2 * 300 + 300
    assert logic.final_demand(crowd, 1) == 300 + 26 * 300 + 300
    # and the rounds are as far apart as the calls left require, within 5 s and 60 s
    assert logic.pace(two, 90, 20) == 10
    assert logic.pace(two, 10_000, 20) == logic.MIN_INTERVAL
    assert logic.pace(two, 1, 20) == logic.MAX_INTERVAL
    assert logic.pace(two, 0, 20) == logic.MAX_INTERVAL


def test_the_refreshes_pace_is_the_final_minutes_share_of_today():
    # Given one auction ending in 5 min (writable until its freeze, 289 s away) and 21 calls
    # of the final minutes' share left for today, one of which the minute's round takes
    store, prices = FakeStore(), {}
    (_item,) = _ending(store, prices, 300)
    owner = next(iter(store.bids.values())).userId
    budget, claims, ebay = FakeBudget(per_share={"final-polls": 21}), FakeClaims(), FakeEbay(prices)
    # When the minute's run runs
    result = _run(store, ebay, FakeNotifier(), budget=budget, deadline=NOW + 53, claims=claims)
    # Then the refreshes' rounds are paced 289 s / 20 calls apart
    assert result.pollInterval == 14_450
    # and a refresh's round 10 s after the minute's round is left to it, one 15 s after it polls
    waited = _refresh(owner, store, ebay, claims, NOW + 10, budget=budget)
    assert (waited.shared, waited.ebayCalls) == (True, 0)
    assert _refresh(owner, store, ebay, claims, NOW + 15, budget=budget).ebayCalls == 1
    assert len(ebay.calls) == 2


def test_the_minutes_run_keeps_the_pace_of_the_final_minutes_rounds():
    # Given an auction in its final minutes, the refreshes paced 14.45 s apart, and a
    # dashboard's round of the final minutes at NOW + 1
    store, prices = FakeStore(), {}
    (item,) = _ending(store, prices, 300)
    owner = next(iter(store.bids.values())).userId
    ebay, budget, claims = FakeEbay(prices), FakeBudget(), FakeClaims()
    claims.set_pace(14_450, NOW * 1000, 180)
    assert _refresh(owner, store, ebay, claims, NOW + 1, budget=budget).ebayCalls == 1
    # When the minute's run runs 10 s later
    early = _run(store, ebay, FakeNotifier(), budget=budget, now=NOW + 11, claims=claims)
    # Then it leaves the final minutes to that round: the pace the budget planned is every
    # final-minutes round, the minute's own included
    assert (early.ebayCalls, early.finalLeft, len(ebay.calls)) == (0, 1, 1)
    # and a run 15 s after the round polls them and takes the round, so a refresh 4 s after it
    # (its pace now 5 s) is left to it
    late = _run(store, ebay, FakeNotifier(), budget=budget, now=NOW + 16, claims=claims)
    assert (late.ebayCalls, late.finalLeft, _legacy(ebay.calls[1])) == (1, 0, [item])
    assert _refresh(owner, store, ebay, claims, NOW + 20, budget=budget).shared
    assert budget.asked == [("final-polls", 1), ("final-polls", 1)]


def test_the_minutes_run_polls_the_items_that_entered_their_final_minutes_since_the_round():
    # Given an auction in its final minutes, the refreshes paced 30 s apart, a dashboard's round
    # of the final minutes at NOW + 50, and an auction ending 655 s after NOW (not in its final
    # minutes at that round, so neither polled nor carried ahead by it) with a rival's bid
    store, prices = FakeStore(), {}
    (final,) = _ending(store, prices, 300)
    (entering,) = _ending(store, prices, 655)
    owner = store.bids["b0"].userId
    ebay, claims = FakeEbay(prices), FakeClaims()
    claims.set_pace(30_000, NOW * 1000, 180)
    _refresh(owner, store, ebay, claims, NOW + 50)
    assert [_legacy(call) for call in ebay.calls] == [[final]]
    prices[entering] = 4900
    # When the minute's run runs 10 s after that round, the second auction now in its final
    # minutes
    run = _run(store, ebay, FakeNotifier(), now=NOW + 60, claims=claims)
    # Then it leaves to the rounds only what the round polled, and polls the item that entered
    # its final minutes since
    assert run.finalLeft == 1
    assert [_legacy(call) for call in ebay.calls[1:]] == [[entering]]
    assert store.bids["b1"].currentPrice == 4900


# ---------------------------------------------------------------- a failed round


def _watched(pace_ms: int = 30_000) -> tuple[FakeStore, dict[str, int], str, FakeClaims]:
    """Two users sniping one auction in its final minutes, rounds paced ``pace_ms`` apart;
    the store, eBay's prices, the item and the claims."""
    store, prices = FakeStore(), {}
    (item,) = _ending(store, prices, 300)
    store.bids["other"] = _bid(
        userId="other",
        bidId="other",
        ebayItemId=item,
        itemId=f"v1|{item}|0",
        auctionEndTime=NOW + 300,
    )
    claims = FakeClaims()
    claims.set_pace(pace_ms, NOW * 1000, 180)
    return store, prices, item, claims


def test_a_round_whose_call_failed_gives_the_round_back_and_the_next_refresh_polls_at_once():
    # Given an auction in its final minutes watched by two users, rounds paced 30 s apart, and
    # eBay failing the first round's call (a 5xx after the retries)
    store, prices, item, claims = _watched()
    owner = store.bids["b0"].userId
    failed = _refresh(owner, store, FakeEbay(prices, fail=True), claims, NOW)
    assert (failed.ebayCalls, failed.failures) == (1, 1)
    # When eBay answers again and the other user's dashboard asks 2 s later
    prices[item] = 4600
    ebay = FakeEbay(prices)
    again = _refresh("other", store, ebay, claims, NOW + 2)
    # Then that refresh polls at once instead of waiting out the failed round's 30 s, and writes
    # the price
    assert (again.shared, again.ebayCalls, again.nextInMs) == (False, 1, 30_000)
    assert store.bids["b0"].currentPrice == 4600
    # and the failed refresh told its dashboard to ask again when its own 5 s are over, not in 30
    assert failed.nextInMs == 5_000


def test_a_failing_ebay_gets_one_more_round_a_pace_not_a_loop_of_rounds():
    # Given an auction in its final minutes watched by two users, rounds paced 30 s apart, and
    # eBay failing every call
    store, prices, _item, claims = _watched()
    owner = store.bids["b0"].userId
    ebay, budget = FakeEbay(prices, fail=True), FakeBudget()
    # When both dashboards ask every 5 s for a minute
    results = [
        _refresh(user, store, ebay, claims, NOW + at + (0.5 if user == "other" else 0), budget)
        for at in range(0, 60, 5)
        for user in (owner, "other")
    ]
    # Then a failed round gave the round back once a pace: a round at NOW fails and its retry
    # at NOW + 0.5 keeps the round until NOW + 30.5; the next at NOW + 30.5 and its retry at
    # NOW + 35
    assert [n for n, r in enumerate(results) if r.ebayCalls] == [0, 1, 13, 14]
    assert len(ebay.calls) == len(budget.asked) == 4


def test_a_round_ebay_answered_429_keeps_the_pace():
    # Given an auction in its final minutes watched by two users, rounds paced 30 s apart, and
    # eBay answering the first round's call 429 (too many requests)
    store, prices, _item, claims = _watched()
    owner = store.bids["b0"].userId
    limited = _refresh(owner, store, FakeEbay(prices, rate_limited=True), claims, NOW)
    assert (limited.ebayCalls, limited.failures, limited.nextInMs) == (1, 1, 30_000)
    # When the other user's dashboard asks 2 s later
    ebay = FakeEbay(prices)
    later = _refresh("other", store, ebay, claims, NOW + 2)
    # Then it polls nothing: eBay asked us to slow down, a round at once would spend a call on
    # another 429
    assert (later.shared, later.nextInMs, ebay.calls) == (True, 28_000, [])


def test_a_round_the_budget_refused_keeps_the_pace():
    # Given an auction in its final minutes watched by two users, rounds paced 30 s apart, and
    # the final minutes' share spent for the day
    store, prices, _item, claims = _watched()
    owner = store.bids["b0"].userId
    ebay, spent = FakeEbay(prices), FakeBudget(limit_left=0)
    refused = _refresh(owner, store, ebay, claims, NOW, budget=spent)
    # When the other user's dashboard asks 2 s later
    later = _refresh("other", store, ebay, claims, NOW + 2, budget=spent)
    # Then it does not ask the spent share again
    assert (refused.itemsOverBudget, refused.nextInMs) == (1, 30_000)
    assert (later.shared, spent.asked) == (True, [("final-polls", 1)])


def test_a_round_whose_writes_the_deadline_cut_off_gives_the_round_back():
    # Given an auction in its final minutes watched by two users, rounds paced 30 s apart, a
    # rival's bid at eBay, and eBay answering the first round's call only after the refresh's
    # writes must stop (its deadline and the write grace)
    store, prices, item, claims = _watched()
    owner = store.bids["b0"].userId
    prices[item] = 4700
    clock = FakeClock(float(NOW))
    late = NOW + logic.REFRESH_CALL_SECONDS + logic.WRITE_GRACE_SECONDS + 1
    ebay = FakeEbay(prices, on_call=lambda _: setattr(clock, "now", late))
    _refresh(owner, store, ebay, claims, NOW, clock=clock)
    assert store.bids["b0"].currentPrice is None
    # When the other user's dashboard asks 2 s later (eBay answering in time)
    again = _refresh("other", store, FakeEbay(prices), claims, late + 2)
    # Then it polls at once and writes the rival's bid
    assert (again.shared, again.ebayCalls) == (False, 1)
    assert store.bids["b0"].currentPrice == 4700


def test_the_minutes_run_gives_back_a_round_whose_call_failed():
    # Given an auction in its final minutes watched by two users, rounds paced 30 s apart, and
    # eBay failing the minute's run's call
    store, prices, item, claims = _watched()
    run = _run(store, FakeEbay(prices, fail=True), FakeNotifier(), claims=claims)
    assert (run.ebayCalls, run.failures, run.finalLeft) == (1, 1, 0)
    # When a dashboard asks 3 s after the run
    prices[item] = 4800
    again = _refresh("other", store, FakeEbay(prices), claims, NOW + 3)
    # Then it polls at once, not once the run's round is over
    assert (again.shared, again.ebayCalls) == (False, 1)
    assert store.bids["other"].currentPrice == 4800


# ---------------------------------------------------------------- refreshes (open dashboards)

NEXT_MINUTE = NOW // 60 + 1


def _due_next_minute(store: FakeStore, prices: dict[str, int], n: int) -> list[str]:
    """n snipes on items ending 30 minutes after the next minute begins (polled every 5 min)
    that the next minute's run finds due, soonest-ending first; returns their legacy ids."""
    made: list[str] = []
    for number in range(150_000_000_001, 150_000_100_000):
        end = NEXT_MINUTE * 60 + 1800 + len(made)
        if len(made) == n:
            return made
        legacy = str(number)
        if logic.is_due(legacy, end - NEXT_MINUTE * 60, NEXT_MINUTE):
            store.bids[f"d{legacy}"] = _bid(
                userId="later",
                bidId=f"d{legacy}",
                ebayItemId=legacy,
                itemId=f"v1|{legacy}|0",
                auctionEndTime=end,
            )
            prices[legacy] = 4000
            made.append(legacy)
    raise AssertionError("not enough items due next minute")


def _legacy(call: list[str]) -> list[str]:
    return [item_id.split("|")[1] for item_id in call]


def test_a_refresh_carries_items_due_next_minute_in_its_free_places_and_the_run_skips_them():
    # Given 7 auctions in their final minutes and 20 ending in ~30 min that the next minute's
    # run finds due: alone, that run needs two getItems calls for the 27
    store, prices = FakeStore(), {}
    final = _ending(store, prices, 300, n=7)
    due = _due_next_minute(store, prices, 20)
    owner = store.bids["b0"].userId
    alone = FakeEbay(dict(prices))
    _run(FakeStore(dict(store.bids)), alone, FakeNotifier(), now=NEXT_MINUTE * 60 + 1)
    assert [len(call) for call in alone.calls] == [20, 7]
    ebay, budget, claims = FakeEbay(prices), FakeBudget(), FakeClaims()
    prices[due[0]] = 4700  # a rival's bid at eBay on a later item
    # When a dashboard's refresh runs a round in this minute
    refreshed = _refresh(owner, store, ebay, claims, NOW + 20, budget=budget)
    # Then its one call, paid from the final minutes' share, carried the 13 soonest-ending due
    # items in its free places, wrote what changed on them, and recorded them for that run
    assert [_legacy(call) for call in ebay.calls] == [final + due[:13]]
    assert budget.asked == [("final-polls", 1)]
    assert (refreshed.ebayCalls, refreshed.itemPolls) == (1, 20)
    assert store.bids[f"d{due[0]}"].currentPrice == 4700
    assert claims.carried(NEXT_MINUTE) == frozenset(due[:13])
    # and when the next minute's run runs, it polls the final minutes and the 7 not carried in
    # one call
    run = _run(store, ebay, FakeNotifier(), budget=budget, now=NEXT_MINUTE * 60 + 1, claims=claims)
    assert [_legacy(call) for call in ebay.calls[1:]] == [final + due[13:]]
    assert (run.itemsDue, run.itemsCarried, run.ebayCalls) == (27, 13, 1)
    assert budget.asked == [("final-polls", 1), ("final-polls", 1)]


def test_a_second_round_in_the_minute_carries_the_next_items_not_the_same():
    # Given 7 auctions in their final minutes and 30 due in the next minute's run
    store, prices = FakeStore(), {}
    final = _ending(store, prices, 300, n=7)
    due = _due_next_minute(store, prices, 30)
    owner = store.bids["b0"].userId
    ebay, claims = FakeEbay(prices), FakeClaims()
    # When two refreshes' rounds run in this minute, 10 s apart
    _refresh(owner, store, ebay, claims, NOW + 1)
    _refresh(owner, store, ebay, claims, NOW + 11)
    # Then the second carried the 13 after the first's
    assert [_legacy(call) for call in ebay.calls] == [final + due[:13], final + due[13:26]]
    assert claims.carried(NEXT_MINUTE) == frozenset(due[:26])


def test_items_whose_call_failed_or_found_no_room_are_left_to_the_run():
    # Given 7 auctions in their final minutes and 5 due in the next minute's run
    store, prices = FakeStore(), {}
    _ending(store, prices, 300, n=7)
    _due_next_minute(store, prices, 5)
    owner = store.bids["b0"].userId
    claims = FakeClaims()
    # When a round's call fails at eBay / Then nothing is recorded: the run polls them all
    _refresh(owner, store, FakeEbay(prices, fail=True), claims, NOW + 1)
    assert claims.carried(NEXT_MINUTE) == frozenset()
    # and when eBay refuses this app getItems (one item a call) a round has no free places
    single = FakeEbay(prices, per_call=1)
    _refresh(owner, store, single, claims, NOW + 11)
    assert (len(single.calls), claims.carried(NEXT_MINUTE)) == (7, frozenset())


def test_items_polled_ahead_whose_snipes_were_not_written_are_left_to_the_run():
    # Given 7 auctions in their final minutes and 5 due in the next minute's run, a rival's
    # bid at eBay on one of those, and eBay answering the round's call only after the
    # refresh's writes must stop (its deadline and the write grace)
    store, prices = FakeStore(), {}
    _ending(store, prices, 300, n=7)
    due = _due_next_minute(store, prices, 5)
    prices[due[0]] = 4700
    owner = store.bids["b0"].userId
    clock = FakeClock(float(NOW + 1))
    late = NOW + 1 + logic.REFRESH_CALL_SECONDS + logic.WRITE_GRACE_SECONDS + 1
    ebay = FakeEbay(prices, on_call=lambda _: setattr(clock, "now", late))
    claims = FakeClaims()
    # When a dashboard's refresh runs a round that carries them
    _refresh(owner, store, ebay, claims, NOW + 1, clock=clock)
    assert _legacy(ebay.calls[0])[7:] == due
    # Then the price found for them was not written, so none is recorded as polled ahead: the
    # next minute's run polls them and writes the rival's bid
    assert store.bids[f"d{due[0]}"].currentPrice is None
    assert claims.carried(NEXT_MINUTE) == frozenset()
    run = _run(store, ebay, FakeNotifier(), now=NEXT_MINUTE * 60 + 1, claims=claims)
    assert run.itemsCarried == 0
    assert store.bids[f"d{due[0]}"].currentPrice == 4700


def test_a_refresh_polls_the_final_minutes_now_and_writes_the_change():
    # Given two auctions in their last 5 minutes, sniped by two users, one ending in 30 min
    # (not due in the next minute's run), and a rival's bid at eBay since the minute's round
    store, prices = FakeStore(), {}
    final = _ending(store, prices, 300, n=2)
    later = next(
        str(n)
        for n in range(160_000_000_001, 160_000_001_000)
        if not logic.is_due(str(n), NOW + 1800 - NEXT_MINUTE * 60, NEXT_MINUTE)
    )
    store.bids["later"] = _bid(
        userId="u9",
        bidId="later",
        ebayItemId=later,
        itemId=f"v1|{later}|0",
        auctionEndTime=NOW + 1800,
    )
    owner = store.bids["b0"].userId
    prices[final[1]] = 5500
    ebay, budget = FakeEbay(prices), FakeBudget()
    # When the first snipe's owner, whose dashboard is open, asks for a refresh 20 s later
    result = _refresh(owner, store, ebay, FakeClaims(), NOW + 20, budget=budget)
    # Then both items in their final minutes were polled in one call from the final share, the
    # other user's too (their price reaches every socket through the stream), not the later one
    assert ebay.calls == [[f"v1|{item}|0" for item in final]]
    assert budget.asked == [("final-polls", 1)]
    assert (result.items, result.itemPolls, result.ebayCalls) == (1, 2, 1)
    # and the rival's price was written to its snipe, with its point
    assert store.bids["b1"].currentPrice == 5500
    assert (final[1], NOW + 20, 5500) in store.points
    assert not result.throttled
    assert not result.shared


def test_a_user_refreshes_at_most_every_5_seconds():
    # Given a user's auction in its final minutes, refreshed once
    store, prices = FakeStore(), {}
    _ending(store, prices, 300)
    owner = store.bids["b0"].userId
    ebay, claims = FakeEbay(prices), FakeClaims()
    assert not _refresh(owner, store, ebay, claims, NOW).throttled
    # When the same user (another tab) asks again 4 s later, then 5 s after the first
    again = _refresh(owner, store, ebay, claims, NOW + 4)
    later = _refresh(owner, store, ebay, claims, NOW + 5)
    # Then the second is throttled without any call, the third polls
    assert (again.throttled, again.nextInMs) == (True, 1000)
    assert (later.throttled, later.ebayCalls) == (False, 1)
    assert len(ebay.calls) == 2


def test_a_refresh_says_when_the_next_round_may_run():
    # Given two users sniping one auction in its final minutes, rounds paced 14.45 s apart
    store, prices = FakeStore(), {}
    (item,) = _ending(store, prices, 300)
    store.bids["b1"] = _bid(
        userId="other", bidId="b1", ebayItemId=item, itemId=f"v1|{item}|0", auctionEndTime=NOW + 300
    )
    owner = store.bids["b0"].userId
    ebay, claims = FakeEbay(prices), FakeClaims()
    claims.set_pace(14_450, NOW * 1000, 180)
    # When the owner's refresh runs a round, the other user asks 8.3 s later, the owner 11 s
    # after their round (their own window over), and again 1.5 s after that
    ran = _refresh(owner, store, ebay, claims, NOW)
    other = _refresh("other", store, ebay, claims, NOW + 8.3)
    own = _refresh(owner, store, ebay, claims, NOW + 11)
    soon = _refresh(owner, store, ebay, claims, NOW + 12.5)
    # Then the round's refresh is told the pace, the other what is left of it after that round
    assert (ran.shared, ran.nextInMs) == (False, 14_450)
    assert (other.shared, other.nextInMs) == (True, 14_450 - 8_300)
    # and the owner, whose own window just began, not the 3.45 s left of the pace but the 5 s
    # their window lasts (asking sooner would be throttled), and when throttled what is left of it
    assert (own.shared, own.nextInMs) == (True, 5_000)
    assert (soon.throttled, soon.nextInMs) == (True, 3_500)
    # and asked when it said, the other's refresh runs the next round
    assert _refresh("other", store, ebay, claims, NOW + 14.45).nextInMs == 14_450
    assert len(ebay.calls) == 2


def test_ten_dashboards_cost_the_ebay_calls_of_one():
    # Given ten users sniping the same auction in its final minutes, and three others
    store, prices = FakeStore(), {}
    items = _ending(store, prices, 300, n=4)
    for n in range(10):
        store.bids[f"same{n}"] = _bid(
            userId=f"fan{n}",
            bidId=f"same{n}",
            ebayItemId=items[0],
            itemId=f"v1|{items[0]}|0",
            auctionEndTime=NOW + 300,
        )
    ebay, claims = FakeEbay(prices), FakeClaims()
    # When all ten refresh within the same few seconds, twice, 5 s apart
    results = [
        _refresh(f"fan{n}", store, ebay, claims, NOW + round_ * 5 + n * 0.2)
        for round_ in range(2)
        for n in range(10)
    ]
    # Then each 5 s saw one getItems call, for every item in its final minutes
    assert [len(call) for call in ebay.calls] == [4, 4]
    assert sum(r.shared for r in results) == 18
    assert not any(r.throttled for r in results)


def test_a_refresh_without_a_snipe_in_its_final_minutes_calls_nothing():
    # Given a user whose only snipe ends in 30 minutes, and another's in its final minutes
    store, prices = FakeStore(), {}
    _ending(store, prices, 1800)
    _ending(store, prices, 300)
    ebay, claims = FakeEbay(prices), FakeClaims()
    # When the first user refreshes
    result = _refresh(store.bids["b0"].userId, store, ebay, claims, NOW)
    # Then nothing was polled (another's final minutes are no reason to spend a call)
    assert (result.items, result.ebayCalls, ebay.calls) == (0, 0, [])
    assert claims.round_at is None


def test_a_refresh_leaves_frozen_snipes_alone():
    # Given the only auction ending 40 s from now (a 6 s lead: frozen 29 s from now)
    store, prices = FakeStore(), {}
    _ending(store, prices, 40)
    owner = store.bids["b0"].userId
    ebay = FakeEbay(prices)
    # When its owner refreshes before its freeze and after it
    before = _refresh(owner, store, ebay, FakeClaims(), NOW + 20)
    after = _refresh(owner, store, ebay, FakeClaims(), NOW + 30)
    # Then only the first polled: from its freeze the snipe is the executor's
    assert (before.ebayCalls, after.ebayCalls, after.items) == (1, 0, 0)


def test_a_refresh_with_the_final_share_spent_polls_nothing():
    # Given a user's auction in its final minutes and no final-minutes calls left today
    store, prices = FakeStore(), {}
    _ending(store, prices, 300)
    ebay = FakeEbay(prices)
    # When its owner refreshes
    result = _refresh(
        store.bids["b0"].userId, store, ebay, FakeClaims(), NOW, budget=FakeBudget(limit_left=0)
    )
    # Then no call was made and the item is counted over budget
    assert (ebay.calls, result.itemsOverBudget) == ([], 1)


def test_a_snipe_changed_meanwhile_is_read_again_and_written_on_its_new_version():
    # Given an auction in its final minutes whose owner raises the maximum while the run's
    # call is at eBay, which answers a price over the old maximum
    store, prices = FakeStore(), {}
    (item,) = _ending(store, prices, 300)
    prices[item] = 6000
    bid_id = next(iter(store.bids))

    def raise_maximum(_: str) -> None:
        bid = store.bids[bid_id]
        store.bids[bid_id] = bid.model_copy(update={"maxBidAmount": 9000, "version": 7})

    notifier = FakeNotifier()
    # When the minute's run runs, then the owner's dashboard refreshes
    result = _run(store, FakeEbay(prices, on_call=raise_maximum), notifier, deadline=NOW + 53)
    _refresh(
        store.bids[bid_id].userId, store, FakeEbay(prices), FakeClaims(), NOW + 1, notifier=notifier
    )
    # Then the run's stale write lost, and the refresh wrote the new price on the owner's
    # version, with no alert (6000 is under the new maximum)
    assert result.conflicts == 1
    assert store.bids[bid_id].currentPrice == 6000
    assert store.bids[bid_id].version == 8
    assert notifier.calls == []


def test_an_app_refused_get_items_polls_one_item_a_call_from_the_next_round():
    # Given two auctions in their final minutes and eBay refusing this app getItems
    store, prices = FakeStore(), {}
    _ending(store, prices, 300, n=2)
    ebay = FakeEbay(prices, refuse_bulk=True)
    # When the minute's run runs, then an owner refreshes a second later
    result = _run(store, ebay, FakeNotifier(), deadline=NOW + 53)
    refreshed = _refresh(store.bids["b0"].userId, store, ebay, FakeClaims(), NOW + 1)
    # Then the run's call was refused before it was made (not polled, not failed), and the
    # refresh polled each item in a call of its own
    assert (result.rounds, result.itemsNotPolled, result.failures) == (1, 2, 0)
    assert refreshed.ebayCalls == 2
    assert ebay.calls == [[f"v1|{item}|0"] for item in sorted(prices)]
    assert {b.currentPrice for b in store.bids.values()} == {4000}


def test_polls_made_one_item_a_call_are_paid_from_the_browse_quota():
    # Given two auctions in their final minutes and eBay refusing this app getItems
    store, prices = FakeStore(), {}
    _ending(store, prices, 300, n=2)
    ebay, budget = FakeEbay(prices, refuse_bulk=True), FakeBudget()
    # When the minute's run meets the refusal, then an owner refreshes a second later
    _run(store, ebay, FakeNotifier(), budget=budget, deadline=NOW + 53)
    _refresh(store.bids["b0"].userId, store, ebay, FakeClaims(), NOW + 1, budget=budget)
    # Then the run's getItems call was asked of the getitems quota's final-minutes share, and
    # the refresh's two getItem calls, which eBay counts on its other quota, of the browse
    # quota's counterpart
    assert budget.asked == [("final-polls", 1), ("final-polls-1", 2)]
    assert (FINAL_POLLS.api, FINAL_POLLS_1.api) == ("getitems", "browse")


def test_a_sealed_snipe_gets_no_write_from_a_round():
    # Given an auction in its final minutes whose snipe the executor has sealed already
    # (eBay's clock ahead of ours: sealed before the stored freeze), and a new price at eBay
    store, prices = FakeStore(), {}
    legacy = _ending(store, prices, 300)[0]
    store.bids["b0"] = store.bids["b0"].model_copy(update={"sealedAt": NOW * 1000})
    prices[legacy] = 4500
    # When a round polls it
    result = _run(store, FakeEbay(prices), FakeNotifier())
    # Then the snipe is left as sealed: no write tried, so no conflict to read again
    assert result.conflicts == 0
    assert store.bids["b0"].version == 1
    assert store.bids["b0"].currentPrice != 4500
