"""eBay's OAuth alone (``OAuthApi``): the consent URL, the code exchange and refreshing a user's
token, with eBay played by respx."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from common.ebay.errors import InvalidGrant
from common.ebay.models import UserTokens
from common.ebay.oauth import OAuthApi

# conftest.py is not importable; this names the type of its `clock` fixture (FakeClock).
FakeClock = Any


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def test_authorization_url_carries_the_runame_scopes_and_state(oauth: OAuthApi) -> None:
    # When the user is sent to eBay to link their account
    url = oauth.authorization_url("state-123", ["scope-a", "scope-b"])
    # Then the URL is eBay's authorize page with the app's RuName as redirect_uri
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://auth.sandbox.ebay.com/oauth2/authorize"
    )
    assert query == {
        "client_id": "sniper-app-id",
        "redirect_uri": "Sniper-RuName",
        "response_type": "code",
        "scope": "scope-a scope-b",
        "state": "state-123",
    }


def test_exchange_code_posts_the_grant_with_basic_auth(
    oauth: OAuthApi, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given eBay accepting the code
    route = ebay.post("/identity/v1/oauth2/token").mock(
        return_value=httpx.Response(
            200,
            json={
                "access_token": "v^1.1#user-access",
                "expires_in": 7200,
                "refresh_token": "v^1.1#user-refresh",
                "refresh_token_expires_in": 47304000,
                "token_type": "User Access Token",
            },
        )
    )
    # When the code is exchanged
    tokens = oauth.exchange_code("auth-code")
    # Then the form and credentials are eBay's, and expiries are absolute
    request = route.calls.last.request
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": "auth-code",
        "redirect_uri": "Sniper-RuName",
    }
    expected = base64.b64encode(b"sniper-app-id:SBX-client-secret-do-not-log").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert tokens.access_token.get_secret_value() == "v^1.1#user-access"
    assert tokens.access_expires_at == int(clock.now) + 7200
    assert tokens.refresh_expires_at == int(clock.now) + 47304000
    assert "user-access" not in repr(tokens)


def test_invalid_grant_is_its_own_error(oauth: OAuthApi, ebay: respx.MockRouter) -> None:
    ebay.post("/identity/v1/oauth2/token").mock(
        return_value=httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": "the provided authorization grant code is invalid",
            },
        )
    )
    with pytest.raises(InvalidGrant):
        oauth.exchange_code("used-code")


def test_refresh_keeps_the_refresh_token_and_its_expiry(
    oauth: OAuthApi, ebay: respx.MockRouter, clock: FakeClock
) -> None:
    # Given tokens whose access part expired
    old = UserTokens(
        access_token=SecretStr("old-access"),
        access_expires_at=int(clock.now) - 10,
        refresh_token=SecretStr("the-refresh"),
        refresh_expires_at=1_800_000_000,
    )
    route = ebay.post("/identity/v1/oauth2/token").mock(
        return_value=httpx.Response(200, json={"access_token": "new-access", "expires_in": 7200})
    )
    # When refreshed
    new = oauth.refresh_user_token(old, ["scope-a"])
    # Then only the access token changed
    assert form(route.calls.last.request) == {
        "grant_type": "refresh_token",
        "refresh_token": "the-refresh",
        "scope": "scope-a",
    }
    assert new.access_token.get_secret_value() == "new-access"
    assert new.access_expires_at == int(clock.now) + 7200
    assert new.refresh_token == old.refresh_token
    assert new.refresh_expires_at == 1_800_000_000
