"""The price updater's batched polling and the dashboards' refreshes end to end below the
handlers: moto's tables (from template.yaml), the day's budget counters, the refresh claims,
the real eBay client and the eBay simulator. The clock is a fake the test moves; the simulator
keeps real time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
import httpx
import pytest
from pydantic import SecretStr

from common import price_polls as logic
from common.data.budget import (
    BROWSE,
    FINAL_POLLS,
    GETITEMS,
    HOUR_POLLS,
    ITEM_LOOKUPS,
    SNIPE_CREATION,
    CallBudget,
    day_bounds,
    ebay_day,
)
from common.data.prices import PriceHistory
from common.data.refresh_claims import RefreshClaims
from common.data.snipe_updates import SnipeUpdates
from common.ebay.client import EbayClient
from common.ebay.config import EbayConfig, RetryPolicy
from common.ebay.credentials import AppCredentials
from tests.dynamo_faults import LateWrites
from tests.integration.workers.worker_helpers import FakeNotifier, bids_repo, put_bid
from tests.memory import MemoryRefreshClaims
from tests.stack_env import get_settings

sim_testing = pytest.importorskip("local.ebay_sim.testing", reason="the eBay simulator is absent")
pytestmark = pytest.mark.usefixtures("workers_env")


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def simulator() -> Iterator[tuple[Any, EbayClient]]:
    with sim_testing.running_simulator() as (sim, base_url):
        config = sim_testing.TEST_CONFIG
        client = EbayClient(
            EbayConfig.for_environment(
                "local",
                api_base_url=base_url,
                auth_base_url=f"{base_url}/oauth2/authorize",
                retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05),
            ),
            AppCredentials(
                clientId=config.client_id,
                clientSecret=SecretStr(config.client_secret),
                ruName=config.ru_name,
            ),
            http=httpx.Client(),
        )
        yield sim, client


def test_refreshes_poll_the_final_minutes_in_one_getitems_call_within_the_budget(
    simulator: tuple[Any, EbayClient],
) -> None:
    # Given three auctions at eBay ending in about 4 minutes, each sniped by its own user
    sim, ebay = simulator
    now = int(time.time())
    auctions = [
        sim.create_auction("Leica lens", 1000, (now + 240 + n) * 1000, seller="shop", bots=False)
        for n in range(3)
    ]
    for n, auction in enumerate(auctions):
        put_bid(
            user_id=f"user-{n}",
            bid_id=f"{now}000aaaaaaaa{n}",
            ebay_item_id=auction.legacy_id,
            auctionEndTime=now + 240 + n,
        )
    settings = get_settings()
    budget = CallBudget(settings.users_and_app_state_table, 5000, 5000)
    history = PriceHistory(settings.users_and_app_state_table)
    claims = RefreshClaims(settings.users_and_app_state_table)
    clock = Clock(float(now))

    ports = SimpleNamespace(
        bids=bids_repo(),
        updates=SnipeUpdates(settings.bids_table),
        prices=history,
        budget=budget,
        ebay=ebay,
        notifier=FakeNotifier(),
        claims=claims,
    )

    def refresh(user: str) -> logic.RefreshResult:
        return logic.refresh(user, ports, clock)

    # When the minute's run runs, then, at the pace it set (5 s on a quiet day), every owner's
    # dashboard refreshes at once
    run = logic.run(ports, clock, now + 53, 4)
    assert (run.rounds, run.pollInterval, run.ebayCalls) == (1, 5000, 1)
    clock.now += 5
    first = [refresh(f"user-{n}") for n in range(3)]
    # Then of the three refreshes one polled the three items in one getItems call
    assert [r.ebayCalls for r in first] == [1, 0, 0]
    assert [r.shared for r in first] == [False, True, True]
    assert sim.calls_json() == {"getItems": 2}
    # And when rivals bid on the first auction, and a dashboard asks again 4 s later (too soon
    # for that user), then another 5 s after the first round
    rival = auctions[0].legacy_id
    sim.place_bid(rival, "rival_a", 2_000)
    sim.place_bid(rival, "rival_b", 3_000)
    clock.now += 4
    assert refresh("user-0").throttled
    clock.now += 1
    later = refresh("user-2")
    # Then that refresh polled them, charged to the final minutes' share, and the rivals' price
    # reached the snipe with its point
    assert later.ebayCalls == 1
    assert sim.calls_json() == {"getItems": 3}
    counters = budget.counters(ebay_day(now), GETITEMS)
    assert (counters["calls"], counters["u_final"]) == (3, 3)
    assert budget.spent(ebay_day(now), BROWSE) == 0  # getItems' quota, not the look-ups'
    price = sim.auction_json(rival)["currentPrice"]
    snipe = bids_repo().get("user-0", f"{now}000aaaaaaaa0")
    assert snipe is not None
    assert snipe.currentPrice == price > 2_000
    assert history.points(rival)[-1] == (now + 10, price)


@pytest.fixture(params=["memory", "dynamodb"])
def claims(request: pytest.FixtureRequest) -> logic.RefreshClaims:
    """The refresh claims on the Users table, or their in-memory stand-in (one contract)."""
    if request.param == "memory":
        return MemoryRefreshClaims()
    return RefreshClaims(get_settings().users_and_app_state_table)


def test_refresh_claims_let_one_through_per_window(claims: logic.RefreshClaims) -> None:
    # Given the refresh claims
    t = 1_900_000_000_000
    # When a user claims twice within 5 s, then at 5 s / Then only the first and the last win
    users = [claims.claim_user("u", at, 5) for at in (t, t + 4_999, t + 5_000)]
    assert [claim.taken for claim in users] == [True, False, True]
    # and each says when the user's window reopens: 5 s after the one that won
    assert [claim.reopens_in_ms for claim in users] == [5_000, 1, 5_000]
    # and another user's window is their own
    assert claims.claim_user("v", t + 1, 5)
    # and the round's window is the interval asked, whoever asks; a refused claim reads what
    # is left of it from its failed condition
    rounds = [claims.claim_round(at, 14_000) for at in (t, t + 3_500, t + 13_999, t + 14_000)]
    assert [claim.taken for claim in rounds] == [True, False, False, True]
    assert [claim.reopens_in_ms for claim in rounds] == [14_000, 10_500, 1, 14_000]
    # and a pace holds until it expires
    assert claims.pace_ms(t) is None
    claims.set_pace(14_450, t, 180)
    assert (claims.pace_ms(t + 179_999), claims.pace_ms(t + 180_000)) == (14_450, None)


def test_a_failed_round_gives_back_only_its_own_claim_at_most_once_a_pace(
    claims: logic.RefreshClaims,
) -> None:
    # Given the round of the final minutes claimed at t, paced 30 s
    t = 1_900_000_000_000
    assert claims.claim_round(t, 30_000)
    # When a round that did not take it (claimed at t + 1) tries to give it back / Then nothing
    # changes: the round is t's
    assert not claims.give_back_round(t + 1, 30_000)
    assert not claims.claim_round(t + 2_000, 30_000)
    # When t's round, its poll failed, gives it back / Then the next claim takes it at once, and
    # t's cannot give back again what is now another's
    assert claims.give_back_round(t, 30_000)
    assert claims.claim_round(t + 2_000, 30_000)
    assert not claims.give_back_round(t, 30_000)
    # and when that round fails too, less than a pace after the first gave it back, it keeps it
    # for the pace
    assert not claims.give_back_round(t + 2_000, 30_000)
    refused = claims.claim_round(t + 3_000, 30_000)
    assert (refused.taken, refused.reopens_in_ms) == (False, 29_000)
    # and a round a pace after that gives it back again
    assert claims.claim_round(t + 32_000, 30_000)
    assert claims.give_back_round(t + 32_000, 30_000)
    assert claims.claim_round(t + 32_001, 30_000)


def test_a_round_given_back_whose_answer_was_lost_is_still_given_back() -> None:
    # Given the round claimed at t on the Users table, and DynamoDB applying the give-back but
    # losing its answer, so botocore sends it again and the repeat fails its own condition
    client = boto3.client("dynamodb")
    claims = RefreshClaims(get_settings().users_and_app_state_table, client)
    t = 1_900_000_000_000
    assert claims.claim_round(t, 30_000)
    late = LateWrites(client)
    late.arm(1, only="givenBackAt")
    # When the round gives it back / Then it says so (the dashboard is told to ask again at
    # once), and the next claim takes the round
    try:
        assert claims.give_back_round(t, 30_000)
        assert late.late == ["UpdateItem"]
    finally:
        late.close()
    assert claims.claim_round(t + 1_000, 30_000)


@pytest.mark.parametrize("which", ["round", "user"])
def test_a_claim_applied_whose_answer_was_lost_is_still_the_claimers(which: str) -> None:
    # Given the refresh claims on the Users table, and DynamoDB applying a claim but losing its
    # answer, so botocore sends it again and the repeat fails on the claim it made
    client = boto3.client("dynamodb")
    claims = RefreshClaims(get_settings().users_and_app_state_table, client)
    t = 1_900_000_000_000
    late = LateWrites(client)
    late.arm(1, only="roundAt" if which == "round" else "refreshedAt")

    def claim(at: int) -> Any:
        return (
            claims.claim_round(at, 30_000) if which == "round" else claims.claim_user("u", at, 30)
        )

    # When the claim is made / Then it is taken (the round runs, not "shared" with nobody), and
    # the window is held against the next
    try:
        taken = claim(t)
        assert late.late == ["UpdateItem"]
    finally:
        late.close()
    assert (taken.taken, taken.reopens_in_ms) == (True, 30_000)
    refused = claim(t + 1_000)
    assert (refused.taken, refused.reopens_in_ms) == (False, 29_000)


def test_items_polled_ahead_of_a_minutes_run_are_kept_for_that_minute() -> None:
    # Given the refresh claims on the Users table, and nothing carried yet
    claims = RefreshClaims(get_settings().users_and_app_state_table)
    minute, t = 31_666_667, 1_900_000_020_000
    assert claims.carried(minute) == frozenset()
    # When two rounds carry items for that minute, one of them twice
    claims.add_carried(minute, ["110000000001", "110000000002"], t)
    claims.add_carried(minute, ["110000000002", "110000000003"], t + 10_000)
    # Then that minute's run finds all three, and the next minute none
    assert claims.carried(minute) == {"110000000001", "110000000002", "110000000003"}
    assert claims.carried(minute + 1) == frozenset()


def test_the_final_minutes_plan_on_their_reserve_and_what_the_others_leave_of_the_pool() -> None:
    # Given 5,000 getItems calls a day (2,000 reserved for the final minutes, a pool of 3,000)
    # and, by noon on eBay's clock (Pacific time), 100 final-minutes polls and 500 hour polls
    # (from the pool)
    noon = int(day_bounds(1_899_936_000)[0]) + 43_200
    budget = CallBudget(get_settings().users_and_app_state_table, 5000, 5000)
    assert budget.reserve(FINAL_POLLS, 100, noon) == 100
    assert budget.reserve(HOUR_POLLS, 500, noon) == 500
    # and snipe creation and the wishlist spending from the other quota's pool
    for n in range(30):
        budget.take_one(ITEM_LOOKUPS, f"user-{n}", noon)
    budget.reserve(SNIPE_CREATION, 3_000, noon)
    # When the final minutes plan the rest of the day
    planned = budget.plan(FINAL_POLLS, noon)
    # Then they count on the 1,900 left of their reserve and the pool's 2,500 less the 500 the
    # hour's polls are on course to take by midnight; the look-ups' calls are not theirs
    assert planned == 1_900 + 2_000
    # and once the pool is spent, on their reserve alone
    budget.reserve(HOUR_POLLS, 3_000, noon)
    assert budget.plan(FINAL_POLLS, noon) == 1_900
