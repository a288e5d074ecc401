"""rest/logic/bids.py without a database: the in-memory repositories (tests/memory.py, held to
DynamoDB's behaviour by the contract suite), a fake scheduler and a fake eBay look-up."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from common.data.cursor import CursorCodec
from common.ebay.errors import EbayUnavailable, ItemNotFound
from common.ebay.models import EbayItem, Money
from common.errors import (
    AccountDeletedError,
    BadRequestError,
    ConflictError,
    IdempotencyKeyReused,
    RetryableError,
    SnipeSealedError,
    TooManyActiveSnipes,
    UpstreamUnavailable,
    ValidationFailed,
)
from common.models import BidEntity, BidStatus, HistoryAction, UserEntity
from common.scheduling import ScheduleError, needs_immediate_invoke
from rest.logic import bids as logic
from rest.logic.caps import ActiveSnipeCap
from tests.fakes import FakeScheduler, roomy_cap
from tests.memory import MemoryBids, MemoryStores
from tests.slow_database import SlowDatabase

NOW = 1_900_000_000.0
USER = "u1"
TTL_DAYS = 30


class Clock:
    """Time as the test sets it."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Auctions:
    """rest.logic.bids.AuctionLookup: eBay's items by legacy id, or an error to raise."""

    def __init__(self, **items: EbayItem | Exception) -> None:
        self.items = items
        self.asked: list[str] = []

    def get_item_by_legacy_id(self, legacy_item_id: str) -> EbayItem:
        self.asked.append(legacy_item_id)
        found = self.items[legacy_item_id]
        if isinstance(found, Exception):
            raise found
        return found


class FailingScheduler(FakeScheduler):
    def wake(self, user_id: str, bid_id: str, fire_at: int, now: float) -> str:
        raise ScheduleError("EventBridge Scheduler refused")


def auction(legacy_id: str = "1001", ends_in: int = 600, **fields: Any) -> EbayItem:
    data: dict[str, Any] = {
        "item_id": f"v1|{legacy_id}|0",
        "legacy_item_id": legacy_id,
        "title": "A camera",
        "is_auction": True,
        "buying_options": ("AUCTION",),
        "current_bid_price": Money(amount=1000, currency="USD"),
        "minimum_price_to_bid": Money(amount=1100, currency="USD"),
        "bid_count": 3,
        "end_time_ms": int((NOW + ends_in) * 1000),
        "image_url": None,
        "condition": None,
        "seller_username": "seller",
        "reserve_price_met": None,
    }
    data.update(fields)
    return EbayItem(**data)


def request(
    item: str = "1001",
    max_bid: int = 5000,
    lead: int | None = 5,
    group: str | None = None,
    key: str | None = None,
) -> logic.NewSnipe:
    return logic.NewSnipe(item, max_bid, "USD", lead, group, key)


@pytest.fixture
def world() -> dict[str, Any]:
    stores = MemoryStores()
    stores.users.create(UserEntity(userId=USER, email="u1@example.com", createdAt=1, updatedAt=1))
    stores.users.link(USER, "ebay-u1")
    return {"stores": stores, "clock": Clock(), "scheduler": FakeScheduler()}


def create(world: dict[str, Any], req: logic.NewSnipe | None = None, **kwargs: Any) -> Any:
    stores = world["stores"]
    req = req or request()
    auctions = kwargs.pop("auctions", Auctions(**{req.ebay_item_id: auction(req.ebay_item_id)}))
    return logic.create_snipe(
        USER,
        req,
        SimpleNamespace(
            users=stores.users,
            bids=kwargs.pop("bids", stores.bids),
            scheduler=kwargs.pop("scheduler", world["scheduler"]),
            snipe_cap=kwargs.pop("cap", roomy_cap()),
        ),
        auctions,
        world["clock"],
        TTL_DAYS,
    )


def update(world: dict[str, Any], bid_id: str, max_bid: int | None, lead: int | None) -> Any:
    stores = world["stores"]
    return logic.update_snipe(
        USER, bid_id, max_bid, lead, stores.bids, world["clock"], TTL_DAYS, world["scheduler"]
    )


