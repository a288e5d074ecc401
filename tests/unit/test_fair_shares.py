"""Fair shares with fakes: the shares' arithmetic, metered item look-ups (cache first, then one
call of the share), and the active-snipe cap's Retry-After."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

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
    Limits,
    Share,
    day_bounds,
    ebay_day,
    one_item_a_call,
    seconds_to_next_day,
)
from common.data.item_cache import CachedLookup
from common.ebay.errors import ItemNotFound
from common.ebay.models import EbayItem
from common.errors import BrowseShareExhausted, FieldIssue, RetryableError, TooManyActiveSnipes
from common.models import BidEntity, BidStatus, HistoryAction, HistoryEntity
from rest.logic import caps
from rest.logic.lookups import MeteredItems

NOW = 1_900_000_000


# ---------------------------------------------------------------- the shares


def test_each_quotas_shares_reserve_at_most_its_whole_day_and_never_more_than_they_may_use():
    for quota in QUOTAS:
        mine = [share for share in SHARES if share.api == quota]
        assert mine
        assert sum(share.reserved for share in mine) <= 1
    assert all(0 <= share.reserved <= share.cap <= 1 for share in SHARES)
    assert len({share.key for share in SHARES}) == len(SHARES)


def test_the_look_ups_are_counted_on_browse_and_the_polls_on_getitems():
    # eBay's two quotas: every Browse method but getItems (the single-item look-ups), getItems
    assert {SNIPE_CREATION.api, ITEM_LOOKUPS.api} == {BROWSE}
    assert {FINAL_POLLS.api, HOUR_POLLS.api, FAR_POLLS.api} == {GETITEMS}


def test_polls_one_item_a_call_are_paid_on_browse_from_its_pool_only():
    # Given eBay refusing this app getItems: the polls are getItem calls, on eBay's other quota
    singles = [one_item_a_call(share) for share in (FINAL_POLLS, HOUR_POLLS, FAR_POLLS)]
    # Then each is a browse share that reserves nothing, so snipe creation keeps its 2,500
    assert {share.api for share in singles} == {BROWSE}
    assert [Limits.of(share, 5000).reserved for share in singles] == [0, 0, 0]
    assert Limits.of(SNIPE_CREATION, 5000).reserved == 2500
    # and together they never take more than the pool creation does not reserve
    assert [Limits.of(share, 5000).cap for share in singles] == [2000, 2000, 1000]
    assert Limits.of(singles[0], 5000).pool == 2500
    # while the look-ups' own shares are their own counterparts
    assert one_item_a_call(SNIPE_CREATION) is SNIPE_CREATION


def test_a_days_budget_becomes_whole_calls_per_share_of_its_quota():
    # Given eBay's default 5,000 calls a day of each quota
    # Then snipe creation keeps 2,500 of the look-ups' quota, and 2,500 are shared
    assert Limits.of(SNIPE_CREATION, 5000) == Limits(
        reserved=2500, cap=5000, pool=2500, per_user=500
    )
    # the wishlist may use 2,000 of them, of which one user 200
    assert Limits.of(ITEM_LOOKUPS, 5000) == Limits(reserved=0, cap=2000, pool=2500, per_user=200)
    # and the final minutes keep 2,000 of getItems' quota, 3,000 being shared
    assert Limits.of(FINAL_POLLS, 5000) == Limits(reserved=2000, cap=5000, pool=3000, per_user=None)
    # of which the far-off polls may use 2,500, so the hour's polls keep 500 whatever they do
    assert Limits.of(FAR_POLLS, 5000).cap == 2500
    assert Limits.of(HOUR_POLLS, 5000) == Limits(reserved=0, cap=5000, pool=3000, per_user=None)
    # and a tiny budget still lets a user make one call, a budget of 0 none
    assert Limits.of(ITEM_LOOKUPS, 10).per_user == 1
    assert Limits.of(ITEM_LOOKUPS, 0).per_user == 0


@pytest.mark.parametrize(
    ("moment", "seconds"),
    [
        # eBay's day is Pacific time: midnight PDT is 07:00 UTC, midnight PST 08:00 UTC
        (datetime(2030, 5, 18, 6, 59, 30, tzinfo=UTC), 30),
        (datetime(2030, 5, 17, 7, 0, 0, tzinfo=UTC), 86_400),
        (datetime(2030, 5, 17, 19, 0, 0, 250_000, tzinfo=UTC), 43_200),
        (datetime(2030, 5, 17, 23, 59, 30, tzinfo=UTC), 25_230),  # not UTC's 30 s
        (datetime(2030, 1, 15, 8, 0, 0, tzinfo=UTC), 86_400),
        # the days the clocks change are 23 and 25 hours long
        (datetime(2030, 3, 10, 8, 0, 0, tzinfo=UTC), 82_800),
        (datetime(2030, 11, 3, 7, 0, 0, tzinfo=UTC), 90_000),
    ],
)
def test_a_spent_share_is_retried_after_ebays_midnight_pacific_time(moment: datetime, seconds: int):
    assert seconds_to_next_day(moment.timestamp()) == seconds


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (datetime(2030, 5, 18, 6, 59, 59, tzinfo=UTC), "2030-05-17"),
        (datetime(2030, 5, 18, 7, 0, 0, tzinfo=UTC), "2030-05-18"),
        (datetime(2030, 1, 16, 7, 59, 59, tzinfo=UTC), "2030-01-15"),
        (datetime(2030, 1, 16, 8, 0, 0, tzinfo=UTC), "2030-01-16"),
    ],
)
def test_the_counters_day_is_ebays_day(moment: datetime, day: str):
    assert ebay_day(moment.timestamp()) == day
    start, end = day_bounds(moment.timestamp())
    assert start <= moment.timestamp() < end
    assert ebay_day(start) == day
    assert ebay_day(end - 1) == day
    assert ebay_day(end) != day


# ---------------------------------------------------------------- metered look-ups


def _item(legacy: str = "110000000001") -> EbayItem:
    return EbayItem(
        item_id=f"v1|{legacy}|0",
        legacy_item_id=legacy,
        title="Leica M3",
        is_auction=True,
        buying_options=("AUCTION",),
        current_bid_price=None,
        minimum_price_to_bid=None,
        bid_count=0,
        end_time_ms=(NOW + 3600) * 1000 + 250,
        image_url=None,
        condition=None,
        seller_username=None,
        reserve_price_met=None,
    )


@dataclass
class FakeEbay:
    known: dict[str, EbayItem] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def get_item_by_legacy_id(self, legacy_id: str | int) -> EbayItem:
        self.calls.append(str(legacy_id))
        if str(legacy_id) not in self.known:
            raise ItemNotFound(f"no item {legacy_id}")
        return self.known[str(legacy_id)]

    def get_item(self, item_id: str) -> EbayItem:
        return self.get_item_by_legacy_id(item_id.split("|")[1])


@dataclass
class FakeCache:
    """ItemCache's interface in memory; ``failing`` makes put() fail as throttled DynamoDB."""

    seconds: int = 45
    entries: dict[str, tuple[EbayItem | None, int]] = field(default_factory=dict)
    failing: bool = False

    def get(self, item_id: str, now_ms: int) -> CachedLookup | None:
        found = self.entries.get(item_id)
        if found is None or found[1] <= now_ms:
            return None
        return CachedLookup(found[0])

    def put(self, item_id: str, found: EbayItem | None, now_ms: int) -> None:
        if self.failing:
            raise RetryableError("throttled")
        self.entries[item_id] = (found, now_ms + self.seconds * 1000)


