"""The seal and what hangs on it (docs/sniping-engine.md, "What must hold"): the executor against
moto's tables and the eBay simulator, the user's changes through rest/logic, as they race.

Auctions end seconds after each test starts: a run waits real seconds, and the tests wait for a
run's seal by reading the table (a real wait on purpose: the run lives on the wall clock).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from pydantic import SecretStr

from common.data.ebay_links import EbayLinksRepository
from common.data.users import UsersRepository
from common.ebay.errors import EbayUnavailable
from common.errors import SnipeSealedError
from common.models import BidEntity, BidStatus
from rest.logic.bids import cancel_snipe, update_snipe
from tests.integration.sniping.test_bid_executor import (
    EBAY_USER,
    USER,
    after_the_end,
    auction,
    engine,
    our_bids,
    snipe,
)
from tests.stack_env import get_settings
from workers.logic.snipe_engine import (
    GROUP_UNKNOWN_REASON,
    NOT_LINKED_REASON,
    OUTCOME_UNKNOWN_REASON,
)


def run_in_background(world: dict[str, Any], bid: BidEntity) -> Any:
    results: list[str] = []
    run = engine(world)
    thread = threading.Thread(target=lambda: results.append(run.run(USER, bid.bidId)))
    thread.start()
    return thread, results


def wait_until_sealed(world: dict[str, Any], bid: BidEntity, timeout: float = 15) -> BidEntity:
    deadline = time.time() + timeout
    while time.time() < deadline:
        stored = world["bids"].require(USER, bid.bidId)
        if stored.sealed:
            return stored
        time.sleep(0.05)  # a real wait: the run seals on the wall clock
    raise AssertionError("the run never sealed the snipe")


def wait_until_armed(world: dict[str, Any], bid: BidEntity, timeout: float = 5) -> BidEntity:
    deadline = time.time() + timeout
    while time.time() < deadline:
        stored = world["bids"].require(USER, bid.bidId)
        if stored.status is BidStatus.ARMED:
            return stored
        time.sleep(0.05)  # a real wait: the run claims on the wall clock
    raise AssertionError("the run never claimed the snipe")


def test_a_cancel_after_the_seal_is_refused_and_the_sealed_bid_goes(world):
    # Given a snipe its run has sealed
    lot = auction(world, ends_in=3)
    bid = snipe(world, lot, max_bid=5000)
    thread, results = run_in_background(world, bid)
    wait_until_sealed(world, bid)
    # When the user cancels it, and changes its maximum
    with pytest.raises(SnipeSealedError):
        cancel_snipe(USER, bid.bidId, world["bids"], time.time, 30, world["scheduler"])
    with pytest.raises(SnipeSealedError):
        update_snipe(USER, bid.bidId, 9000, None, world["bids"], time.time, 30, world["scheduler"])
    thread.join()
    # Then both were refused (409 SNIPE_SEALED), and eBay got the sealed bid: I1, I2, I3 agree
    assert results == ["won"]
    assert [b["maxAmount"] for b in our_bids(world, lot)] == [5000]
    assert world["bids"].require(USER, bid.bidId).maxBidAmount == 5000


def test_a_cancel_before_the_seal_wins_and_no_bid_goes(world):
    # Given a snipe claimed by its run, which is measuring eBay's clock before its seal
    lot = auction(world, ends_in=9)
    bid = snipe(world, lot)
    thread, results = run_in_background(world, bid)
    armed = wait_until_armed(world, bid)
    assert not armed.sealed
    # When the user cancels it
    cancelled = cancel_snipe(USER, bid.bidId, world["bids"], time.time, 30, world["scheduler"])
    thread.join()
    # Then the cancel stood, and the run ended without a bid (I1)
    assert cancelled.status is BidStatus.CANCELLED
    assert results == ["claimed-elsewhere"]
    assert our_bids(world, lot) == []
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.CANCELLED


def test_unlink_and_account_deletion_wait_for_a_sealed_bid(world):
    # Given a snipe its run has sealed
    lot = auction(world, ends_in=3)
    bid = snipe(world, lot)
    thread, results = run_in_background(world, bid)
    wait_until_sealed(world, bid)
    table = get_settings().users_and_app_state_table
    now_ms = int(time.time() * 1000)
    # When the user unlinks eBay, or deletes the account
    with pytest.raises(SnipeSealedError) as unlink_refused:
        EbayLinksRepository(table).unlink(USER, EBAY_USER, now_ms)
    with pytest.raises(SnipeSealedError):
        UsersRepository(table).mark_deleted(USER, now_ms)
    thread.join()
    # Then both wait (409 SNIPE_SEALED, saying when to retry) and the bid went: the record says so
    assert unlink_refused.value.code == "SNIPE_SEALED"
    assert results == ["won"]
    assert len(our_bids(world, lot)) == 1
    # And once the auction is over, they go through
    later = int(time.time() * 1000) + 10_000
    assert UsersRepository(table).mark_deleted(USER, later) == later


def test_an_unlink_before_the_seal_means_no_bid(world):
    # Given a snipe claimed by its run, before its seal
    lot = auction(world, ends_in=9)
    bid = snipe(world, lot)
    thread, results = run_in_background(world, bid)
    wait_until_armed(world, bid)
    # When the user unlinks eBay (the run already holds a token)
    assert EbayLinksRepository(get_settings().users_and_app_state_table).unlink(
        USER, EBAY_USER, int(time.time() * 1000)
    )
    thread.join()
    # Then the seal refuses to go on without the link: no bid, FAILED in words
    assert results == ["failed"]
    assert our_bids(world, lot) == []
    assert world["bids"].require(USER, bid.bidId).failureReason == NOT_LINKED_REASON


def test_a_failed_refresh_does_not_fail_a_snipe_whose_token_lasts(world):
    # Given a user whose token refresh fails, while the token in hand is valid to the end
    lot = auction(world, ends_in=3)
    bid = snipe(world, lot)
    asked: list[int] = []

    def tokens(user_id: str, valid_until: int, force_refresh: bool = False) -> SecretStr:
        asked.append(valid_until)
        if valid_until > bid.auctionEndTime + 60:
            raise EbayUnavailable("token endpoint down", maybe_processed=False)
        return world["token"]

    run = engine(world, driven=True)
    run.tokens = tokens
    # When the snipe fires
    result = run.run(USER, bid.bidId)
    # Then it bid with the token in hand, and won
    assert result == "won"
    assert len(our_bids(world, lot)) == 1


def test_a_high_bidder_below_the_reserve_has_lost(world):
    # Given an auction whose reserve is above our maximum
    lot = auction(world, ends_in=3, reserve_price=9000)
    bid = snipe(world, lot, max_bid=5000)
    # When the snipe fires and the auction ends with us the high bidder
    result = engine(world, driven=True).run(USER, bid.bidId)
    # Then it is LOST: eBay does not sell below the reserve
    assert result == "lost"
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.LOST


def test_two_snipes_of_a_win_one_group_sealing_at_once_bid_once(world):
    # Given a win-one group of two winnable auctions ending at the same instant
    end_ms = (int(time.time() + 3) + 1) * 1000
    lots = [world["sim"].create_auction(f"Lens {i}", 1000, end_ms) for i in range(2)]
    bids = [snipe(world, lot, group="lens") for lot in lots]
    # When both runs seal and fire at once
    runs = [run_in_background(world, bid) for bid in bids]
    for thread, _ in runs:
        thread.join()
    # Then one bid went to eBay; the other did not bid and says why (I4)
    results = sorted(r for _, rs in runs for r in rs)
    assert results == ["failed", "won"]
    assert sum(len(our_bids(world, lot)) for lot in lots) == 1
    stored = [world["bids"].require(USER, b.bidId) for b in bids]
    [failed] = [s for s in stored if s.status is BidStatus.FAILED]
    assert failed.failureReason == GROUP_UNKNOWN_REASON


def test_the_outcome_check_gives_up_an_hour_after_the_end(world):
    # Given a placed snipe whose auction ended over an hour ago, and eBay that never says how
    lot = auction(world, ends_in=3)
    bid = snipe(world, lot)
    placed = bid.model_copy(update={"status": BidStatus.ARMED, "executionId": "old"})
    world["bids"].replace(bid, placed, [BidStatus.PENDING])
    stored = world["bids"].require(USER, bid.bidId)
    run = engine(world)
    run.execution_id = "old"
    run._record_placed(stored, None)  # the run that bid, recorded
    run.clock = lambda: time.time() + 3700
    run.ebay = _NoOutcome(world["ebay"])  # type: ignore[assignment]
    # When the outcome check comes
    result = run.run(USER, bid.bidId)
    # Then it stops asking: PLACED (it did bid), the reason in words, off the active index,
    # and the user is told
    assert result == "outcome-unknown"
    final = world["bids"].require(USER, bid.bidId)
    assert final.status is BidStatus.PLACED
    assert final.failureReason == OUTCOME_UNKNOWN_REASON
    assert "activeShard" not in final.to_item()
    assert world["notified"] == [("OUTCOME_UNKNOWN", bid.bidId)]
    assert world["scheduler"].outcome_checks == []


class _NoOutcome:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_bidding(self, *args: Any, **kwargs: Any) -> Any:
        raise EbayUnavailable("getBidding down", maybe_processed=False)


def _rule(mode: str, limit: int) -> None:
    from common.data.groups import GroupMode, GroupRule, GroupsRepository

    GroupsRepository(get_settings().users_and_app_state_table).put_rule(
        USER, "lenses", GroupRule(mode=GroupMode(mode), limit=limit), int(time.time() * 1000)
    )


def test_a_contingency_group_stops_at_its_first_loss(world):
    # Given a contingency group: the first auction will be lost to a rival, the second ends later
    _rule("CONTINGENCY", 3)
    first_lot = auction(world, ends_in=3)
    world["sim"].place_bid(first_lot.legacy_id, "rival", 9000)
    later_lot = auction(world, ends_in=600)
    first = snipe(world, first_lot, group="lenses")
    later = snipe(world, later_lot, group="lenses")
    # When the first is lost
    assert engine(world, driven=True).run(USER, first.bidId) == "lost"
    # Then the rest of the group is cancelled (GROUP_STOPPED) and never bids
    stored = world["bids"].require(USER, later.bidId)
    assert (stored.status, stored.cancelReason) == (BidStatus.CANCELLED, "GROUP_STOPPED")
    assert engine(world, driven=True).run(USER, later.bidId) == "already-cancelled"
    assert our_bids(world, later_lot) == []


def test_a_win_up_to_two_group_wins_two_then_cancels_the_third(world):
    # Given a group that may win two of its three auctions
    _rule("WIN_UP_TO", 2)
    lots = [auction(world, ends_in=3), auction(world, ends_in=4), auction(world, ends_in=600)]
    bids = [snipe(world, lot, group="lenses") for lot in lots]
    # When the first two come to their end, their runs side by side
    runs = [run_in_background(world, bid) for bid in bids[:2]]
    for thread, _ in runs:
        thread.join()
    assert [results for _, results in runs] == [["won"], ["won"]]
    # Then both were won, and the third is cancelled: the group reached its limit
    third = world["bids"].require(USER, bids[2].bidId)
    assert (third.status, third.cancelReason) == (BidStatus.CANCELLED, "GROUP_WON")


def test_a_sealed_snipe_whose_run_died_is_settled_not_left_armed(world):
    # Given a group whose limit was won, and a sibling sealed by a run that died before bidding
    from common.data.group_slots import GroupSlots

    slots = GroupSlots(get_settings().users_and_app_state_table)
    assert slots.take(USER, "lenses", "winner", 1, contingency=False)
    assert slots.settle(USER, "lenses", "winner", won=True)
    lot = auction(world, ends_in=1)
    bid = snipe(world, lot, group="lenses")
    dead = bid.model_copy(
        update={"status": BidStatus.ARMED, "executionId": "dead-run", "sealedAt": 1, "updatedAt": 1}
    )
    world["bids"].replace(bid, dead, [BidStatus.PENDING])
    after_the_end(world, lot)
    # When the follow-up after the end takes it over
    result = engine(world, driven=True).run(USER, bid.bidId)
    # Then eBay holds no bid of ours, so it is FAILED in words, not left ARMED
    assert result == "failed"
    assert world["bids"].require(USER, bid.bidId).status is BidStatus.FAILED
    assert our_bids(world, lot) == []
