"""Reserve prices in the simulator's Browse getItem and Offer getBidding answers, as eBay's
documents describe them (/work/shared/contracts/ebay, cited in docs/sniping-engine.md):

- buy-browse-v1.yml, Item.reservePriceMet and buy-offer-v1_beta.yml, Bidding.reservePriceMet:
  "returned only for auctions that have a reserve price"; below the reserve when the auction
  ends, "the item is not sold".
- Bidding.highBidder: true while ACTIVE means the buyer is winning; with auctionStatus ENDED it
  means the buyer has won. An auction that ended below its reserve sold to nobody, so nobody
  is its high bidder then.
"""

from __future__ import annotations

from typing import Any

import pytest
from sim_http_helpers import SimEnv

RESERVE = 5_000  # $50.00, on auctions starting at $10.00
AFTER_THE_END_MS = 3_600_000


@pytest.fixture
def tokens(sim_env: SimEnv) -> dict[str, str]:
    return {name: sim_env.user_token(name) for name in ("alice", "bob")} | {
        "app": sim_env.app_token()
    }


def _item(sim_env: SimEnv, tokens: dict[str, str], item_id: str) -> dict[str, Any]:
    response = sim_env.item(tokens["app"], item_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _bidding(sim_env: SimEnv, tokens: dict[str, str], who: str, item_id: str) -> dict[str, Any]:
    response = sim_env.bidding(tokens[who], item_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _bid(sim_env: SimEnv, tokens: dict[str, str], who: str, item_id: str, value: str) -> None:
    response = sim_env.bid(tokens[who], item_id, value)
    assert response.status_code == 200, response.text


def _state(bidding: dict[str, Any]) -> tuple[str, bool, bool | None]:
    """(auctionStatus, highBidder, reservePriceMet or None when the field is absent)."""
    return bidding["auctionStatus"], bidding["highBidder"], bidding.get("reservePriceMet")


def test_a_reserve_auction_that_meets_its_reserve(sim_env: SimEnv, tokens: dict[str, str]):
    # Given an auction with a $50 reserve, nobody bidding yet
    item_id = sim_env.create_auction(reservePrice=RESERVE)["itemId"]
    # Then Browse says the reserve is not met
    assert _item(sim_env, tokens, item_id)["reservePriceMet"] is False
    # When alice bids $30, below the reserve
    _bid(sim_env, tokens, "alice", item_id, "30.00")
    # Then she leads, the reserve is not met, and the price stays at the start
    assert _state(_bidding(sim_env, tokens, "alice", item_id)) == ("ACTIVE", True, False)
    item = _item(sim_env, tokens, item_id)
    assert (item["reservePriceMet"], item["currentBidPrice"]["value"]) == (False, "10.00")
    # When bob bids $60, over the reserve
    _bid(sim_env, tokens, "bob", item_id, "60.00")
    # Then bob leads, the reserve is met for everyone, and the price jumps to the reserve
    assert _state(_bidding(sim_env, tokens, "bob", item_id)) == ("ACTIVE", True, True)
    assert _state(_bidding(sim_env, tokens, "alice", item_id)) == ("ACTIVE", False, True)
    item = _item(sim_env, tokens, item_id)
    assert (item["reservePriceMet"], item["currentBidPrice"]["value"]) == (True, "50.00")
    # When the auction ends
    sim_env.sim.set_skew(AFTER_THE_END_MS)
    # Then bob has won (ENDED, high bidder, reserve met) and alice has not
    assert _state(_bidding(sim_env, tokens, "bob", item_id)) == ("ENDED", True, True)
    assert _state(_bidding(sim_env, tokens, "alice", item_id)) == ("ENDED", False, True)
    ended = _item(sim_env, tokens, item_id)
    assert ended["reservePriceMet"] is True
    assert "minimumPriceToBid" not in ended


def test_a_reserve_auction_that_ends_below_its_reserve_is_won_by_nobody(
    sim_env: SimEnv, tokens: dict[str, str]
):
    # Given a $50 reserve auction whose only bid, alice's $30, leads
    item_id = sim_env.create_auction(reservePrice=RESERVE)["itemId"]
    _bid(sim_env, tokens, "alice", item_id, "30.00")
    assert _state(_bidding(sim_env, tokens, "alice", item_id)) == ("ACTIVE", True, False)
    # When it ends
    sim_env.sim.set_skew(AFTER_THE_END_MS)
    # Then getBidding says ENDED, reserve not met, and alice is not the high bidder: ENDED with
    # highBidder true would mean she won an item eBay did not sell
    bidding = _bidding(sim_env, tokens, "alice", item_id)
    assert _state(bidding) == ("ENDED", False, False)
    assert bidding["currentPrice"]["value"] == "10.00"
    assert "suggestedBidAmounts" not in bidding
    # and Browse agrees the reserve was not met
    assert _item(sim_env, tokens, item_id)["reservePriceMet"] is False
    state = sim_env.client.get(f"/_sim/auctions/{item_id.split('|')[1]}").json()
    assert (state["winner"], state["finalPrice"]) == (None, None)


def test_an_auction_without_a_reserve_never_mentions_one(sim_env: SimEnv, tokens: dict[str, str]):
    # Given an auction without a reserve, bid on by alice then outbid by bob
    item_id = sim_env.create_auction()["itemId"]
    assert "reservePriceMet" not in _item(sim_env, tokens, item_id)
    _bid(sim_env, tokens, "alice", item_id, "20.00")
    _bid(sim_env, tokens, "bob", item_id, "25.00")
    # Then neither Browse nor getBidding carries reservePriceMet, active...
    assert "reservePriceMet" not in _item(sim_env, tokens, item_id)
    assert _state(_bidding(sim_env, tokens, "bob", item_id)) == ("ACTIVE", True, None)
    assert _state(_bidding(sim_env, tokens, "alice", item_id)) == ("ACTIVE", False, None)
    # ...or ended, when the high bidder has won
    sim_env.sim.set_skew(AFTER_THE_END_MS)
    assert "reservePriceMet" not in _item(sim_env, tokens, item_id)
    assert _state(_bidding(sim_env, tokens, "bob", item_id)) == ("ENDED", True, None)
    assert _state(_bidding(sim_env, tokens, "alice", item_id)) == ("ENDED", False, None)


def test_a_bid_exactly_at_the_reserve_meets_it(sim_env: SimEnv, tokens: dict[str, str]):
    # Given a $50 reserve auction / When alice bids exactly $50 and it ends
    item_id = sim_env.create_auction(reservePrice=RESERVE)["itemId"]
    _bid(sim_env, tokens, "alice", item_id, "50.00")
    sim_env.sim.set_skew(AFTER_THE_END_MS)
    # Then "equal to or higher than the reserve" sold it to her, at the reserve
    bidding = _bidding(sim_env, tokens, "alice", item_id)
    assert _state(bidding) == ("ENDED", True, True)
    assert bidding["currentPrice"]["value"] == "50.00"
