"""Nothing waits forever: a snipe whose schedule was lost is woken by the reconciler and bids,
through the local stack's REST API, its scheduler's minute, the bid executor and the simulator.

The stack's executors wait on the wall clock, so the auction runs in real time (about 80 s).
Only the Scheduler's constants are compressed (as in the chaos test), so that a snipe 75 s from
its end gets a one-time schedule, due 9 s before its fire instant, instead of the immediate
invoke of snipes within 240 s; the reconciler's rules are the product's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from common.data.reconcile import ReconcileMarks
from common.scheduling import schedule_name
from local.scheduler import scheduled_event
from local.testing import RunningStack, link_ebay_account, running_stack
from tests.polling import eventually
from workers.logic import reconcile

pytestmark = pytest.mark.e2e

RECONCILER = "SnipeReconcilerFunction"
EBAY_USER = "reconcile_rosa"


@pytest.fixture(scope="module")
def compressed_time() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("common.scheduling.SCHEDULER_PRECISION_SECONDS", 1)
        patch.setattr("common.scheduling.WAKE_LEAD_SECONDS", 8)
        patch.setattr("common.scheduling.INVOKE_NOW_WITHIN_SECONDS", 12)
        yield


@pytest.fixture(scope="module")
def running(aws_endpoint: str, compressed_time: None) -> Iterator[RunningStack]:
    with running_stack(aws_endpoint_url=aws_endpoint, demo=False) as stack:
        yield stack


def _minute_comes(running: RunningStack) -> dict[str, Any]:
    """The reconciler's rate(1 minute) schedule fires (as the stack's scheduler does, now)."""
    stack = running.stack
    assert stack.runtime is not None
    assert stack.template is not None
    return dict(stack.runtime.invoke(RECONCILER, scheduled_event(RECONCILER, stack.template)))


def test_a_snipe_whose_schedule_was_lost_is_woken_and_bids(running: RunningStack):
    http = httpx.Client(base_url=running.base_url, timeout=30)
    admin = httpx.Client(base_url=running.sim_url, timeout=30)
    # Given a signed-in user whose simulated eBay account is linked
    email, password = "lost-wakeup@example.com", "Reconcile-2026-Pass"
    http.post("/local/signup", json={"email": email, "password": password}).raise_for_status()
    tokens = http.post("/local/login", json={"username": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {tokens['idToken']}"}
    link_ebay_account(http, headers, EBAY_USER)
    # And a snipe on an auction ending in 75 s, which the API gave a one-time schedule
    auction = admin.post(
        "/_sim/auctions", json={"title": "Rolleiflex 2.8F", "startPrice": 1000, "endsInSeconds": 75}
    ).json()
    created = http.post(
        "/bids",
        headers=headers,
        json={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 4200, "leadSeconds": 3},
    )
    assert created.status_code == 201, created.text
    snipe = created.json()
    group = os.environ["SCHEDULE_GROUP_NAME"]
    scheduler = boto3.client("scheduler")
    listed = scheduler.list_schedules(GroupName=group)["Schedules"]
    assert schedule_name(snipe["bidId"]) in {s["Name"] for s in listed}
    runtime = running.stack.runtime
    assert runtime is not None

    # When its schedule is lost
    scheduler.delete_schedule(Name=schedule_name(snipe["bidId"]), GroupName=group)
    # And the reconciler's minute comes more than 60 s before the fire instant
    fire_at = (snipe["auctionEndMs"] - snipe["leadSeconds"] * 1000) / 1000
    assert time.time() < fire_at - reconcile.OVERDUE_BEFORE_FIRE_SECONDS
    early = _minute_comes(running)
    # Then it leaves the snipe alone: its executor could still be on its way
    assert early["overdueWoken"] == 0
    assert runtime.stats["BidExecutorFunction"].invocations == 0

    # When the minute comes once the wake-up is overdue (a real wait: the stack's clock is the
    # wall clock)
    time.sleep(max(0.0, fire_at - reconcile.OVERDUE_BEFORE_FIRE_SECONDS + 1 - time.time()))
    late = _minute_comes(running)
    # Then the executor is woken (by this run, or by the stack's own minute just before it)
    assert late["overdueWoken"] + late["recentlyInvoked"] == 1

    # And it bids before the end, once, and learns that it won
    def current() -> dict[str, Any]:
        return dict(http.get(f"/bids/{snipe['bidId']}", headers=headers).json())

    # polling the API every 0.5 s, as the dashboard would
    eventually(lambda: current()["status"] in ("WON", "LOST", "FAILED"), 90, interval=0.5)
    final = current()
    assert final["status"] == "WON", final
    state = admin.get(f"/_sim/auctions/{auction['legacyItemId']}").json()
    ours = [b for b in state["bids"] if b["bidder"] == EBAY_USER and b["accepted"]]
    assert len(ours) == 1
    assert ours[0]["receivedAt"] < state["endTimeMs"]
    # And the reconciler invoked it exactly once
    marks = ReconcileMarks(os.environ["USERS_TABLE"])
    mark = marks.get(snipe["bidId"], reconcile.WAKE)
    assert mark is not None
    assert mark.attempts == 1
    assert runtime.stats["BidExecutorFunction"].invocations == 1
    # And the stack's scheduler has run the reconciler on its own too: the template's
    # rate(1 minute), a minute after the stack started (over 80 s ago)
    assert runtime.stats[RECONCILER].invocations > 2
