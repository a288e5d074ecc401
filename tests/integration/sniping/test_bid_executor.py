"""The bid executor against moto's tables (from template.yaml) and the eBay simulator.

Auctions end a few seconds after the test starts, so each run waits a few real seconds; the
tests assert what happened, never how precisely it was timed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from common.clock import new_id
from common.data.bids import BidsRepository
from common.data.users import UsersRepository
from common.ebay.client import EbayClient
from common.ebay.config import DEFAULT_USER_SCOPES, EbayConfig, RetryPolicy
from common.ebay.credentials import AppCredentials
from common.ebay.errors import EbayError, EbayUnavailable
from common.errors import EbayNotLinkedError
from common.models import BidEntity, BidStatus, HistoryAction, HistoryEntity
from common.scheduling import UnlessOwnerDeleted
from local.ebay_sim.faults import FaultConfig
from local.ebay_sim.simulator import Simulator
from local.ebay_sim.testing import TEST_CONFIG, SteppedClock, running_simulator
from tests.engine_support import group_ports, linked_profile
from tests.fakes import FakeScheduler
from tests.stack_env import get_settings
from workers.logic.snipe_engine import NOT_LINKED_REASON, TAKEOVER_AFTER_END_SECONDS, SnipeEngine

USER = "user-snipe"
EBAY_USER = "sniper_sam"


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[Simulator, str, SteppedClock]]:
    """eBay, on the clock the runs read too: real time until a test moves it."""
    clock = SteppedClock()
    with running_simulator(clock=clock.ms) as (simulator, base_url):
        yield simulator, base_url, clock


@pytest.fixture
def world(clean_tables, sim) -> Iterator[dict[str, Any]]:
    simulator, base_url, clock = sim
    simulator.clear_faults()
    linked_profile(USER, EBAY_USER)
    code = simulator.issue_code(EBAY_USER, frozenset(DEFAULT_USER_SCOPES))
    access, _refresh = simulator.exchange_code(code, TEST_CONFIG.ru_name)
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
    )
    yield {
        "clock": clock,
        "sim": simulator,
        "ebay": ebay,
        "token": SecretStr(access.token),
        "bids": BidsRepository(s.bids_table, s.users_and_app_state_table, s.bid_history_table),
        "scheduler": FakeScheduler(),
        "notified": [],
    }
    simulator.clear_faults()
    clock.offset = 0.0  # each test starts on real time; its auctions are its own


def engine(world: dict[str, Any], *, linked: bool = True, driven: bool = False) -> SnipeEngine:
    """A run on the world's clock; ``driven``: its waits move that clock instead of waiting (a
    run alone: nothing else needs the time to pass meanwhile)."""

    def tokens(user_id: str, valid_until: int, force_refresh: bool = False) -> SecretStr:
        if not linked:
            raise EbayNotLinkedError("Link your eBay account first")
        return world["token"]

    return SnipeEngine(
        bids=world["bids"],
        ebay=world["ebay"],
        tokens=tokens,
        scheduler=world["scheduler"],
        notify=lambda kind, user, bid: world["notified"].append((kind, bid)),
        history_ttl_days=30,
        **group_ports(),
        clock=world["clock"],
        sleep=world["clock"].sleep if driven else time.sleep,
        edge_probes=2,
    )


def after_the_end(world: dict[str, Any], lot: Any) -> None:
    """Move eBay's clock and the runs' past the auction's end (0.2 s past), as if it had ended."""
    world["clock"].advance_to(lot.end_ms / 1000 + 0.2)


def auction(world: dict[str, Any], ends_in: float = 3.0, **options: Any) -> Any:
    end_ms = (int(world["clock"]() + ends_in) + 1) * 1000
    return world["sim"].create_auction("Leica M3", 1000, end_ms, **options)


