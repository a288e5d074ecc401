"""The simulator plays eBay's Marketplace Account Deletion notifications: getPublicKey with an
application token, the endpoint challenge before a subscription, and signed notices that the
product's verifier (common/ebay/notifications.py, written from eBay's SDKs) accepts."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr
from sim_http_helpers import SimEnv

from common.ebay.client import EbayClient
from common.ebay.config import EbayConfig, RetryPolicy
from common.ebay.credentials import AppCredentials
from common.ebay.errors import EbayError
from common.ebay.models import NotificationPublicKey
from common.ebay.notifications import (
    PublicKeys,
    challenge_response,
    parse_signature_header,
    verify,
)
from local.ebay_sim.testing import TEST_CONFIG
from local.testing import serving_app

TOKEN = "sim_verification-token_0123456789abcdef"


class Endpoint:
    """A webhook that answers the challenge for a configured token and keeps what it got."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.url = ""
        self.notices: list[tuple[bytes, str]] = []

    def app(self) -> web.Application:
        async def challenge(request: web.Request) -> web.Response:
            code = request.query["challenge_code"]
            return web.json_response(
                {"challengeResponse": challenge_response(code, self.token, self.url)}
            )

        async def notice(request: web.Request) -> web.Response:
            self.notices.append((await request.read(), request.headers["X-EBAY-SIGNATURE"]))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_get("/hook", challenge)
        app.router.add_post("/hook", notice)
        return app


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    hook = Endpoint(TOKEN)
    with serving_app(hook.app()) as base:
        hook.url = f"{base}/hook"
        yield hook


def _subscribe(sim_env: SimEnv, endpoint: str, token: str = TOKEN) -> httpx.Response:
    return sim_env.client.post(
        "/_sim/notifications/destination",
        json={"endpoint": endpoint, "verificationToken": token},
        timeout=30,
    )


def _public_key(sim_env: SimEnv, kid: str, token: str) -> httpx.Response:
    return sim_env.client.get(
        f"/commerce/notification/v1/public_key/{kid}",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_get_public_key_takes_an_application_token_only(sim_env: SimEnv) -> None:
    # Given the simulator's key id
    kid = sim_env.sim.notifications.key_id
    # When getPublicKey is called without a token, with a user token, with an app token
    anonymous = sim_env.client.get(f"/commerce/notification/v1/public_key/{kid}")
    as_user = _public_key(sim_env, kid, sim_env.user_token("some_buyer"))
    as_app = _public_key(sim_env, kid, sim_env.app_token())
    # Then only the application token gets eBay's PublicKey shape
    assert anonymous.status_code == 401
    assert (as_user.status_code, sim_env.error_ids(as_user)) == (403, [1100])
    assert as_app.status_code == 200
    key = as_app.json()
    assert (key["algorithm"], key["digest"]) == ("ECDSA", "SHA1")
    assert key["key"].startswith("-----BEGIN PUBLIC KEY-----MF")
    assert "\n" not in key["key"]


def test_an_unknown_key_id_is_eBays_404(sim_env: SimEnv) -> None:
    answer = _public_key(sim_env, "9936261a-7d7b-4621-a0f1-96ccb428af49", sim_env.app_token())
    assert (answer.status_code, sim_env.error_ids(answer)) == (404, [195001])


def test_a_wrong_challenge_answer_subscribes_nothing(sim_env: SimEnv, endpoint: Endpoint) -> None:
    # Given an endpoint that hashes another token than the one registered
    endpoint.token = "another_token_entirely_0123456789abcdef"
    # When the endpoint is registered
    answer = _subscribe(sim_env, endpoint.url)
    # Then eBay refuses it, and no notice can be sent
    assert answer.status_code == 409
    assert sim_env.client.get("/_sim/notifications/destination").json() == {"endpoint": None}
    sent = sim_env.client.post("/_sim/notifications/account_deletion", json={"username": "x"})
    assert sent.status_code == 409


@pytest.mark.parametrize("token", ["short", "x" * 81, "has spaces in it but is long enough!!"])
def test_tokens_outside_eBays_rules_are_refused(sim_env: SimEnv, token: str) -> None:
    assert _subscribe(sim_env, "http://127.0.0.1:9/hook", token).status_code == 400


def test_a_notice_is_signed_as_eBay_signs_it(sim_env: SimEnv, endpoint: Endpoint) -> None:
    # Given a subscribed endpoint, and an eBay account
    assert _subscribe(sim_env, endpoint.url).status_code == 200
    account = sim_env.sim.ensure_account("closing_buyer")
    # When eBay tells it the account was deleted
    sent = sim_env.client.post(
        "/_sim/notifications/account_deletion", json={"username": "closing_buyer"}, timeout=30
    )
    # Then the endpoint got the notice eBay's contract describes, with the header eBay sends
    assert sent.status_code == 200
    assert sent.json()["status"] == 204
    [(body, header)] = endpoint.notices
    notice: dict[str, Any] = json.loads(body)
    assert notice["metadata"]["topic"] == "MARKETPLACE_ACCOUNT_DELETION"
    assert notice["notification"]["data"]["userId"] == account.user_id
    assert notice["notification"]["data"]["username"] == "closing_buyer"
    assert notice["notification"]["notificationId"] == sent.json()["notificationId"]
    decoded = json.loads(base64.b64decode(header))
    assert set(decoded) == {"alg", "kid", "signature", "digest"}
    assert (decoded["alg"], decoded["digest"]) == ("ecdsa", "SHA1")
    # And the product's verifier, with the key from getPublicKey, accepts it and nothing else
    key = NotificationPublicKey.model_validate(
        _public_key(sim_env, decoded["kid"], sim_env.app_token()).json()
    )
    parsed = parse_signature_header(header)
    assert verify(body, notice, parsed, key)
    altered = body.replace(account.user_id.encode(), b"0000000000000000")
    assert not verify(altered, json.loads(altered), parsed, key)


def _client(base_url: str) -> EbayClient:
    config = TEST_CONFIG
    return EbayClient(
        EbayConfig.for_environment(
            "local", api_base_url=base_url, retry=RetryPolicy(max_attempts=1)
        ),
        AppCredentials(
            clientId=config.client_id,
            clientSecret=SecretStr(config.client_secret),
            ruName=config.ru_name,
        ),
        http=httpx.Client(),
    )


def test_the_ebay_client_reads_the_key_and_the_cache_asks_once_per_id(sim_env: SimEnv) -> None:
    # Given the product's eBay client against the simulator, behind the key cache
    client = _client(sim_env.base_url)
    calls: list[str] = []

    def fetch(kid: str) -> NotificationPublicKey:
        calls.append(kid)
        return client.get_public_key(kid)

    keys = PublicKeys(fetch)
    kid = sim_env.sim.notifications.key_id
    unknown = "0000aaaa-0000-0000-0000-000000000000"
    # When the same ids are asked for twice
    found = [keys.get(kid), keys.get(kid), keys.get(unknown), keys.get(unknown)]
    # Then eBay was asked once per id: the key, then "no such key" (errorId 195001)
    assert (
        found[0]
        == found[1]
        == NotificationPublicKey.model_validate(sim_env.sim.notifications.public_key_json(kid))
    )
    assert found[2:] == [None, None]
    assert calls == [kid, unknown]
    with pytest.raises(EbayError) as refused:
        client.get_public_key(unknown)
    assert (refused.value.http_status, refused.value.error_id) == (404, 195001)