def cancel(world: dict[str, Any], bid_id: str) -> BidEntity:
    stores = world["stores"]
    return logic.cancel_snipe(
        USER, bid_id, stores.bids, world["clock"], TTL_DAYS, world["scheduler"]
    )


def actions(world: dict[str, Any], bid_id: str) -> list[HistoryAction]:
    page, _ = world["stores"].history.for_bid(USER, bid_id, 50, None)
    return sorted((e.action for e in page), key=list(HistoryAction).index)


# ---------------------------------------------------------------------------------- create


def test_a_new_snipe_is_stored_pending_with_its_history_and_wakes_the_executor(world):
    # Given a linked user and an auction ending in ten minutes
    # When they snipe it
    bid, warnings = create(world)
    # Then it is stored PENDING in the auction's currency, with its CREATE entry, and scheduled
    stored = world["stores"].bids.require(USER, bid.bidId)
    assert stored.status is BidStatus.PENDING
    assert (stored.maxBidAmount, stored.currency, stored.leadSeconds) == (5000, "USD", 5)
    assert stored.auctionEndTime == int(NOW) + 600
    assert actions(world, bid.bidId) == [HistoryAction.CREATE]
    assert world["scheduler"].woken == [bid.bidId]
    assert warnings == []


def test_an_unlinked_user_is_warned_and_the_lead_time_defaults_to_their_preference(world):
    # Given a user who has not linked eBay, whose preferred lead time is 8 s
    stores = world["stores"]
    user = UserEntity(userId="u2", email="u2@example.com", createdAt=1, updatedAt=1)
    stores.users.create(user)
    prefs = user.preferences.model_copy(update={"defaultLeadSeconds": 8})
    stores.users.update_preferences("u2", prefs, 2)
    # When they snipe without a lead time
    bid, warnings = logic.create_snipe(
        "u2",
        request(lead=None),
        SimpleNamespace(
            users=stores.users,
            bids=stores.bids,
            scheduler=world["scheduler"],
            snipe_cap=roomy_cap(),
        ),
        Auctions(**{"1001": auction()}),
        world["clock"],
        TTL_DAYS,
    )
    # Then the snipe takes their lead time, and they are told to link eBay
    assert bid.leadSeconds == 8
    assert warnings == ["Link your eBay account before the auction ends, or the snipe cannot fire"]


def test_a_second_snipe_on_the_same_item_is_a_conflict(world):
    # Given a snipe on an item
    create(world)
    # When the user snipes the same item again
    # Then it is refused by the one-active-snipe guard, and nothing more is scheduled
    with pytest.raises(ConflictError):
        create(world, request(max_bid=7000))
    assert len(world["scheduler"].woken) == 1


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (auction(is_auction=False), ValidationFailed),
        (auction(ends_in=-1), ValidationFailed),
        (auction(ends_in=9), ValidationFailed),  # inside lead + the freeze window
        (auction(minimum_price_to_bid=Money(amount=6000, currency="USD")), BadRequestError),
        (auction(minimum_price_to_bid=Money(amount=100, currency="EUR")), ValidationFailed),
        (ItemNotFound("no such item"), ValidationFailed),
        (EbayUnavailable("eBay is down"), UpstreamUnavailable),
    ],
    ids=["not-auction", "ended", "too-soon", "below-minimum", "currency", "unknown", "down"],
)
def test_a_snipe_eBay_would_not_take_is_refused_before_anything_is_stored(world, item, error):
    # Given an item eBay describes so that no snipe can be placed on it
    # When the user snipes it
    with pytest.raises(error):
        create(world, auctions=Auctions(**{"1001": item}))
    # Then nothing was stored or scheduled
    assert world["stores"].bids.all_keys(USER) == []
    assert world["scheduler"].woken == []


