"""Competing bots, demo auctions, the standalone command and the test helper."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx

from local.ebay_sim import SimConfig, Simulator
from local.ebay_sim.testing import TEST_CONFIG, running_simulator

REPO = Path(__file__).resolve().parents[3]


def _run_to_end(config: SimConfig) -> list[tuple[str, int, bool]]:
    sim = Simulator(config)
    now = sim.now_ms()
    auction = sim.create_auction("Canon AE-1", 5_000, now + 120_000, reserve_price=8_000)
    for seconds in range(0, 121, 2):
        sim.set_skew(seconds * 1000 - 1)
        sim.run_bots()
    return [(b.bidder, b.max_amount, b.accepted) for b in auction.bids]


def test_bots_are_deterministic_per_seed() -> None:
    # Given two simulators with the same seed and one with another seed
    config = replace(TEST_CONFIG, bots=True, seed=11)
    # When each auction runs to its end with the bots firing
    first, second = _run_to_end(config), _run_to_end(config)
    other = [_run_to_end(replace(config, seed=seed)) for seed in range(12, 16)]
    # Then the same seed gives the same bids, and other seeds give other bids
    assert first == second
    assert first
    assert any(run != first for run in other)


def test_no_bots_means_no_competition() -> None:
    # Given bots disabled / When the auction runs to its end / Then nobody bids
    assert _run_to_end(TEST_CONFIG) == []


def test_snipers_bid_in_the_last_ten_seconds() -> None:
    # Given many seeded auctions with bots
    late_bids = 0
    for seed in range(20):
        sim = Simulator(replace(TEST_CONFIG, bots=True, seed=seed))
        now = sim.now_ms()
        auction = sim.create_auction("Game Boy", 2_000, now + 60_000)
        # When the clock is at 11 s before the end and bots fire, then at the end
        sim.set_skew(49_000)
        sim.run_bots()
        early = len(auction.bids)
        sim.set_skew(59_999)
        sim.run_bots()
        late_bids += len(auction.bids) - early
    # Then some bots waited for the last seconds to bid
    assert late_bids > 0


def test_seed_demo_fills_a_watch_list() -> None:
    # Given a simulator / When demo auctions are seeded for a user
    sim = Simulator(replace(TEST_CONFIG, bots=False))
    now = sim.now_ms()
    created = sim.seed_demo("demo_buyer")
    # Then ~6 realistic auctions end over 2-15 minutes, in their watch list, with bots
    assert len(created) == 6
    assert [a.legacy_id for a in sim.watchlist("demo_buyer")] == [a.legacy_id for a in created]
    for auction in created:
        assert 120_000 <= auction.end_ms - now <= 15 * 60_000 + 1_000
        assert len(auction.title) > 20
    assert sum(a.reserve_price is not None for a in created) >= 1
    assert sum(a.buy_it_now_price is not None for a in created) == 1
    sim.set_skew(110_000)
    assert sim.run_bots() > 0


def test_running_simulator_serves_and_stops() -> None:
    # Given the test helper / When used / Then the simulator answers, and is gone afterwards
    with running_simulator() as (sim, base_url):
        assert httpx.get(f"{base_url}/_sim/accounts").json() == {"accounts": []}
        assert sim.config is TEST_CONFIG
    try:
        httpx.get(f"{base_url}/_sim/accounts", timeout=1)
        still_up = True
    except httpx.ConnectError:
        still_up = False
    assert not still_up


def test_command_line_prints_url_and_keyset() -> None:
    # Given the standalone command on a free port with a demo user
    command = [sys.executable, "-u", "-m", "local.ebay_sim", "--port", "0", "--no-bots"]
    process = subprocess.Popen(
        [*command, "--demo-user", "alice"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        # When it starts
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        base_url = lines[0].rsplit(" ", 1)[1].strip()
        # Then it prints its URL and the app keyset, and serves the demo watch list
        assert base_url.startswith("http://127.0.0.1:")
        assert any("client id" in line for line in lines)
        assert any("RuName" in line for line in lines)
        accounts = httpx.get(f"{base_url}/_sim/accounts").json()["accounts"]
        assert accounts[0]["username"] == "alice"
        assert len(accounts[0]["watchlist"]) == 6
    finally:
        process.terminate()
        process.wait(timeout=10)
