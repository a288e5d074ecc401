"""OAuth against the simulator: consent page, code grant, refresh, client credentials."""

from __future__ import annotations

import httpx
from sim_http_helpers import BIDDER_SCOPES, SimEnv

from local.ebay_sim.config import API_SCOPE, IDENTITY_SCOPE, OFFER_SCOPE
from local.ebay_sim.testing import TEST_CONFIG

AUTHORIZE_PARAMS = {
    "client_id": TEST_CONFIG.client_id,
    "redirect_uri": TEST_CONFIG.ru_name,
    "response_type": "code",
    "scope": BIDDER_SCOPES,
    "state": "csrf-123",
}


def test_full_round_trip(sim_env: SimEnv) -> None:
    # Given the consent page for our app
    page = sim_env.client.get("/oauth2/authorize", params=AUTHORIZE_PARAMS)
    assert page.status_code == 200
    assert '<form method="post" action="/oauth2/authorize">' in page.text
    assert 'name="state" value="csrf-123"' in page.text
    # When a new eBay user signs in and agrees
    form = {**AUTHORIZE_PARAMS, "username": "alice", "password": "x", "approve": "yes"}
    redirect = sim_env.client.post("/oauth2/authorize", data=form)
    # Then they are sent to the accept URL with a code and our state
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["Location"])
    assert str(location).startswith(TEST_CONFIG.accept_url)
    assert location.params["state"] == "csrf-123"
    code = location.params["code"]
    assert code.startswith("v^1.1#i^1#")
    # When the code is exchanged
    grant = sim_env.exchange(code)
    # Then eBay's user token response comes back
    assert grant.status_code == 200
    body = grant.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "token_type",
    }
    assert body["token_type"] == "User Access Token"
    assert body["expires_in"] == 7200
    assert body["refresh_token_expires_in"] == 47_304_000
    assert body["access_token"].startswith("v^1.1#i^1#")
    # and the user exists as a simulated eBay account
    accounts = sim_env.client.get("/_sim/accounts").json()["accounts"]
    assert [a["username"] for a in accounts] == ["alice"]
    # When the refresh token is used, with and without a narrower scope
    refreshed = sim_env.client.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        headers=sim_env.basic_auth(),
    )
    narrower = sim_env.client.post(
        "/identity/v1/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "scope": OFFER_SCOPE,
        },
        headers=sim_env.basic_auth(),
    )
    # Then new user access tokens come back, as eBay answers a refresh (no new refresh token)
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access_token", "expires_in", "token_type"}
    assert refreshed.json()["token_type"] == "User Access Token"
    assert narrower.status_code == 200
    # When the application asks for its own token
    app = sim_env.client.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "client_credentials", "scope": API_SCOPE},
        headers=sim_env.basic_auth(),
    )
    # Then it is an application token
    assert app.status_code == 200
    assert set(app.json()) == {"access_token", "expires_in", "token_type"}
    assert app.json()["token_type"] == "Application Access Token"


def test_declining_redirects_with_access_denied(sim_env: SimEnv) -> None:
    # Given the consent page / When the user declines
    form = {**AUTHORIZE_PARAMS, "username": "alice", "approve": "no"}
    redirect = sim_env.client.post("/oauth2/authorize", data=form)
    # Then they go to the decline URL with error=access_denied and the state
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["Location"])
    assert str(location).startswith(TEST_CONFIG.decline_url)
    assert location.params["error"] == "access_denied"
    assert location.params["state"] == "csrf-123"


def test_unknown_client_or_redirect_uri_gets_an_error_page(sim_env: SimEnv) -> None:
    # Given a wrong client_id or a redirect_uri that is not the RuName
    wrong_client = {**AUTHORIZE_PARAMS, "client_id": "someone-else"}
    wrong_redirect = {**AUTHORIZE_PARAMS, "redirect_uri": "https://evil.example/cb"}
    # When the consent page is requested or posted / Then 400
    assert sim_env.client.get("/oauth2/authorize", params=wrong_client).status_code == 400
    assert sim_env.client.get("/oauth2/authorize", params=wrong_redirect).status_code == 400
    posted = sim_env.client.post(
        "/oauth2/authorize", data={**wrong_redirect, "username": "a", "approve": "yes"}
    )
    assert posted.status_code == 400