def test_a_snipe_that_cannot_be_scheduled_is_withdrawn_and_its_item_freed(world):
    # Given a scheduler that refuses
    # When the user snipes
    with pytest.raises(RetryableError):
        create(world, scheduler=FailingScheduler())
    # Then the snipe is CANCELLED for SCHEDULE_FAILED, and the item takes a new snipe
    [withdrawn] = world["stores"].bids.all_keys(USER)
    assert (withdrawn.status, withdrawn.cancelReason) == (BidStatus.CANCELLED, "SCHEDULE_FAILED")
    world["clock"].now += 1
    bid, _ = create(world)
    assert bid.status is BidStatus.PENDING


def test_no_snipe_for_an_account_being_deleted(world):
    # Given a user whose account deletion began
    world["stores"].users.mark_deleted(USER, int(NOW * 1000))
    auctions = Auctions(**{"1001": auction()})
    # When a token of theirs still snipes
    with pytest.raises(AccountDeletedError):
        create(world, auctions=auctions)
    # Then eBay was not even asked
    assert auctions.asked == []


def test_the_active_snipe_cap_refuses_before_ebay_is_asked(world):
    # Given a user with one active snipe and a cap of one
    stores = world["stores"]
    cap = ActiveSnipeCap(stores.active, 1)
    create(world, cap=cap)
    auctions = Auctions(**{"1002": auction("1002")})
    # When they snipe another item
    with pytest.raises(TooManyActiveSnipes) as refused:
        create(world, request("1002"), auctions=auctions, cap=cap)
    # Then it is refused with a Retry-After until the first one's outcome, eBay unasked
    assert refused.value.retry_after == 600 + 60
    assert auctions.asked == []


def test_a_maximum_above_the_buy_it_now_price_is_warned_about(world):
    # Given an auction that also offers Buy It Now at $90.00 (eBay refuses a bid above that
    # price while it is offered; it goes with the first bid)
    bin_offered = auction(
        buying_options=("AUCTION", "FIXED_PRICE"),
        buy_it_now_price=Money(amount=9000, currency="USD"),
    )
    # When the user snipes it with a $200.00 maximum, and with $80.00
    above, above_warnings = create(
        world, request(max_bid=20_000), auctions=Auctions(**{"1001": bin_offered})
    )
    cancel(world, above.bidId)
    _, below_warnings = create(
        world, request(max_bid=8_000), auctions=Auctions(**{"1001": bin_offered})
    )
    # Then the first is told at once, not only by a FAILED at the end; the second is not
    assert len(above_warnings) == 1
    assert "Buy It Now price of $90.00" in above_warnings[0]
    assert below_warnings == []


def test_the_buy_it_now_warning_writes_the_price_as_the_emails_do(world):
    # Given an auction offering Buy It Now at $1,250.00
    bin_offered = auction(
        buying_options=("AUCTION", "FIXED_PRICE"),
        buy_it_now_price=Money(amount=125_000, currency="USD"),
    )
    # When the user snipes it with a $2,000.00 maximum
    _, warnings = create(
        world, request(max_bid=200_000), auctions=Auctions(**{"1001": bin_offered})
    )
    # Then the price reads as every amount the product writes (Money.display, the emails')
    assert "Buy It Now price of $1,250.00" in warnings[0]


def test_group_snipes_ending_too_close_together_are_warned_about(world):
    # Given a group snipe on an auction
    create(world, request("1001", group="cams"))
    # When another snipe of the group is on an auction ending 5 s later
    auctions = Auctions(**{"1002": auction("1002", ends_in=605)})
    _, warnings = create(world, request("1002", group="cams"), auctions=auctions)
    # Then the user is told the later one may not bid
    assert len(warnings) == 1
    assert "group 'cams' ends within 5 s" in warnings[0]


# ------------------------------------------------------------------- create, idempotent

KEY = "6f1c2b9e-0d4a-4c1e-9a57-3f2d8b7e1c55"


