"""The reconciler's rules with fakes: which snipes it wakes or hands over to settle, how often,
and how a run stays bounded."""

from __future__ import annotations

import typing

from common.models import BidStatus, LeadSeconds
from tests.reconcile_fakes import (
    NOW,
    FakeActiveSnipes,
    FakeClock,
    FakeExecutor,
    FakeMarks,
    snipe,
)
from workers.logic import reconcile as logic

HOUR = 3600


def _run(
    index: FakeActiveSnipes,
    marks: FakeMarks,
    executor: FakeExecutor,
    clock: FakeClock,
    **limits: int,
) -> logic.RunResult:
    return logic.run(index, marks, executor, clock, deadline=clock.now + 25, **limits)


def _world(*bids: typing.Any) -> tuple[FakeActiveSnipes, FakeMarks, FakeExecutor]:
    return FakeActiveSnipes(list(bids)), FakeMarks(), FakeExecutor()


def test_a_pending_snipe_whose_wake_up_is_overdue_is_woken():
    # Given a PENDING snipe 30 s before its fire instant (its executor should have claimed it)
    bid = snipe(auctionEndTime=NOW + 36, leadSeconds=6)
    index, marks, executor = _world(bid)
    # When the reconciler runs
    result = _run(index, marks, executor, FakeClock(NOW))
    # Then the executor is invoked for it, once, and the attempt is on its mark
    assert executor.woken == [("u1", "b1")]
    assert result.overdueWoken == 1
    assert marks.marks[("b1", logic.WAKE)].attempts == 1
    assert marks.owners[("b1", logic.WAKE)] == "u1"


def test_overdue_starts_60_s_before_the_fire_instant_and_ends_with_the_auction():
    # Given PENDING snipes whose fire instant is 61 s, 60 s and 1 s away, one ending now, one
    # that ended a minute ago
    lead = 6
    fire_in = {"early": 61, "edge": 60, "close": 1, "ending": -lead}
    bids = [
        snipe(name, auctionEndTime=NOW + s + lead, leadSeconds=lead) for name, s in fire_in.items()
    ]
    bids.append(snipe("ended", auctionEndTime=NOW - 60))
    index, marks, executor = _world(*bids)
    # When the reconciler runs
    _run(index, marks, executor, FakeClock(NOW))
    # Then only those due to fire within the minute, whose auction has not ended, are woken
    assert sorted(b for _, b in executor.woken) == ["close", "edge"]


def test_claimed_placed_and_far_snipes_are_left_alone():
    # Given an ARMED and a PLACED snipe about to fire, and a PENDING one an hour away
    index, marks, executor = _world(
        snipe("armed", status=BidStatus.ARMED, auctionEndTime=NOW + 10),
        snipe("placed", status=BidStatus.PLACED, auctionEndTime=NOW + 10),
        snipe("far", auctionEndTime=NOW + HOUR),
    )
    # When the reconciler runs
    result = _run(index, marks, executor, FakeClock(NOW))
    # Then nothing is invoked, and the far one was not even read (the index range)
    assert executor.woken == []
    assert result.snipesRead == 2


def test_active_snipes_an_hour_after_their_end_are_handed_to_the_executor():
    # Given snipes of every active status that ended an hour and a second ago, one that ended
    # 59 minutes ago, and one that ended and was settled (WON: not in the active index)
    index, marks, executor = _world(
        snipe("pending", auctionEndTime=NOW - HOUR - 1),
        snipe("armed", status=BidStatus.ARMED, auctionEndTime=NOW - HOUR - 1),
        snipe("placed", status=BidStatus.PLACED, auctionEndTime=NOW - HOUR - 1),
        snipe("recent", status=BidStatus.PLACED, auctionEndTime=NOW - 59 * 60),
        snipe("won", status=BidStatus.WON, auctionEndTime=NOW - 2 * HOUR),
    )
    # When the reconciler runs
    result = _run(index, marks, executor, FakeClock(NOW))
    # Then the executor, which decides and records every final state, is invoked for the three
    assert sorted(b for _, b in executor.woken) == ["armed", "pending", "placed"]
    assert result.staleSettleRequested == 3
    assert result.overdueWoken == 0


def test_an_overdue_snipe_is_woken_at_most_once_a_minute_and_not_after_its_end():
    # Given a PENDING snipe with the longest lead, overdue for 90 s (60 s + its lead)
    bid = snipe(auctionEndTime=NOW + 90, leadSeconds=30)
    index, marks, executor = _world(bid)
    clock = FakeClock(NOW)
    # When the reconciler runs every 20 s until after the end (its executor never claims it)
    for _ in range(6):
        _run(index, marks, executor, clock)
        clock.now += 20
    # Then it was woken twice: at the first run and once more a minute later
    assert len(executor.woken) == 2
    assert marks.marks[("b1", logic.WAKE)].attempts == 2


def test_a_stale_snipe_is_handed_over_again_only_after_a_doubling_wait():
    # Given a snipe still PLACED an hour after its end, that the executor never settles
    index, marks, executor = _world(
        snipe(status=BidStatus.PLACED, auctionEndTime=NOW - HOUR),
    )
    clock = FakeClock(NOW)
    times = []
    # When the reconciler runs every minute for a day
    for minute in range(24 * 60):
        before = len(executor.woken)
        _run(index, marks, executor, clock)
        if len(executor.woken) > before:
            times.append(minute)
        clock.now += 60
    # Then the executor was asked 7 times, 15 minutes apart at first, each wait twice the last
    assert times == [0, 15, 45, 105, 225, 465, 945]
    # And a day is the longest wait
    assert logic.retry_after(logic.SETTLE, 30) == logic.SETTLE_RETRY_MAX_SECONDS == 86400


