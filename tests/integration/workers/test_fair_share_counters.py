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
    BROWSE,
    FAR_POLLS,
    FINAL_POLLS,
    GETITEMS,
    HOUR_POLLS,
    ITEM_LOOKUPS,
    QUOTAS,
    SHARES,
    SNIPE_CREATION,
    CallBudget,
    Limits,
    day_bounds,
    ebay_day,
)
from common.data.dynamo import to_item
from common.errors import BrowseShareExhausted
from common.models import BidEntity, BidStatus, HistoryAction, HistoryEntity
from tests.integration.workers.worker_helpers import NOW
from tests.stack_env import get_settings

pytestmark = pytest.mark.usefixtures("workers_env")
DAY = ebay_day(NOW)


def _budget(calls: int, getitems: int | None = None) -> CallBudget:
    """``calls`` a day of every Browse method but getItems, and ``getitems`` (as many) of it."""
    table = get_settings().users_and_app_state_table
    return CallBudget(table, calls, calls if getitems is None else getitems)


def _take(budget: CallBudget, share, user: str) -> bool:
    try:
        budget.take_one(share, user, NOW)
    except BrowseShareExhausted:
        return False
    return True


def test_far_off_polls_and_lookups_cannot_take_the_reserved_shares():
    # Given 100 calls a day of each quota: 50 of the look-ups' reserved for snipe creation, 40
    # of getItems' for the final minutes' polls
    budget = _budget(100)
    # When the far-off polls ask for everything, then the hour's polls, then look-ups by many
    far = budget.reserve(FAR_POLLS, 100, NOW)
    hour = budget.reserve(HOUR_POLLS, 100, NOW)
    lookups = sum(_take(budget, ITEM_LOOKUPS, f"user-{n}") for n in range(60))
    # Then the far-off polls stopped at their 50, the hour's polls took the rest of the pool,
    # and the look-ups stopped at their 40
    assert (far, hour, lookups) == (50, 10, 40)
    # and the final minutes and snipe creation still have every call reserved for them (snipe
    # creation also what the look-ups left of its quota's pool), 10 a user
    assert budget.reserve(FINAL_POLLS, 100, NOW) == 40
    made = sum(_take(budget, SNIPE_CREATION, f"sniper-{n % 7}") for n in range(7 * 15))
    assert made == 60
    assert (budget.spent(DAY, BROWSE), budget.spent(DAY, GETITEMS)) == (100, 100)


def test_the_reserves_are_used_first_then_the_pool():
    # Given 100 getItems calls a day, and the final minutes' polls, which have 40 of their own,
    # taking 50
    budget = _budget(100)
    assert budget.reserve(FINAL_POLLS, 50, NOW) == 50
    counters = budget.counters(DAY, GETITEMS)
    # Then 40 count against their reserve and 10 against the pool (60), leaving 50 to others
    assert (counters["r_final"], counters["pool"], counters["u_final"]) == (40, 10, 50)
    assert budget.reserve(HOUR_POLLS, 100, NOW) == 50


def test_a_share_of_one_quota_never_spends_the_others_calls():
    # Given no look-up calls at all today, and 100 getItems calls
    budget = _budget(0, 100)
    # When the polls take all of theirs
    assert budget.reserve(FINAL_POLLS, 100, NOW) == 100
    assert budget.reserve(HOUR_POLLS, 100, NOW) == 0
    # Then no snipe can be made and no item looked up: getItems' calls are not theirs
    assert not _take(budget, SNIPE_CREATION, "sniper")
    assert not _take(budget, ITEM_LOOKUPS, "user-1")
    assert budget.spent(DAY, BROWSE) == 0


def test_spent_look_ups_leave_the_polls_every_getitems_call():
    # Given 100 look-up calls a day and 100 getItems calls, and every look-up call spent
    budget = _budget(100, 100)
    made = sum(_take(budget, SNIPE_CREATION, f"sniper-{n % 10}") for n in range(10 * 15))
    assert made == 100
    # When the polls ask for everything / Then they have all of theirs, counted apart
    assert budget.reserve(FINAL_POLLS, 100, NOW) == 100
    assert (budget.spent(DAY, BROWSE), budget.spent(DAY, GETITEMS)) == (100, 100)
    assert budget.counters(DAY, BROWSE)["u_create"] == 100
    assert "u_create" not in budget.counters(DAY, GETITEMS)


def test_concurrent_reservations_never_break_a_limit_of_either_quota():
    # Given 200 calls a day of each quota, and eight callers of every kind reserving in random
    # amounts at once
    budget = _budget(200)
    rng = random.Random(7)
    plans = [
        (rng.choice(SHARES), rng.randint(1, 9), f"user-{rng.randint(0, 3)}") for _ in range(240)
    ]

    def act(plan) -> tuple[str, int]:
        share, wanted, user = plan
        if share.per_user is not None:
            return share.api, int(_take(budget, share, user))
        return share.api, budget.reserve(share, wanted, NOW)

    with ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(act, plans))
    # Then, per quota, what was granted is what was counted, and every counter is within its
    # limit
    for quota in QUOTAS:
        counters = budget.counters(DAY, quota)
        assert counters["calls"] == sum(n for api, n in granted if api == quota) <= 200
        limits = {s.key: Limits.of(s, 200) for s in SHARES if s.api == quota}
        assert counters.get("pool", 0) <= next(iter(limits.values())).pool
        for key, limit in limits.items():
            assert counters.get(f"r_{key}", 0) <= limit.reserved
            assert counters.get(f"u_{key}", 0) <= limit.cap
        # and no share counted on a quota not its own
        assert {name[2:] for name in counters if name[:2] in ("u_", "r_")} <= set(limits)
    lookup, create = Limits.of(ITEM_LOOKUPS, 200), Limits.of(SNIPE_CREATION, 200)
    for user in {user for _, _, user in plans}:
        mine = budget.counters(DAY, BROWSE, user)
        assert mine.get("u_lookup", 0) <= lookup.per_user
        assert mine.get("u_create", 0) <= create.per_user
        assert budget.counters(DAY, GETITEMS, user) == {}


def test_a_new_ebay_day_starts_every_share_afresh():
    budget = _budget(100)
    assert budget.reserve(FAR_POLLS, 100, NOW) == 50
    assert budget.reserve(FAR_POLLS, 100, NOW + 86_400) == 50


def test_the_day_turns_at_midnight_pacific_time_not_utc():
    # Given a share spent at 23:59:59 UTC, which is late afternoon in California
    budget = _budget(100)
    utc_midnight = (NOW // 86_400 + 1) * 86_400
    assert budget.reserve(FAR_POLLS, 100, utc_midnight - 1) == 50
    # When UTC's day turns, eBay's has not: nothing more
    assert budget.reserve(FAR_POLLS, 1, utc_midnight) == 0
    # Then at eBay's midnight the share starts afresh
    pacific_midnight = int(day_bounds(utc_midnight)[1])
    assert budget.reserve(FAR_POLLS, 1, pacific_midnight - 1) == 0
    assert budget.reserve(FAR_POLLS, 100, pacific_midnight) == 50


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
