"""Issue 13 item 7, "Fair shares", through the real REST handlers, moto's tables (from
template.yaml) and the eBay simulator: eBay's milliseconds end to end, the shared daily budget of
Browse calls with its shares and per-user parts, the brief look-up cache, and the per-user cap on
active snipes."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from datetime import time as time_of_day
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from common.data.active_snipes import ActiveSnipes
from common.data.bids import BidsRepository
from common.data.budget import BROWSE, CallBudget, ebay_day
from common.data.item_cache import ITEM_CACHE_SECONDS
from local.lambda_runtime import new_containers
from rest import bids, wishlist
from tests.events import FakeLambdaContext, http_event
from tests.integration.rest.conftest import make_call
from tests.stack_env import get_settings

pytestmark = pytest.mark.integration
bids_call = make_call(bids.handler)
wishlist_call = make_call(wishlist.handler)


def _ebay_time(epoch_ms: int) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000))
    return f"{whole}.{epoch_ms % 1000:03d}Z"


def _create(item: str, user: str = "user-a", amount: int = 5000) -> tuple[int, Any]:
    return bids_call("POST", "/bids", body={"ebayItemId": item, "maxBidAmount": amount}, user=user)


def _get_bid(bid_id: str, user: str = "user-a") -> tuple[int, Any]:
    return bids_call(
        "GET",
        f"/bids/{bid_id}",
        route="/bids/{bidId}",
        path_parameters={"bidId": bid_id},
        user=user,
    )


def _wishlist_item(item_id: str, user: str = "user-a") -> tuple[int, Any]:
    return wishlist_call(
        "GET",
        f"/wishlist/items/{item_id}",
        route="/wishlist/items/{itemId}",
        path_parameters={"itemId": item_id},
        user=user,
    )


def test_an_auction_ending_at_250_ms_keeps_them_from_create_to_storage_to_get(
    rest_env, new_auction
):
    # Given an auction on eBay ending at second :07 plus 250 ms, half an hour from now
    end_ms = ((int(time.time()) + 1800) // 60 * 60 + 7) * 1000 + 250
    auction = new_auction(endTime=_ebay_time(end_ms))
    assert auction["endTimeMs"] == end_ms
    # When the user snipes it
    status, created = _create(auction["legacyItemId"])
    # Then the answer, the stored snipe and a later GET all carry eBay's milliseconds
    assert status == 201, created
    assert created["auctionEndMs"] == end_ms
    assert created["auctionEndTime"] == end_ms // 1000  # seconds, for older clients
    s = get_settings()
    stored = BidsRepository(s.bids_table, s.users_and_app_state_table, s.bid_history_table).require(
        "user-a", created["bidId"]
    )
    assert stored.auctionEndMs == end_ms
    assert stored.end_ms == end_ms
    assert stored.fire_at_ms == end_ms - stored.leadSeconds * 1000
    status, fetched = _get_bid(created["bidId"])
    assert status == 200
    assert (fetched["auctionEndMs"], fetched["auctionEndTime"]) == (end_ms, end_ms // 1000)
    # and so does the item as the wishlist shows it
    status, item = _wishlist_item(auction["legacyItemId"])
    assert status == 200
    assert (item["auctionEndMs"], item["auctionEndTime"]) == (end_ms, end_ms // 1000)


# ---------------------------------------------------------------- shared Browse budget


def _call(handler: Any, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body of one request through a REST handler."""
    response = handler(http_event(method, path, **kwargs), FakeLambdaContext())
    body = response.get("body")
    return response["statusCode"], response.get("headers") or {}, json.loads(body) if body else None


def _look_up(item_id: str, user: str) -> tuple[int, dict[str, str], Any]:
    return _call(
        wishlist.handler,
        "GET",
        f"/wishlist/items/{item_id}",
        route="/wishlist/items/{itemId}",
        path_parameters={"itemId": item_id},
        user=user,
    )


def _snipe(item_id: str, user: str) -> tuple[int, dict[str, str], Any]:
    body = {"ebayItemId": item_id, "maxBidAmount": 5000}
    return _call(bids.handler, "POST", "/bids", body=body, user=user)


def _seconds_to_midnight_pacific() -> int:
    """Until eBay's next midnight, when its quotas start afresh (Pacific time, not UTC)."""
    now = datetime.now(ZoneInfo("America/Los_Angeles"))
    midnight = datetime.combine(now.date() + timedelta(days=1), time_of_day(0), now.tzinfo)
    return round(midnight.timestamp() - now.timestamp())


def _counters(user: str | None = None) -> dict[str, int]:
    """The look-ups' quota's counters today (every Browse method but getItems), or a user's."""
    s = get_settings()
    budget = CallBudget(
        s.users_and_app_state_table, s.ebay_daily_call_budget, s.ebay_daily_getitems_budget
    )
    return budget.counters(ebay_day(time.time()), BROWSE, user)


@pytest.fixture
def budget_of(rest_env, monkeypatch):
    """Sets the day's eBay look-up calls (EBAY_DAILY_CALL_BUDGET) as the template would."""

    def set_budget(calls: int) -> None:
        monkeypatch.setenv("EBAY_DAILY_CALL_BUDGET", str(calls))
        new_containers()

    return set_budget


