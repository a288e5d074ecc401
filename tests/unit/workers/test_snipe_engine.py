"""The snipe engine (workers/logic/snipe_engine.py) without moto or the simulator: the
in-memory repositories (tests/memory.py, held to DynamoDB's by the contract suite), a scripted
eBay, and a clock that moves only when the engine sleeps, so a whole run, from the claim to the
outcome after the auction's end, takes no real time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from common.ebay.errors import (
    BidTooLow,
    CannotLowerProxyBid,
    EbayAuthError,
    EbayUnavailable,
    NoBiddingActivity,
)
from common.ebay.models import BiddingStatus, ClockSample, Money, ProxyBidResult
from common.errors import EbayNotLinkedError, RetryableError
from common.history import history_entry
from common.models import BidEntity, BidStatus, HistoryAction, UserEntity
from common.scheduling import ScheduleError, UnlessOwnerDeleted
from tests.fakes import FakeScheduler
from tests.memory import MemoryStores, add_snipe
from tests.slow_database import SlowDatabase
from workers.logic.snipe_engine import (
    GROUP_UNREAD_REASON,
    LINK_UNREAD_REASON,
    MISSED_REASON,
    NOT_LINKED_REASON,
    RESERVE_NOT_MET_REASON,
    SnipeEngine,
)

NOW = 1_900_000_000.0
END = int(NOW) + 120
LEAD = 3
USER = "u1"


class Clock:
    """Time that moves when the engine sleeps; ``at`` runs an action once time reaches it
    (another writer acting while the run waits)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.actions: list[tuple[float, Callable[[], None]]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        due = [a for a in self.actions if a[0] <= self.now]
        self.actions = [a for a in self.actions if a[0] > self.now]
        for _, action in due:
            action()

    def at(self, instant: float, action: Callable[[], None]) -> None:
        self.actions.append((instant, action))


LOST_ANSWER = "lost-answer"  # eBay takes the bid, its answer never arrives


class Ebay:
    """The engine's EbayBidding: no clock samples (so the run fires on its own clock), bids
    answered as scripted, and getBidding from the bids taken and the end."""

    def __init__(self, clock: Clock, answers: list[Any] | None = None, win: bool = True) -> None:
        self.clock = clock
        self.answers = list(answers or [])
        self.win = win
        self.taken: list[tuple[float, Money]] = []
        self.attempts = 0

    def probe_clock(self, n: int = 5, *, deadline: float | None = None) -> list[ClockSample]:
        raise EbayUnavailable("no Date header", maybe_processed=False)

    def prepare_proxy_bid(self, *args: Any, **kwargs: Any) -> Any:
        return "prepared"

    def place_proxy_bid(
        self, token: Any, item_id: str, max_amount: Money, *args: Any, **kwargs: Any
    ) -> ProxyBidResult:
        self.attempts += 1
        if self.answers:
            answer = self.answers.pop(0)
            if answer == LOST_ANSWER:
                self.taken.append((self.clock(), max_amount))
                raise EbayUnavailable("read timeout", maybe_processed=True)
            raise answer
        self.taken.append((self.clock(), max_amount))
        return ProxyBidResult(proxy_bid_id="proxy-1")

    def get_bidding(self, token: Any, item_id: str, *, deadline: float | None = None) -> Any:
        if not self.taken:
            raise NoBiddingActivity("no bid on this item")
        ended = self.clock() >= END
        return BiddingStatus(
            item_id=item_id,
            auction_status="ENDED" if ended else "ACTIVE",
            high_bidder=self.win,
            current_price=Money(amount=2500, currency="USD"),
            bid_count=4,
            current_proxy_bid=self.taken[-1][1],
            proxy_bid_id="proxy-1",
            auction_end_ms=END * 1000,
            reserve_price_met=None,
        )


@pytest.fixture
def world() -> dict[str, Any]:
    stores = MemoryStores()
    stores.users.create(UserEntity(userId=USER, email="u1@example.com", createdAt=1, updatedAt=1))
    stores.users.link(USER, "ebay-u1")
    clock = Clock()
    return {
        "stores": stores,
        "clock": clock,
        "ebay": Ebay(clock),
        "scheduler": FakeScheduler(),
        "notified": [],
    }


def engine(world: dict[str, Any], execution_id: str = "run-1") -> SnipeEngine:
    stores = world["stores"]
    return SnipeEngine(
        bids=stores.bids,
        ebay=world["ebay"],
        tokens=lambda user_id, valid_until, force_refresh=False: SecretStr("token"),
        scheduler=world["scheduler"],
        notify=lambda kind, user_id, bid_id: world["notified"].append((kind, bid_id)),
        history_ttl_days=30,
        groups=stores.groups,
        slots=stores.slots,
        clock=world["clock"],
        sleep=world["clock"].sleep,
        execution_id=execution_id,
    )


def snipe(world: dict[str, Any], bid_id: str = "b1", group: str | None = None) -> BidEntity:
    return add_snipe(
        world["stores"],
        bid_id,
        user_id=USER,
        end=END,
        lead=LEAD,
        group=group,
        created_at=int(NOW * 1000),
    )


def stored(world: dict[str, Any], bid: BidEntity) -> BidEntity:
    return world["stores"].bids.require(USER, bid.bidId)


def test_a_snipe_bids_its_sealed_maximum_at_the_fire_instant_and_records_the_win(world):
    # Given a linked user's snipe, woken two minutes before its end
    bid = snipe(world)
    # When its run goes from the claim to the outcome
    result = engine(world).run(USER, bid.bidId)
    # Then eBay got the maximum once, at the fire instant by our clock (eBay's was unknown)
    assert result == "won"
    assert world["ebay"].taken == [(END - LEAD, Money(amount=5000, currency="USD"))]
    # and the snipe was sealed, then WON at eBay's price, with its history, and the user told
    won = stored(world, bid)
    assert (won.status, won.finalPrice, won.placedAt) == (BidStatus.WON, 2500, (END - LEAD) * 1000)
    assert won.sealed
    page, _ = world["stores"].history.for_bid(USER, bid.bidId, 10, None)
    assert sorted(e.action for e in page) == sorted(
        [HistoryAction.CREATE, HistoryAction.PLACE, HistoryAction.WIN]
    )
    assert world["notified"] == [("WON", bid.bidId)]
    # with a follow-up after the end set before the claim, in case the run died
    assert world["scheduler"].outcome_checks == [bid.bidId]


def test_a_follow_up_whose_owner_check_times_out_does_not_stop_the_bid(world):
    # Given the executor's scheduler (new schedules taken back if the owner's account deletion
    # began), whose read of the owner's profile does not answer in time
    def profile_read_timed_out(user_id: str) -> bool:
        raise RetryableError("The database did not answer in time; try again")

    world["scheduler"] = UnlessOwnerDeleted(FakeScheduler(), profile_read_timed_out)
    bid = snipe(world)
    # When the run sets its follow-up after the end (a safety net) and goes on
    result = engine(world).run(USER, bid.bidId)
    # Then the snipe still bids and its outcome is recorded
    assert result == "won"
    assert world["ebay"].taken == [(END - LEAD, Money(amount=5000, currency="USD"))]
    assert stored(world, bid).status is BidStatus.WON


def test_a_lost_auction_is_recorded_lost(world):
    # Given a snipe whose bid eBay takes but a rival outbids
    world["ebay"].win = False
    bid = snipe(world)
    # When its run ends
    # Then it is LOST, and the user told
    assert engine(world).run(USER, bid.bidId) == "lost"
    assert stored(world, bid).status is BidStatus.LOST
    assert world["notified"] == [("LOST", bid.bidId)]


def test_a_duplicate_delivery_finds_the_snipe_claimed_and_does_nothing(world):
    # Given a snipe another live run has claimed
    bid = snipe(world)
    claim = bid.model_copy(
        update={"status": BidStatus.ARMED, "executionId": "run-0", "updatedAt": int(NOW * 1000)}
    )
    world["stores"].bids.replace(bid, claim, [BidStatus.PENDING])
    # When a second delivery of its event runs
    result = engine(world, "run-1").run(USER, bid.bidId)
    # Then it leaves the snipe to the first run and bids nothing
    assert result == "claimed-elsewhere"
    assert world["ebay"].attempts == 0
    assert stored(world, bid).executionId == "run-0"


def test_a_refused_bid_fails_the_snipe_in_ebays_words(world):
    # Given eBay refuses the bid as too low
    world["ebay"].answers = [BidTooLow("bid too low")]
    bid = snipe(world)
    # When the run fires
    # Then the snipe is FAILED with eBay's reason, and the user told
    assert engine(world).run(USER, bid.bidId) == "failed"
    failed = stored(world, bid)
    assert failed.status is BidStatus.FAILED
    assert failed.failureReason == BidTooLow("x").user_message
    assert world["notified"] == [("FAILED", bid.bidId)]


def test_a_bid_whose_answer_was_lost_is_not_placed_twice(world):
    # Given eBay takes the first attempt but its answer is lost, and refuses the repeat
    world["ebay"].answers = [LOST_ANSWER, CannotLowerProxyBid("same maximum")]
    bid = snipe(world)
    # When the run fires
    result = engine(world).run(USER, bid.bidId)
    # Then eBay holds one bid, and getBidding's word makes the snipe PLACED, then WON
    assert result == "won"
    assert len(world["ebay"].taken) == 1
    assert world["ebay"].attempts == 2
    assert stored(world, bid).status is BidStatus.WON


def test_an_account_unlinked_before_the_seal_bids_nothing(world):
    # Given a snipe whose owner's profile is not linked to eBay
    stores = world["stores"]
    stores.users.create(UserEntity(userId="u2", email="u2@example.com", createdAt=1, updatedAt=1))
    bid = snipe(world).model_copy(update={"userId": "u2", "bidId": "b2"})
    stores.bids.create(bid, history_entry(bid, HistoryAction.CREATE, bid.createdAt, 30, {}))
    # When its run reaches the seal
    result = engine(world).run("u2", "b2")
    # Then the seal is refused, and the snipe fails unsealed, with no bid
    assert result == "failed"
    failed = stores.bids.require("u2", "b2")
    assert (failed.status, failed.failureReason, failed.sealed) == (
        BidStatus.FAILED,
        NOT_LINKED_REASON,
        False,
    )
    assert world["ebay"].attempts == 0


def test_a_cancel_that_lands_before_the_seal_wins_and_no_bid_goes(world):
    # Given a snipe whose owner cancels it while its run waits for the fire instant
    bid = snipe(world)
    stores = world["stores"]

    def user_cancels() -> None:
        current = stores.bids.require(USER, bid.bidId)
        after = current.model_copy(update={"status": BidStatus.CANCELLED, "cancelReason": "USER"})
        entry = history_entry(after, HistoryAction.CANCEL, int(world["clock"]() * 1000), 30, {})
        stores.bids.transition(
            current, after, entry, allowed=[BidStatus.PENDING, BidStatus.ARMED], unsealed=True
        )

    world["clock"].at(END - 60, user_cancels)
    # When the run goes on
    result = engine(world).run(USER, bid.bidId)
    # Then it finds the snipe no longer its own, and eBay got nothing
    assert result == "claimed-elsewhere"
    assert stored(world, bid).status is BidStatus.CANCELLED
    assert world["ebay"].attempts == 0


def test_a_group_that_has_won_its_limit_cancels_its_other_snipe(world):
    # Given a group of limit one whose other snipe already won
    stores = world["stores"]
    stores.slots.take(USER, "cams", "b0", 1, contingency=False)
    stores.slots.settle(USER, "cams", "b0", won=True)
    bid = snipe(world, group="cams")
    # When this snipe's run starts
    result = engine(world).run(USER, bid.bidId)
    # Then it is CANCELLED for its group, without a bid
    assert result == "cancelled"
    assert (stored(world, bid).status, stored(world, bid).cancelReason) == (
        BidStatus.CANCELLED,
        "GROUP_WON",
    )
    assert world["ebay"].attempts == 0


def test_a_run_woken_too_early_moves_its_wake_up(world):
    # Given a snipe whose fire instant is further off than one run can wait
    bid = snipe(world)
    world["clock"].now = END - 3600
    # When a run wakes for it
    # Then it schedules itself nearer the time and leaves the snipe as it was
    assert engine(world).run(USER, bid.bidId) == "rescheduled"
    assert world["scheduler"].woken == [bid.bidId]
    assert stored(world, bid).status is BidStatus.PENDING


# ------------------------------------------------ a database that does not answer in time

# Each DynamoDB client gives up after two attempts of 1 s (common/aws.py): the call raises
# RetryableError, and a write may or may not have gone in. ``SlowDatabase`` plays that on the
# engine's ports; no run may die of it, bid twice, bid unsealed or after the end.


def slow_engine(world: dict[str, Any], execution_id: str = "run-1") -> SnipeEngine:
    """The engine, with its database ports (snipes, group ledger, rules, the eBay link behind
    the token) through ``world["slow"]``."""
    slow = world.setdefault("slow", SlowDatabase())
    made = engine(world, execution_id)
    made.bids = slow.port(made.bids)
    made.slots = slow.port(made.slots)
    made.groups = slow.port(made.groups)
    made.tokens = slow.tokens(made.tokens)
    return made


def history(world: dict[str, Any], bid: BidEntity) -> list[HistoryAction]:
    page, _ = world["stores"].history.for_bid(USER, bid.bidId, 20, None)
    return sorted(e.action for e in page)


def arm_at(world: dict[str, Any], instant: float, calls: int, **kwargs: Any) -> None:
    """From ``instant`` on (when the run's clock passes it), the next ``calls`` time out."""
    world["clock"].at(instant, lambda: world["slow"].arm(calls, **kwargs))


ONCE_WON = [HistoryAction.CREATE, HistoryAction.PLACE, HistoryAction.WIN]


@pytest.mark.parametrize("applied", [False, True], ids=["not applied", "applied"])
@pytest.mark.parametrize("timeouts", [1, 3])
def test_a_seal_that_times_out_is_sent_again_at_once_and_the_snipe_bids_once(
    world, timeouts, applied
):
    # Given a snipe, and a database that does not answer its first seals in time
    bid = snipe(world)
    run = slow_engine(world)
    world["slow"].arm(timeouts, applied=applied, only=["seal"])
    # When its run goes from the claim to the outcome
    result = run.run(USER, bid.bidId)
    # Then the seal was sent again straight after each timeout (no read in between), and the
    # snipe bid its maximum once, at the fire instant, and won
    calls = world["slow"].calls
    first = calls.index("seal")
    assert calls[first : first + timeouts + 1] == ["seal"] * (timeouts + 1)
    assert result == "won"
    assert world["ebay"].taken == [(END - LEAD, Money(amount=5000, currency="USD"))]
    assert stored(world, bid).sealed
    assert history(world, bid) == sorted(ONCE_WON)


def test_the_seal_sets_the_firing_phase_in_its_own_write(world):
    # Given a snipe, and a look at its stored phase just before the fire instant
    bid = snipe(world)
    run = slow_engine(world)
    phases: list[str | None] = []
    world["clock"].at(END - LEAD - 1, lambda: phases.append(stored(world, bid).countdownPhase))
    # When its run goes from the claim to the outcome
    assert run.run(USER, bid.bidId) == "won"
    # Then the snipe was FIRING once sealed, with no write of the run's besides the claim, the
    # seal and the records
    assert phases == ["FIRING"]
    writes = [c for c in world["slow"].calls if c in ("replace", "seal", "transition")]
    assert writes == ["replace", "seal", "transition", "transition"]


def test_a_seal_that_never_answers_bids_nothing(world):
    # Given a snipe, and a database that never answers a seal in time
    bid = snipe(world)
    run = slow_engine(world)
    world["slow"].arm(1000, only=["seal"])
    # When its run reaches the freeze instant
    result = run.run(USER, bid.bidId)
    # Then it never bids unsealed: FAILED, saying it could not bid, the user told
    assert result == "failed"
    assert world["ebay"].attempts == 0
    failed = stored(world, bid)
    assert (failed.status, failed.sealed) == (BidStatus.FAILED, False)
    assert failed.failureReason == MISSED_REASON
    assert world["notified"] == [("FAILED", bid.bidId)]


@pytest.mark.parametrize("applied", [False, True], ids=["not applied", "applied"])
@pytest.mark.parametrize("timeouts", [1, 3])
def test_recording_placed_and_won_through_timeouts_records_each_once(world, timeouts, applied):
    # Given a snipe, and a database that does not answer the run's next writes in time once
    # the bid has gone to eBay
    bid = snipe(world)
    run = slow_engine(world)
    arm_at(world, END - LEAD, timeouts, applied=applied, only=["transition"])
    # When its run fires and learns the outcome
    result = run.run(USER, bid.bidId)
    # Then eBay has one bid, and the record says PLACED then WON, once each
    assert world["slow"].timed_out
    assert result == "won"
    assert len(world["ebay"].taken) == 1
    assert stored(world, bid).status is BidStatus.WON
    assert history(world, bid) == sorted(ONCE_WON)


def test_placed_that_cannot_be_recorded_is_left_to_the_follow_up_which_records_it(world):
    # Given a snipe whose bid eBay takes, and a database that answers no recording in time
    # until well after the end
    bid = snipe(world)
    run = slow_engine(world)
    arm_at(world, END - LEAD, 1000, only=["transition"])
    # When its run fires
    result = run.run(USER, bid.bidId)
    # Then the run ends without dying, the record still the sealed claim, and a follow-up
    # after the end is set
    assert result == "record-pending"
    assert len(world["ebay"].taken) == 1
    pending = stored(world, bid)
    assert (pending.status, pending.sealed) == (BidStatus.ARMED, True)
    assert bid.bidId in world["scheduler"].outcome_checks
    # When the follow-up comes a minute after the end, the database answering again
    world["slow"].arm(0)
    world["clock"].now = END + 60
    follow_up = slow_engine(world, "run-2").run(USER, bid.bidId)
    # Then eBay's word settles it (I3): PLACED, then WON, and no second bid
    assert follow_up == "won"
    assert len(world["ebay"].taken) == 1
    assert stored(world, bid).status is BidStatus.WON


def test_a_failure_recorded_through_timeouts_is_recorded(world):
    # Given eBay refuses the bid as too low, and a database that does not answer the FAILED
    # record in time twice
    world["ebay"].answers = [BidTooLow("bid too low")]
    bid = snipe(world)
    run = slow_engine(world)
    arm_at(world, END - LEAD, 2, applied=True, only=["transition"])
    # When the run fires
    # Then the snipe is FAILED in eBay's words, once
    assert run.run(USER, bid.bidId) == "failed"
    assert stored(world, bid).failureReason == BidTooLow("x").user_message
    assert history(world, bid) == sorted([HistoryAction.CREATE, HistoryAction.FAIL])


def test_an_outcome_whose_token_read_times_out_is_asked_again(world):
    # Given a snipe, and a database that does not answer the reads of the user's eBay link
    # just after the bid
    bid = snipe(world)
    run = slow_engine(world)
    arm_at(world, END - LEAD + 0.1, 2, only=["tokens"])
    # When the run waits for the outcome
    result = run.run(USER, bid.bidId)
    # Then it asked again a second later, and recorded the win
    assert world["slow"].timed_out == ["tokens", "tokens"]
    assert result == "won"


@pytest.mark.parametrize(
    ("timeouts", "then"),
    [(2, "won"), (1000, "failed")],
    ids=["answered before the fire instant", "never answered"],
)
def test_a_token_read_that_times_out_before_the_bid_is_retried_until_shortly_before_firing(
    world, timeouts, then
):
    # Given a snipe, and a database that does not answer the reads of the user's eBay link
    bid = snipe(world)
    run = slow_engine(world)
    world["slow"].arm(timeouts, only=["tokens"])
    # When its run starts
    result = run.run(USER, bid.bidId)
    # Then it reads the link again until shortly before firing: it bids, or it fails in words
    # with no bid
    assert result == then
    if then == "failed":
        assert world["ebay"].attempts == 0
        assert stored(world, bid).failureReason == LINK_UNREAD_REASON


@pytest.mark.parametrize(
    ("only", "applied", "timeouts"),
    # A claim that went in is found on the re-read after its first timeout: the second never
    # comes.
    [(["get"], False, 2), (["replace"], False, 2), (["replace"], True, 1)],
    ids=["first read", "claim, not applied", "claim, applied"],
)
def test_a_first_read_and_a_claim_that_time_out_are_tried_again(world, only, applied, timeouts):
    # Given a snipe, and a database that does not answer the run's first read, or its claim,
    # in time twice
    bid = snipe(world)
    run = slow_engine(world)
    world["slow"].arm(2, applied=applied, only=only)
    # When its run starts
    result = run.run(USER, bid.bidId)
    # Then the run reads and claims the snipe, bids once and wins
    assert len(world["slow"].timed_out) == timeouts
    assert result == "won"
    assert len(world["ebay"].taken) == 1


def test_a_claim_whose_answer_was_lost_is_found_on_the_reread_and_not_written_again(world):
    # Given a snipe, and a database that takes the run's claim but loses its answer
    bid = snipe(world)
    run = slow_engine(world)
    world["slow"].arm(1, applied=True, only=["replace"])
    # When its run starts
    result = run.run(USER, bid.bidId)
    # Then the re-read shows the snipe ARMED by this run, which bids once and wins with no
    # second claim
    assert world["slow"].timed_out == ["replace (applied)"]
    assert result == "won"
    assert len(world["ebay"].taken) == 1
    writes = [c for c in world["slow"].calls if c in ("replace", "seal", "transition")]
    assert writes == ["replace", "seal", "transition", "transition"]


class SlowFromFollowUp(FakeScheduler):
    """The scheduler the run sets its follow-up with just before its claim: from then on the
    database answers no claim or read in time (a write goes in, its answer lost)."""

    def __init__(self, slow: SlowDatabase) -> None:
        super().__init__()
        self.slow = slow

    def check_outcome_at(self, user_id: str, bid_id: str, at: int) -> None:
        super().check_outcome_at(user_id, bid_id, at)
        self.slow.arm(1000, applied=True, only=["replace", "get"])


def test_a_claim_that_went_in_unanswered_and_unread_is_retried_by_lambda_not_dropped(world):
    # Given a snipe, and a database that, from the run's claim on (just after it sets its
    # follow-up), takes the claim, loses its answer and answers none of the run's claims and
    # re-reads in time
    bid = snipe(world)
    run = slow_engine(world)
    world["scheduler"] = SlowFromFollowUp(world["slow"])
    run.scheduler = world["scheduler"]
    # When its run starts
    with pytest.raises(RetryableError):
        run.run(USER, bid.bidId)
    # Then the run ends so that Lambda retries it: the snipe is ARMED by this run, written by
    # its one claim, sent again as it was
    claimed = stored(world, bid)
    assert (claimed.status, claimed.executionId) == (BidStatus.ARMED, "run-1")
    assert claimed.version == bid.version + 1
    # And Lambda's retry (the same request id) takes it over, bids once and wins
    world["slow"].arm(0)
    assert slow_engine(world, "run-1").run(USER, bid.bidId) == "won"
    assert len(world["ebay"].taken) == 1


@pytest.mark.parametrize("applied", [False, True], ids=["not applied", "applied"])
def test_a_group_slot_that_times_out_is_taken_again_and_held_once(world, applied):
    # Given a group snipe, and a database that does not answer its rule's read and its slot
    # in time
    bid = snipe(world, group="cams")
    run = slow_engine(world)
    world["slow"].arm(1, only=["rule"])
    arm_at(world, END - LEAD - 6, 2, applied=applied, only=["take"])
    # When its run fires
    result = run.run(USER, bid.bidId)
    # Then it took its slot once, bid once, and won
    taken = "take (applied)" if applied else "take"
    assert world["slow"].timed_out == ["rule", taken, taken]
    assert result == "won"
    assert len(world["ebay"].taken) == 1
    assert world["stores"].slots.read(USER, "cams").held == 1


def test_a_group_slot_never_answered_bids_nothing(world):
    # Given a group snipe, and a database that never answers its slot in time once sealed
    bid = snipe(world, group="cams")
    run = slow_engine(world)
    arm_at(world, END - LEAD - 6, 1000, only=["take"])
    # When its run fires
    result = run.run(USER, bid.bidId)
    # Then no bid went without the slot (I4), and the snipe says why
    assert result == "failed"
    assert world["ebay"].attempts == 0
    assert stored(world, bid).failureReason == GROUP_UNREAD_REASON


class SchedulerDown(FakeScheduler):
    """EventBridge Scheduler refusing or not answering every outcome check."""

    def check_outcome_at(self, user_id: str, bid_id: str, at: int) -> None:
        raise ScheduleError("Scheduler did not answer in time")


def test_a_run_with_no_time_to_wait_for_the_outcome_records_placed_though_scheduler_is_down(world):
    # Given a snipe whose run has too little time left to wait for the outcome, and a Scheduler
    # that answers no request for a run after the end
    world["scheduler"] = SchedulerDown()
    bid = snipe(world)
    run = slow_engine(world)
    run.remaining_ms = lambda: 10_000
    # When its run fires
    result = run.run(USER, bid.bidId)
    # Then it bid once and recorded PLACED, leaving the outcome to a later run (the follow-up,
    # or the reconciler's sweep of snipes still active an hour after their end)
    assert result == "placed"
    assert len(world["ebay"].taken) == 1
    assert stored(world, bid).status is BidStatus.PLACED


def test_a_refused_token_whose_refresh_times_out_is_sent_again_not_failed(world):
    # Given eBay refuses the first attempt's token, and a database that does not answer the
    # refresh's read of the user's eBay link in time
    world["ebay"].answers = [EbayAuthError("token refused", http_status=401)]
    bid = snipe(world)
    run = slow_engine(world)
    arm_at(world, END - LEAD, 1, only=["tokens"])
    # When the run fires
    result = run.run(USER, bid.bidId)
    # Then it sends again (the deadline bounds it) rather than failing the snipe: one bid, won
    assert world["slow"].timed_out == ["tokens"]
    assert result == "won"
    assert world["ebay"].attempts == 2
    assert len(world["ebay"].taken) == 1


class EbayAhead(Ebay):
    """eBay whose clock is ``ahead_ms`` ahead of ours, answering probes at once: its ``Date``
    header is its clock's whole second."""

    def __init__(self, clock: Clock, ahead_ms: int) -> None:
        super().__init__(clock)
        self.ahead_ms = ahead_ms

    def probe_clock(self, n: int = 5, *, deadline: float | None = None) -> list[ClockSample]:
        now_ms = int(self.clock() * 1000)
        return [
            ClockSample(
                operation="probe",
                sent_ms=now_ms,
                received_ms=now_ms,
                server_date_seconds=(now_ms + self.ahead_ms) // 1000,
                http_status=401,
            )
            for _ in range(n)
        ]


def seal_instants(world: dict[str, Any]) -> list[float]:
    """The instants (the run's clock) at which the run asks for its seal, as it asks."""
    sealed_at: list[float] = []
    seal = world["stores"].bids.seal

    def recording_seal(*args: Any, **kwargs: Any) -> BidEntity:
        sealed_at.append(world["clock"]())
        return seal(*args, **kwargs)

    world["stores"].bids.seal = recording_seal
    return sealed_at


def test_with_ebays_clock_ahead_the_seal_comes_the_freeze_window_before_ebays_fire_instant(world):
    # Given eBay's clock 3.7 s ahead of ours (its fire instant is 3.7 s sooner on our clock than
    # the stored instants say), and a snipe whose seal is recorded when it is made
    world["ebay"] = EbayAhead(world["clock"], ahead_ms=3700)
    bid = snipe(world)
    sealed_at = seal_instants(world)
    # When its run bids
    assert engine(world).run(USER, bid.bidId) == "won"
    # Then it sealed 5 s before eBay's fire instant on our clock, not at the stored freeze
    # (which would have left 1.3 s), and bid once
    ebay_fire_on_our_clock = END - LEAD - 3.7
    assert len(sealed_at) == 1
    assert ebay_fire_on_our_clock - 5 - 1 <= sealed_at[0] <= ebay_fire_on_our_clock - 5 + 0.01
    assert len(world["ebay"].taken) == 1


def test_with_ebays_clock_behind_the_seal_keeps_the_stored_freeze(world):
    # Given eBay's clock 3 s behind ours
    world["ebay"] = EbayAhead(world["clock"], ahead_ms=-3000)
    bid = snipe(world)
    sealed_at = seal_instants(world)
    # When its run bids
    assert engine(world).run(USER, bid.bidId) == "won"
    # Then it sealed at the freeze instant the user was shown, no sooner
    assert sealed_at == [pytest.approx(bid.freeze_at, abs=0.01)]


@pytest.mark.parametrize(
    "token_failure",
    [RetryableError("the link was not read in time"), EbayNotLinkedError("unlinked")],
    ids=["link-unread", "unlinked-after-the-end"],
)
def test_a_follow_up_without_a_token_never_fails_a_sealed_snipe_that_bid(world, token_failure):
    # Given a snipe whose bid eBay took but whose PLACED was never recorded (the run ended
    # 'record-pending'), and a follow-up after the end that cannot get the user's token: the
    # link not read in time, or unlinked once the seal's guard had passed
    bid = snipe(world)
    run = slow_engine(world)
    arm_at(world, END - LEAD, 1000, only=["transition"])
    assert run.run(USER, bid.bidId) == "record-pending"
    world["slow"].arm(0)
    world["clock"].now = END + 60

    def no_token(*_args: Any, **_kwargs: Any) -> SecretStr:
        raise token_failure

    follow_up = engine(world, "run-2")
    follow_up.tokens = no_token
    # When the follow-up runs
    result = follow_up.run(USER, bid.bidId)
    # Then it records no FAILED that eBay contradicts (I3): the snipe stays the sealed claim,
    # asked about again later, and no second bid goes
    assert result == "check-pending"
    assert stored(world, bid).status is BidStatus.ARMED
    assert len(world["ebay"].taken) == 1
    # and an hour after the end, still without a token, it is PLACED, saying it is unconfirmed
    world["clock"].now = END + 3700
    assert follow_up.run(USER, bid.bidId) == "outcome-unknown"
    assert stored(world, bid).status is BidStatus.PLACED


def test_a_snipe_never_sealed_without_a_token_fails_in_words(world):
    # Given a snipe whose run cannot read the user's link before the freeze, and never sealed
    bid = snipe(world)
    run = engine(world)

    def no_token(*_args: Any, **_kwargs: Any) -> SecretStr:
        raise EbayNotLinkedError("unlinked")

    run.tokens = no_token
    # When its run goes, then it fails saying why, and nothing went to eBay
    assert run.run(USER, bid.bidId) == "failed"
    assert stored(world, bid).failureReason == NOT_LINKED_REASON
    assert world["ebay"].taken == []


def test_an_ebay_clock_minutes_ahead_seals_no_sooner_than_ten_seconds_before_the_freeze(world):
    # Given eBay's Date header two minutes ahead of our clock (one host's clock off)
    world["ebay"] = EbayAhead(world["clock"], ahead_ms=120_000)
    bid = snipe(world)
    sealed_at = seal_instants(world)
    # When its run goes
    engine(world).run(USER, bid.bidId)
    # Then the seal came no sooner than 10 s before the freeze instant the user was shown
    assert len(sealed_at) == 1
    assert sealed_at[0] >= bid.freeze_at - 10


def test_a_seal_refused_at_once_again_and_again_is_tried_until_it_goes_through(world):
    # Given a database that answers the seal's first 40 attempts at once with a throttle
    bid = snipe(world)
    run = slow_engine(world)
    world["slow"].arm(40, only=["seal"])
    # When its run reaches the freeze instant
    result = run.run(USER, bid.bidId)
    # Then the seal is tried again after short pauses, not given up after a count, and the
    # snipe bids once
    assert result == "won"
    assert len(world["ebay"].taken) == 1


class EbayKeepingTokens(Ebay):
    """The scripted eBay, noting whose token each bid came with."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.tokens: list[str] = []

    def place_proxy_bid(
        self, token: Any, item_id: str, max_amount: Money, *args: Any, **kwargs: Any
    ) -> ProxyBidResult:
        self.tokens.append(token.get_secret_value())
        return super().place_proxy_bid(token, item_id, max_amount, *args, **kwargs)


def test_an_account_switched_before_the_seal_is_not_bid_from(world):
    # Given a snipe whose run takes its owner's token at the claim, for eBay account A, and a
    # token source that answers with the token of whichever account is linked when asked
    world["ebay"] = EbayKeepingTokens(world["clock"])
    profiles = world["stores"].tables.users
    bid = snipe(world)
    run = engine(world)

    def linked_token(user_id: str, valid_until: int, force_refresh: bool = False) -> SecretStr:
        account = profiles[user_id].get("ebayAccountId")
        if account is None:
            raise EbayNotLinkedError("unlinked")
        return SecretStr(f"token-of-{account}")

    run.tokens = linked_token
    # When, while the run waits for the fire instant, the user unlinks A (200) and links
    # eBay account B, before the seal
    world["clock"].at(END - 60, lambda: world["stores"].users.link(USER, "ebay-b"))
    result = run.run(USER, bid.bidId)
    # Then the bid goes from B, the account linked when the snipe was sealed, never from the
    # account the user unlinked
    assert result == "won"
    assert world["ebay"].tokens == ["token-of-ebay-b"]


class EbayBelowReserve(Ebay):
    """eBay where our bid leads but the auction ends below the seller's reserve."""

    def get_bidding(self, token: Any, item_id: str, *, deadline: float | None = None) -> Any:
        status = super().get_bidding(token, item_id, deadline=deadline)
        return status.model_copy(update={"reserve_price_met": False})


def test_a_high_bidder_below_the_reserve_is_lost_saying_why(world):
    # Given a snipe whose bid leads an auction that ends below its reserve
    world["ebay"] = EbayBelowReserve(world["clock"])
    bid = snipe(world)
    # When its run learns the outcome
    result = engine(world).run(USER, bid.bidId)
    # Then it is LOST, and the record itself (what the email and the API read) says why
    assert result == "lost"
    recorded = stored(world, bid)
    assert (recorded.status, recorded.failureReason) == (BidStatus.LOST, RESERVE_NOT_MET_REASON)
    assert world["notified"] == [("LOST", bid.bidId)]


@pytest.mark.parametrize("win", [True, False])
def test_an_outcome_learned_after_it_was_reported_unknown_drops_the_unknown_reason(world, win):
    # Given a placed snipe recorded "outcome unknown" an hour after its end (its reason in
    # failureReason), and eBay, which took its bid, reporting the auction ended at last (a
    # leftover follow-up, or a group sibling's run, asks again)
    bid = snipe(world)
    world["ebay"].taken = [(END - LEAD, Money(amount=5000, currency="USD"))]
    world["ebay"].win = win
    unknown = bid.model_copy(
        update={
            "status": BidStatus.PLACED,
            "failureReason": "The bid was placed, but eBay had not reported the outcome",
        }
    )
    world["stores"].bids.transition(
        bid,
        unknown,
        history_entry(unknown, HistoryAction.PLACE, (END - LEAD) * 1000, 30, {}),
        [BidStatus.PENDING],
        unsealed=True,
    )
    world["clock"].now = END + 3700.0
    # When the run learns the outcome
    result = engine(world).run(USER, bid.bidId)
    # Then the record says WON or LOST without the stale reason: a LOST snipe's reason is what
    # its email reads as "ended without a sale" (the reserve not met), which it was not
    assert result == ("won" if win else "lost")
    recorded = stored(world, bid)
    assert recorded.status is (BidStatus.WON if win else BidStatus.LOST)
    assert recorded.failureReason is None
