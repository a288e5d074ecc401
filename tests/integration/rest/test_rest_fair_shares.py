"""Issue 13 item 7, "Fair shares", through the real REST handlers, moto's tables (from
template.yaml) and the eBay simulator: eBay's milliseconds end to end."""

from __future__ import annotations

import time
from typing import Any

import pytest

from common.data.bids import BidsRepository
from common.settings import get_settings
from rest import bids, wishlist
from tests.integration.rest.conftest import make_call

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
    stored = BidsRepository(s.bids_table, s.users_table, s.bid_history_table).require(
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