def lost_create(world: dict[str, Any], req: logic.NewSnipe) -> None:
    """``req`` created, its answer lost: the transaction landed, the caller got 503."""
    slow = SlowDatabase()
    slow.arm(1, applied=True, only=["create"])
    with pytest.raises(RetryableError):
        create(world, req, bids=slow.port(world["stores"].bids))
    assert slow.timed_out == ["create (applied)"]
    world["clock"].now += 2  # the client's retry, a moment later


def test_a_retry_with_the_key_of_a_create_whose_answer_was_lost_gets_that_snipe(world):
    # Given a create with a key whose transaction landed but whose answer was lost
    lost_create(world, request(key=KEY))
    [stored] = world["stores"].bids.all_keys(USER)
    assert stored.idempotencyKey == KEY
    # When the client sends the same request with the same key again
    bid, warnings = create(world, request(key=KEY))
    # Then it gets that very snipe, not a second one, and it is woken this time
    assert bid == world["stores"].bids.require(USER, stored.bidId)
    assert world["stores"].bids.all_keys(USER) == [bid]
    assert actions(world, bid.bidId) == [HistoryAction.CREATE]
    assert world["scheduler"].woken == [bid.bidId]
    assert warnings == []


def test_a_retry_within_240_s_of_firing_starts_no_second_waiting_executor(world):
    # Given a create with a key on an auction ending in 200 s: within 240 s of its fire time
    # the executor is invoked at once and waits in Lambda until then
    auctions = Auctions(**{"1001": auction(ends_in=200)})
    first, _ = create(world, request(key=KEY), auctions=auctions)
    assert needs_immediate_invoke(first.fire_at, world["clock"]())
    assert world["scheduler"].woken == [first.bidId]
    # When the client retries the create with the same key, twice (its answer lost)
    world["clock"].now += 2
    again, _ = create(world, request(key=KEY), auctions=auctions)
    world["clock"].now += 2
    create(world, request(key=KEY), auctions=auctions)
    # Then it gets the snipe, and no second invocation was started
    assert again.bidId == first.bidId
    assert world["scheduler"].woken == [first.bidId]


def test_a_retry_far_from_firing_arranges_the_schedule_again(world):
    # Given a create with a key on an auction ending in 10 minutes (a schedule, not an invoke)
    first, _ = create(world, request(key=KEY))
    # When the client retries it / Then the schedule is put again where it is: harmless
    world["clock"].now += 2
    create(world, request(key=KEY))
    assert world["scheduler"].woken == [first.bidId, first.bidId]


def test_a_retry_near_firing_whose_invocation_failed_leaves_it_to_the_next_retry(world):
    # Given a create with a key on an auction ending in 200 s whose answer was lost before it
    # arranged the wake-up
    auctions = Auctions(**{"1001": auction(ends_in=200)})
    slow = SlowDatabase()
    slow.arm(1, applied=True, only=["create"])
    with pytest.raises(RetryableError):
        create(world, request(key=KEY), auctions=auctions, bids=slow.port(world["stores"].bids))
    world["clock"].now += 2
    # When a retry's invocation fails to start, then the next retry comes, then another
    bid, _ = create(world, request(key=KEY), auctions=auctions, scheduler=FailingScheduler())
    world["clock"].now += 2
    create(world, request(key=KEY), auctions=auctions)
    world["clock"].now += 2
    create(world, request(key=KEY), auctions=auctions)
    # Then the first retry's claim was given back: the second started the one invocation
    assert world["scheduler"].woken == [bid.bidId]


def test_a_retry_without_the_key_or_with_another_is_the_usual_conflict(world):
    # Given a create with a key whose answer was lost
    lost_create(world, request(key=KEY))
    # When the same request comes without the key, or with another one
    for key in (None, "another-key"):
        with pytest.raises(ConflictError) as refused:
            create(world, request(key=key))
        # Then it is the one-active-snipe conflict, nothing more is stored or woken
        assert not isinstance(refused.value, IdempotencyKeyReused)
        assert refused.value.message == "You already have an active snipe on this item"
    assert len(world["stores"].bids.all_keys(USER)) == 1
    assert world["scheduler"].woken == []


