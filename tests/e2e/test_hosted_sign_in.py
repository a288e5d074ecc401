"""The deployed sign-in on the local stack: the Cognito Hosted UI stand-in (local/hosted_ui.py)
with authorization code + PKCE (S256), refresh, userInfo and sign-out, backed by the local user
pool; and every route taking Cognito's ID and access tokens alike, a new user's first request
(POST /ebay/auth/callback, GET /users/profile) included."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest

from local.lambda_runtime import new_containers
from local.testing import RunningStack, link_ebay_account, running_stack

pytestmark = pytest.mark.e2e

PASSWORD = "Hosted-Sign-In-2024!"
_users = count(1)


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    new_containers()
    with running_stack(aws_endpoint_url=aws_endpoint, demo=False, hosted_dashboard=True) as stack:
        yield stack
    new_containers()


@dataclass
class Client:
    """The deployed dashboard's app client, as its config.js names it."""

    hosted_ui: str
    client_id: str
    redirect_uri: str
    logout_uri: str


@pytest.fixture(scope="module")
def app_client(running: RunningStack) -> Client:
    config = running.stack.hosted_dashboard.config  # type: ignore[union-attr]
    return Client(config.cognito_domain, config.client_id, config.redirect_uri, config.logout_uri)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _new_user(running: RunningStack) -> str:
    email = f"hosted{next(_users)}-{secrets.token_hex(3)}@example.com"
    answer = httpx.post(
        f"{running.base_url}/local/signup", json={"email": email, "password": PASSWORD}
    )
    answer.raise_for_status()
    return email


def _authorize(client: Client, verifier: str, **override: str) -> tuple[str, dict[str, str]]:
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email profile",
        "state": "st-1",
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
        **override,
    }
    return f"{client.hosted_ui}/oauth2/authorize?{urlencode(query)}", query


def _code(client: Client, email: str, verifier: str, password: str = PASSWORD) -> str:
    """Through the Hosted UI as a browser goes: authorize, the sign-in form, back with a code."""
    url, _ = _authorize(client, verifier)
    to_login = httpx.get(url)
    assert to_login.status_code == 302
    login_url = to_login.headers["Location"]
    assert "/login?" in login_url
    assert httpx.get(login_url).status_code == 200
    back = httpx.post(login_url, data={"username": email, "password": password})
    assert back.status_code == 302, back.text
    location = urlparse(back.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == client.redirect_uri
    answer = parse_qs(location.query)
    assert answer["state"] == ["st-1"]
    return answer["code"][0]


def _token(client: Client, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{client.hosted_ui}/oauth2/token", data={"client_id": client.client_id, **fields}
    )


def _hosted_tokens(client: Client, email: str) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    code = _code(client, email, verifier)
    answer = _token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
        code_verifier=verifier,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# ------------------------------------------------------------------------------ the Hosted UI


def test_sign_in_with_a_code_and_pkce_then_refresh(running: RunningStack, app_client: Client):
    # Given a user of the local pool
    email = _new_user(running)
    # When they sign in through the Hosted UI and the dashboard trades the code
    tokens = _hosted_tokens(app_client, email)
    # Then it has Cognito's three tokens: the ID token with the email, the access token with
    # the granted scopes and no email
    id_claims, access_claims = _claims(tokens["id_token"]), _claims(tokens["access_token"])
    assert id_claims["email"] == email
    assert id_claims["aud"] == app_client.client_id
    assert id_claims["token_use"] == "id"
    assert access_claims["token_use"] == "access"
    assert access_claims["client_id"] == app_client.client_id
    assert set(access_claims["scope"].split()) == {"openid", "email", "profile"}
    assert "email" not in access_claims
    assert tokens["refresh_token"]
    # And the API takes them
    headers = {"Authorization": f"Bearer {tokens['id_token']}"}
    assert httpx.get(f"{running.base_url}/users/profile", headers=headers).status_code == 200
    # When the dashboard refreshes
    refreshed = _token(
        app_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    # Then new ID and access tokens come back, and no new refresh token (Cognito keeps it)
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"id_token", "access_token", "expires_in", "token_type"}
    assert _claims(refreshed.json()["id_token"])["sub"] == id_claims["sub"]


def test_a_code_needs_its_verifier_and_is_good_once(running: RunningStack, app_client: Client):
    email = _new_user(running)
    verifier = secrets.token_urlsafe(48)
    code = _code(app_client, email, verifier)
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app_client.redirect_uri,
    }
    # A wrong verifier is refused, and spends the code
    wrong = _token(app_client, **exchange, code_verifier=secrets.token_urlsafe(48))
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant"}
    assert _token(app_client, **exchange, code_verifier=verifier).status_code == 400
    # A fresh code with its verifier works once
    code = _code(app_client, email, verifier)
    assert _token(app_client, **{**exchange, "code": code}, code_verifier=verifier).is_success
    again = _token(app_client, **{**exchange, "code": code}, code_verifier=verifier)
    assert again.status_code == 400


