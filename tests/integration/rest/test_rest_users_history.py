"""/users/* and /bid-history through the real handlers and moto's tables."""

from __future__ import annotations

import time
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aiohttp import web

from common.data.users import UsersRepository
from common.errors import AccountDeletedError, RetryableError
from local.testing import serving_app
from realtime.authorizer import Unauthorized, authorize
from rest import bids, ebay_auth, history, users
from rest.logic.bids import NewSnipe, create_snipe
from rest.logic.ebay_auth import start_linking
from rest.logic.users import TOMBSTONE_SECONDS, delete_account
from tests import stack_env
from tests.fakes import AccountParts, FakeIdentities, FakeScheduler, FakeSocketCloser, roomy_cap
from tests.integration.rest.conftest import make_call
from tests.realtime_events import connect_authorizer_event
from tests.stack_env import get_settings

call_users = make_call(users.handler)
call_bids = make_call(bids.handler)
call_history = make_call(history.handler)
call_ebay_auth = make_call(ebay_auth.handler)
pytestmark = pytest.mark.integration


def _snipe(item: str, user: str = "user-a", **extra: Any) -> dict[str, Any]:
    status, body = call_bids(
        "POST", "/bids", body={"ebayItemId": item, "maxBidAmount": 5000, **extra}, user=user
    )
    assert status == 201, body
    return dict(body)


def test_first_profile_read_creates_it_from_the_token_email(rest_env):
    # When a new user reads their profile
    status, body = call_users("GET", "/users/profile")
    # Then it exists, with the token's email and default preferences
    assert status == 200
    assert body["userId"] == "user-a"
    assert body["email"] == "a@example.com"
    assert body["preferences"]["timezone"] == "UTC"
    assert body["ebay"] == {"isLinked": False, "accountId": None}
    # and a second read returns the same profile
    assert call_users("GET", "/users/profile")[1]["createdAt"] == body["createdAt"]


def test_an_email_belongs_to_one_profile(rest_env):
    # Given user A's profile
    call_users("GET", "/users/profile")
    # When user B signs in with the same email
    status, body = call_users("GET", "/users/profile", user="user-b")
    # Then it is a conflict
    assert status == 409
    assert body["error"]["details"][0]["field"] == "email"


def test_profile_update_moves_the_email_guard(rest_env):
    # Given a user who changed their sign-in email in Cognito and signed in again
    call_users("GET", "/users/profile")
    # When they save the new address in their profile
    status, body = call_users(
        "PUT",
        "/users/profile",
        body={"displayName": "Ann", "email": "ann@example.com"},
        email="ann@example.com",
    )
    # Then the profile has it
    assert status == 200
    assert body["displayName"] == "Ann"
    assert body["email"] == "ann@example.com"
    # the old address is free again, the new one taken
    assert call_users("GET", "/users/profile", user="user-c", email="a@example.com")[0] == 200
    status, _ = call_users("GET", "/users/profile", user="user-d", email="ann@example.com")
    assert status == 409


def test_an_email_other_than_the_verified_sign_in_email_is_refused(rest_env):
    # Given user A's profile, and a stranger's address nobody has signed up with yet
    call_users("GET", "/users/profile")
    # When A sets their profile email to the stranger's address
    status, body = call_users(
        "PUT", "/users/profile", body={"displayName": "Ann", "email": "stranger@example.com"}
    )
    # Then it is refused, naming the field, and nothing changed
    assert status == 400
    assert [d["field"] for d in body["error"]["details"]] == ["email"]
    profile = call_users("GET", "/users/profile")[1]
    assert (profile["email"], profile["displayName"]) == ("a@example.com", None)
    # and the stranger can still sign up with their address
    status, _ = call_users("GET", "/users/profile", user="user-s", email="stranger@example.com")
    assert status == 200
    # while saving the address A already has, in any case, is accepted
    status, body = call_users("PUT", "/users/profile", body={"email": "A@example.com"})
    assert (status, body["email"]) == (200, "a@example.com")


def test_preferences_are_validated(rest_env):
    status, body = call_users("PUT", "/users/preferences", body={"timezone": "Mars/Olympus"})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "timezone"
    status, body = call_users("PUT", "/users/preferences", body={"defaultLeadSeconds": 31})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "defaultLeadSeconds"


def test_default_lead_time_comes_from_preferences(rest_env, new_auction):
    # Given a user who prefers 3 s
    status, body = call_users(
        "PUT",
        "/users/preferences",
        body={"timezone": "Europe/Paris", "defaultLeadSeconds": 3, "emailNotifications": False},
    )
    assert status == 200
    assert body["preferences"]["timezone"] == "Europe/Paris"
    # When they snipe without a lead time
    created = _snipe(new_auction()["legacyItemId"])
    # Then 3 s is used
    assert created["leadSeconds"] == 3


