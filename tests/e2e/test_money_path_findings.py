"""Issue 13's findings 1-3, and session 10's keyed create retried after a cancel, walked as a
user meets them: through the local stack's REST API, its
bid executor (invoked by the stack as Lambda would) and the eBay simulator.

Each scenario runs against real time, since the stack's executors wait on the wall clock: the
sleeps below wait for an instant of the auction (they are the user's timing, not a poll for a
result). The three run side by side, so the module takes about one auction's length.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from local.testing import RunningStack, link_ebay_account, running_stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

START_PRICE = 1000


@dataclass
class Scenario:
    answers: dict[str, int] = field(default_factory=dict)
    snipes: dict[str, dict[str, Any]] = field(default_factory=dict)
    auctions: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: BaseException | None = None


class Shopper:
    """A signed-up user with a linked simulated eBay account, talking to the stack's API."""

    def __init__(self, running: RunningStack, name: str) -> None:
        self.http = httpx.Client(base_url=running.base_url, timeout=30)
        self.admin = httpx.Client(base_url=running.sim_url, timeout=30)
        self.ebay_user = f"money_{name}"
        email, password = f"{name}@example.com", "Money-Path-2026"
        self.http.post("/local/signup", json={"email": email, "password": password})
        tokens = self.http.post("/local/login", json={"username": email, "password": password})
        self.headers = {"Authorization": f"Bearer {tokens.json()['idToken']}"}
        link_ebay_account(self.http, self.headers, self.ebay_user)

    def auction(self, ends_in: float) -> dict[str, Any]:
        created = self.admin.post(
            "/_sim/auctions",
            # No simulated rivals: whether we win is known in advance.
            json={
                "title": "Leica M3",
                "startPrice": START_PRICE,
                "endsInSeconds": ends_in,
                "bots": False,
            },
        )
        created.raise_for_status()
        return dict(created.json())

    def sim_now_ms(self) -> int:
        return int(self.admin.get("/_sim/clock").json()["nowMs"])

    def wait_for_sim(self, instant_ms: int) -> None:
        # A real wait, on purpose: the user acts at this instant of the auction.
        time.sleep(max(0.0, (instant_ms - self.sim_now_ms()) / 1000))

    def snipe(self, legacy: str, max_bid: int, lead: int, group: str | None = None) -> str:
        body: dict[str, Any] = {"ebayItemId": legacy, "maxBidAmount": max_bid, "leadSeconds": lead}
        if group:
            body["groupId"] = group
        created = self.http.post("/bids", json=body, headers=self.headers)
        assert created.status_code == 201, created.text
        return str(created.json()["bidId"])

    def get(self, bid_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/bids/{bid_id}", headers=self.headers).json())

    def wait_for_status(self, bid_id: str, wanted: set[str], timeout: float) -> dict[str, Any]:
        # polling the API every 0.2 s, as the dashboard would
        eventually(lambda: self.get(bid_id)["status"] in wanted, timeout, interval=0.2)
        return self.get(bid_id)

    def our_bids(self, legacy: str) -> list[dict[str, Any]]:
        state = self.admin.get(f"/_sim/auctions/{legacy}").json()
        return [b for b in state["bids"] if b["bidder"] == self.ebay_user and b["accepted"]]

    def auction_state(self, legacy: str) -> dict[str, Any]:
        return dict(self.admin.get(f"/_sim/auctions/{legacy}").json())


def _claimed_then_lead_shortened(user: Shopper, scenario: Scenario) -> tuple[str, str, int]:
    """A snipe with a 30 s lead, claimed by its executor (ARMED), whose lead the user then
    shortens to 1 s: the start both findings 1 and 2 share."""
    lot = user.auction(ends_in=55)
    scenario.auctions["lot"] = lot
    bid_id = user.snipe(lot["legacyItemId"], 5000, lead=30)
    armed = user.wait_for_status(bid_id, {"ARMED"}, timeout=20)
    assert armed["status"] == "ARMED", armed
    shortened = user.http.put(f"/bids/{bid_id}", json={"leadSeconds": 1}, headers=user.headers)
    scenario.answers["lead"] = shortened.status_code
    return lot["legacyItemId"], bid_id, int(lot["endTimeMs"])


def _cancel_after_lead_change(user: Shopper, scenario: Scenario) -> None:
    legacy, bid_id, end_ms = _claimed_then_lead_shortened(user, scenario)
    user.wait_for_sim(end_ms - 36_000)
    cancelled = user.http.delete(f"/bids/{bid_id}", headers=user.headers)
    scenario.answers["cancel"] = cancelled.status_code
    user.wait_for_sim(end_ms + 4_000)
    scenario.snipes["bid"] = user.get(bid_id)
    scenario.snipes["ours"] = {"bids": user.our_bids(legacy)}


def _lower_after_lead_change(user: Shopper, scenario: Scenario) -> None:
    legacy, bid_id, end_ms = _claimed_then_lead_shortened(user, scenario)
    user.wait_for_sim(end_ms - 36_000)
    lowered = user.http.put(f"/bids/{bid_id}", json={"maxBidAmount": 1500}, headers=user.headers)
    scenario.answers["lower"] = lowered.status_code
    scenario.snipes["bid"] = user.wait_for_status(
        bid_id, {"WON", "LOST", "FAILED", "CANCELLED"}, timeout=60
    )
    scenario.snipes["ours"] = {"bids": user.our_bids(legacy)}


def _win_one_group_ending_close(user: Shopper, scenario: Scenario) -> None:
    first = user.auction(ends_in=30)
    second = user.auction(ends_in=34)
    scenario.auctions.update(first=first, second=second)
    ids = {
        # The default 6 s lead: the second fires 2 s before the first auction ends.
        name: user.snipe(lot["legacyItemId"], 5000, lead=6, group="one-camera")
        for name, lot in (("first", first), ("second", second))
    }
    final = {"WON", "LOST", "FAILED", "CANCELLED"}
    for name, bid_id in ids.items():
        scenario.snipes[name] = user.wait_for_status(bid_id, final, timeout=70)
    scenario.snipes["winners"] = {
        "ours": [
            name
            for name, lot in (("first", first), ("second", second))
            if user.auction_state(lot["legacyItemId"]).get("winner") == user.ebay_user
        ]
    }


def _create_retried_after_cancel(user: Shopper, scenario: Scenario) -> None:
    """The dashboard's create (``postOnce``): an Idempotency-Key, sent again while the answer
    may have been lost; the snipe shows on the dashboard at once and the user cancels it before
    the retry lands."""
    lot = user.auction(ends_in=30)
    legacy = lot["legacyItemId"]
    body = {"ebayItemId": legacy, "maxBidAmount": 5000, "leadSeconds": 6}
    keyed = {**user.headers, "Idempotency-Key": "set-snipe-click-1"}
    first = user.http.post("/bids", json=body, headers=keyed)
    bid_id = first.json()["bidId"]
    cancelled = user.http.delete(f"/bids/{bid_id}", headers=user.headers)
    retried = user.http.post("/bids", json=body, headers=keyed)
    scenario.answers.update(
        create=first.status_code, cancel=cancelled.status_code, retry=retried.status_code
    )
    scenario.snipes["retry"] = retried.json()
    scenario.snipes["first"] = {"bidId": bid_id}
    user.wait_for_sim(int(lot["endTimeMs"]) + 4_000)
    every = "PENDING,ARMED,PLACED,WON,LOST,FAILED,CANCELLED"
    listed = user.http.get("/bids", params={"status": every}, headers=user.headers).json()["items"]
    scenario.snipes["listed"] = {
        "bidIds": [b["bidId"] for b in listed if b["ebayItemId"] == legacy]
    }
    scenario.snipes["ours"] = {"bids": user.our_bids(legacy)}


@pytest.fixture(scope="module")
def outcomes(aws_endpoint: str) -> Iterator[dict[str, Scenario]]:
    with running_stack(aws_endpoint_url=aws_endpoint) as running:
        plays: dict[str, Callable[[Shopper, Scenario], None]] = {
            "cancel": _cancel_after_lead_change,
            "lower": _lower_after_lead_change,
            "group": _win_one_group_ending_close,
            "retry": _create_retried_after_cancel,
        }
        scenarios = {name: Scenario() for name in plays}
        users = {name: Shopper(running, name) for name in plays}

        def play(name: str) -> None:
            try:
                plays[name](users[name], scenarios[name])
            except BaseException as exc:  # reported by the test that reads this scenario
                scenarios[name].error = exc

        threads = [threading.Thread(target=play, args=(name,)) for name in plays]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=150)
        yield scenarios


