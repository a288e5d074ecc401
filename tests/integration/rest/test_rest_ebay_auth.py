"""/ebay/auth/*: linking through the simulator's consent page, refused states, 409, unlink."""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from common.data.dynamo import default_client
from common.data.ebay_links import oauth_state_key
from common.data.users import ebay_account_guard_key
from rest import bids, ebay_auth
from tests import stack_env
from tests.integration.rest.conftest import make_call
from tests.integration.rest.ebay_link_helpers import (
    auth_url,
    call,
    callback,
    consent,
    link,
    link_status,
    sim_account_id,
    users_item,
    users_items,
)

pytestmark = pytest.mark.integration
bids_call = make_call(bids.handler)


def test_linking_as_a_browser_does_it_then_status_shows_linked(rest_env, ebay_sim):
    # Given a signed-in user who asks where to send their browser
    start = auth_url("user-a")
    assert start["authUrl"].startswith(f"{ebay_sim}/oauth2/authorize?")
    assert f"state={start['state']}" in start["authUrl"]
    assert start["expiresAt"] - time.time() == pytest.approx(600, abs=5)
    # When they approve on eBay's consent page and the dashboard posts the code and state back
    code, state = consent(start["authUrl"], "sniper_sam")
    assert state == start["state"]
    before = time.time()
    status, body = callback(code, state)
    # Then the link is stored, for the eBay account the user signed in with
    assert status == 200, body
    assert body["isLinked"] is True
    assert body["accountId"] == sim_account_id(ebay_sim, "sniper_sam")
    assert link_status("user-a") == body
    assert body["linkedAt"] >= int(before * 1000)
    # tokenExpiresAt is the refresh token's expiry (the simulator's ~18 months)
    assert body["tokenExpiresAt"] - time.time() == pytest.approx(47_304_000, abs=30)
    # and the profile was created, carrying the sparse index key and the account guard exists
    user = users_item("user-a")
    assert user is not None
    assert user["email"]["S"] == "user-a@example.com"
    assert user["ebayLinkState"]["S"] == "LINKED"
    guard = users_item(ebay_account_guard_key(body["accountId"]))
    assert guard is not None
    assert guard["ownerId"]["S"] == "user-a"
    # and the state is gone
    assert users_item(oauth_state_key(state)) is None


def test_the_state_is_stored_with_owner_expiry_and_ttl(rest_env):
    # When a user asks for the URL
    start = auth_url("user-a")
    # Then the state guard holds its owner, expiry and the table's TTL attribute
    item = users_item(oauth_state_key(start["state"]))
    assert item is not None
    assert item["ownerId"]["S"] == "user-a"
    assert int(item["expiresAt"]["N"]) == start["expiresAt"]
    assert int(item["ttl"]["N"]) == start["expiresAt"]


def test_a_replayed_state_is_refused_and_changes_nothing(rest_env):
    # Given a user who linked with a state
    start = auth_url("user-a")
    code, state = consent(start["authUrl"], "sniper_sam")
    assert callback(code, state)[0] == 200
    linked = link_status("user-a")
    before = users_items()
    # When the same state comes back with a fresh code (a replay)
    fresh_code, _ = consent(start["authUrl"], "someone_else")
    status, body = callback(fresh_code, state)
    # Then it is refused on the state field and nothing changed
    assert status == 400
    assert body["error"]["code"] == "BAD_REQUEST"
    assert [d["field"] for d in body["error"]["details"]] == ["state"]
    assert link_status("user-a") == linked
    assert users_items() == before


def test_a_forged_state_is_refused_and_changes_nothing(rest_env):
    # Given a user who never asked for a state
    start = auth_url("user-b")
    code, _ = consent(start["authUrl"], "sniper_sam")
    before = users_items()
    # When a made-up state arrives
    status, body = callback(code, secrets.token_urlsafe(32), "user-a")
    # Then it is refused, no profile was created and nothing else changed
    assert status == 400
    assert body["error"]["details"][0]["field"] == "state"
    assert users_items() == before
    assert users_item("user-a") is None