def test_a_retry_of_the_create_that_filled_the_cap_gets_that_snipe_not_a_429(world):
    # Given a user one snipe short of a cap of two, whose create with a key filling it was lost
    cap = ActiveSnipeCap(world["stores"].active, 2)
    create(world, request("1002"), auctions=Auctions(**{"1002": auction("1002")}), cap=cap)
    slow = SlowDatabase()
    slow.arm(1, applied=True, only=["create"])
    with pytest.raises(RetryableError):
        create(world, request(key=KEY), bids=slow.port(world["stores"].bids), cap=cap)
    [stored] = [b.bidId for b in world["stores"].bids.all_keys(USER) if b.ebayItemId == "1001"]
    auctions = Auctions(**{"1001": auction()})
    # When the client retries it with the key
    bid, _ = create(world, request(key=KEY), auctions=auctions, cap=cap)
    # Then it gets that snipe, eBay unasked; without the key it is the cap's 429
    assert bid.bidId == stored
    assert auctions.asked == []
    with pytest.raises(TooManyActiveSnipes):
        create(world, request(), auctions=auctions, cap=cap)
    with pytest.raises(TooManyActiveSnipes):
        create(world, request(key="another-key"), auctions=auctions, cap=cap)
    assert world["stores"].bids.active_count(USER) == 2


@pytest.mark.parametrize(
    ("ebay_now", "at", "refused_with"),
    [
        (auction(minimum_price_to_bid=Money(amount=1300, currency="USD")), NOW, BadRequestError),
        (auction(), NOW + 600 - 5 - 5, ValidationFailed),
        (EbayUnavailable("down"), NOW, UpstreamUnavailable),
    ],
    ids=["minimum above the maximum", "too late to create", "eBay unreachable"],
)
def test_a_retry_gets_its_snipe_whatever_ebay_says_of_the_item_since(
    world, ebay_now, at, refused_with
):
    # Given a create with a key whose answer was lost
    lost_create(world, request(max_bid=1200, key=KEY))
    [stored] = world["stores"].bids.all_keys(USER)
    # When the client retries it once eBay's view has moved: a competitor's bid put the
    # minimum above the maximum, the last moment to create a snipe passed, eBay is unreachable
    world["clock"].now = max(world["clock"].now, at)
    auctions = Auctions(**{"1001": ebay_now})
    bid, _ = create(world, request(max_bid=1200, key=KEY), auctions=auctions)
    # Then it gets the snipe it made, which will fire, not an error saying there is none
    assert bid.bidId == stored.bidId
    assert world["stores"].bids.all_keys(USER) == [stored]
    # And without the key, the same request is refused as before
    with pytest.raises(refused_with):
        create(world, request(max_bid=1200), auctions=auctions)


@pytest.mark.parametrize(
    "changed",
    [request(max_bid=7000, key=KEY), request(lead=9, key=KEY), request(group="g", key=KEY)],
    ids=["max", "lead", "group"],
)
def test_a_key_sent_again_with_another_request_on_the_item_is_refused(world, changed):
    # Given a snipe created with a key
    first, _ = create(world, request(key=KEY))
    # When the key comes again with a different maximum, lead time or group for the item
    with pytest.raises(IdempotencyKeyReused) as refused:
        create(world, changed)
    # Then it is a 409 saying so, and the snipe is as it was
    assert refused.value.message == "Idempotency-Key reused with a different request"
    assert refused.value.details[0].field == "Idempotency-Key"
    assert world["stores"].bids.all_keys(USER) == [first]


def test_a_key_sent_again_for_another_item_is_refused(world):
    # Given a snipe created with a key
    first, _ = create(world, request(key=KEY))
    # When the key comes again with another item
    auctions = Auctions(**{"1002": auction("1002")})
    with pytest.raises(IdempotencyKeyReused) as refused:
        create(world, request("1002", key=KEY), auctions=auctions)
    # Then it is the 409 of a key reused (a key names one create), and nothing else is stored
    assert refused.value.details[0].field == "Idempotency-Key"
    assert world["stores"].bids.all_keys(USER) == [first]