def test_two_runs_that_meet_invoke_once():
    # Given an overdue snipe, and a second run that reads and records its mark while the first
    # has read the mark but not yet recorded its attempt
    bid = snipe(auctionEndTime=NOW + 30)
    index, marks, executor = _world(bid)
    clock = FakeClock(NOW)
    second: list[logic.RunResult] = []
    marks.on_next_get = lambda: second.append(_run(index, marks, executor, clock))
    # When the first run goes on
    first = _run(index, marks, executor, clock)
    # Then the executor was invoked once, by the run that recorded first
    assert executor.woken == [("u1", "b1")]
    assert (second[0].overdueWoken, first.overdueWoken) == (1, 0)
    assert first.recentlyInvoked == 1


def test_a_failed_invoke_is_counted_and_tried_again_a_minute_later():
    # Given an overdue snipe and Lambda refusing the first invoke
    index, marks, executor = _world(snipe(auctionEndTime=NOW + 85, leadSeconds=30))
    executor.failing = True
    clock = FakeClock(NOW)
    # When the reconciler runs, and again a minute later with Lambda back
    first = _run(index, marks, executor, clock)
    executor.failing = False
    clock.now += 60
    second = _run(index, marks, executor, clock)
    # Then the failure is counted and the snipe is woken by the next run, still before its end
    assert (first.invokeFailures, first.overdueWoken) == (1, 0)
    assert second.overdueWoken == 1
    assert executor.woken == [("u1", "b1")]


def test_a_run_reads_a_bounded_number_of_pages_and_hands_over_a_bounded_number():
    # Given 250 stale snipes, pages of 100, at most 2 pages and 50 hand-overs a run
    bids = [snipe(f"b{i:03d}", auctionEndTime=NOW - 2 * HOUR + i) for i in range(250)]
    index, marks, executor = _world(*bids)
    # When the reconciler runs
    result = _run(
        index, marks, executor, FakeClock(NOW), page_size=100, max_pages=2, max_settles=50
    )
    # Then it read 200, handed over the 50 that ended first, and says what it did not reach
    assert result.snipesRead == 200
    assert [b for _, b in executor.woken] == [f"b{i:03d}" for i in range(50)]
    assert result.notReached == 1 + 150
    # And the next run goes on with the next 50 (the first 50 wait for their marks)
    second = _run(
        index, marks, executor, FakeClock(NOW + 60), page_size=100, max_pages=2, max_settles=50
    )
    assert second.staleSettleRequested == 50
    assert second.recentlyInvoked == 50


def test_a_run_stops_at_its_deadline():
    # Given three pages of stale snipes and a clock that passes the deadline while the first
    # page is handled (each reading advances it 1 s; the deadline is 25 s away)
    bids = [snipe(f"b{i:02d}", auctionEndTime=NOW - 2 * HOUR + i) for i in range(30)]
    index, marks, executor = _world(*bids)
    # When the reconciler runs
    result = _run(index, marks, executor, FakeClock(NOW, step=1.0), page_size=10)
    # Then it stopped starting work at the deadline and counted what it left
    assert 0 < len(executor.woken) < 10
    assert result.notReached >= 1
    assert result.snipesRead <= 20


def test_overdue_snipes_come_before_stale_ones():
    # Given a stale snipe and an overdue one
    index, marks, executor = _world(
        snipe("stale", auctionEndTime=NOW - 2 * HOUR),
        snipe("overdue", auctionEndTime=NOW + 20),
    )
    # When the reconciler runs
    _run(index, marks, executor, FakeClock(NOW))
    # Then the one that can still bid is woken first
    assert [b for _, b in executor.woken] == ["overdue", "stale"]


def test_the_overdue_range_covers_the_longest_lead():
    # Given the lead's upper bound as the model declares it
    (limits,) = [m for m in typing.get_args(LeadSeconds)[1:] if hasattr(m, "metadata")]
    longest = next(c.le for c in limits.metadata if hasattr(c, "le"))
    # Then the reconciler's index range reaches every overdue snipe
    assert longest == logic.MAX_LEAD_SECONDS
    index, marks, executor = _world()
    _run(index, marks, executor, FakeClock(NOW))
    assert index.queries[0] == (NOW, NOW + logic.OVERDUE_BEFORE_FIRE_SECONDS + longest)
    assert index.queries[1] == (0, NOW - logic.STALE_AFTER_END_SECONDS)


def test_the_alarm_watches_a_count_the_reconciler_publishes():
    # Given the template's alarm on woken snipes and the handler's published counts
    from pathlib import Path

    from local.template import load_yaml
    from workers import reconciler

    template = load_yaml(Path(__file__).resolve().parents[3] / "template.yaml")
    alarm = template["Resources"]["ReconcilerWokeSnipesAlarm"]["Properties"]
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]
    # Then the alarm's metric is one the handler publishes, in the functions' namespace
    assert alarm["MetricName"] in reconciler.METRICS
    assert set(reconciler.METRICS) <= set(logic.RunResult().as_dict())
    assert alarm["Namespace"] == namespace["POWERTOOLS_METRICS_NAMESPACE"]
    function = template["Resources"]["SnipeReconcilerFunction"]["Properties"]
    assert function["Events"]["EveryMinute"]["Properties"]["Schedule"] == "rate(1 minute)"
    assert function["Timeout"] * 1000 > reconciler.SAFETY_MS