def test_an_expired_state_is_refused_even_before_ttl_removes_it(rest_env, monkeypatch):
    # Given a state issued eleven minutes ago (TTL has not removed it yet)
    monkeypatch.setattr(ebay_auth, "clock", lambda: time.time() - 660)
    start = auth_url("user-a")
    monkeypatch.setattr(ebay_auth, "clock", time.time)
    code, state = consent(start["authUrl"], "sniper_sam")
    before = users_items()
    # When it comes back now
    status, body = callback(code, state)
    # Then it is refused and the stale state is left for TTL; nothing is linked
    assert status == 400
    assert body["error"]["details"][0]["field"] == "state"
    assert users_items() == before
    assert link_status("user-a")["isLinked"] is False


def test_another_users_state_is_refused_and_stays_usable_by_its_owner(rest_env):
    # Given user A's state and code
    start = auth_url("user-a")
    code, state = consent(start["authUrl"], "sniper_sam")
    before = users_items()
    # When user B posts them
    status, body = callback(code, state, "user-b")
    # Then B is refused, nothing changed
    assert status == 400
    assert body["error"]["details"][0]["field"] == "state"
    assert users_items() == before
    # and A can still complete the link with them
    assert callback(code, state, "user-a")[0] == 200
    assert link_status("user-b")["isLinked"] is False


def test_an_ebay_account_linked_to_another_user_is_a_conflict(rest_env):
    # Given user A linked eBay account "shared_seller"
    first = link("user-a", "shared_seller")
    # When user B links the same eBay account
    start = auth_url("user-b")
    code, state = consent(start["authUrl"], "shared_seller")
    status, body = callback(code, state, "user-b")
    # Then B gets 409 and nothing of A's link moved
    assert status == 409, body
    assert body["error"]["code"] == "CONFLICT"
    assert link_status("user-b")["isLinked"] is False
    assert link_status("user-a") == first
    guard = users_item(ebay_account_guard_key(first["accountId"]))
    assert guard is not None
    assert guard["ownerId"]["S"] == "user-a"


def test_relinking_the_same_account_by_its_owner_works(rest_env):
    # Given a linked user
    first = link("user-a", "sniper_sam")
    # When they link the same eBay account again (e.g. to renew consent)
    second = link("user-a", "sniper_sam")
    # Then it succeeds with fresh tokens
    assert second["accountId"] == first["accountId"]
    assert second["linkedAt"] >= first["linkedAt"]


def test_relinking_to_another_account_releases_the_old_one(rest_env):
    # Given user A linked to "old_account"
    old = link("user-a", "old_account")
    # When A links "new_account" instead
    new = link("user-a", "new_account")
    # Then the old account's guard is released, so user B may link it
    assert new["accountId"] != old["accountId"]
    assert users_item(ebay_account_guard_key(old["accountId"])) is None
    assert link("user-b", "old_account")["isLinked"] is True


def test_unlink_keeps_snipes_reports_them_and_releases_the_account(rest_env, new_auction):
    # Given a linked user with one pending snipe
    first = link("user-a", "sniper_sam")
    auction = new_auction()
    status, _ = bids_call(
        "POST", "/bids", body={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 5000}
    )
    assert status == 201
    # When they unlink
    status, body = call("DELETE", "/ebay/auth/unlink")
    # Then the answer says one snipe is kept (it cannot fire until re-linked)
    assert status == 200
    assert body == {"unlinked": True, "pendingSnipes": 1}
    status, listed = bids_call("GET", "/bids")
    assert [b["status"] for b in listed["items"]] == ["PENDING"]
    # and the tokens and the guard are gone
    assert link_status("user-a") == {
        "isLinked": False,
        "accountId": None,
        "linkedAt": None,
        "tokenExpiresAt": None,
    }
    user = users_item("user-a")
    assert user is not None
    assert not {"ebayTokens", "ebayAccountId", "ebayLinkState"} & set(user)
    assert users_item(ebay_account_guard_key(first["accountId"])) is None
    # and unlinking again is a clear no-op
    assert call("DELETE", "/ebay/auth/unlink") == (200, {"unlinked": False, "pendingSnipes": 1})