@pytest.mark.parametrize("then", ["cancelled", "finished"])
def test_a_retry_after_the_snipe_left_the_active_ones_gets_it_and_makes_no_other(world, then):
    # Given a create with a key whose answer was lost, and the snipe since cancelled by the
    # user (another tab shows it at once) or finished: either frees the item's guard
    lost_create(world, request(key=KEY))
    [stored] = world["stores"].bids.all_keys(USER)
    if then == "cancelled":
        cancel(world, stored.bidId)
    else:
        world["stores"].bids.transition(
            stored,
            stored.model_copy(update={"status": BidStatus.FAILED}),
            logic.history_entry(stored, HistoryAction.FAIL, 0, TTL_DAYS, {}),
            [BidStatus.PENDING],
            unsealed=True,
        )
    woken = list(world["scheduler"].woken)
    # When the client's retry of that create arrives
    bid, _ = create(world, request(key=KEY))
    # Then it is answered with that snipe as it is now, and no second snipe is made, nor woken:
    # a cancel the user was told succeeded stays a cancel
    assert bid.bidId == stored.bidId
    assert bid.status == (BidStatus.CANCELLED if then == "cancelled" else BidStatus.FAILED)
    assert [b.bidId for b in world["stores"].bids.all_keys(USER)] == [stored.bidId]
    assert world["scheduler"].woken == woken


def test_a_retry_after_the_user_changed_the_snipe_gets_it_not_a_409(world):
    # Given a create with a key whose answer was lost, and the user, who saw the snipe appear,
    # raised its maximum and lead time
    lost_create(world, request(max_bid=1200, key=KEY))
    [stored] = world["stores"].bids.all_keys(USER)
    update(world, stored.bidId, 2500, 12)
    # When the client's retry of the create (the first maximum) arrives
    bid, _ = create(world, request(max_bid=1200, key=KEY))
    # Then it is that create's again (compared with what it asked, not with the snipe now), and
    # the snipe keeps the user's change
    assert bid.bidId == stored.bidId
    assert (bid.maxBidAmount, bid.leadSeconds) == (2500, 12)


@pytest.mark.parametrize("key", ["", "x" * 65, "has space", "kéy", "a/b", "a,b"])
def test_a_malformed_key_is_refused_before_anything_is_read(world, key):
    auctions = Auctions(**{"1001": auction()})
    # When a create carries an Idempotency-Key outside 1-64 of [A-Za-z0-9_-]
    with pytest.raises(BadRequestError) as refused:
        create(world, request(key=key), auctions=auctions)
    # Then it is a 400 naming the header, eBay unasked and nothing stored
    assert refused.value.details[0].field == "Idempotency-Key"
    assert auctions.asked == []
    assert world["stores"].bids.all_keys(USER) == []


def test_a_key_of_64_of_the_allowed_characters_is_taken(world):
    key = ("Ab9_-" * 13)[:64]
    bid, _ = create(world, request(key=key))
    assert world["stores"].bids.require(USER, bid.bidId).idempotencyKey == key


# ---------------------------------------------------------------------------------- change


def test_a_change_of_lead_time_moves_the_wake_up_and_is_recorded(world):
    # Given a snipe
    bid, _ = create(world)
    # When its maximum and lead time change
    changed = update(world, bid.bidId, 6000, 10)
    # Then both are stored with an UPDATE entry, and the executor is woken at the new time
    assert (changed.maxBidAmount, changed.leadSeconds, changed.version) == (6000, 10, 2)
    assert world["stores"].bids.require(USER, bid.bidId) == changed
    assert actions(world, bid.bidId) == [HistoryAction.CREATE, HistoryAction.UPDATE]
    assert world["scheduler"].woken == [bid.bidId, bid.bidId]


