"""/wishlist/*: the linked user's eBay watch list, live prices, paging, errors, token refresh."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from common.data.ebay_links import EbayLinksRepository
from common.ebay_tokens import valid_access_token
from common.errors import EbayNotLinkedError
from rest import bids, wishlist
from rest.logic import wishlist as logic
from tests import stack_env
from tests.integration.rest.conftest import make_call
from tests.integration.rest.ebay_link_helpers import link, users_item
from tests.stack_env import get_settings

pytestmark = pytest.mark.integration
call = make_call(wishlist.handler)
bids_call = make_call(bids.handler)


def _list(**query: str) -> tuple[int, Any]:
    return call("GET", "/wishlist/items", query=query or None)


def _item(item_id: str, user: str = "user-a") -> tuple[int, Any]:
    return call(
        "GET",
        f"/wishlist/items/{item_id}",
        route="/wishlist/items/{itemId}",
        path_parameters={"itemId": item_id},
        user=user,
    )


@pytest.fixture
def ebay_user() -> str:
    """A fresh eBay account per test: the simulator (and its watch lists) lives all session."""
    return f"watcher_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sim_admin(ebay_sim: str) -> Iterator[str]:
    """The simulator's admin API; faults and clock skew are undone after the test."""
    yield ebay_sim
    httpx.delete(f"{ebay_sim}/_sim/faults", timeout=5)
    httpx.post(f"{ebay_sim}/_sim/clock", json={"skewMs": 0}, timeout=5)


def _skew(base_url: str, seconds: int) -> None:
    httpx.post(f"{base_url}/_sim/clock", json={"skewMs": seconds * 1000}, timeout=5)


def _ended(sim_admin: str, new_auction: Any, user: str, title: str) -> dict[str, Any]:
    """An auction the user watches that ran one second and ended a second ago, by eBay's clock
    and ours: listed with the simulator's clock set two seconds back, instead of waiting."""
    _skew(sim_admin, -2)
    try:
        return new_auction(title=title, startPrice=500, endsInSeconds=1, watchedBy=[user])
    finally:
        _skew(sim_admin, 0)


def _watched(new_auction: Any, user: str, count: int, ends_in: int = 3600) -> list[dict[str, Any]]:
    """``count`` auctions the eBay user watches, each ending a minute after the previous."""
    return [
        new_auction(
            title=f"Watched lot {n}",
            startPrice=1000 + n,
            endsInSeconds=ends_in + n * 60,
            watchedBy=[user],
        )
        for n in range(count)
    ]


def test_only_active_auctions_with_live_prices_and_snipe_flags(
    rest_env, ebay_user, new_auction, sim_admin
):
    # Given a linked user watching two running auctions and one that has ended
    link("user-a", ebay_user)
    ended = _ended(sim_admin, new_auction, ebay_user, "Gone")
    first, second = _watched(new_auction, ebay_user, 2)
    # and a competitor bid on the first, and the user snipes the second
    httpx.post(
        f"{sim_admin}/_sim/auctions/{first['legacyItemId']}/bids",
        json={"bidder": "rival", "maxAmount": 2500},
        timeout=5,
    ).raise_for_status()
    status, snipe = bids_call(
        "POST", "/bids", body={"ebayItemId": second["legacyItemId"], "maxBidAmount": 9000}
    )
    assert status == 201
    # When they open the watch list
    status, body = _list()
    # Then only the running auctions appear, soonest ending first, with eBay's live data
    assert status == 200, body
    ids = [i["ebayItemId"] for i in body["items"]]
    assert ids == [first["legacyItemId"], second["legacyItemId"]]
    assert ended["legacyItemId"] not in ids
    one, two = body["items"]
    live = httpx.get(f"{sim_admin}/_sim/auctions/{first['legacyItemId']}", timeout=5).json()
    assert one["currentPrice"] == {"amount": live["currentPrice"], "currency": "USD"}
    assert one["bidCount"] == 1
    assert one["itemId"] == first["itemId"]
    assert one["title"] == "Watched lot 0"
    assert one["auctionEndTime"] == first["endTimeMs"] // 1000
    assert one["imageUrl"]
    assert one["hasActiveSnipe"] is False
    assert one["activeBidId"] is None
    assert two["hasActiveSnipe"] is True
    assert two["activeBidId"] == snipe["bidId"]
    assert body["nextCursor"] is None