def test_status_of_a_user_without_a_profile(rest_env):
    # When someone who never used the API asks
    status = link_status("nobody")
    # Then they are not linked, and no profile is created by asking
    assert status["isLinked"] is False
    assert users_item("nobody") is None


def test_a_refused_code_is_a_bad_request_on_the_code(rest_env):
    # Given a valid state
    start = auth_url("user-a")
    # When the code is not one eBay issued
    status, body = callback("v^1.1#made-up-code", start["state"])
    # Then eBay's invalid_grant becomes 400 on the code field
    assert status == 400
    assert body["error"]["details"][0]["field"] == "code"
    assert link_status("user-a")["isLinked"] is False


def test_tokens_are_never_stored_in_plaintext_nor_logged(rest_env, capsys, caplog):
    # Given the handlers' logs captured at DEBUG
    caplog.set_level(logging.DEBUG)
    # When a user links their account
    start = auth_url("user-a")
    code, state = consent(start["authUrl"], "sniper_sam")
    assert callback(code, state)[0] == 200
    # Then the stored envelope opens to real tokens
    envelope = users_item("user-a")["ebayTokens"]["S"]
    tokens = stack_env.token_cipher().decrypt("user-a", envelope)
    access = tokens.access_token.get_secret_value()
    refresh = tokens.refresh_token.get_secret_value()
    assert access.startswith("v^1.1")
    assert refresh.startswith("v^1.1")
    # but no item of the Users table carries either token, nor the code, in plaintext
    table_dump = json.dumps(users_items())
    for secret in (access, refresh, code):
        assert secret not in table_dump
    # and no log line carries them
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    logged += "".join(str(r.__dict__) for r in caplog.records)
    for secret in (access, refresh, code):
        assert secret not in logged
    # and the envelope is bound to its user
    from common.token_crypto import TokenDecryptionError

    with pytest.raises(TokenDecryptionError):
        stack_env.token_cipher().decrypt("user-b", envelope)


def test_no_caller_is_unauthorized(rest_env):
    # When a request carries no verified identity
    status, body = call("GET", "/ebay/auth/url", user=None)
    # Then it is 401
    assert status == 401
    assert body["error"]["code"] == "UNAUTHORIZED"


def test_a_database_that_does_not_answer_is_a_503_naming_why(rest_env):
    # Given DynamoDB does not answer a read in time, on botocore's first attempt and its retry
    # (sent at once here, without its backoff)
    events = default_client().meta.events

    def time_out(request: Any, **_: Any) -> None:
        raise ReadTimeoutError(endpoint_url=request.url)

    def retry_at_once(attempts: int, caught_exception: Any = None, **_: Any) -> int | None:
        return 0 if attempts == 1 and isinstance(caught_exception, ReadTimeoutError) else None

    events.register("before-send.dynamodb.GetItem", time_out)
    events.register_first("needs-retry.dynamodb.GetItem", retry_at_once)
    try:
        # When the link status is asked for (a read that was outside translate_errors)
        status, body = call("GET", "/ebay/auth/status", user="user-a")
    finally:
        events.unregister("before-send.dynamodb.GetItem", time_out)
        events.unregister("needs-retry.dynamodb.GetItem", retry_at_once)
    # Then the client gets 503 with the error's JSON body, not a 500 that names nothing
    assert status == 503, body
    assert body["error"]["code"] == "RETRYABLE"
    assert body["error"]["message"] == "The database did not answer in time; try again"