def test_history_lists_newest_first_with_filters(rest_env, new_auction):
    # Given a snipe created, changed and cancelled
    created = _snipe(new_auction()["legacyItemId"])
    path = {"bidId": created["bidId"]}
    call_bids(
        "PUT",
        f"/bids/{created['bidId']}",
        route="/bids/{bidId}",
        path_parameters=path,
        body={"leadSeconds": 9},
    )
    call_bids("DELETE", f"/bids/{created['bidId']}", route="/bids/{bidId}", path_parameters=path)
    # When the history is read
    status, body = call_history("GET", "/bid-history")
    # Then it is newest first
    assert status == 200
    assert [e["action"] for e in body["items"]] == ["CANCEL", "UPDATE", "CREATE"]
    assert body["items"][1]["details"]["leadSeconds"] == {"from": 6, "to": 9}
    # and filters by action and time
    _, only = call_history("GET", "/bid-history", query={"action": "UPDATE,CREATE"})
    assert [e["action"] for e in only["items"]] == ["UPDATE", "CREATE"]
    first_ts = body["items"][-1]["timestamp"]
    _, none = call_history("GET", "/bid-history", query={"to": str(first_ts - 1)})
    assert none["items"] == []
    status, _ = call_history("GET", "/bid-history", query={"action": "STEAL"})
    assert status == 422
    # and per snipe, paginated
    route = "/bid-history/{bidId}"
    status, page = call_history(
        "GET",
        f"/bid-history/{created['bidId']}",
        route=route,
        path_parameters=path,
        query={"limit": "2"},
    )
    assert status == 200
    assert len(page["items"]) == 2
    _, rest = call_history(
        "GET",
        f"/bid-history/{created['bidId']}",
        route=route,
        path_parameters=path,
        query={"cursor": page["nextCursor"]},
    )
    assert [e["action"] for e in rest["items"]] == ["CREATE"]


def test_another_users_history_is_404_and_their_cursor_400(rest_env, new_auction):
    created = _snipe(new_auction()["legacyItemId"])
    _snipe(new_auction()["legacyItemId"])
    path = {"bidId": created["bidId"]}
    status, body = call_history(
        "GET",
        f"/bid-history/{created['bidId']}",
        route="/bid-history/{bidId}",
        path_parameters=path,
        user="user-b",
    )
    assert status == 404
    assert created["bidId"] not in str(body)
    _, page = call_history("GET", "/bid-history", query={"limit": "1"})
    status, _ = call_history(
        "GET", "/bid-history", query={"cursor": page["nextCursor"]}, user="user-b"
    )
    assert status == 400


def _everything_of(user_id: str) -> list[dict[str, Any]]:
    """Every item mentioning the user, but their tombstone, which holds nothing else (no
    email, no profile) and expires within the tokens' validity."""
    client = boto3.client("dynamodb")
    s = get_settings()
    found = []
    for table in (
        s.users_and_app_state_table,
        s.bids_table,
        s.bid_history_table,
        s.connections_table,
    ):
        for item in client.scan(TableName=table)["Items"]:
            if _is_tombstone(item, user_id):
                continue
            if user_id in str(item) or "a@example.com" in str(item):
                found.append(item)
    return found


def _is_tombstone(item: dict[str, Any], user_id: str) -> bool:
    return (
        item.get("userId") == {"S": user_id}
        and set(item) == {"userId", "deletedAt", "ttl"}
        and time.time() < int(item["ttl"]["N"]) <= time.time() + TOMBSTONE_SECONDS
    )


