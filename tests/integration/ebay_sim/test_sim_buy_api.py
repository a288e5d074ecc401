"""Browse and Offer through a running simulator: items, proxy bids and every error it can hit."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
from sim_http_helpers import US, SimEnv

from local.ebay_sim.config import API_SCOPE


def test_get_item_in_both_id_forms(sim_env: SimEnv) -> None:
    # Given an auction with a reserve and an application token
    created = sim_env.create_auction(reservePrice=5_000, seller="camera-depot")
    token = sim_env.app_token()
    item_id, legacy = created["itemId"], created["legacyItemId"]
    # When it is fetched by RESTful id (raw and URL-encoded pipes) and by legacy id
    raw = sim_env.item(token, item_id)
    encoded = sim_env.item(token, item_id.replace("|", "%7C"))
    by_legacy = sim_env.client.get(
        "/buy/browse/v1/item/get_item_by_legacy_id",
        params={"legacy_item_id": legacy},
        headers={"Authorization": f"Bearer {token}"},
    )
    # Then the same Item comes back in eBay's shape
    assert raw.status_code == encoded.status_code == by_legacy.status_code == 200
    item = raw.json()
    assert item == encoded.json() == by_legacy.json()
    assert item["itemId"] == f"v1|{legacy}|0"
    assert item["legacyItemId"] == legacy
    assert item["buyingOptions"] == ["AUCTION"]
    assert item["currentBidPrice"] == {"currency": "USD", "value": "10.00"}
    assert item["minimumPriceToBid"] == {"currency": "USD", "value": "10.00"}
    assert item["bidCount"] == 0
    assert item["reservePriceMet"] is False
    assert item["itemEndDate"] == created["endTime"]
    assert item["seller"]["username"] == "camera-depot"
    assert item["image"]["imageUrl"].startswith("http://127.0.0.1:")
    assert sim_env.client.get(item["image"]["imageUrl"]).status_code == 200


def test_unknown_items_are_not_found(sim_env: SimEnv) -> None:
    # Given a token / When unknown or malformed ids are asked for / Then eBay's Browse errors
    token = sim_env.app_token()
    auth = {"Authorization": f"Bearer {token}"}
    unknown = sim_env.item(token, "v1|999999999999|0")
    malformed = sim_env.item(token, "not-an-id")
    legacy = sim_env.client.get(
        "/buy/browse/v1/item/get_item_by_legacy_id", params={"legacy_item_id": "1"}, headers=auth
    )
    bad_legacy = sim_env.client.get(
        "/buy/browse/v1/item/get_item_by_legacy_id", params={"legacy_item_id": "x"}, headers=auth
    )
    assert (unknown.status_code, sim_env.error_ids(unknown)) == (404, [11001])
    assert (malformed.status_code, sim_env.error_ids(malformed)) == (404, [11001])
    assert (legacy.status_code, sim_env.error_ids(legacy)) == (404, [11003])
    assert (bad_legacy.status_code, sim_env.error_ids(bad_legacy)) == (400, [11006])
    assert unknown.json()["errors"][0]["domain"] == "API_BROWSE"


def test_buy_it_now_shows_until_the_first_bid(sim_env: SimEnv) -> None:
    # Given an auction with Buy It Now
    item_id = sim_env.create_auction(buyItNowPrice=9_000)["itemId"]
    token = sim_env.user_token("alice")
    before = sim_env.item(token, item_id).json()
    assert before["buyingOptions"] == ["AUCTION", "FIXED_PRICE"]
    assert before["price"] == {"currency": "USD", "value": "90.00"}
    # When someone bids
    assert sim_env.bid(token, item_id, "12.00").status_code == 200
    # Then only the auction remains
    after = sim_env.item(token, item_id).json()
    assert after["buyingOptions"] == ["AUCTION"]
    assert after["bidCount"] == 1
    assert after["uniqueBidderCount"] == 1


def test_proxy_bidding_between_a_user_and_a_competitor(sim_env: SimEnv) -> None:
    # Given an auction and a competitor bidding $20 through the admin API
    created = sim_env.create_auction()
    item_id, legacy = created["itemId"], created["legacyItemId"]
    competitor = sim_env.client.post(
        f"/_sim/auctions/{legacy}/bids", json={"bidder": "rival", "maxAmount": 2_000}
    )
    assert competitor.status_code == 201
    token = sim_env.user_token("alice")
    # When alice bids too low, then $35
    low = sim_env.bid(token, item_id, "10.25")
    placed = sim_env.bid(token, item_id, "35.00")
    # Then the low bid names the minimum, and the real one leads at $20 + $0.50
    assert (low.status_code, sim_env.error_ids(low)) == (409, [120008])
    assert {"name": "minimumBid", "value": "10.50"} in low.json()["errors"][0]["parameters"]
    assert placed.status_code == 200
    proxy_bid_id = placed.json()["proxyBidId"]
    bidding = sim_env.bidding(token, item_id).json()
    assert bidding["auctionStatus"] == "ACTIVE"
    assert bidding["highBidder"] is True
    assert bidding["currentPrice"] == {"currency": "USD", "value": "20.50"}
    assert bidding["currentProxyBid"] == {
        "proxyBidId": proxy_bid_id,
        "maxAmount": {"currency": "USD", "value": "35.00"},
    }
    assert bidding["suggestedBidAmounts"][0] == {"currency": "USD", "value": "21.00"}
    assert bidding["bidCount"] == 2
    # When alice tries to lower her maximum / Then 120010
    lowered = sim_env.bid(token, item_id, "30.00")
    assert (lowered.status_code, sim_env.error_ids(lowered)) == (409, [120010])
    # When the auction ends / Then she has won at $20.50, and eBay's ended error applies
    sim_env.sim.set_skew(601_000)
    ended = sim_env.bidding(token, item_id).json()
    assert ended["auctionStatus"] == "ENDED"
    assert ended["highBidder"] is True
    late = sim_env.bid(token, item_id, "50.00")
    assert (late.status_code, sim_env.error_ids(late)) == (409, [120012])
    state = sim_env.client.get(f"/_sim/auctions/{legacy}").json()
    assert state["status"] == "ENDED"
    assert state["winner"] == "alice"
    assert state["finalPrice"] == 2_050
    assert [b["accepted"] for b in state["bids"]] == [True, False, True, False, False]
    assert all(isinstance(b["receivedAt"], int) for b in state["bids"])


def test_bid_request_errors(sim_env: SimEnv) -> None:
    # Given an auction and a bidder
    item_id = sim_env.create_auction()["itemId"]
    token = sim_env.user_token("alice")
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/buy/offer/v1_beta/bidding/{item_id}/place_proxy_bid"
    cases = {
        120016: {"userConsent": {"adultOnlyItem": False}},
        120013: {"maxAmount": {"currency": "USD", "value": "ten"}},
        120014: {"maxAmount": {"currency": "dollars", "value": "10.00"}},
        120011: {"maxAmount": {"currency": "USD", "value": "1000000.00"}},
    }
    # When malformed requests are sent / Then eBay's 400 errors come back
    for error_id, body in cases.items():
        response = sim_env.client.post(url, json=body, headers={**auth, **US})
        assert (response.status_code, sim_env.error_ids(response)) == (400, [error_id]), body
    missing_marketplace = sim_env.client.post(url, json=cases[120013], headers=auth)
    assert sim_env.error_ids(missing_marketplace) == [120015]
    other_marketplace = sim_env.client.post(
        url, json=cases[120013], headers={**auth, "X-EBAY-C-MARKETPLACE-ID": "EBAY_XX"}
    )
    assert sim_env.error_ids(other_marketplace) == [120017]
    # When the currency differs from the item's / Then 120009
    euros = sim_env.client.post(
        url, json={"maxAmount": {"currency": "EUR", "value": "20.00"}}, headers={**auth, **US}
    )
    assert (euros.status_code, sim_env.error_ids(euros)) == (409, [120009])


def test_business_rule_errors(sim_env: SimEnv) -> None:
    # Given a seller, an adult-only item, a Buy It Now auction and a bidder
    seller = sim_env.user_token("camera-depot")
    bidder = sim_env.user_token("alice")
    mine = sim_env.create_auction(seller="camera-depot")["itemId"]
    adult = sim_env.create_auction(adultOnly=True)["itemId"]
    bin_auction = sim_env.create_auction(buyItNowPrice=9_000)
    # When each rule is broken / Then eBay's error ids
    assert sim_env.error_ids(sim_env.bid(seller, mine, "20.00")) == [120003]
    assert sim_env.error_ids(sim_env.bid(bidder, adult, "20.00")) == [120032]
    consent = {"userConsent": {"adultOnlyItem": True}}
    assert sim_env.bid(bidder, adult, "20.00", **consent).status_code == 200
    too_high = sim_env.bid(bidder, bin_auction["itemId"], "95.00")
    assert sim_env.error_ids(too_high) == [120005]
    sim_env.client.post(
        f"/_sim/auctions/{bin_auction['legacyItemId']}/buy_it_now", json={"buyer": "carol"}
    )
    bought = sim_env.bid(bidder, bin_auction["itemId"], "20.00")
    assert (bought.status_code, sim_env.error_ids(bought)) == (409, [120002])
    assert bought.json()["errors"][0]["category"] == "BUSINESS"
    unknown = sim_env.bid(bidder, "v1|111|0", "20.00")
    assert (unknown.status_code, sim_env.error_ids(unknown)) == (404, [120001])


def test_get_bidding_without_activity_is_120033(sim_env: SimEnv) -> None:
    # Given an auction alice never bid on / When she asks for her bidding / Then 404 120033
    item_id = sim_env.create_auction()["itemId"]
    token = sim_env.user_token("alice")
    response = sim_env.bidding(token, item_id)
    assert (response.status_code, sim_env.error_ids(response)) == (404, [120033])
    unknown = sim_env.bidding(token, "v1|111|0")
    assert (unknown.status_code, sim_env.error_ids(unknown)) == (404, [120001])


def test_offer_needs_a_user_token_with_the_auction_scope(sim_env: SimEnv) -> None:
    # Given an application token and a user token without buy.offer.auction
    item_id = sim_env.create_auction()["itemId"]
    app = sim_env.app_token()
    browse_only = sim_env.user_token("alice", scope=API_SCOPE)
    # When they try to bid / Then 403 with errorId 1100, though they may browse
    for token in (app, browse_only):
        response = sim_env.bid(token, item_id, "20.00")
        assert (response.status_code, sim_env.error_ids(response)) == (403, [1100])
        assert sim_env.item(token, item_id).status_code == 200


@pytest.mark.parametrize("skew_ms", [0, 3_600_000])
def test_date_header_follows_the_simulator_clock(sim_env: SimEnv, skew_ms: int) -> None:
    # Given a clock skew set through the admin API
    assert sim_env.client.post("/_sim/clock", json={"skewMs": skew_ms}).status_code == 200
    # When anything is asked / Then the Date header is the simulator's time (RFC 7231)
    response = sim_env.client.get("/_sim/accounts")
    stamped = parsedate_to_datetime(response.headers["Date"]).timestamp() * 1000
    assert abs(stamped - sim_env.sim.now_ms()) < 2_000
    assert response.headers["Date"].endswith(" GMT")
