"""The whole local stack in this process: info, sign-up/log-in, and a real API call."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local.testing import RunningStack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    with running_stack(aws_endpoint_url=aws_endpoint) as stack:
        yield stack


def test_info_lists_every_url_the_demo_user_and_in_memory_state(
    running: RunningStack, aws_endpoint: str
) -> None:
    # When the stack is asked about itself
    info = httpx.get(f"{running.base_url}/local/info").json()

    # Then it names its URLs, the demo credentials and the eBay app keyset
    assert info["state"] == "in-memory"
    assert info["restBaseUrl"].endswith(f":{running.stack.bound_port}")
    assert info["ebaySimulatorUrl"] == running.sim_url
    assert info["awsEndpointUrl"] == aws_endpoint
    assert info["openapiUrl"] == f"{info['restBaseUrl']}/openapi.json"
    assert info["websocketUrl"].startswith("ws://localhost:")
    assert info["emailSinkUrl"] == f"{info['restBaseUrl']}/local/emails"
    assert info["demoUser"] == {"username": "demo@example.com", "password": "Demo-Sniper-2024"}
    assert set(info["ebayApp"]) == {"clientId", "clientSecret", "ruName"}
    assert info["demoEbayUsername"] == "demo_ebay_buyer"


def test_signup_login_refresh_round_trip(running: RunningStack) -> None:
    base = running.base_url
    # Given a new account
    created = httpx.post(
        f"{base}/local/signup", json={"email": "new@example.com", "password": "Brand-New-Pass1"}
    )
    assert created.status_code == 201

    # When the user logs in and refreshes
    tokens = httpx.post(
        f"{base}/local/login", json={"username": "new@example.com", "password": "Brand-New-Pass1"}
    ).json()
    refreshed = httpx.post(f"{base}/local/refresh", json={"refreshToken": tokens["refreshToken"]})

    # Then both give Cognito tokens
    assert set(tokens) >= {"idToken", "accessToken", "refreshToken", "expiresIn"}
    assert refreshed.status_code == 200
    assert refreshed.json()["idToken"]


def test_signup_refuses_duplicates_and_weak_passwords(running: RunningStack) -> None:
    base = running.base_url
    duplicate = httpx.post(
        f"{base}/local/signup", json={"email": "demo@example.com", "password": "Another-Pass12"}
    )
    weak = httpx.post(f"{base}/local/signup", json={"email": "w@example.com", "password": "short"})
    no_digit = httpx.post(
        f"{base}/local/signup", json={"email": "w@example.com", "password": "NoDigitsHere-x"}
    )
    assert duplicate.status_code == 409
    assert (weak.status_code, weak.json()["message"]) == (
        400,
        "Password did not conform with policy: Password not long enough",
    )
    assert no_digit.json()["message"].endswith("Password must have numeric characters")
    # (the template's policy requires one of Cognito's symbols; a letter outside ASCII is none)
    no_symbol = httpx.post(
        f"{base}/local/signup", json={"email": "w@example.com", "password": "NoSymbolsHere12é"}
    )
    assert no_symbol.json()["message"].endswith("Password must have symbol characters")


def test_usernames_are_case_insensitive(running: RunningStack) -> None:
    # Given a user who signed up with capitals in their address
    base = running.base_url
    signup = httpx.post(
        f"{base}/local/signup",
        json={"email": "Mixed.Case@Example.com", "password": "Mixed-Case-2024"},
    )
    assert signup.status_code == 201
    # When they sign in typing it in lower case / Then it is the same user
    login = httpx.post(
        f"{base}/local/login",
        json={"username": "mixed.case@example.com", "password": "Mixed-Case-2024"},
    )
    assert login.status_code == 200
    # And signing up again with other capitals is refused as a duplicate
    again = httpx.post(
        f"{base}/local/signup",
        json={"email": "MIXED.CASE@example.com", "password": "Mixed-Case-2024"},
    )
    assert again.status_code == 409


def test_wrong_password_is_401(running: RunningStack) -> None:
    for username in ("demo@example.com", "nobody@example.com"):
        response = httpx.post(
            f"{running.base_url}/local/login",
            json={"username": username, "password": "Wrong-1234xx"},
        )
        assert response.status_code == 401


def test_the_demo_user_reaches_the_real_api(running: RunningStack) -> None:
    # Given the demo user's id token
    tokens = httpx.post(
        f"{running.base_url}/local/login",
        json={"username": "demo@example.com", "password": "Demo-Sniper-2024"},
    ).json()

    # When the real UsersFunction is called through the gateway, with and without the token
    signed_in = httpx.get(
        f"{running.base_url}/users/profile",
        headers={"Authorization": f"Bearer {tokens['idToken']}"},
    )
    anonymous = httpx.get(f"{running.base_url}/users/profile")

    # Then the authorizer lets the first through to the handler and stops the second
    assert signed_in.status_code not in (401, 500), signed_in.text
    assert anonymous.status_code == 401
    assert running.stack.runtime is not None
    assert running.stack.runtime.stats["UsersFunction"].invocations >= 1


def test_openapi_and_docs_are_served(running: RunningStack) -> None:
    document = httpx.get(f"{running.base_url}/openapi.json")
    docs = httpx.get(f"{running.base_url}/docs")
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
