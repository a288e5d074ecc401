"""Issue 13 item 8, chaos with users in it, small enough for `make test` (bench/chaos.py is the
full size).

Besides the chaos run's faults (every schedule delivered three times, executor runs killed and
retried, eBay failing a fifth of its calls, the stream pump restarted), users change and cancel
most snipes through the REST API, from 15 s before each snipe's freeze instant to 1 s after it,
many of them aimed at the instant the executor seals it; one user has a win-one group of three
auctions ending a second apart. Every snipe is then held to the money path's invariants I1-I5
(docs/sniping-engine.md) against the simulator's record of every bid. Scheduling is compressed
as in test_chaos.py (conftest.py); the rules are the product's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.chaos_harness import ChaosPlan, ChaosReport, run_chaos
from bench.chaos_users import INVARIANTS, RacePlan
from local.testing import RunningStack, running_stack

pytestmark = pytest.mark.integration

PLAN = ChaosPlan(
    snipes=16,
    users=2,
    first_end_in=32,
    spread=12,
    leads=(2, 3, 4),
    deliveries=3,
    duplicate_spread=0.5,
    retry_delays=(1.0,),
    kill_rate=0.1,
    fault_rate=0.2,
    hang_ms=3000,
    pump_restarts=1,
    pump_down_seconds=1.0,
    settle=60,
    poll_seconds=2,
    create_threads=4,
    seed=13,
    racing=RacePlan(share=0.75, per_snipe=(2, 4), earliest=15.0),
    groups=1,
)


@pytest.fixture(scope="module")
def report(aws_endpoint: str, compressed_time: None) -> Iterator[ChaosReport]:
    running: RunningStack
    with running_stack(aws_endpoint_url=aws_endpoint, demo=False) as running:
        yield run_chaos(running, PLAN)


def test_users_changed_and_cancelled_snipes_across_their_seal(report: ChaosReport) -> None:
    # Given the chaos run with users (module fixture)
    changes = report.changes
    # Then every snipe was created, most were changed, some changes won and some cancels were
    # sent, and changes reached the API within a second of a seal
    assert report.created == PLAN.snipes, report.refused
    assert changes.snipes >= PLAN.snipes // 2, "\n".join(report.lines())
    assert changes.ok > 0, "\n".join(report.lines())
    assert changes.kinds["cancel"] > 0, "\n".join(report.lines())
    assert changes.raced > 0, "\n".join(report.lines())
    assert not changes.errors, changes.errors


def test_no_money_path_invariant_is_broken(report: ChaosReport) -> None:
    # Given the chaos run with users / Then no 2xx cancel let a bid through (I1), eBay got the
    # maximum of the last 2xx change (I2), eBay's bid is recorded as placed (I3), the group won
    # at most once (I4), every snipe is final or says why (I5)
    assert report.invariants.groups == PLAN.groups
    assert {
        name: report.invariants.violations.get(name, 0) for name in INVARIANTS
    } == dict.fromkeys(INVARIANTS, 0), "\n".join(report.lines())


def test_no_change_won_after_the_seal(report: ChaosReport) -> None:
    # Given the chaos run with users / Then every change that answered 2xx was sent before its
    # snipe's seal was stamped: the seal and a change exclude each other
    assert report.changes.ok_after_seal == 0, "\n".join(report.lines())


def test_the_chaos_figures_hold_with_users(report: ChaosReport) -> None:
    # Given the chaos run with users / Then none placed twice, none unfinished, none disagreeing
    # with eBay
    audit = report.audit
    assert audit.placed_twice == 0, "\n".join(report.lines())
    assert audit.no_final_state == 0, "\n".join(report.lines())
    assert audit.disagreements == 0, "\n".join(report.lines())