def test_a_change_that_lost_a_race_to_another_writer_is_applied_again(world):
    # Given a snipe whose version another writer bumps just before the user's first write
    bid, _ = create(world)
    stores = world["stores"]
    stores.bids = BumpOnce(stores.tables)
    # When the user changes its maximum
    changed = update(world, bid.bidId, 7000, None)
    # Then the change went in on the snipe as the other writer left it
    assert changed.maxBidAmount == 7000
    assert changed.currentPrice == 1234
    assert changed.version == 3


class BumpOnce(MemoryBids):
    """The price updater writing a new price between the user's read and write, once."""

    bumped = False

    def transition(self, before: BidEntity, *args: Any, **kwargs: Any) -> BidEntity:
        if not self.bumped:
            self.bumped = True
            stored = self.require(before.userId, before.bidId)
            self.replace(stored, stored.model_copy(update={"currentPrice": 1234}), [stored.status])
        return super().transition(before, *args, **kwargs)


def test_no_change_inside_the_freeze_window(world):
    # Given a snipe whose freeze instant has come
    bid, _ = create(world)
    world["clock"].now = bid.freeze_at
    # When the user changes it
    with pytest.raises(ConflictError):
        update(world, bid.bidId, 9000, None)
    # Then it keeps its maximum
    assert world["stores"].bids.require(USER, bid.bidId).maxBidAmount == 5000


def test_a_lead_time_that_would_already_be_frozen_is_refused(world):
    # Given a snipe a minute before its end
    bid, _ = create(world)
    world["clock"].now = bid.auctionEndTime - 60
    # When the user lengthens the lead time past now
    with pytest.raises(ConflictError):
        update(world, bid.bidId, None, 59)
    # Then nothing changed
    assert world["stores"].bids.require(USER, bid.bidId).leadSeconds == 5


def test_a_sealed_snipe_can_be_neither_changed_nor_cancelled(world):
    # Given a snipe its executor claimed and sealed
    bid, _ = create(world)
    stores = world["stores"]
    claimed = stores.bids.replace(
        bid,
        bid.model_copy(update={"status": BidStatus.ARMED, "executionId": "x"}),
        [BidStatus.PENDING],
    )
    stores.bids.seal(claimed, "x", int(NOW * 1000))
    # When the user changes or cancels it
    # Then both are refused as sealed (409 SNIPE_SEALED), and it keeps its maximum
    with pytest.raises(SnipeSealedError):
        update(world, bid.bidId, 9000, None)
    with pytest.raises(SnipeSealedError):
        cancel(world, bid.bidId)
    assert stores.bids.require(USER, bid.bidId).maxBidAmount == 5000


def test_a_maximum_lowered_below_the_current_price_is_refused_as_at_create(world):
    # Given a snipe on an auction whose price is $10.00 (eBay takes no bid below it)
    bid, _ = create(world)
    assert bid.currentPrice == 1000
    # When the user lowers the maximum to $5.00
    with pytest.raises(BadRequestError) as refused:
        update(world, bid.bidId, 500, None)
    # Then it is a 400 naming the maximum, as a create with it is, not a 200 for a snipe that
    # can only fail at the end; the snipe is as it was
    assert refused.value.details[0].field == "maxBidAmount"
    assert world["stores"].bids.require(USER, bid.bidId).maxBidAmount == 5000
    # and a maximum at the price goes in
    assert update(world, bid.bidId, 1000, None).maxBidAmount == 1000


def test_an_empty_change_is_refused(world):
    # Given a snipe
    bid, _ = create(world)
    # When the user sends a change of nothing
    # Then it is refused as invalid
    with pytest.raises(ValidationFailed):
        update(world, bid.bidId, None, None)


# ---------------------------------------------------------------------------------- cancel, list


def test_a_cancel_ends_the_snipe_frees_the_item_and_deletes_its_schedule(world):
    # Given a snipe
    bid, _ = create(world)
    # When the user cancels it, twice
    cancelled = cancel(world, bid.bidId)
    with pytest.raises(ConflictError):
        cancel(world, bid.bidId)
    # Then it is CANCELLED by the user once, its schedule deleted, and the item free again
    assert (cancelled.status, cancelled.cancelReason) == (BidStatus.CANCELLED, "USER")
    assert world["scheduler"].cancelled == [bid.bidId]
    assert world["stores"].bids.active_count(USER) == 0
    world["clock"].now += 1
    create(world)