def test_the_hosted_ui_refuses_foreign_callbacks_plain_pkce_and_wrong_passwords(
    running: RunningStack, app_client: Client
):
    verifier = secrets.token_urlsafe(48)
    # A callback URL the app client does not list: an error page, no redirect
    url, _ = _authorize(app_client, verifier, redirect_uri="https://evil.example/cb")
    assert httpx.get(url).status_code == 400
    # PKCE's plain method: back to the callback with invalid_request (Cognito takes S256 only)
    url, _ = _authorize(app_client, verifier, code_challenge_method="plain")
    answer = httpx.get(url)
    assert answer.status_code == 302
    assert parse_qs(urlparse(answer.headers["Location"]).query)["error"] == ["invalid_request"]
    # A scope the client is not allowed
    url, _ = _authorize(app_client, verifier, scope="openid phone")
    assert "error=invalid_scope" in httpx.get(url).headers["Location"]
    # A wrong password: the form again, saying so
    email = _new_user(running)
    login = httpx.get(_authorize(app_client, verifier)[0]).headers["Location"]
    refused = httpx.post(login, data={"username": email, "password": "Wrong-Password-1!"})
    assert refused.status_code == 400
    assert "Incorrect username or password." in refused.text


def test_userinfo_answers_the_hosted_uis_access_tokens_only(
    running: RunningStack, app_client: Client
):
    email = _new_user(running)
    hosted = _hosted_tokens(app_client, email)
    userinfo = f"{app_client.hosted_ui}/oauth2/userInfo"
    answer = httpx.get(userinfo, headers={"Authorization": f"Bearer {hosted['access_token']}"})
    assert answer.status_code == 200
    assert answer.json()["email"] == email
    assert answer.json()["sub"] == _claims(hosted["id_token"])["sub"]
    # An ID token, or the user pool API's access token (no openid scope), as Cognito: refused
    api = httpx.post(
        f"{running.base_url}/local/login", json={"username": email, "password": PASSWORD}
    ).json()
    for token in (hosted["id_token"], api["accessToken"]):
        assert httpx.get(userinfo, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_sign_out_returns_only_to_a_sign_out_url(running: RunningStack, app_client: Client):
    logout = f"{app_client.hosted_ui}/logout"
    ok = httpx.get(
        logout, params={"client_id": app_client.client_id, "logout_uri": app_client.logout_uri}
    )
    assert ok.status_code == 302
    assert ok.headers["Location"] == app_client.logout_uri
    other = {"client_id": app_client.client_id, "logout_uri": "https://evil.example/"}
    assert httpx.get(logout, params=other).status_code == 400


# ------------------------------------------------------------------------------ token kinds


def _token_of(running: RunningStack, app_client: Client, email: str, kind: str) -> str:
    if kind.startswith("hosted"):
        tokens = _hosted_tokens(app_client, email)
        return str(tokens["id_token" if kind == "hosted-id" else "access_token"])
    login = {"username": email, "password": PASSWORD}
    tokens = httpx.post(f"{running.base_url}/local/login", json=login).json()
    return str(tokens["idToken" if kind == "api-id" else "accessToken"])


@pytest.mark.parametrize("kind", ["hosted-id", "hosted-access", "api-id", "api-access"])
def test_a_new_users_first_request_takes_either_token(
    running: RunningStack, app_client: Client, kind: str
):
    """hosted-*: the Hosted UI's tokens (the deployed dashboard's); api-*: InitiateAuth's."""
    http = httpx.Client(base_url=running.base_url, timeout=30)
    # Given a new user (no profile yet) signed in with an ID or an access token
    email = _new_user(running)
    headers = {"Authorization": f"Bearer {_token_of(running, app_client, email, kind)}"}
    # When their first request links eBay (POST /ebay/auth/callback makes the profile)
    link_ebay_account(http, headers, f"buyer_{kind.replace('-', '_')}_{secrets.token_hex(3)}")
    # Then the profile has their sign-in email and the link
    profile = http.get("/users/profile", headers=headers)
    assert profile.status_code == 200, profile.text
    assert profile.json()["email"] == email
    assert http.get("/ebay/auth/status", headers=headers).json()["isLinked"] is True
    # And another new user's first request, GET /users/profile, makes it too
    email = _new_user(running)
    headers = {"Authorization": f"Bearer {_token_of(running, app_client, email, kind)}"}
    first = http.get("/users/profile", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["email"] == email