def _ok(scenario: Scenario) -> Scenario:
    if scenario.error is not None:
        raise scenario.error
    return scenario


def test_finding_1_a_cancel_that_answered_200_places_no_bid(outcomes):
    # Given a claimed snipe whose lead the user shortened from 30 s to 1 s
    # When the user cancels it 36 s before the end
    scenario = _ok(outcomes["cancel"])
    # Then the cancel answered 200 and eBay got no bid of ours; the record says CANCELLED
    assert scenario.answers == {"lead": 200, "cancel": 200}
    assert scenario.snipes["ours"]["bids"] == []
    assert scenario.snipes["bid"]["status"] == "CANCELLED"


def test_finding_2_a_lowered_maximum_is_the_one_ebay_receives(outcomes):
    # Given a claimed snipe whose lead the user shortened from 30 s to 1 s
    # When the user lowers its maximum to 15.00, 36 s before the end
    scenario = _ok(outcomes["lower"])
    # Then eBay received 15.00, and the record agrees
    assert scenario.answers == {"lead": 200, "lower": 200}
    assert [b["maxAmount"] for b in scenario.snipes["ours"]["bids"]] == [1500]
    assert scenario.snipes["bid"]["status"] == "WON"
    assert scenario.snipes["bid"]["maxBidAmount"] == 1500


def test_finding_3_a_win_one_group_never_wins_twice(outcomes):
    # Given a win-one group of two winnable auctions ending 4 s apart
    # When both come to their end
    scenario = _ok(outcomes["group"])
    # Then eBay shows us the winner of one only, and the records agree: one WON, one not
    assert len(scenario.snipes["winners"]["ours"]) == 1
    statuses = sorted(scenario.snipes[name]["status"] for name in ("first", "second"))
    assert statuses.count("WON") == 1
    assert statuses != ["WON", "WON"]


def test_a_create_retried_with_its_key_after_a_cancel_places_no_bid(outcomes):
    # Given a snipe set from the dashboard (with an Idempotency-Key), cancelled by the user
    # When the create's retry with that key arrives after the cancel
    scenario = _ok(outcomes["retry"])
    # Then the retry is answered with the cancelled snipe, no other is made, and eBay gets no bid
    assert scenario.answers == {"create": 201, "cancel": 200, "retry": 201}
    assert scenario.snipes["retry"]["bidId"] == scenario.snipes["first"]["bidId"]
    assert scenario.snipes["retry"]["status"] == "CANCELLED"
    assert scenario.snipes["listed"]["bidIds"] == [scenario.snipes["first"]["bidId"]]
    assert scenario.snipes["ours"]["bids"] == []