@dataclass
class FakeBudget:
    """CallBudget.take_one's interface: ``left`` calls for anyone."""

    left: int = 10
    taken: list[tuple[str, str]] = field(default_factory=list)

    def take_one(self, share: Share, user_id: str, now: int) -> None:
        if self.left <= 0:
            raise BrowseShareExhausted("spent", [FieldIssue("share", share.name)], retry_after=9)
        self.left -= 1
        self.taken.append((share.name, user_id))


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


def _metered(ebay, cache, budget, clock=None) -> MeteredItems:
    return MeteredItems(ebay, cache, budget, ITEM_LOOKUPS, "user-a", clock or Clock())


def test_a_lookup_the_cache_answers_costs_no_call_until_it_expires():
    # Given an item on eBay, looked up once
    ebay, cache, budget, clock = (
        FakeEbay({"110000000001": _item()}),
        FakeCache(),
        FakeBudget(),
        Clock(),
    )
    metered = _metered(ebay, cache, budget, clock)
    assert metered.get_item_by_legacy_id("110000000001") == _item()
    # When it is looked up again within 45 s / Then eBay is not asked and no call is taken
    clock.now += 44
    assert metered.get_item_by_legacy_id("110000000001") == _item()
    assert (ebay.calls, budget.taken) == (["110000000001"], [("item-lookups", "user-a")])
    # When the cached answer is older / Then eBay is asked again, and the call counted
    clock.now += 2
    metered.get_item_by_legacy_id("110000000001")
    assert len(ebay.calls) == len(budget.taken) == 2


