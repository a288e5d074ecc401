"""What the chaos run found: a snipe whose run died after its claim, and whose one Lambda retry
died too, stayed ARMED forever (no outcome, no email). A follow-up after the end, set before the
first claim, now finishes it: FAILED when eBay never got the bid, PLACED and then the outcome when
it did, without bidding again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from bench.chaos_harness import RunKilled
from common.clock import new_id
from common.data.bids import BidsRepository
from common.ebay.client import EbayClient
from common.ebay.config import DEFAULT_USER_SCOPES, EbayConfig, RetryPolicy
from common.ebay.credentials import AppCredentials
from common.models import BidEntity, BidStatus, HistoryAction, HistoryEntity
from local.ebay_sim.simulator import Simulator
from local.ebay_sim.testing import TEST_CONFIG, SteppedClock, running_simulator
from tests.engine_support import group_ports, linked_profile
from tests.stack_env import get_settings
from workers.logic.snipe_engine import (
    MISSED_REASON,
    OUTCOME_RETRY_DELAY_SECONDS,
    TAKEOVER_AFTER_END_SECONDS,
    SnipeEngine,
)

USER = "user-recovery"
EBAY_USER = "recovery_rita"


class Scheduler:
    def __init__(self) -> None:
        self.outcome_checks: list[tuple[str, int]] = []

    def wake(self, user_id: str, bid_id: str, fire_at: int, now: float) -> str:
        return "schedule"

    def check_outcome_at(self, user_id: str, bid_id: str, at: int) -> None:
        self.outcome_checks.append((bid_id, at))

    def cancel(self, bid_ids: Any) -> None:
        pass


class DiesAfterClaim:
    """The repository of a run that dies right after its claim's write."""

    def __init__(self, inner: BidsRepository) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def replace(self, before: BidEntity, after: BidEntity, *args: Any, **kwargs: Any) -> Any:
        result = self.inner.replace(before, after, *args, **kwargs)
        if after.status is BidStatus.ARMED and after.countdownPhase == "ARMED":
            raise RunKilled("after-claim")
        return result


class DiesAfterBid:
    """The eBay client of a run that dies once eBay accepted its bid."""

    def __init__(self, inner: EbayClient) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def place_proxy_bid(self, *args: Any, **kwargs: Any) -> Any:
        self.inner.place_proxy_bid(*args, **kwargs)
        raise RunKilled("after-accept")


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[Simulator, str, SteppedClock]]:
    """eBay and every run here on one clock that the tests move past an auction's end."""
    clock = SteppedClock()
    with running_simulator(clock=clock.ms) as (simulator, base_url):
        yield simulator, base_url, clock


@pytest.fixture
def world(clean_tables, sim) -> dict[str, Any]:
    simulator, base_url, clock = sim
    linked_profile(USER, EBAY_USER)
    code = simulator.issue_code(EBAY_USER, frozenset(DEFAULT_USER_SCOPES))
    access, _ = simulator.exchange_code(code, TEST_CONFIG.ru_name)
    s = get_settings()
    ebay = EbayClient(
        EbayConfig.for_environment(
            "local", api_base_url=base_url, retry=RetryPolicy(base_delay=0.05)
        ),
        AppCredentials(
            client_id=TEST_CONFIG.client_id,
            client_secret=SecretStr(TEST_CONFIG.client_secret),
            ru_name=TEST_CONFIG.ru_name,
        ),
        clock=clock,
        sleep=clock.sleep,
    )
    return {
        "clock": clock,
        "sim": simulator,
        "ebay": ebay,
        "token": SecretStr(access.token),
        "bids": BidsRepository(s.bids_table, s.users_and_app_state_table, s.bid_history_table),
        "scheduler": Scheduler(),
    }