def test_one_account_cannot_spend_more_than_its_part_of_the_lookup_share(budget_of, new_auction):
    # Given 100 look-up calls a day: item look-ups may use 40 of them, one user 4
    budget_of(100)
    lots = [new_auction()["legacyItemId"] for _ in range(5)]
    # When one user looks up five different items
    answers = [_look_up(lot, "greedy") for lot in lots]
    # Then the fifth is refused with 429, the share named, and a Retry-After until eBay's
    # midnight (Pacific time)
    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 429]
    _, headers, body = answers[4]
    assert body["error"]["code"] == "EBAY_SHARE_EXHAUSTED"
    assert body["error"]["details"] == [{"field": "share", "message": "item-lookups (yours)"}]
    assert abs(int(headers["Retry-After"]) - _seconds_to_midnight_pacific()) <= 2
    # and only the four calls made were counted, for that user and for the day
    assert _counters("greedy")["u_lookup"] == 4
    assert _counters()["u_lookup"] == _counters()["calls"] == 4
    # while another user still may look an item up
    assert _look_up(lots[4], "someone-else")[0] == 200


def test_a_crowd_spending_the_lookup_share_leaves_snipe_creation_its_calls(budget_of, new_auction):
    # Given 100 look-up calls a day (look-ups at most 40), and ten users who spent them all
    budget_of(100)
    for n in range(10):
        for _ in range(4):
            assert _look_up(new_auction()["legacyItemId"], f"crowd-{n}")[0] == 200
    # When an eleventh user looks an item up, and another snipes an item nobody looked at
    lot = new_auction()["legacyItemId"]
    status, headers, body = _look_up(lot, "late")
    created, _, snipe = _snipe(new_auction()["legacyItemId"], "sniper")
    # Then the look-up is refused naming the day's share; the snipe is created from its own
    assert status == 429
    assert body["error"]["details"] == [{"field": "share", "message": "item-lookups"}]
    assert int(headers["Retry-After"]) > 0
    assert _counters("late").get("u_lookup", 0) == 0  # given back: no call was made
    assert created == 201, snipe
    assert _counters()["u_create"] == 1


def test_repeated_lookups_of_one_item_cost_one_call_until_the_cache_expires(
    budget_of, new_auction, monkeypatch
):
    # Given an item on eBay
    budget_of(5000)
    lot = new_auction()["legacyItemId"]
    # When it is looked up five times, by two users, and then sniped
    for user in ("u1", "u2", "u1", "u2", "u1"):
        assert _look_up(lot, user)[0] == 200
    assert _snipe(lot, "u1")[0] == 201
    # Then eBay was asked once
    assert _counters()["calls"] == 1
    # and again only once the cached answer is older than its 45 s
    monkeypatch.setattr(wishlist, "clock", lambda: time.time() + ITEM_CACHE_SECONDS + 1)
    assert _look_up(lot, "u2")[0] == 200
    assert _counters()["calls"] == 2


def test_an_unknown_item_is_cached_too(budget_of):
    # Given an item number eBay does not know
    budget_of(5000)
    # When it is asked for three times / Then each answer is 404, for one eBay call
    for _ in range(3):
        assert _look_up("999999999999", "prober")[0] == 404
    assert _counters()["calls"] == 1


# ---------------------------------------------------------------- active snipes per user


def _cancel(bid_id: str, user: str) -> int:
    status, _, _ = _call(
        bids.handler,
        "DELETE",
        f"/bids/{bid_id}",
        route="/bids/{bidId}",
        path_parameters={"bidId": bid_id},
        user=user,
    )
    return status


@pytest.fixture
def cap_of(rest_env, monkeypatch):
    """Sets MAX_ACTIVE_SNIPES_PER_USER as the template would."""

    def set_cap(snipes: int) -> None:
        monkeypatch.setenv("MAX_ACTIVE_SNIPES_PER_USER", str(snipes))
        new_containers()

    return set_cap


def test_a_user_at_the_cap_gets_429_until_a_snipe_leaves_the_active_ones(cap_of, new_auction):
    # Given a cap of 2 active snipes, and a user with two, the sooner ending in 20 minutes
    cap_of(2)
    first = _snipe(new_auction(endsInSeconds=1200)["legacyItemId"], "collector")[2]
    assert _snipe(new_auction(endsInSeconds=3600)["legacyItemId"], "collector")[0] == 201
    calls_before = _counters()["calls"]
    # When they snipe a third item
    status, headers, body = _snipe(new_auction()["legacyItemId"], "collector")
    # Then 429 with the code, and a Retry-After until the sooner one has ended and settled
    assert status == 429
    assert body["error"]["code"] == "TOO_MANY_ACTIVE_SNIPES"
    retry_after = int(headers["Retry-After"])
    assert abs(retry_after - (first["auctionEndTime"] + 60 - time.time())) <= 3
    # and no eBay call was spent on it; another user is not affected
    assert _counters()["calls"] == calls_before
    assert _snipe(new_auction()["legacyItemId"], "other")[0] == 201
    # When one of theirs is cancelled / Then the third is accepted
    assert _cancel(first["bidId"], "collector") == 200
    assert _snipe(new_auction()["legacyItemId"], "collector")[0] == 201
    assert _snipe(new_auction()["legacyItemId"], "collector")[0] == 429


def test_concurrent_creates_never_pass_the_cap(cap_of, new_auction):
    # Given a cap of 3 and six items
    cap_of(3)
    lots = [new_auction()["legacyItemId"] for _ in range(6)]
    # When one user snipes all six at once
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(lambda lot: _snipe(lot, "racer")[0], lots))
    # Then exactly three were created, whatever the interleaving
    assert statuses == [201, 201, 201, 429, 429, 429]
    s = get_settings()
    active = BidsRepository(s.bids_table, s.users_and_app_state_table, s.bid_history_table).query(
        "racer", None, 100, None
    )[0]
    assert len(active) == 3
    assert ActiveSnipes(s.users_and_app_state_table, s.bids_table).count("racer") == 3
