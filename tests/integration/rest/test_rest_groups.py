"""GET /groups and PUT /groups/{groupId} through the bids function's handler, moto's tables
(from template.yaml) and the eBay simulator; the group rules' repository beside them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import boto3
import pytest

from common.data.active_snipes import active_snipes_key
from common.data.group_slots import GroupSlots
from common.data.groups import DEFAULT_RULE, GroupMode, GroupRule, GroupsRepository, group_key
from rest import bids, users
from tests import stack_env
from tests.integration.rest.conftest import make_call
from tests.stack_env import get_settings

call = make_call(bids.handler)
call_users = make_call(users.handler)
pytestmark = pytest.mark.integration


def _snipe(item: str, amount: int, group: str | None, user: str = "user-a") -> dict[str, Any]:
    body: dict[str, Any] = {"ebayItemId": item, "maxBidAmount": amount}
    if group:
        body["groupId"] = group
    status, created = call("POST", "/bids", body=body, user=user)
    assert status == 201, created
    return dict(created)


def _put(group: str, body: Any, user: str = "user-a", **kwargs: Any) -> tuple[int, Any]:
    return call(
        "PUT",
        f"/groups/{quote(group, safe='')}",
        route="/groups/{groupId}",
        path_parameters={"groupId": group},
        body=body,
        user=user,
        **kwargs,
    )


def _groups(user: str = "user-a") -> dict[str, dict[str, Any]]:
    status, body = call("GET", "/groups", user=user)
    assert status == 200, body
    return {group["groupId"]: group for group in body["items"]}


def _group_item(user: str, group: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(
        TableName=get_settings().users_and_app_state_table,
        Key={"userId": {"S": group_key(user, group)}},
    )
    return dict(item.get("Item") or {})


def _set_status(bid: dict[str, Any], status: str) -> None:
    """The executor's verdict, as it stores it: the snipe leaves the active index and its
    owner's set of active snipes, and a group's bid settles its slot (won or lost)."""
    settings = get_settings()
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_item(
        TableName=settings.bids_table,
        Key={"userId": {"S": "user-a"}, "bidId": {"S": bid["bidId"]}},
        UpdateExpression="SET #s = :s REMOVE activeShard",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )
    dynamodb.update_item(
        TableName=settings.users_and_app_state_table,
        Key={"userId": {"S": active_snipes_key("user-a")}},
        UpdateExpression="DELETE bidIds :id",
        ExpressionAttributeValues={":id": {"SS": [bid["bidId"]]}},
    )
    if bid.get("groupId") and status in ("WON", "LOST"):
        slots = GroupSlots(settings.users_and_app_state_table)
        assert slots.take("user-a", bid["groupId"], bid["bidId"], 100, contingency=False)
        assert slots.settle("user-a", bid["groupId"], bid["bidId"], won=status == "WON")


def test_groups_list_the_default_rule_and_the_totals_of_their_active_snipes(rest_env, new_auction):
    # Given two snipes in "cameras", one that was won, and one in "lenses"
    first = new_auction(startPrice=1_000)
    second = new_auction(startPrice=2_500)
    won = new_auction(startPrice=4_000)
    _snipe(first["legacyItemId"], 5_000, "cameras")
    _snipe(second["legacyItemId"], 7_500, "cameras")
    _set_status(_snipe(won["legacyItemId"], 9_000, "cameras"), "WON")
    _snipe(new_auction()["legacyItemId"], 3_000, "lenses")
    _snipe(new_auction()["legacyItemId"], 3_000, None)
    # When the user lists their groups
    groups = _groups()
    # Then each group shows the default rule (win one), its counts, and the sums of its active
    # snipes' current prices and maxima; a snipe without a group is in none
    assert set(groups) == {"cameras", "lenses"}
    assert groups["cameras"] == {
        "groupId": "cameras",
        "mode": "WIN_UP_TO",
        "limit": 1,
        "defaultRule": True,
        "ruleUpdatedAt": None,
        "snipes": 3,
        "active": 2,
        "won": 1,
        "totalCurrentPrice": 3_500,
        "totalMaxBid": 12_500,
        "currency": "USD",
        "totalsByCurrency": [
            {"currency": "USD", "totalCurrentPrice": 3_500, "totalMaxBid": 12_500}
        ],
    }
    assert groups["lenses"]["totalMaxBid"] == 3_000


def test_a_rule_is_stored_listed_and_changed(rest_env, new_auction):
    # Given a group with an active snipe
    _snipe(new_auction()["legacyItemId"], 5_000, "cameras")
    # When the user lets it win up to three
    status, group = _put("cameras", {"mode": "WIN_UP_TO", "limit": 3})
    # Then the group comes back with its rule and totals, and the list agrees
    assert status == 200, group
    assert (group["mode"], group["limit"], group["defaultRule"]) == ("WIN_UP_TO", 3, False)
    assert group["active"] == 1
    assert group["totalMaxBid"] == 5_000
    assert isinstance(group["ruleUpdatedAt"], int)
    assert _groups()["cameras"] == group
    # When they make it a contingency group of two
    status, group = _put("cameras", {"mode": "CONTINGENCY", "limit": 2})
    # Then the executor's strongly consistent read sees the change
    assert status == 200
    repo = GroupsRepository(get_settings().users_and_app_state_table)
    assert repo.rule("user-a", "cameras") == GroupRule(mode=GroupMode.CONTINGENCY, limit=2)
    assert _groups()["cameras"]["mode"] == "CONTINGENCY"


def test_a_rule_may_come_before_the_groups_first_snipe(rest_env):
    # Given a user with no snipes / When they set a rule for a group of a name with a space
    status, group = _put("spring lenses", {"mode": "WIN_UP_TO", "limit": 4})
    # Then it is listed, empty, with zero totals and no currency
    assert status == 200, group
    listed = _groups()["spring lenses"]
    assert listed == group
    assert (listed["snipes"], listed["totalCurrentPrice"], listed["currency"]) == (0, 0, None)


def test_a_rule_change_keeps_the_executors_slot_ledger(rest_env):
    # Given a group item on which the executor keeps its ledger (no rule stored yet)
    table = get_settings().users_and_app_state_table
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key={"userId": {"S": group_key("user-a", "cameras")}},
        UpdateExpression="ADD holders :h, settled :s, held :one, pending :zero, lost :one",
        ExpressionAttributeValues={
            ":h": {"SS": ["bid-1", "bid-2"]},
            ":s": {"SS": ["bid-2"]},
            ":one": {"N": "1"},
            ":zero": {"N": "0"},
        },
    )
    repo = GroupsRepository(table)
    assert repo.rule("user-a", "cameras") == DEFAULT_RULE
    # When the user sets a rule
    assert _put("cameras", {"mode": "CONTINGENCY", "limit": 5})[0] == 200
    # Then the ledger is as it was, beside the rule
    item = _group_item("user-a", "cameras")
    assert set(item["holders"]["SS"]) == {"bid-1", "bid-2"}
    assert item["settled"]["SS"] == ["bid-2"]
    assert (item["held"], item["pending"], item["lost"]) == ({"N": "1"}, {"N": "0"}, {"N": "1"})
    assert (item["groupMode"], item["groupLimit"]) == ({"S": "CONTINGENCY"}, {"N": "5"})
    assert item["ownerId"] == {"S": "user-a"}
    assert repo.rule("user-a", "cameras") == GroupRule(mode=GroupMode.CONTINGENCY, limit=5)
    # and a ledger without a rule is no stored rule
    assert repo.rules("user-b") == {}


def test_active_snipes_in_two_currencies_are_totalled_per_currency(rest_env, new_auction):
    # Given a group with a dollar auction and a euro auction
    _snipe(new_auction(startPrice=1_000)["legacyItemId"], 5_000, "mixed")
    _snipe(new_auction(startPrice=2_000, currency="EUR")["legacyItemId"], 6_000, "mixed")
    # When the groups are listed
    group = _groups()["mixed"]
    # Then no single total is made up: one total per currency
    assert (group["totalCurrentPrice"], group["totalMaxBid"], group["currency"]) == (
        None,
        None,
        None,
    )
    assert group["totalsByCurrency"] == [
        {"currency": "EUR", "totalCurrentPrice": 2_000, "totalMaxBid": 6_000},
        {"currency": "USD", "totalCurrentPrice": 1_000, "totalMaxBid": 5_000},
    ]


def test_groups_with_only_finished_snipes_and_no_rule_are_not_listed(rest_env, new_auction):
    # Given a group whose only snipe was cancelled
    bid = _snipe(new_auction()["legacyItemId"], 5_000, "old")
    _set_status(bid, "CANCELLED")
    # When the groups are listed / Then it is not among them
    assert _groups() == {}


@pytest.mark.parametrize(
    ("group", "body", "field"),
    [
        ("cameras", {"mode": "WIN_ALL", "limit": 2}, "mode"),
        ("cameras", {"mode": "win_up_to", "limit": 2}, "mode"),
        ("cameras", {"limit": 2}, "mode"),
        ("cameras", {"mode": "WIN_UP_TO"}, "limit"),
        ("cameras", {"mode": "WIN_UP_TO", "limit": 0}, "limit"),
        ("cameras", {"mode": "WIN_UP_TO", "limit": 101}, "limit"),
        ("cameras", {"mode": "WIN_UP_TO", "limit": "2"}, "limit"),
        ("cameras", {"mode": "WIN_UP_TO", "limit": 2.5}, "limit"),
        ("cameras", {"mode": "WIN_UP_TO", "limit": True}, "limit"),
        ("cameras", {"mode": "WIN_UP_TO", "limit": 2**70}, "limit"),
        ("cameras", {"mode": "WIN_UP_TO", "limit": 2, "held": 0}, "held"),
        ("cam#eras", {"mode": "WIN_UP_TO", "limit": 2}, "groupId"),
        (" cameras", {"mode": "WIN_UP_TO", "limit": 2}, "groupId"),
        ("x" * 65, {"mode": "WIN_UP_TO", "limit": 2}, "groupId"),
        ("cameras", [], "body"),
    ],
)
def test_bad_input_is_refused_naming_the_field(rest_env, group, body, field):
    # Given a user / When they send a rule the API cannot take
    status, answer = _put(group, body)
    # Then 422 names the field, and nothing is stored
    assert status == 422, answer
    assert field in {detail["field"] for detail in answer["error"]["details"]}
    assert _groups() == {}


def test_malformed_json_is_a_400(rest_env):
    status, answer = _put("cameras", None, raw_body='{"mode": "WIN_UP_TO", "limit": ')
    assert status == 400
    assert answer["error"]["code"] == "MALFORMED_JSON"


def test_a_user_sees_and_changes_only_their_own_groups(rest_env, new_auction):
    # Given user A's rule and snipe in "cameras"
    _snipe(new_auction()["legacyItemId"], 5_000, "cameras")
    assert _put("cameras", {"mode": "WIN_UP_TO", "limit": 3})[0] == 200
    # When user B lists groups, then sets a rule for a group of the same name
    assert _groups(user="user-b") == {}
    status, theirs = _put("cameras", {"mode": "CONTINGENCY", "limit": 9}, user="user-b")
    # Then B's is B's own, empty group, and A's rule and totals are unchanged
    assert status == 200
    assert (theirs["snipes"], theirs["limit"]) == (0, 9)
    mine = _groups()["cameras"]
    assert (mine["mode"], mine["limit"], mine["snipes"]) == ("WIN_UP_TO", 3, 1)


def test_a_deleted_accounts_token_sets_no_rule(rest_env):
    # Given a user who deleted their account
    call_users("GET", "/users/profile")
    assert call_users("DELETE", "/users/account")[0] == 200
    # When their still valid token sets a group rule
    status, answer = _put("cameras", {"mode": "WIN_UP_TO", "limit": 2})
    # Then it is refused as every write of a deleted account is, and nothing is stored
    assert status == 401
    assert answer["error"]["code"] == "ACCOUNT_DELETED"
    assert _group_item("user-a", "cameras") == {}


def test_deleting_the_account_deletes_its_groups(rest_env, new_auction):
    # Given a user with a rule, a grouped snipe, and a ledger the index does not list (no
    # ownerId, as an item the index has not caught up with would look)
    call_users("GET", "/users/profile")
    _snipe(new_auction()["legacyItemId"], 5_000, "lenses")
    assert _put("cameras", {"mode": "WIN_UP_TO", "limit": 2})[0] == 200
    assert _put("cameras", {"mode": "WIN_UP_TO", "limit": 2}, user="user-b")[0] == 200
    boto3.client("dynamodb").put_item(
        TableName=get_settings().users_and_app_state_table,
        Item={"userId": {"S": group_key("user-a", "lenses")}, "held": {"N": "1"}},
    )
    # When the account is deleted
    assert call_users("DELETE", "/users/account")[0] == 200
    # Then no group item of theirs is left; another user's is
    assert _group_item("user-a", "cameras") == {}
    assert _group_item("user-a", "lenses") == {}
    assert _group_item("user-b", "cameras") != {}


def test_the_repository_deletes_groups_the_index_finds_and_those_it_is_told(rest_env):
    # Given two rules of one user and a ledger-only item outside the index
    repo = stack_env.groups_repo()
    repo.put_rule("user-a", "one", GroupRule(), 1_000)
    repo.put_rule("user-a", "two", GroupRule(limit=2), 1_000)
    boto3.client("dynamodb").put_item(
        TableName=get_settings().users_and_app_state_table,
        Item={"userId": {"S": group_key("user-a", "three")}, "held": {"N": "1"}},
    )
    # When the user's groups are deleted, naming the third
    deleted = repo.delete_user_groups("user-a", ["three"])
    # Then all three are gone
    assert deleted == 3
    assert repo.rules("user-a") == {}
    assert all(_group_item("user-a", g) == {} for g in ("one", "two", "three"))