def test_deleting_the_account_leaves_nothing_behind(rest_env, new_auction, monkeypatch):
    # Given a user with a profile, snipes, history and a connection, and the WebSocket API's
    # management endpoint recording what it is asked to close
    closed: list[str] = []

    async def close(request: web.Request) -> web.Response:
        closed.append(request.match_info["connection_id"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_delete("/local/@connections/{connection_id}", close)
    management = ExitStack()
    stage_url = management.enter_context(serving_app(app)) + "/local"
    monkeypatch.setenv("WEBSOCKET_MANAGEMENT_URL", stage_url)
    call_users("GET", "/users/profile")
    created = _snipe(new_auction()["legacyItemId"])
    _snipe(new_auction()["legacyItemId"])
    call_bids(
        "DELETE",
        f"/bids/{created['bidId']}",
        route="/bids/{bidId}",
        path_parameters={"bidId": created["bidId"]},
    )
    boto3.client("dynamodb").put_item(
        TableName=get_settings().connections_table,
        Item={"connectionId": {"S": "conn-1"}, "userId": {"S": "user-a"}},
    )
    _snipe(new_auction()["legacyItemId"], user="user-b")
    assert _everything_of("user-a")
    # When they delete their account
    with management:
        status, body = call_users("DELETE", "/users/account")
    # Then their socket was closed, nothing of theirs remains in any table, others untouched
    assert status == 200
    assert body["deleted"] == {"bids": 2, "history": 3, "connections": 1}
    assert closed == ["conn-1"]
    assert _everything_of("user-a") == []
    assert call_bids("GET", "/bids", user="user-b")[1]["items"]


class FlakyIdentities:
    """The Cognito port: fails its first deletions, as a throttled Cognito would."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.deleted: list[str] = []

    def delete(self, username: str) -> bool:
        if self.failures:
            self.failures -= 1
            raise RetryableError("The sign-in service was busy; try again")
        self.deleted.append(username)
        return True


def _delete_with(identities: FlakyIdentities) -> None:
    delete_account(
        "user-a",
        AccountParts(
            users=stack_env.users_repo(),
            bids=stack_env.bids_repo(),
            history=stack_env.history_repo(),
            connections=stack_env.connections_repo(),
            groups=stack_env.groups_repo(),
            scheduler=FakeScheduler(),
            socket_closer=FakeSocketCloser(),
            identities=identities,
        ),
        username="cognito-user-a",
    )


def test_a_deleted_accounts_token_neither_recreates_nor_changes_the_profile(rest_env):
    # Given a user who deleted their account
    call_users("GET", "/users/profile")
    assert call_users("DELETE", "/users/account")[0] == 200
    # When their still valid token reads, updates or sets preferences of the profile
    answers = [
        call_users("GET", "/users/profile"),
        call_users("PUT", "/users/profile", body={"displayName": "Ann"}),
        call_users("PUT", "/users/preferences", body={"timezone": "Europe/Rome"}),
    ]
    # Then each is refused with 401 ACCOUNT_DELETED, and no profile is made again
    assert [status for status, _ in answers] == [401, 401, 401]
    assert {body["error"]["code"] for _, body in answers} == {"ACCOUNT_DELETED"}
    assert _everything_of("user-a") == []
    # while another user, and the same email under a new account, still get a profile
    assert call_users("GET", "/users/profile", user="user-new")[0] == 200


class PassingVerifier:
    """The $connect authorizer's token check, passing a token as the user it names: what these
    tests vary is the account, not the token."""

    def verify(self, token: str | None) -> dict[str, Any]:
        return {"sub": token, "token_use": "id"}


def _connect(user: str) -> dict[str, Any]:
    return authorize(connect_authorizer_event(user), PassingVerifier(), stack_env.users_repo())


def _schedule_names() -> set[str]:
    scheduler = boto3.client("scheduler")
    group = get_settings().schedule_group_name
    return {s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]}


def test_a_deleted_accounts_token_creates_no_snipe_no_oauth_state_and_opens_no_socket(
    rest_env, new_auction
):
    # Given a user who deleted their account, an auction they could snipe, and the schedules
    # that exist (earlier tests' snipes keep theirs)
    call_users("GET", "/users/profile")
    assert call_users("DELETE", "/users/account")[0] == 200
    lot = new_auction()["legacyItemId"]
    schedules = _schedule_names()
    # When their still valid token creates a snipe or starts linking an eBay account
    answers = [
        call_bids("POST", "/bids", body={"ebayItemId": lot, "maxBidAmount": 5000}),
        call_ebay_auth("GET", "/ebay/auth/url"),
    ]
    # Then each is refused with 401 ACCOUNT_DELETED
    assert [status for status, _ in answers] == [401, 401]
    assert {body["error"]["code"] for _, body in answers} == {"ACCOUNT_DELETED"}
    # When it opens a WebSocket
    # Then the $connect authorizer refuses it, as it refuses a bad token (a 401 handshake)
    with pytest.raises(Unauthorized):
        _connect("user-a")
    # and nothing was written: no snipe, guard, history entry, OAuth state, connection or
    # schedule, only the tombstone remains
    assert _everything_of("user-a") == []
    assert _schedule_names() == schedules
    # while another user's token still does all three
    assert _snipe(lot, user="user-b")["status"] == "PENDING"
    assert call_ebay_auth("GET", "/ebay/auth/url", user="user-b")[0] == 200
    assert _connect("user-b")["context"] == {"userId": "user-b"}


def test_a_deletion_failing_at_cognito_can_be_retried_and_leaves_nothing(rest_env, new_auction):
    # Given a user with a profile and a snipe, and Cognito refusing the first deletion
    call_users("GET", "/users/profile")
    _snipe(new_auction()["legacyItemId"])
    identities = FlakyIdentities(failures=1)
    # When they delete their account and it fails at the last step
    with pytest.raises(RetryableError):
        _delete_with(identities)
    # Then their data is gone already, the account refuses its token, the user still exists
    assert _everything_of("user-a") == []
    assert call_users("GET", "/users/profile")[0] == 401
    assert identities.deleted == []
    # When they try again
    _delete_with(identities)
    # Then their Cognito user is deleted, by its username, and nothing else remains
    assert identities.deleted == ["cognito-user-a"]
    assert _everything_of("user-a") == []


class DeletedWhileReading:
    """The users repository, with the account's deletion beginning right after the request's
    profile read: the request saw a live account, the deletion's mark lands before its write."""

    def __init__(self, users: UsersRepository) -> None:
        self.users = users
        self.reads = 0

    def get_live(self, user_id: str) -> Any:
        profile = self.users.get_live(user_id)
        self.reads += 1
        if self.reads == 1:
            self.users.mark_deleted(user_id, int(time.time() * 1000))
        return profile


def _create(users: Any, scheduler: Any, item: str) -> None:
    create_snipe(
        "user-a",
        NewSnipe(item, 5000, None, None, None),
        SimpleNamespace(
            users=users, bids=stack_env.bids_repo(), scheduler=scheduler, snipe_cap=roomy_cap()
        ),
        stack_env.ebay_client(),
        time.time,
        get_settings().history_ttl_days,
    )


def test_a_snipe_whose_owner_begins_deleting_the_account_meanwhile_is_not_written(
    rest_env, new_auction
):
    # Given a user whose account deletion begins after POST /bids read their live profile
    call_users("GET", "/users/profile")
    lot = new_auction()["legacyItemId"]
    schedules = _schedule_names()
    users = DeletedWhileReading(stack_env.users_repo())
    # When the request goes on to store the snipe
    # Then it is refused as any call on a deleted account is
    with pytest.raises(AccountDeletedError):
        _create(users, stack_env.snipe_scheduler(), lot)
    # and nothing was written that the deletion's sweep could miss: no snipe, guard or history,
    # and no schedule
    assert call_bids("GET", "/bids")[0] == 200
    assert stack_env.bids_repo().all_keys("user-a") == []
    assert not [k for k in stack_env.users_repo().owned_keys("user-a") if k.startswith("SNIPE#")]
    assert _schedule_names() == schedules


class DeletingBeforeWaking:
    """The snipe scheduler, with the whole account deletion running after the snipe was stored
    and before its schedule is made: the deletion sweeps the snipe but finds no schedule yet."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.deletions = 0

    def wake(self, user_id: str, bid_id: str, fire_at: int, now: float) -> str:
        if not self.deletions:
            self.deletions += 1
            delete_account(
                user_id,
                AccountParts(
                    users=stack_env.users_repo(),
                    bids=stack_env.bids_repo(),
                    history=stack_env.history_repo(),
                    connections=stack_env.connections_repo(),
                    groups=stack_env.groups_repo(),
                    scheduler=self.scheduler,
                    socket_closer=FakeSocketCloser(),
                    identities=FakeIdentities(),
                ),
            )
        return str(self.scheduler.wake(user_id, bid_id, fire_at, now))

    def cancel(self, bid_ids: Any) -> None:
        self.scheduler.cancel(bid_ids)


def test_a_schedule_made_after_the_accounts_deletion_swept_is_taken_back(rest_env, new_auction):
    # Given a user whose snipe is stored, then their account deleted before its schedule is made
    call_users("GET", "/users/profile")
    lot = new_auction()["legacyItemId"]
    schedules = _schedule_names()
    scheduler = DeletingBeforeWaking(stack_env.snipe_scheduler())
    # When the request makes the schedule
    # Then it finds the account deleted and the request is refused
    with pytest.raises(AccountDeletedError):
        _create(stack_env.users_repo(), scheduler, lot)
    # and the deletion left nothing: no snipe, history or guard, and no schedule
    assert scheduler.deletions == 1
    assert _everything_of("user-a") == []
    assert _schedule_names() == schedules


def test_an_oauth_state_whose_owner_begins_deleting_the_account_meanwhile_is_not_written(
    rest_env,
):
    # Given a user whose account deletion begins after GET /ebay/auth/url read their profile
    call_users("GET", "/users/profile")
    users = DeletedWhileReading(stack_env.users_repo())
    # When the request goes on to store its OAuth state
    # Then it is refused, and no state of theirs exists for the deletion's sweep to miss
    with pytest.raises(AccountDeletedError):
        start_linking(
            "user-a", users, stack_env.ebay_links_repo(), stack_env.ebay_client(), time.time
        )
    assert not [
        k for k in stack_env.users_repo().owned_keys("user-a") if k.startswith("OAUTHSTATE#")
    ]
