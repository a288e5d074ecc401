"""POST/GET/PUT/DELETE /bids through the real handler, moto's tables and the eBay simulator."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from common.data.bids import BidsRepository
from common.data.prices import PriceHistory
from rest import bids
from rest.logic import bids as logic
from tests.fakes import FakeScheduler
from tests.integration.rest.conftest import make_call
from tests.stack_env import get_settings

call = make_call(bids.handler)
pytestmark = pytest.mark.integration


def _create(
    item: str, amount: int = 5000, headers: dict[str, str] | None = None, **extra: Any
) -> tuple[int, Any]:
    body = {"ebayItemId": item, "maxBidAmount": amount, **extra}
    return call("POST", "/bids", body=body, headers=headers)


def _get(bid_id: str, user: str = "user-a") -> tuple[int, Any]:
    return call(
        "GET",
        f"/bids/{bid_id}",
        route="/bids/{bidId}",
        path_parameters={"bidId": bid_id},
        user=user,
    )


def _history_items(user: str) -> list[dict[str, Any]]:
    table = get_settings().bid_history_table
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return [i for i in items if i["userId"]["S"] == user]


def test_create_stores_the_auction_from_ebay_and_writes_history(rest_env, new_auction):
    # Given an auction on eBay
    auction = new_auction(title="Omega Speedmaster", startPrice=2500, endsInSeconds=1800)
    # When the user snipes it
    status, body = _create(auction["legacyItemId"], 9900, leadSeconds=4)
    # Then the snipe holds eBay's data and is pending
    assert status == 201
    assert body["itemId"] == auction["itemId"]
    assert body["itemTitle"] == "Omega Speedmaster"
    assert body["status"] == "PENDING"
    assert body["currency"] == "USD"
    assert body["leadSeconds"] == 4
    assert abs(body["auctionEndTime"] - (time.time() + 1800)) < 5
    assert body["fireAt"] == body["auctionEndTime"] - 4
    # and its CREATE entry was written with it
    history = _history_items("user-a")
    assert [h["action"]["S"] for h in history] == ["CREATE"]
    assert history[0]["originalBidId"]["S"] == body["bidId"]


def test_lead_time_defaults_to_six_seconds(rest_env, new_auction):
    # Given a user with no preference
    auction = new_auction()
    # When they snipe without a lead time
    status, body = _create(auction["legacyItemId"])
    # Then the market's usual 6 s applies
    assert status == 201
    assert body["leadSeconds"] == 6


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ebayItemId": "123456789012", "maxBidAmount": 99}, "maxBidAmount"),
        ({"ebayItemId": "123456789012", "maxBidAmount": 10_000_001}, "maxBidAmount"),
        ({"ebayItemId": "123456789012", "maxBidAmount": 2**70}, "maxBidAmount"),
        ({"ebayItemId": "abc", "maxBidAmount": 500}, "ebayItemId"),
        ({"ebayItemId": "123456789012", "maxBidAmount": 500, "leadSeconds": 0}, "leadSeconds"),
        ({"ebayItemId": "123456789012", "maxBidAmount": 500, "leadSeconds": -3}, "leadSeconds"),
        ({"ebayItemId": "123456789012", "maxBidAmount": 500, "leadSeconds": 31}, "leadSeconds"),
        ({"ebayItemId": "123456789012", "maxBidAmount": "500"}, "maxBidAmount"),
        ({"maxBidAmount": 500}, "ebayItemId"),
        ({"ebayItemId": "123456789012", "maxBidAmount": 500, "extra": 1}, "extra"),
    ],
)
def test_invalid_input_is_422_naming_the_field_and_writes_nothing(rest_env, payload, field):
    # When the body breaks a rule
    status, body = call("POST", "/bids", body=payload)
    # Then the answer names the field, and nothing was stored
    assert status == 422
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in body["error"]["details"]]
    assert _history_items("user-a") == []


def test_malformed_json_is_400(rest_env):
    status, body = call("POST", "/bids", raw_body='{"ebayItemId": ')
    assert status == 400
    assert body["error"]["code"] == "MALFORMED_JSON"


def test_missing_caller_is_401(rest_env):
    status, body = call("GET", "/bids", user=None)
    assert status == 401
    assert body["error"]["code"] == "UNAUTHORIZED"


def test_unknown_item_is_refused(rest_env):
    status, body = _create("999999999999")
    assert status == 422
    assert body["error"]["details"][0]["field"] == "ebayItemId"


def test_below_minimum_is_400_naming_the_minimum(rest_env, new_auction):
    # Given an auction starting at $25.00
    auction = new_auction(startPrice=2500)
    # When the maximum is below it
    status, body = _create(auction["legacyItemId"], 2000)
    # Then the error names eBay's minimum
    assert status == 400
    assert body["error"]["details"][0]["field"] == "maxBidAmount"
    assert "2500" in body["error"]["message"]


def test_currency_must_match_the_auction(rest_env, new_auction):
    auction = new_auction()
    status, body = _create(auction["legacyItemId"], currency="EUR")
    assert status == 422
    assert body["error"]["details"][0]["field"] == "currency"


def test_an_auction_ending_too_soon_is_refused(rest_env, new_auction):
    # Given an auction whose default 6 s lead and 5 s freeze leave no time before the seal
    auction = new_auction(endsInSeconds=10)
    status, body = _create(auction["legacyItemId"])
    assert status == 422
    assert "too soon" in body["error"]["message"]


def test_one_active_snipe_per_item(rest_env, new_auction):
    # Given an active snipe
    auction = new_auction()
    assert _create(auction["legacyItemId"])[0] == 201
    # When the user snipes the same item again
    status, body = _create(auction["legacyItemId"], 7000)
    # Then it is a conflict
    assert status == 409
    assert body["error"]["details"][0]["field"] == "ebayItemId"


def test_a_create_repeated_with_its_idempotency_key_answers_with_the_same_snipe(
    rest_env, new_auction
):
    # Given a snipe created with an Idempotency-Key
    auction = new_auction()
    key = {"Idempotency-Key": "3b7d0c1e-5b0f-4d8e-a1f4-0c9e2a7d6b11"}
    status, first = _create(auction["legacyItemId"], 7000, leadSeconds=4, headers=key)
    assert status == 201
    # When the same request comes again with the key (its first answer lost, say)
    status, again = _create(auction["legacyItemId"], 7000, leadSeconds=4, headers=key)
    # Then it answers as the first did, with the same snipe, and nothing more was written
    assert status == 201
    assert again["bidId"] == first["bidId"]
    assert len(_history_items("user-a")) == 1
    # and with a different maximum under the same key it is a 409 saying so
    status, body = _create(auction["legacyItemId"], 8000, leadSeconds=4, headers=key)
    assert status == 409
    assert body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert body["error"]["message"] == "Idempotency-Key reused with a different request"
    # and without the key it is the usual conflict
    status, body = _create(auction["legacyItemId"], 7000, leadSeconds=4)
    assert (status, body["error"]["code"]) == (409, "CONFLICT")


@pytest.mark.parametrize("key", ["", "x" * 65, "not a key", "a.b"])
def test_a_malformed_idempotency_key_is_400_naming_the_header(rest_env, new_auction, key):
    auction = new_auction()
    # When a create carries a malformed Idempotency-Key
    status, body = _create(auction["legacyItemId"], headers={"Idempotency-Key": key})
    # Then it is a 400 in the API's error shape naming the header, and nothing was written
    assert status == 400
    assert body["error"]["code"] == "BAD_REQUEST"
    assert [d["field"] for d in body["error"]["details"]] == ["Idempotency-Key"]
    assert _history_items("user-a") == []


def test_concurrent_creates_give_exactly_one_201(rest_env, new_auction):
    # Given one auction
    auction = new_auction()
    # When eight requests race to snipe it
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: _create(auction["legacyItemId"])[0], range(8)))
    # Then exactly one wins and the rest conflict
    assert statuses == [201] + [409] * 7
    assert len(_history_items("user-a")) == 1


def test_another_users_snipe_is_404(rest_env, new_auction):
    auction = new_auction()
    _, created = _create(auction["legacyItemId"])
    status, body = _get(created["bidId"], user="user-b")
    assert status == 404
    assert created["bidId"] not in str(body) or body["error"]["code"] == "NOT_FOUND"
    status, _ = call(
        "DELETE",
        f"/bids/{created['bidId']}",
        route="/bids/{bidId}",
        path_parameters={"bidId": created["bidId"]},
        user="user-b",
    )
    assert status == 404
    assert _get(created["bidId"])[1]["status"] == "PENDING"


def test_a_snipe_read_alone_carries_its_listings_price_history(rest_env, new_auction):
    # Given a snipe whose listing's price the price updater saw change twice, and a snipe on
    # a listing it has not polled yet
    auction, quiet = new_auction(), new_auction()
    _, created = _create(auction["legacyItemId"])
    _, other = _create(quiet["legacyItemId"])
    prices = PriceHistory(get_settings().users_and_app_state_table)
    ends = int(time.time()) + 3600
    prices.add_point(auction["legacyItemId"], 1_800_000_000, 1200, "USD", ends)
    prices.add_point(auction["legacyItemId"], 1_800_000_060, 1350, "USD", ends)
    # When the user reads each snipe
    status, body = _get(created["bidId"])
    # Then the first carries the points, oldest first, and the second none
    assert status == 200
    assert body["priceHistory"] == [[1_800_000_000, 1200], [1_800_000_060, 1350]]
    assert _get(other["bidId"])[1]["priceHistory"] == []
    # and another user reading the snipe gets a 404, prices or not
    assert _get(created["bidId"], user="user-b")[0] == 404


def test_update_amount_resets_the_alert_and_writes_history(rest_env, new_auction):
    # Given a snipe that has already alerted
    auction = new_auction()
    _, created = _create(auction["legacyItemId"], 5000)
    repo = BidsRepository(
        get_settings().bids_table,
        get_settings().users_and_app_state_table,
        get_settings().bid_history_table,
    )
    stored = repo.require("user-a", created["bidId"])
    repo.client.update_item(
        TableName=repo.table,
        Key={"userId": {"S": "user-a"}, "bidId": {"S": stored.bidId}},
        UpdateExpression="SET lastAlertSent = :t, lastAlertBidAmount = :a",
        ExpressionAttributeValues={":t": {"N": "1"}, ":a": {"N": "5000"}},
    )
    # When the maximum is raised
    status, body = call(
        "PUT",
        f"/bids/{created['bidId']}",
        route="/bids/{bidId}",
        path_parameters={"bidId": created["bidId"]},
        body={"maxBidAmount": 8000},
    )
    # Then the alert state is reset and the change is in the history
    assert status == 200
    assert body["maxBidAmount"] == 8000
    assert body["lastAlertSent"] is None
    assert body["lastAlertBidAmount"] is None
    actions = sorted(h["action"]["S"] for h in _history_items("user-a"))
    assert actions == ["CREATE", "UPDATE"]


def test_cancel_keeps_the_record_and_frees_the_item(rest_env, new_auction):
    # Given a snipe
    auction = new_auction()
    _, created = _create(auction["legacyItemId"])
    path = {"bidId": created["bidId"]}
    # When it is cancelled
    status, body = call(
        "DELETE", f"/bids/{created['bidId']}", route="/bids/{bidId}", path_parameters=path
    )
    # Then it stays, CANCELLED, and can no longer change
    assert status == 200
    assert body["status"] == "CANCELLED"
    assert _get(created["bidId"])[1]["status"] == "CANCELLED"
    status, body = call(
        "PUT",
        f"/bids/{created['bidId']}",
        route="/bids/{bidId}",
        path_parameters=path,
        body={"maxBidAmount": 9000},
    )
    assert status == 409
    # and the item may be sniped again
    assert _create(auction["legacyItemId"])[0] == 201


def test_no_change_inside_the_freeze_window(rest_env, new_auction):
    # Given a snipe whose fire time is 60 s away
    auction = new_auction(endsInSeconds=66)
    _, created = _create(auction["legacyItemId"], leadSeconds=6)
    repo = BidsRepository(
        get_settings().bids_table,
        get_settings().users_and_app_state_table,
        get_settings().bid_history_table,
    )
    # When a change arrives 57 s later (3 s before firing)
    later = lambda: time.time() + 57  # noqa: E731
    # Then it is refused, and so is a cancel
    with pytest.raises(Exception) as update_error:
        logic.update_snipe("user-a", created["bidId"], 9000, None, repo, later, 30, FakeScheduler())
    assert type(update_error.value).__name__ == "ConflictError"
    with pytest.raises(Exception) as cancel_error:
        logic.cancel_snipe("user-a", created["bidId"], repo, later, 30, FakeScheduler())
    assert type(cancel_error.value).__name__ == "ConflictError"
    assert repo.require("user-a", created["bidId"]).maxBidAmount == 5000


def test_list_paginates_with_an_opaque_cursor(rest_env, new_auction):
    # Given three snipes
    for _ in range(3):
        _create(new_auction()["legacyItemId"])
    # When listed two at a time
    status, first = call("GET", "/bids", query={"limit": "2"})
    assert status == 200
    assert len(first["items"]) == 2
    status, second = call("GET", "/bids", query={"limit": "2", "cursor": first["nextCursor"]})
    # Then the second page has the rest, newest first overall
    assert status == 200
    ids = [b["bidId"] for b in first["items"] + second["items"]]
    assert len(set(ids)) == 3
    assert ids == sorted(ids, reverse=True)


def test_a_tampered_or_foreign_cursor_is_400(rest_env, new_auction):
    for _ in range(2):
        _create(new_auction()["legacyItemId"])
    _, page = call("GET", "/bids", query={"limit": "1"})
    cursor = page["nextCursor"]
    tampered = ("A" if cursor[0] != "A" else "B") + cursor[1:]
    for query, user in (({"cursor": tampered}, "user-a"), ({"cursor": cursor}, "user-b")):
        status, body = call("GET", "/bids", query=query, user=user)
        assert status == 400
        assert body["error"]["details"][0]["field"] == "cursor"


def test_filter_by_status(rest_env, new_auction):
    _, kept = _create(new_auction()["legacyItemId"])
    _, gone = _create(new_auction()["legacyItemId"])
    call(
        "DELETE",
        f"/bids/{gone['bidId']}",
        route="/bids/{bidId}",
        path_parameters={"bidId": gone["bidId"]},
    )
    _, body = call("GET", "/bids", query={"status": "CANCELLED"})
    assert [b["bidId"] for b in body["items"]] == [gone["bidId"]]
    status, body = call("GET", "/bids", query={"status": "BOGUS"})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "status"
    assert kept["bidId"]


def test_huge_limit_is_422(rest_env):
    status, body = call("GET", "/bids", query={"limit": "100000"})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "limit"
