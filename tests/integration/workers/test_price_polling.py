"""The price updater's batched polling end to end below the handler: moto's tables (from
template.yaml), the day's budget counters, the real eBay client and the eBay simulator. The
run's clock is a fake that its sleeps move; the simulator keeps real time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from common.data.budget import FINAL_POLLS, HOUR_POLLS, CallBudget, utc_day
from common.data.connections import ConnectionsRepository
from common.data.prices import PriceHistory
from common.data.snipe_updates import SnipeUpdates
from common.ebay.client import EbayClient
from common.ebay.config import EbayConfig, RetryPolicy
from common.ebay.credentials import AppCredentials
from common.models import ConnectionEntity
from tests.integration.workers.worker_helpers import FakeNotifier, bids_repo, put_bid
from tests.stack_env import get_settings
from workers.logic import prices as logic

sim_testing = pytest.importorskip("local.ebay_sim.testing", reason="the eBay simulator is absent")
pytestmark = pytest.mark.usefixtures("workers_env")


@dataclass
class SteppingClock:
    """The run's clock: its sleeps move it; ``at`` hooks run once their instant is reached."""

    now: float
    at: list[tuple[float, Callable[[], object]]] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for when, hook in [h for h in self.at if h[0] <= self.now]:
            self.at.remove((when, hook))
            hook()


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


def test_the_final_minutes_are_polled_in_one_getitems_call_a_round_within_the_budget(
    simulator: tuple[Any, EbayClient],
) -> None:
    # Given three auctions at eBay ending in about 4 minutes, each sniped, and a run with 30 s
    # until its deadline
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
    budget = CallBudget(settings.users_and_app_state_table, 5000)
    history = PriceHistory(settings.users_and_app_state_table)
    clock = SteppingClock(float(now))
    # and the first snipe's owner with the dashboard open (the rounds are for it)
    connections = ConnectionsRepository(settings.connections_table)
    connections.put(
        ConnectionEntity(connectionId="conn-0", userId="user-0", connectedAt=1, ttl=now + 7200)
    )
    # and rival bids at eBay on the first auction 12 s into the run
    rival = auctions[0].legacy_id
    clock.at.append((now + 12.0, lambda: sim.place_bid(rival, "rival_a", 2_000)))
    clock.at.append((now + 12.0, lambda: sim.place_bid(rival, "rival_b", 3_000)))
    # When the minute's run runs
    ports = SimpleNamespace(
        bids=bids_repo(),
        updates=SnipeUpdates(settings.bids_table),
        prices=history,
        budget=budget,
        ebay=ebay,
        notifier=FakeNotifier(),
        watchers=connections,
    )
    result = logic.run(
        ports,
        clock,
        now + 30,
        4,
        clock.sleep,
    )
    # Then every round was one getItems call for the three items, as eBay counted them
    assert result.pollInterval == 5000
    assert result.rounds == 6  # at 0, 5, ..., 25 s
    assert sim.calls_json() == {"getItems": 6}
    assert (result.ebayCalls, result.itemPolls) == (6, 18)
    # and the day's counters charged them to the final minutes' share
    counters = budget.counters(utc_day(now))
    assert (counters["calls"], counters["u_final"]) == (6, 6)
    # and the rivals' price reached the snipe in the round after their bids, with its point
    price = sim.auction_json(rival)["currentPrice"]
    snipe = bids_repo().get("user-0", f"{now}000aaaaaaaa0")
    assert snipe is not None
    assert snipe.currentPrice == price > 2_000
    assert history.points(rival)[-1] == (now + 15, price)


def test_the_final_minutes_plan_on_their_reserve_and_what_the_others_leave_of_the_pool() -> None:
    # Given 5,000 calls a day (1,000 reserved for the final minutes, a pool of 3,500) and, by
    # noon UTC, 100 final-minutes polls and 500 hour polls (from the pool)
    noon = 1_899_936_000 + 43_200
    budget = CallBudget(get_settings().users_and_app_state_table, 5000)
    assert budget.reserve(FINAL_POLLS, 100, noon) == 100
    assert budget.reserve(HOUR_POLLS, 500, noon) == 500
    # When the final minutes plan the rest of the day
    planned = budget.plan(FINAL_POLLS, noon)
    # Then they count on the 900 left of their reserve and the pool's 3,000 less the 500 the
    # others are on course to take by midnight
    assert planned == 900 + 2_500
    # and once the pool is spent, on their reserve alone
    budget.reserve(HOUR_POLLS, 3_000, noon)
    assert budget.plan(FINAL_POLLS, noon) == 900