def engine(
    world: dict[str, Any], execution_id: str, *, bids: Any = None, ebay: Any = None
) -> SnipeEngine:
    return SnipeEngine(
        bids=bids or world["bids"],
        ebay=ebay or world["ebay"],
        tokens=lambda user, until, force=False: world["token"],
        scheduler=world["scheduler"],
        notify=lambda kind, user, bid: None,
        history_ttl_days=30,
        **group_ports(),
        clock=world["clock"],
        sleep=world["clock"].sleep,
        execution_id=execution_id,
        edge_probes=2,
    )


def follow_up(world: dict[str, Any]) -> SnipeEngine:
    """The run the follow-up schedule starts after the end (a minute after it on AWS; here, its
    clock reads the takeover margin after it)."""
    run = engine(world, "follow-up")
    run.clock = lambda: world["clock"]() + TAKEOVER_AFTER_END_SECONDS
    return run


def snipe(world: dict[str, Any], ends_in: float = 3.0) -> tuple[Any, BidEntity]:
    now = world["clock"].ms()
    lot = world["sim"].create_auction("Rolleiflex", 1000, (int(now / 1000 + ends_in) + 1) * 1000)
    bid = BidEntity(
        userId=USER,
        bidId=new_id(),
        ebayItemId=lot.legacy_id,
        itemId=lot.item_id,
        maxBidAmount=5000,
        currency="USD",
        leadSeconds=1,
        status=BidStatus.PENDING,
        auctionEndTime=lot.end_ms // 1000,
        itemTitle="Rolleiflex",
        createdAt=now,
        updatedAt=now,
    )
    world["bids"].create(
        bid,
        HistoryEntity(
            userId=USER,
            historyId=new_id(),
            originalBidId=bid.bidId,
            action=HistoryAction.CREATE,
            timestamp=now,
            ebayItemId=bid.ebayItemId,
            status=BidStatus.PENDING,
        ),
    )
    return lot, bid


def our_bids(world: dict[str, Any], lot: Any) -> list[dict[str, Any]]:
    state = world["sim"].auction_json(lot.legacy_id)
    return [b for b in state["bids"] if b["bidder"] == EBAY_USER and b["accepted"]]


def after_the_end(world: dict[str, Any], bid: BidEntity) -> None:
    world["clock"].advance_to(bid.auctionEndTime + 0.2)


def test_a_snipe_whose_run_and_retry_died_after_the_claim_is_failed_after_the_end(world):
    # Given a snipe whose run died right after claiming it, and Lambda's retry (same request
    # id, so it takes the claim over) died the same way
    lot, bid = snipe(world)
    dying = DiesAfterClaim(world["bids"])
    for _ in range(2):
        with pytest.raises(RunKilled):
            engine(world, "dead-run", bids=dying).run(USER, bid.bidId)
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.ARMED
    # Then a follow-up after the end was set before the claim
    end_check = (bid.bidId, bid.auctionEndTime + OUTCOME_RETRY_DELAY_SECONDS)
    assert world["scheduler"].outcome_checks == [end_check]
    # When that follow-up runs after the end
    after_the_end(world, bid)
    result = follow_up(world).run(USER, bid.bidId)
    # Then the snipe is FAILED in words, and eBay holds no bid
    assert result == "failed"
    stored = world["bids"].require(USER, bid.bidId)
    assert (stored.status, stored.failureReason) == (BidStatus.FAILED, MISSED_REASON)
    assert our_bids(world, lot) == []


def test_a_snipe_whose_run_died_after_ebay_accepted_is_placed_and_won_after_the_end(world):
    # Given a snipe whose run died once eBay had accepted its bid, and no retry
    lot, bid = snipe(world)
    with pytest.raises(RunKilled):
        engine(world, "dead-run", ebay=DiesAfterBid(world["ebay"])).run(USER, bid.bidId)
    assert world["scheduler"].outcome_checks
    # When the follow-up runs after the end
    after_the_end(world, bid)
    result = follow_up(world).run(USER, bid.bidId)
    # Then eBay's bid is recorded (PLACED, then WON) and eBay still holds exactly one bid
    assert result == "won"
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.WON
    assert len(our_bids(world, lot)) == 1
