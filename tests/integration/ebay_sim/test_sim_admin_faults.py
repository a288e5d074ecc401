"""The simulator's admin API: auctions, competitor bids, Buy It Now, clock and injected faults."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx
import pytest
from sim_http_helpers import SimEnv


def test_auction_lifecycle_through_the_admin_api(sim_env: SimEnv) -> None:
    # Given an auction created with an explicit end time and a reserve
    created = sim_env.create_auction(
        endTime="2030-01-01T00:00:00.000Z", startPrice=500, reservePrice=1_500, seller="shop"
    )
    legacy = created["legacyItemId"]
    assert created["endTime"] == "2030-01-01T00:00:00.000Z"
    # When two competitors bid
    first = sim_env.client.post(
        f"/_sim/auctions/{legacy}/bids", json={"bidder": "ann", "maxAmount": 1_000}
    )
    second = sim_env.client.post(
        f"/_sim/auctions/{legacy}/bids", json={"bidder": "ben", "maxAmount": 2_000}
    )
    too_low = sim_env.client.post(
        f"/_sim/auctions/{legacy}/bids", json={"bidder": "cat", "maxAmount": 600}
    )
    # Then the state shows every bid, the leader and the reserve lifting the price
    assert first.status_code == second.status_code == 201
    assert too_low.status_code == 409
    assert too_low.json()["errorId"] == 120008
    state = sim_env.client.get(f"/_sim/auctions/{legacy}").json()
    assert state["status"] == "ACTIVE"
    assert state["highBidder"] == "ben"
    assert state["currentPrice"] == 1_500
    assert state["reservePriceMet"] is True
    assert [(b["bidder"], b["maxAmount"], b["accepted"]) for b in state["bids"]] == [
        ("ann", 1_000, True),
        ("ben", 2_000, True),
        ("cat", 600, False),
    ]
    assert "winner" not in state
    # When the clock passes the end / Then the winner and final price are known
    now = sim_env.sim.now_ms()
    sim_env.client.post("/_sim/clock", json={"skewMs": state["endTimeMs"] - now + 1_000})
    ended = sim_env.client.get(f"/_sim/auctions/{legacy}").json()
    assert (ended["status"], ended["winner"], ended["finalPrice"]) == ("ENDED", "ben", 1_500)


def test_buy_it_now_ends_the_auction(sim_env: SimEnv) -> None:
    # Given an auction with Buy It Now / When someone buys it
    legacy = sim_env.create_auction(buyItNowPrice=5_000)["legacyItemId"]
    bought = sim_env.client.post(f"/_sim/auctions/{legacy}/buy_it_now", json={"buyer": "dan"})
    # Then it ended by Buy It Now at that price, and cannot be bought twice
    assert bought.status_code == 200
    state = bought.json()
    assert (state["status"], state["endedBy"], state["winner"], state["finalPrice"]) == (
        "ENDED",
        "BUY_IT_NOW",
        "dan",
        5_000,
    )
    again = sim_env.client.post(f"/_sim/auctions/{legacy}/buy_it_now", json={"buyer": "eve"})
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_sim/auctions", {"title": "x"}, 400),
        ("/_sim/auctions", {"title": "x", "startPrice": 100}, 400),
        ("/_sim/auctions", {"title": "x", "startPrice": 1.5, "endsInSeconds": 5}, 400),
        ("/_sim/auctions/1/bids", {"bidder": "a", "maxAmount": 100}, 404),
        ("/_sim/clock", {"skewMs": "soon"}, 400),
        ("/_sim/faults", {"endpoint": "nowhere"}, 400),
        ("/_sim/faults", {"errorRate": 2}, 400),
        ("/_sim/users/alice/watchlist", {"legacyItemId": "1"}, 404),
    ],
)
def test_admin_validation(sim_env: SimEnv, path: str, body: dict[str, object], status: int) -> None:
    # Given a malformed admin request / When sent / Then a clear 4xx
    response = sim_env.client.post(path, json=body)
    assert response.status_code == status
    assert response.json()["error"]


def test_injected_errors_latency_and_rate_limits(sim_env: SimEnv) -> None:
    # Given an item and a token
    item_id = sim_env.create_auction()["itemId"]
    token = sim_env.app_token()
    # When every browse call fails with 503 / Then eBay's internal error comes back
    sim_env.client.post(
        "/_sim/faults", json={"endpoint": "browse", "errorRate": 1, "statuses": [503]}
    )
    failed = sim_env.item(token, item_id)
    assert (failed.status_code, sim_env.error_ids(failed)) == (503, [11000])
    # When every call is rate limited / Then 429 with Retry-After, token endpoint included
    sim_env.client.delete("/_sim/faults")
    sim_env.client.post("/_sim/faults", json={"endpoint": "*", "errorRate": 1, "statuses": [429]})
    limited = sim_env.item(token, item_id)
    assert (limited.status_code, sim_env.error_ids(limited)) == (429, [2001])
    assert limited.headers["Retry-After"] == "1"
    token_limited = sim_env.client.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=sim_env.basic_auth(),
    )
    assert token_limited.status_code == 429
    assert token_limited.json()["error"] == "temporarily_unavailable"
    # When faults are cleared and latency added / Then calls succeed, just slower
    sim_env.client.delete("/_sim/faults")
    sim_env.client.post("/_sim/faults", json={"endpoint": "browse", "latencyMs": 200})
    started = time.monotonic()
    assert sim_env.item(token, item_id).status_code == 200
    assert time.monotonic() - started >= 0.2
    sim_env.client.delete("/_sim/faults")
    assert sim_env.client.get("/_sim/faults").json() == {"faults": []}


def test_error_rate_is_seeded(sim_env: SimEnv) -> None:
    # Given a 50% error rate with a seed / When the same run is repeated
    item_id = sim_env.create_auction()["itemId"]
    token = sim_env.app_token()
    fault = {"endpoint": "browse", "errorRate": 0.5, "statuses": [500, 503], "seed": 7}
    runs = []
    for _ in range(2):
        sim_env.client.post("/_sim/faults", json=fault)
        runs.append([sim_env.item(token, item_id).status_code for _ in range(12)])
    # Then the same statuses come back in the same order, some failing, some not
    assert runs[0] == runs[1]
    assert {200, 500} <= set(runs[0]) or {200, 503} <= set(runs[0])


def test_a_mix_of_faults_at_a_rate_is_counted_by_kind(sim_env: SimEnv) -> None:
    # Given every endpoint failing 60% of the time with a mix of statuses and short hangs
    item_id = sim_env.create_auction()["itemId"]
    token = sim_env.app_token()
    sim_env.client.post(
        "/_sim/faults",
        json={
            "endpoint": "*",
            "errorRate": 0.5,
            "statuses": [500, 503, 429],
            "timeoutRate": 0.1,
            "hangMs": 50,
            "seed": 3,
        },
    )
    # When browse is called 40 times
    answered = []
    for _ in range(40):
        try:
            answered.append(sim_env.item(token, item_id).status_code)
        except httpx.HTTPError:
            answered.append(0)  # the hang dropped the connection
    # Then the counts say what each call got, per kind and per endpoint
    counts = sim_env.client.get("/_sim/faults").json()["faults"][0]["counts"]
    sim_env.client.delete("/_sim/faults")
    by_kind = {str(s): answered.count(s) for s in (500, 503, 429)} | {"timeout": answered.count(0)}
    assert {k: counts.get(k, 0) for k in by_kind} == by_kind
    assert counts["calls"] == 40
    assert counts["byEndpoint"]["browse"]["calls"] == 40
    assert answered.count(200) == 40 - sum(by_kind.values()) > 0
    assert sum(by_kind.values()) > 0


def test_timeouts_hang_then_drop_the_connection(sim_env: SimEnv) -> None:
    # Given every bid call hanging for 0.5 s
    item_id = sim_env.create_auction()["itemId"]
    token = sim_env.user_token("alice")
    sim_env.client.post(
        "/_sim/faults", json={"endpoint": "place_proxy_bid", "timeoutRate": 1, "hangMs": 500}
    )
    # When a client with a shorter timeout bids / Then it times out
    with pytest.raises(httpx.ReadTimeout):
        sim_env.client.post(
            f"/buy/offer/v1_beta/bidding/{item_id}/place_proxy_bid",
            json={"maxAmount": {"currency": "USD", "value": "20.00"}},
            headers={"Authorization": f"Bearer {token}", "X-EBAY-C-MARKETPLACE-ID": "EBAY_US"},
            timeout=0.2,
        )
    # When a patient client bids / Then the connection is dropped without an answer
    with pytest.raises(httpx.RemoteProtocolError):
        sim_env.bid(token, item_id, "20.00")
    # and no bid was placed
    sim_env.client.delete("/_sim/faults")
    assert sim_env.sim.auction_json(item_id.split("|")[1])["bids"] == []


def test_a_bid_is_received_when_it_arrives_latency_included(sim_env: SimEnv) -> None:
    # Given 300 ms of latency on every eBay endpoint
    token = sim_env.user_token("arrival_bidder")
    auction = sim_env.create_auction()
    sim_env.client.post(
        "/_sim/faults", json={"endpoint": "*", "latencyMs": 300, "jitterMs": 0}
    ).raise_for_status()
    try:
        # When a bid is sent
        sent_ms = sim_env.sim.now_ms()
        answer = sim_env.bid(token, auction["itemId"], "25.00")
        answered_ms = sim_env.sim.now_ms()
    finally:
        sim_env.client.delete("/_sim/faults")
    assert answer.status_code == 200, answer.text
    # Then eBay received it 300 ms after it was sent, not before, and answered after that
    ours = [
        b
        for b in sim_env.client.get(f"/_sim/auctions/{auction['legacyItemId']}").json()["bids"]
        if b["bidder"] == "arrival_bidder"
    ]
    received = ours[0]["receivedAt"]
    assert sent_ms + 300 <= received <= answered_ms
    # And its Date is that same instant (eBay's clock when it handled the request)
    assert parsedate_to_datetime(answer.headers["Date"]).timestamp() == received // 1000