def test_no_such_item_is_cached_as_such():
    ebay, cache, budget = FakeEbay(), FakeCache(), FakeBudget()
    metered = _metered(ebay, cache, budget)
    for _ in range(3):
        with pytest.raises(ItemNotFound):
            metered.get_item_by_legacy_id("110000000009")
    assert len(ebay.calls) == len(budget.taken) == 1


def test_a_spent_share_refuses_before_ebay_is_asked():
    ebay, cache, budget = FakeEbay({"110000000001": _item()}), FakeCache(), FakeBudget(left=0)
    with pytest.raises(BrowseShareExhausted) as refused:
        _metered(ebay, cache, budget).get_item_by_legacy_id("110000000001")
    assert refused.value.retry_after == 9
    assert ebay.calls == []


def test_a_cache_that_cannot_be_written_does_not_fail_the_lookup():
    ebay, cache, budget = FakeEbay({"110000000001": _item()}), FakeCache(failing=True), FakeBudget()
    assert _metered(ebay, cache, budget).get_item_by_legacy_id("110000000001") == _item()


# ---------------------------------------------------------------- the active-snipe cap


@dataclass
class FakeActive:
    active: int
    soonest: int | None
    reads: int = 0

    def count(self, user_id: str) -> int:
        return self.active

    def soonest_end(self, user_id: str, now: int) -> int | None:
        self.reads += 1
        return self.soonest


def test_a_user_below_the_cap_passes_and_one_at_it_is_told_when_a_slot_frees():
    caps.check_room("user-a", caps.ActiveSnipeCap(FakeActive(199, NOW + 600), 200), Clock())
    with pytest.raises(TooManyActiveSnipes) as refused:
        caps.check_room("user-a", caps.ActiveSnipeCap(FakeActive(200, NOW + 600), 200), Clock())
    # the soonest auction's end, plus a minute for its outcome to be recorded
    assert refused.value.retry_after == 600 + caps.OUTCOME_SECONDS
    assert refused.value.code == "TOO_MANY_ACTIVE_SNIPES"


@pytest.mark.parametrize(
    ("soonest", "retry_after"),
    [(NOW - 300, caps.MIN_RETRY_AFTER), (None, caps.UNKNOWN_RETRY_AFTER)],
)
def test_a_late_outcome_or_no_active_snipe_still_gives_a_sensible_retry_after(soonest, retry_after):
    refused = caps.at_cap("user-a", caps.ActiveSnipeCap(FakeActive(200, soonest), 200), Clock())
    assert refused.retry_after == retry_after


@dataclass
class FakeStore:
    """BidsRepository.create's interface: refuses as the transaction does at the cap."""

    stored: list[str] = field(default_factory=list)
    full: bool = False
    caps_seen: list[int | None] = field(default_factory=list)

    def create(
        self,
        bid: BidEntity,
        history: HistoryEntity,
        max_active: int | None = None,
        *,
        replaces: str | None = None,
    ) -> None:
        self.caps_seen.append(max_active)
        if self.full:
            raise TooManyActiveSnipes("full")
        self.stored.append(bid.bidId)


def _bid() -> BidEntity:
    return BidEntity(
        userId="user-a",
        bidId="b1",
        ebayItemId="110000000001",
        itemId="v1|110000000001|0",
        maxBidAmount=5000,
        currency="USD",
        leadSeconds=6,
        status=BidStatus.PENDING,
        auctionEndTime=NOW + 3600,
        itemTitle="Leica",
        createdAt=NOW * 1000,
        updatedAt=NOW * 1000,
    )


def _history() -> HistoryEntity:
    return HistoryEntity(
        userId="user-a",
        historyId="h1",
        originalBidId="b1",
        action=HistoryAction.CREATE,
        timestamp=NOW * 1000,
        ebayItemId="110000000001",
        status=BidStatus.PENDING,
    )


def test_a_create_that_loses_the_last_slot_in_a_race_gets_the_retry_after_too():
    # Given a user who passed the check, but whose last slot another create took meanwhile
    store = FakeStore(full=True)
    cap = caps.ActiveSnipeCap(FakeActive(200, NOW + 120), 200)
    # When the snipe is stored / Then the transaction's refusal carries when a slot frees
    with pytest.raises(TooManyActiveSnipes) as refused:
        caps.create_counted(store, _bid(), _history(), cap, Clock())
    assert refused.value.retry_after == 120 + caps.OUTCOME_SECONDS
    assert store.caps_seen == [200]