def test_pages_through_the_watch_list_with_a_signed_cursor(
    rest_env, ebay_user, new_auction, sim_admin
):
    # Given five watched auctions
    link("user-a", ebay_user)
    watched = [a["legacyItemId"] for a in _watched(new_auction, ebay_user, 5)]
    # When the user pages two at a time
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, body = _list(**query)
        assert status == 200, body
        seen += [i["ebayItemId"] for i in body["items"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    # Then every auction is seen once, in three pages
    assert seen == watched
    assert pages == 3
    # and a tampered cursor, or another user's, is a 400 on the cursor
    status, body = _list(limit="2")
    good = body["nextCursor"]
    status, body = _list(limit="2", cursor=good[:-2] + "xx")
    assert status == 400
    assert body["error"]["details"][0]["field"] == "cursor"
    link("user-b", "other_watcher")
    status, body = call(
        "GET", "/wishlist/items", query={"limit": "2", "cursor": good}, user="user-b"
    )
    assert status == 400


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_limit_is_between_1_and_100(rest_env, limit):
    # When the limit is out of range
    status, body = _list(limit=limit)
    # Then it is a validation error on limit
    assert status == 422
    assert body["error"]["details"][0]["field"] == "limit"


def test_paging_crosses_ebay_pages_and_skips_ended_entries(
    rest_env, ebay_user, new_auction, sim_admin
):
    # Given seven watched auctions, two of which ended, and eBay pages of two entries
    link("user-a", ebay_user)
    _ended(sim_admin, new_auction, ebay_user, "Ended A")
    _ended(sim_admin, new_auction, ebay_user, "Ended B")
    running = [a["legacyItemId"] for a in _watched(new_auction, ebay_user, 5)]
    ports = (
        stack_env.ebay_links_repo(),
        stack_env.token_cipher(),
        stack_env.ebay_client(),
        stack_env.bids_repo(),
        stack_env.cursor_codec(),
    )
    # When the logic pages three at a time over eBay pages of two
    first, cursor = logic.list_watched_auctions("user-a", 3, None, *ports, page_size=2)
    second, last = logic.list_watched_auctions("user-a", 3, cursor, *ports, page_size=2)
    # Then each running auction comes once, and the ended ones never
    assert [i.ebay_item_id for i in first + second] == running
    assert len(first) == 3
    assert last is None


def test_not_linked_is_401_ebay_not_linked(rest_env):
    # Given a user who never linked eBay
    # When they open the watch list
    status, body = _list()
    # Then the body says why, so the dashboard can offer linking
    assert status == 401
    assert body["error"]["code"] == "EBAY_NOT_LINKED"


def test_ebay_rate_limit_is_403(rest_env, ebay_user, new_auction, sim_admin):
    # Given a linked user and eBay's Trading API answering 429 to everything
    link("user-a", ebay_user)
    _watched(new_auction, ebay_user, 1)
    httpx.post(
        f"{sim_admin}/_sim/faults",
        json={"endpoint": "trading", "statuses": [429], "errorRate": 1},
        timeout=5,
    ).raise_for_status()
    # When they open the watch list
    status, body = _list()
    # Then it is 403 with a message saying to try later
    assert status == 403
    assert body["error"]["code"] == "EBAY_RATE_LIMITED"
    assert "try again" in body["error"]["message"]


def test_an_access_token_ebay_expired_is_refreshed_and_stored(
    rest_env, ebay_user, new_auction, sim_admin
):
    # Given a linked user, and eBay's clock 2h05 ahead: the access token is expired on eBay
    link("user-a", ebay_user)
    watched = _watched(new_auction, ebay_user, 2, ends_in=86_400)
    before = users_item("user-a")
    _skew(sim_admin, 7_500)
    # When they open the watch list
    status, body = _list()
    # Then the token was refreshed behind the scenes and the call retried
    assert status == 200, body
    assert [i["ebayItemId"] for i in body["items"]] == [a["legacyItemId"] for a in watched]
    after = users_item("user-a")
    assert after["ebayTokens"]["S"] != before["ebayTokens"]["S"]
    # and the refresh token (not rotated by eBay) is kept
    old = stack_env.token_cipher().decrypt("user-a", before["ebayTokens"]["S"])
    new = stack_env.token_cipher().decrypt("user-a", after["ebayTokens"]["S"])
    assert new.refresh_token == old.refresh_token
    assert new.access_token != old.access_token
    assert int(after["ebayAccessExpiresAt"]["N"]) == new.access_expires_at


def test_a_token_about_to_expire_is_refreshed_before_the_call(
    rest_env, ebay_user, new_auction, sim_admin, monkeypatch
):
    # Given a linked user whose access token expires within the margin by our clock
    link("user-a", ebay_user)
    _watched(new_auction, ebay_user, 1, ends_in=86_400)
    before = users_item("user-a")
    expires = int(before["ebayAccessExpiresAt"]["N"])
    monkeypatch.setattr(wishlist, "clock", lambda: expires - 60)
    # When they open the watch list
    status, body = _list()
    # Then a new token was stored first and used
    assert status == 200, body
    assert len(body["items"]) == 1
    assert users_item("user-a")["ebayTokens"]["S"] != before["ebayTokens"]["S"]


def test_a_refused_refresh_token_asks_to_link_again(rest_env, ebay_user, new_auction, sim_admin):
    # Given a linked user whose refresh token eBay no longer accepts (its clock 600 days on)
    link("user-a", ebay_user)
    _watched(new_auction, ebay_user, 1, ends_in=86_400)
    _skew(sim_admin, 600 * 86_400)
    # When they open the watch list
    status, body = _list()
    # Then they are told to link again
    assert status == 401
    assert body["error"]["code"] == "EBAY_NOT_LINKED"
    assert "link your eBay account again" in body["error"]["message"]


def test_a_concurrent_refresh_does_not_clobber_the_newer_envelope(rest_env, ebay_user, ebay_sim):
    # Given a linked user and the envelope two refreshers both read
    link("user-a", ebay_user)
    links = EbayLinksRepository(get_settings().users_and_app_state_table)
    stale = links.get("user-a")
    assert stale is not None
    # When one refresher stores its token
    valid_access_token(
        "user-a", links, stack_env.token_cipher(), stack_env.ebay_client(), force_refresh=True
    )
    winner = users_item("user-a")["ebayTokens"]["S"]
    # Then the other's write, conditional on the stale envelope, is refused and changes nothing
    stored = links.replace_tokens("user-a", stale.envelope, "late-envelope", 1, 2)
    assert stored is False
    assert users_item("user-a")["ebayTokens"]["S"] == winner


def test_no_link_means_no_token(rest_env):
    # Given a user without a link, the shared service refuses with EBAY_NOT_LINKED
    with pytest.raises(EbayNotLinkedError):
        valid_access_token(
            "user-z",
            stack_env.ebay_links_repo(),
            stack_env.token_cipher(),
            stack_env.ebay_client(),
        )


def test_one_live_item_from_browse_with_the_snipe_flag(rest_env, new_auction):
    # Given an auction the user sniped
    auction = new_auction(title="Leica lens", startPrice=4200)
    status, snipe = bids_call(
        "POST", "/bids", body={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 9000}
    )
    assert status == 201
    # When they look it up (no eBay link needed: public Browse data)
    status, body = _item(auction["legacyItemId"])
    # Then eBay's live data comes back with the snipe
    assert status == 200, body
    assert body["title"] == "Leica lens"
    assert body["itemId"] == auction["itemId"]
    assert body["currentPrice"] == {"amount": 4200, "currency": "USD"}
    assert body["isAuction"] is True
    assert body["isActive"] is True
    assert body["activeBidId"] == snipe["bidId"]
    # and the RESTful id works too
    status, again = _item(auction["itemId"])
    assert status == 200
    assert again["ebayItemId"] == auction["legacyItemId"]


def test_an_unknown_or_malformed_item_id(rest_env, ebay_sim):
    # When the item does not exist on eBay, or the id is not an eBay id
    missing, body = _item("999999999999")
    malformed, _ = _item("abc")
    # Then 404 and 422
    assert missing == 404
    assert body["error"]["code"] == "NOT_FOUND"
    assert malformed == 422


def test_watch_list_logs_carry_no_tokens(rest_env, ebay_user, new_auction, sim_admin, caplog):
    # Given a linked user whose token needs a refresh
    link("user-a", ebay_user)
    _watched(new_auction, ebay_user, 1, ends_in=86_400)
    _skew(sim_admin, 7_500)
    caplog.set_level(logging.DEBUG)
    # When the watch list is read (refresh included)
    assert _list()[0] == 200
    # Then neither token appears in the function's log output
    tokens = stack_env.token_cipher().decrypt("user-a", users_item("user-a")["ebayTokens"]["S"])
    out = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "ebay access token refreshed" in out
    for secret in (tokens.access_token, tokens.refresh_token):
        assert secret.get_secret_value() not in out
    assert json.dumps(users_item("user-a")).count(tokens.access_token.get_secret_value()) == 0