def snipe(
    world: dict[str, Any], lot: Any, max_bid: int = 5000, group: str | None = None
) -> BidEntity:
    now = world["clock"].ms()
    bid = BidEntity(
        userId=USER,
        bidId=new_id(),
        ebayItemId=lot.legacy_id,
        itemId=lot.item_id,
        maxBidAmount=max_bid,
        currency="USD",
        leadSeconds=1,
        groupId=group,
        status=BidStatus.PENDING,
        auctionEndTime=lot.end_ms // 1000,
        itemTitle="Leica M3",
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
    return bid


def our_bids(world: dict[str, Any], lot: Any) -> list[dict[str, Any]]:
    state = world["sim"].auction_json(lot.legacy_id)
    return [b for b in state["bids"] if b["bidder"] == EBAY_USER and b["accepted"]]


def history_actions(world: dict[str, Any], bid: BidEntity) -> list[str]:
    from common.data.history import HistoryRepository

    repo = HistoryRepository(get_settings().bid_history_table)
    page, _ = repo.for_bid(USER, bid.bidId, 100, None)
    return sorted(entry.action.value for entry in page)


def test_three_deliveries_of_one_schedule_bid_once(world):
    # Given a snipe and three concurrent deliveries of its schedule
    lot = auction(world)
    bid = snipe(world, lot)
    results: list[str] = []

    def deliver() -> None:
        results.append(engine(world).run(USER, bid.bidId))  # racing on real time

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    # When they run at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then one run bid and won; the others found it claimed
    assert sorted(results) == ["claimed-elsewhere", "claimed-elsewhere", "won"]
    assert len(our_bids(world, lot)) == 1
    stored = world["bids"].require(USER, bid.bidId)
    assert stored.status is BidStatus.WON
    assert stored.finalPrice == 1000
    assert stored.placedAt is not None
    assert stored.msBeforeEnd is not None
    assert history_actions(world, bid) == ["CREATE", "PLACE", "WIN"]
    assert world["notified"] == [("WON", bid.bidId)]
    # And a later, fourth delivery changes nothing
    assert engine(world, driven=True).run(USER, bid.bidId) == "already-won"


def test_a_run_whose_owner_began_deleting_the_account_leaves_no_schedule_and_no_bid(world):
    # Given a snipe whose owner's account deletion has marked the profile but not yet swept the
    # snipes, and the executor's scheduler guarded as in production
    lot = auction(world)
    bid = snipe(world, lot)
    users = UsersRepository(get_settings().users_and_app_state_table)
    users.mark_deleted(USER, int(time.time() * 1000))
    fake = world["scheduler"]
    world["scheduler"] = UnlessOwnerDeleted(fake, users.is_deleted)
    # When its schedule's run comes
    result = engine(world, driven=True).run(USER, bid.bidId)
    # Then the follow-up schedule it set first is taken back, and it neither claims nor bids
    assert result == "account-deleted"
    assert fake.outcome_checks == [bid.bidId]
    assert fake.cancelled == [bid.bidId]
    assert our_bids(world, lot) == []
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.PENDING
    assert world["notified"] == []


def test_a_run_killed_after_ebay_accepted_is_recorded_without_bidding_again(world):
    # Given a run that claimed the snipe, got its bid accepted, and died before recording it
    lot = auction(world, ends_in=2)
    bid = snipe(world, lot)
    dead_claim = bid.model_copy(
        update={"status": BidStatus.ARMED, "executionId": "dead-run", "updatedAt": 1}
    )
    world["bids"].replace(bid, dead_claim, [BidStatus.PENDING])
    world["sim"].place_bid(lot.legacy_id, EBAY_USER, 5000)
    # When the retry runs
    result = engine(world, driven=True).run(USER, bid.bidId)
    # Then it recorded PLACED (then the outcome) from getBidding, without a second bid
    assert result == "won"
    assert len(our_bids(world, lot)) == 1
    assert history_actions(world, bid) == ["CREATE", "PLACE", "WIN"]


class GetBiddingFailsOnce:
    """eBay's client, whose first getBidding answer is lost."""

    def __init__(self, inner: EbayClient) -> None:
        self.inner = inner
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_bidding(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise EbayUnavailable("getBidding lost", maybe_processed=False)
        return self.inner.get_bidding(*args, **kwargs)


def test_a_retry_whose_first_check_failed_still_finds_its_earlier_bid(world):
    # Given a run that got its bid accepted and died, and a retry whose first getBidding fails
    lot = auction(world, ends_in=3)
    bid = snipe(world, lot)
    dead_claim = bid.model_copy(
        update={"status": BidStatus.ARMED, "executionId": "dead-run", "updatedAt": 1}
    )
    world["bids"].replace(bid, dead_claim, [BidStatus.PENDING])
    world["sim"].place_bid(lot.legacy_id, EBAY_USER, 5000)
    retry = engine(world, driven=True)
    retry.ebay = GetBiddingFailsOnce(world["ebay"])  # type: ignore[assignment]
    # When the retry bids again and eBay says it cannot lower our own bid
    result = retry.run(USER, bid.bidId)
    # Then it is recognised as ours: PLACED then the outcome, with one bid at eBay
    assert result == "won"
    assert len(our_bids(world, lot)) == 1
    assert history_actions(world, bid) == ["CREATE", "PLACE", "WIN"]


class UserRaisesBeforeTheSeal:
    """The Bids repository, with the user raising the maximum just before the executor's first
    seal (a change the API takes until the freeze instant), so the seal loses to it."""

    def __init__(self, inner: BidsRepository, new_max: int) -> None:
        self.inner = inner
        self.new_max = new_max
        self.raised = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def seal(self, bid: BidEntity, *args: Any, **kwargs: Any) -> Any:
        if not self.raised:
            self.raised = True
            stored = self.inner.require(bid.userId, bid.bidId)
            raised = stored.model_copy(update={"maxBidAmount": self.new_max})
            self.inner.replace(stored, raised, [BidStatus.ARMED])
        return self.inner.seal(bid, *args, **kwargs)


def test_a_maximum_changed_before_the_freeze_is_the_one_bid(world):
    # Given a snipe whose maximum the user raises from 50.00 to 70.00 while its run measures
    # eBay's clock, just before its seal
    lot = auction(world)
    bid = snipe(world, lot, max_bid=5000)
    run = engine(world, driven=True)
    run.bids = UserRaisesBeforeTheSeal(world["bids"], 7000)  # type: ignore[assignment]
    # When the snipe fires
    result = run.run(USER, bid.bidId)
    # Then eBay got the raised maximum, once
    assert result == "won"
    [accepted] = our_bids(world, lot)
    assert accepted["maxAmount"] == 7000
    assert world["bids"].require(USER, bid.bidId).maxBidAmount == 7000


def test_a_takeover_after_the_end_that_cannot_ask_ebay_records_nothing_yet(world):
    # Given a run that got its bid accepted and died, an auction that has ended since, and a
    # takeover whose getBidding fails (found by bench/chaos.py: it recorded FAILED while eBay
    # held the bid)
    lot = auction(world, ends_in=0.5)
    bid = snipe(world, lot)
    dead_claim = bid.model_copy(
        update={"status": BidStatus.ARMED, "executionId": "dead-run", "updatedAt": 1}
    )
    world["bids"].replace(bid, dead_claim, [BidStatus.PENDING])
    world["sim"].place_bid(lot.legacy_id, EBAY_USER, 5000)
    after_the_end(world, lot)
    takeover = engine(world, driven=True)
    takeover.ebay = GetBiddingFailsOnce(world["ebay"])  # type: ignore[assignment]
    # When it runs
    result = takeover.run(USER, bid.bidId)
    # Then nothing is recorded yet and a later run is set to ask again
    assert result == "check-pending"
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.ARMED
    assert world["scheduler"].outcome_checks[-1] == bid.bidId
    # And that later run (the follow-up comes after the takeover margin), with getBidding
    # answering, records PLACED then WON
    later = engine(world, driven=True)
    later.clock = lambda: world["clock"]() + TAKEOVER_AFTER_END_SECONDS
    assert later.run(USER, bid.bidId) == "won"
    assert history_actions(world, bid) == ["CREATE", "PLACE", "WIN"]


def test_a_live_claim_is_left_alone(world):
    # Given a snipe another run claimed a moment ago
    lot = auction(world, ends_in=30)
    bid = snipe(world, lot)
    live = bid.model_copy(
        update={
            "status": BidStatus.ARMED,
            "executionId": "live-run",
            "updatedAt": int(time.time() * 1000),
        }
    )
    world["bids"].replace(bid, live, [BidStatus.PENDING])
    # When a duplicate delivery runs, then it does nothing
    assert engine(world, driven=True).run(USER, bid.bidId) == "claimed-elsewhere"
    assert world["bids"].require(USER, bid.bidId).executionId == "live-run"
    assert our_bids(world, lot) == []


@pytest.mark.parametrize(
    "fault",
    [
        {"errorRate": 0.6, "statuses": [500, 502, 504], "seed": 3},
        {"errorRate": 0.6, "statuses": [503, 429], "seed": 5},
    ],
    ids=["5xx", "503-and-429"],
)
def test_transient_failures_are_retried_until_placed_once(world, fault):
    # Given eBay failing most bid requests
    lot = auction(world)
    bid = snipe(world, lot)
    world["sim"].set_fault(FaultConfig.from_json({"endpoint": "place_proxy_bid", **fault}))
    # When the snipe fires
    result = engine(world, driven=True).run(USER, bid.bidId)
    # Then it is placed exactly once, before the end
    assert result in ("won", "failed")
    accepted = our_bids(world, lot)
    assert len(accepted) <= 1
    if result == "won":
        assert accepted[0]["receivedAt"] < lot.end_ms


@pytest.mark.parametrize(
    "fault",
    [
        {"errorRate": 1.0, "statuses": [500]},
        {"errorRate": 1.0, "statuses": [429]},
        {"timeoutRate": 1.0, "hangMs": 20_000},
    ],
    ids=["always-500", "always-429", "always-timeout"],
)
def test_retries_stop_before_the_end(world, fault):
    # Given eBay that never accepts a bid
    lot = auction(world)
    bid = snipe(world, lot)
    world["sim"].set_fault(FaultConfig.from_json({"endpoint": "place_proxy_bid", **fault}))
    # When the snipe fires
    result = engine(world, driven=True).run(USER, bid.bidId)
    # Then it gives up before the end and says so
    assert result == "failed"
    stored = world["bids"].require(USER, bid.bidId)
    assert stored.status is BidStatus.FAILED
    assert "eBay" in (stored.failureReason or "")
    assert our_bids(world, lot) == []
    assert world["notified"] == [("FAILED", bid.bidId)]


class FirstBidFaulted:
    """eBay's client, whose first bid request meets a fault set on the simulator for that one
    request (the fault is cleared once it has been answered or timed out)."""

    def __init__(self, inner: EbayClient, sim: Simulator, fault: dict[str, Any]) -> None:
        self.inner = inner
        self.sim = sim
        self.fault = fault
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def place_proxy_bid(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > 1:
            return self.inner.place_proxy_bid(*args, **kwargs)
        self.sim.set_fault(
            FaultConfig.from_json({"endpoint": "place_proxy_bid", "errorRate": 1.0, **self.fault})
        )
        try:
            return self.inner.place_proxy_bid(*args, **kwargs)
        finally:
            self.sim.clear_faults()


def test_a_429_whose_retry_after_outlasts_the_auction_is_retried_before_the_end(world):
    # Given eBay answering the first bid request 429 with a Retry-After (1 s) longer than the
    # 1 s lead leaves
    lot = auction(world)
    bid = snipe(world, lot)
    run = engine(world, driven=True)
    faulted = FirstBidFaulted(world["ebay"], world["sim"], {"statuses": [429]})
    run.ebay = faulted  # type: ignore[assignment]
    # When the snipe fires
    result = run.run(USER, bid.bidId)
    # Then it bid again sooner than eBay asked, in time, once
    assert result == "won"
    assert faulted.calls == 2
    [accepted] = our_bids(world, lot)
    assert accepted["receivedAt"] < lot.end_ms


class BidTakenButUnanswered:
    """eBay's client whose first bid is taken by eBay but its answer is lost, and whose
    getBidding never answers (eBay's read side down)."""

    def __init__(self, inner: EbayClient) -> None:
        self.inner = inner
        self.bids = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def place_proxy_bid(self, *args: Any, **kwargs: Any) -> Any:
        self.bids += 1
        result = self.inner.place_proxy_bid(*args, **kwargs)
        if self.bids == 1:
            raise EbayUnavailable("answer lost", maybe_processed=True)
        return result

    def get_bidding(self, *args: Any, **kwargs: Any) -> Any:
        raise EbayUnavailable("getBidding down", maybe_processed=False)


def test_an_unanswered_bid_is_sent_again_not_checked_first(world):
    # Given a first bid eBay takes without its answer arriving, and getBidding down
    lot = auction(world)
    bid = snipe(world, lot)
    run = engine(world, driven=True)
    flaky = BidTakenButUnanswered(world["ebay"])
    run.ebay = flaky  # type: ignore[assignment]
    # When the snipe fires
    result = run.run(USER, bid.bidId)
    # Then the second attempt, sent at once, met eBay's "cannot lower": with getBidding unable
    # to say, the bid eBay holds is taken for ours. PLACED, with the outcome left to the
    # follow-up (getBidding is down); eBay holds one bid, placed before the end
    assert flaky.bids == 2
    [accepted] = our_bids(world, lot)
    assert accepted["receivedAt"] < lot.end_ms
    assert result == "outcome-pending"
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.PLACED
    # (one follow-up set before the claim, one when the outcome was not known)
    assert world["scheduler"].outcome_checks == [bid.bidId, bid.bidId]


def test_an_attempt_unanswered_at_the_end_is_checked_before_failing(world):
    # Given eBay that takes the snipe's bid but whose every bid answer is lost
    lot = auction(world)
    bid = snipe(world, lot)
    run = engine(world, driven=True)

    class EveryAnswerLost:
        def __getattr__(self, name: str) -> Any:
            return getattr(world["ebay"], name)

        def place_proxy_bid(self, *args: Any, **kwargs: Any) -> Any:
            with contextlib.suppress(EbayError):
                world["ebay"].place_proxy_bid(*args, **kwargs)
            raise EbayUnavailable("answer lost", maybe_processed=True)

    run.ebay = EveryAnswerLost()  # type: ignore[assignment]
    # When the snipe fires and no attempt is confirmed before the end
    result = run.run(USER, bid.bidId)
    # Then getBidding shows eBay holds the bid: PLACED, then WON, not FAILED
    assert result == "won"
    assert len(our_bids(world, lot)) == 1
    assert history_actions(world, bid) == ["CREATE", "PLACE", "WIN"]


def test_unanswered_clock_probes_do_not_hold_the_bid_past_its_instant(world):
    # Given eBay that never answers a clock probe (the token-less Browse call) and holds each
    # one far past the client's read timeout, while bids work
    lot = auction(world, ends_in=4.0)
    bid = snipe(world, lot)
    world["sim"].set_fault(
        FaultConfig.from_json({"endpoint": "browse", "timeoutRate": 1.0, "hangMs": 20_000})
    )
    # When the snipe fires
    result = engine(world, driven=True).run(USER, bid.bidId)
    # Then the probes were given up before the fire instant and the bid went in before the end
    assert result == "won"
    [accepted] = our_bids(world, lot)
    assert accepted["receivedAt"] < lot.end_ms


def test_an_auction_ended_by_buy_it_now(world):
    # Given an auction the seller sold with Buy It Now before the snipe fired
    lot = auction(world, buy_it_now_price=20000)
    bid = snipe(world, lot)
    world["sim"].buy_it_now(lot.legacy_id, "someone_else")
    # When the snipe fires, then it fails with eBay's reason in words
    assert engine(world, driven=True).run(USER, bid.bidId) == "failed"
    assert "Buy It Now" in (world["bids"].require(USER, bid.bidId).failureReason or "")


def test_a_bid_below_the_minimum(world):
    # Given a competitor far above our maximum
    lot = auction(world)
    bid = snipe(world, lot, max_bid=1500)
    world["sim"].place_bid(lot.legacy_id, "rival", 9000)
    world["sim"].place_bid(lot.legacy_id, "rival2", 8000)
    # When the snipe fires, then it fails quoting eBay's minimum
    assert engine(world, driven=True).run(USER, bid.bidId) == "failed"
    reason = world["bids"].require(USER, bid.bidId).failureReason or ""
    assert "minimum" in reason
    assert "$" in reason


def test_outbid_means_lost_with_the_winning_price(world):
    # Given a rival whose maximum beats ours
    lot = auction(world)
    bid = snipe(world, lot, max_bid=3000)
    world["sim"].place_bid(lot.legacy_id, "rival", 9000)
    # When the snipe fires and the auction ends
    assert engine(world, driven=True).run(USER, bid.bidId) == "lost"
    stored = world["bids"].require(USER, bid.bidId)
    assert stored.status is BidStatus.LOST
    assert stored.finalPrice is not None
    assert stored.finalPrice > 3000
    assert world["notified"] == [("LOST", bid.bidId)]


def test_an_unlinked_account_fails_in_words(world):
    lot = auction(world, ends_in=2)
    bid = snipe(world, lot)
    assert engine(world, linked=False, driven=True).run(USER, bid.bidId) == "failed"
    assert world["bids"].require(USER, bid.bidId).failureReason == NOT_LINKED_REASON


def test_a_group_win_cancels_the_other_snipes_of_the_group(world):
    # Given two snipes of one group, the first ending soon and the second later
    first_lot = auction(world)
    later_lot = auction(world, ends_in=600)
    first = snipe(world, first_lot, group="camera")
    later = snipe(world, later_lot, group="camera")
    # When the first wins
    assert engine(world, driven=True).run(USER, first.bidId) == "won"
    # Then the second is cancelled (GROUP_WON) with its schedule, and never fires
    stored = world["bids"].require(USER, later.bidId)
    assert stored.status is BidStatus.CANCELLED
    assert stored.cancelReason == "GROUP_WON"
    assert later.bidId in world["scheduler"].cancelled
    assert engine(world, driven=True).run(USER, later.bidId) == "already-cancelled"


def test_a_snipe_woken_too_early_moves_its_wake_up(world):
    lot = auction(world, ends_in=3000)
    bid = snipe(world, lot)
    assert engine(world, driven=True).run(USER, bid.bidId) == "rescheduled"
    assert world["scheduler"].woken == [bid.bidId]
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.PENDING
