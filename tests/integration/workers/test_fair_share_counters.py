"""The fair-share counters against moto's tables (from template.yaml): the day's Browse calls in
shares (common/data/budget.py), and each user's count of active snipes (active_snipes.py)."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.data.active_snipes import ActiveSnipes
from common.data.bids import BidsRepository
from common.data.budget import (
    FAR_POLLS,
    FINAL_POLLS,
    HOUR_POLLS,
    ITEM_LOOKUPS,
    SHARES,
    SNIPE_CREATION,
    CallBudget,
    Limits,
    utc_day,
)
from common.data.dynamo import to_item
from common.errors import BrowseShareExhausted
from common.models import BidEntity, BidStatus, HistoryAction, HistoryEntity
from tests.integration.workers.worker_helpers import NOW
from tests.stack_env import get_settings

pytestmark = pytest.mark.usefixtures("workers_env")
DAY = utc_day(NOW)


def _budget(calls: int) -> CallBudget:
    return CallBudget(get_settings().users_and_app_state_table, calls)


def _take(budget: CallBudget, share, user: str) -> bool:
    try:
        budget.take_one(share, user, NOW)
    except BrowseShareExhausted:
        return False
    return True


def test_far_off_polls_and_lookups_cannot_take_the_reserved_shares():
    # Given 100 calls a day: 10 reserved for snipe creation, 20 for the final minutes' polls
    budget = _budget(100)
    # When the far-off polls ask for everything, then the hour's polls, then look-ups by many
    far = budget.reserve(FAR_POLLS, 100, NOW)
    hour = budget.reserve(HOUR_POLLS, 100, NOW)
    lookups = sum(_take(budget, ITEM_LOOKUPS, f"user-{n}") for n in range(30))
    # Then the far-off polls stopped at their 60, the hour's polls took the rest of the pool,
    # and no look-up was left anything
    assert (far, hour, lookups) == (60, 10, 0)
    # and the final minutes and snipe creation still have every call reserved for them
    assert budget.reserve(FINAL_POLLS, 100, NOW) == 20
    assert sum(_take(budget, SNIPE_CREATION, "sniper") for _ in range(15)) == 10
    assert budget.spent(DAY) == 100


def test_the_reserves_are_used_first_then_the_pool():
    # Given 100 calls a day, and the final minutes' polls, which have 20 of their own, taking 50
    budget = _budget(100)
    assert budget.reserve(FINAL_POLLS, 50, NOW) == 50
    counters = budget.counters(DAY)
    # Then 20 count against their reserve and 30 against the pool (70), leaving 40 to others
    assert (counters["r_final"], counters["pool"], counters["u_final"]) == (20, 30, 50)
    assert budget.reserve(HOUR_POLLS, 100, NOW) == 40


def test_concurrent_reservations_never_break_a_limit():
    # Given 200 calls a day, and eight callers of every kind reserving in random amounts at once
    budget = _budget(200)
    rng = random.Random(7)
    plans = [
        (rng.choice(SHARES), rng.randint(1, 9), f"user-{rng.randint(0, 3)}") for _ in range(160)
    ]

    def act(plan) -> int:
        share, wanted, user = plan
        if share.per_user is not None:
            return int(_take(budget, share, user))
        return budget.reserve(share, wanted, NOW)

    with ThreadPoolExecutor(8) as pool:
        granted = sum(pool.map(act, plans))
    # Then what was granted is what was counted, and every counter is within its limit
    counters = budget.counters(DAY)
    assert counters["calls"] == granted <= 200
    limits = {s.key: Limits.of(s, 200) for s in SHARES}
    assert counters.get("pool", 0) <= limits["create"].pool
    for key, limit in limits.items():
        assert counters.get(f"r_{key}", 0) <= limit.reserved
        assert counters.get(f"u_{key}", 0) <= limit.cap
    for user in {user for _, _, user in plans}:
        mine = budget.counters(DAY, user)
        assert mine.get("u_lookup", 0) <= limits["lookup"].per_user
        assert mine.get("u_create", 0) <= limits["create"].per_user


def test_a_new_utc_day_starts_every_share_afresh():
    budget = _budget(100)
    assert budget.reserve(FAR_POLLS, 100, NOW) == 60
    assert budget.reserve(FAR_POLLS, 100, NOW + 86_400) == 60


# ---------------------------------------------------------------- active snipes


def _repos() -> tuple[BidsRepository, ActiveSnipes]:
    s = get_settings()
    return (
        BidsRepository(s.bids_table, s.users_and_app_state_table, s.bid_history_table),
        ActiveSnipes(s.users_and_app_state_table, s.bids_table),
    )


def _bid(bid_id: str, item: str, ends_in: int = 3600, user: str = "user-1") -> BidEntity:
    now_ms = int(time.time() * 1000)
    return BidEntity(
        userId=user,
        bidId=bid_id,
        ebayItemId=item,
        itemId=f"v1|{item}|0",
        maxBidAmount=5000,
        currency="USD",
        leadSeconds=6,
        status=BidStatus.PENDING,
        auctionEndTime=int(time.time()) + ends_in,
        itemTitle="Leica",
        createdAt=now_ms,
        updatedAt=now_ms,
    )


def _entry(bid: BidEntity, action: HistoryAction) -> HistoryEntity:
    now_ms = int(time.time() * 1000)
    return HistoryEntity(
        userId=bid.userId,
        historyId=f"{bid.bidId}-{action.value}",
        originalBidId=bid.bidId,
        action=action,
        timestamp=now_ms,
        ebayItemId=bid.ebayItemId,
        status=bid.status,
    )


def test_a_snipe_leaving_the_active_statuses_frees_its_slot_and_a_legacy_one_ends_too():
    # Given a user at a cap of 2, and a snipe stored before the count existed (not in it)
    bids, active = _repos()
    one, two = _bid("b1", "110000000001"), _bid("b2", "110000000002")
    for bid in (one, two):
        bids.create(bid, _entry(bid, HistoryAction.CREATE), max_active=2)
    legacy = _bid("b0", "110000000000")
    bids.client.put_item(TableName=bids.table, Item=to_item(legacy.to_item()))
    # When the executor records one as WON, and the legacy one as LOST
    won = one.model_copy(update={"status": BidStatus.WON})
    bids.transition(one, won, _entry(won, HistoryAction.WIN), allowed=[BidStatus.PENDING])
    lost = legacy.model_copy(update={"status": BidStatus.LOST})
    bids.transition(legacy, lost, _entry(lost, HistoryAction.LOSE), allowed=[BidStatus.PENDING])
    # Then one slot is free (the legacy snipe was never counted), and it can be taken again
    assert active.count("user-1") == 1
    three = _bid("b3", "110000000003")
    bids.create(three, _entry(three, HistoryAction.CREATE), max_active=2)
    assert active.count("user-1") == 2


def test_the_soonest_end_is_read_once_and_remembered():
    # Given a user with snipes ending in 10 and 60 minutes
    bids, active = _repos()
    soon, later = _bid("b1", "110000000001", 600), _bid("b2", "110000000002", 3600)
    for bid in (soon, later):
        bids.create(bid, _entry(bid, HistoryAction.CREATE), max_active=2)
    now = int(time.time())
    # When asked when a slot frees / Then it is the sooner end
    assert active.soonest_end("user-1", now) == soon.auctionEndTime
    # and it is remembered: asked again, the snipes are not read (a stranger's id in the set
    # would otherwise be looked up and ignored; here the snipe's row is simply gone)
    bids.client.delete_item(
        TableName=bids.table, Key={"userId": {"S": "user-1"}, "bidId": {"S": "b1"}}
    )
    assert active.soonest_end("user-1", now) == soon.auctionEndTime
    # until it has passed
    assert active.soonest_end("user-1", soon.auctionEndTime) == later.auctionEndTime