def test_code_is_single_use_and_bound_to_the_runame(sim_env: SimEnv) -> None:
    # Given a code / When it is used with another redirect_uri / Then invalid_grant
    code = sim_env.authorize("alice")
    wrong = sim_env.client.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": "other"},
        headers=sim_env.basic_auth(),
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    # Given a fresh code / When it is used twice / Then the second use is invalid_grant
    code = sim_env.authorize("alice")
    assert sim_env.exchange(code).status_code == 200
    again = sim_env.exchange(code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_code_expires_after_five_minutes(sim_env: SimEnv) -> None:
    # Given a code / When the clock moves on five minutes / Then it no longer works
    code = sim_env.authorize("alice")
    sim_env.sim.set_skew(300_000)
    expired = sim_env.exchange(code)
    assert expired.status_code == 400
    assert expired.json()["error"] == "invalid_grant"


def test_token_endpoint_errors(sim_env: SimEnv) -> None:
    # Given bad client credentials / When any grant is asked / Then 401 invalid_client
    bad = sim_env.client.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("wrong", "credentials"),
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    # Given good credentials / When the grant type, refresh token or scope is wrong
    unsupported = sim_env.client.post(
        "/identity/v1/oauth2/token", data={"grant_type": "password"}, headers=sim_env.basic_auth()
    )
    unknown_refresh = sim_env.client.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "v^1.1#nope"},
        headers=sim_env.basic_auth(),
    )
    refresh = sim_env.exchange(sim_env.authorize("alice", API_SCOPE)).json()["refresh_token"]
    wider = sim_env.client.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, "scope": OFFER_SCOPE},
        headers=sim_env.basic_auth(),
    )
    # Then eBay's OAuth errors come back
    assert (unsupported.status_code, unsupported.json()["error"]) == (
        400,
        "unsupported_grant_type",
    )
    assert (unknown_refresh.status_code, unknown_refresh.json()["error"]) == (400, "invalid_grant")
    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")


def test_expired_or_unknown_access_tokens_get_1001(sim_env: SimEnv) -> None:
    # Given a user token and an item
    token = sim_env.user_token("alice")
    item = sim_env.create_auction(endsInSeconds=100_000)["itemId"]
    assert sim_env.item(token, item).status_code == 200
    # When the token is unknown, or the clock passes its lifetime
    unknown = sim_env.item("v^1.1#i^1#made-up", item)
    sim_env.sim.set_skew(7_200_000)
    expired = sim_env.item(token, item)
    # Then eBay's 401 with errorId 1001
    for response in (unknown, expired):
        assert response.status_code == 401
        assert sim_env.error_ids(response) == [1001]
        assert response.json()["errors"][0]["message"] == "Invalid access token"


def test_identity_names_the_signed_in_account(sim_env: SimEnv) -> None:
    # Given a user token with the identity scope and one without
    with_identity = sim_env.user_token("alice", scope=f"{BIDDER_SCOPES} {IDENTITY_SCOPE}")
    without = sim_env.user_token("bob")
    # When each asks who it is
    me = sim_env.client.get(
        "/commerce/identity/v1/user/", headers={"Authorization": f"Bearer {with_identity}"}
    )
    denied = sim_env.client.get(
        "/commerce/identity/v1/user/", headers={"Authorization": f"Bearer {without}"}
    )
    # Then the first learns its eBay username and user id; the second gets 403 1100
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.json()["userId"]
    assert (denied.status_code, sim_env.error_ids(denied)) == (403, [1100])