def test_snipes_are_listed_newest_first_through_signed_cursors(world):
    # Given three snipes, one cancelled
    ids = []
    for n in range(3):
        world["clock"].now = NOW + n
        bid, _ = create(
            world, request(f"100{n}"), auctions=Auctions(**{f"100{n}": auction(f"100{n}")})
        )
        ids.append(bid.bidId)
    cancel(world, ids[1])
    codec = CursorCodec(b"k" * 32)
    # When the pending ones are listed one a page
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page, cursor = logic.list_snipes(
            USER, [BidStatus.PENDING], 1, cursor, world["stores"].bids, codec
        )
        seen += [b.bidId for b in page]
        if cursor is None:
            break
    # Then they come newest first, the cancelled one left out
    assert seen == [ids[2], ids[0]]


def test_a_retry_with_the_key_of_a_withdrawn_snipe_creates_it_again(world):
    # Given a create with a key whose snipe was withdrawn (no wake-up: 503, "try again")
    with pytest.raises(RetryableError):
        create(world, request(key=KEY), scheduler=FailingScheduler())
    [withdrawn] = world["stores"].bids.all_keys(USER)
    world["clock"].now += 1
    # When the client retries with the key, as the 503 asks
    bid, _ = create(world, request(key=KEY))
    # Then the snipe is made again, pending and woken, and a further retry gets that one
    assert bid.bidId != withdrawn.bidId
    assert bid.status is BidStatus.PENDING
    assert world["scheduler"].woken == [bid.bidId]
    again, _ = create(world, request(key=KEY))
    assert again.bidId == bid.bidId


class BidsRacedOnFirstGet(MemoryBids):
    """The in-memory snipes, on the world's tables, where ``race`` runs once just before the
    first ``get`` answers: another request acting between this one's read and its write."""

    def __init__(self, world: dict[str, Any], race: Any) -> None:
        super().__init__(world["stores"].tables)
        self.race: Any = race

    def get(self, user_id: str, bid_id: str) -> BidEntity | None:
        race, self.race = self.race, None
        if race is not None:
            race()
        return super().get(user_id, bid_id)


def test_of_two_racing_retries_of_a_withdrawn_create_the_loser_gets_the_winners_snipe(world):
    # Given a create with a key withdrawn for SCHEDULE_FAILED (503, "try again")
    with pytest.raises(RetryableError):
        create(world, request(key=KEY), scheduler=FailingScheduler())
    [withdrawn] = world["stores"].bids.all_keys(USER)
    world["clock"].now += 1
    # and two retries of it with the key: the second makes the snipe again while the first has
    # read the withdrawn one and not yet written
    made: list[BidEntity] = []
    raced = BidsRacedOnFirstGet(world, lambda: made.append(create(world, request(key=KEY))[0]))
    # When the first goes on
    bid, _ = create(world, request(key=KEY), bids=raced)
    # Then it is answered with the snipe the second made (not a 409), and one snipe replaced
    # the withdrawn one
    [winner] = made
    assert bid.bidId == winner.bidId != withdrawn.bidId
    active = [b for b in world["stores"].bids.all_keys(USER) if b.status is BidStatus.PENDING]
    assert [b.bidId for b in active] == [winner.bidId]


def test_a_retry_of_a_withdrawn_create_refused_for_itself_gets_that_refusal(world):
    # Given a create with a key withdrawn for SCHEDULE_FAILED (503, "try again")
    with pytest.raises(RetryableError):
        create(world, request(key=KEY), scheduler=FailingScheduler())
    world["clock"].now += 1
    # When its retry finds the auction ended meanwhile
    ended = Auctions(**{"1001": auction(ends_in=-10)})
    # Then it gets that refusal (422), not another 503 that asks it to try again
    with pytest.raises(ValidationFailed):
        create(world, request(key=KEY), auctions=ended)
