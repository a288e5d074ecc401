"""The WebSocket authorizer's signing keys: fetched once for a stream of made-up kids, again
for a rotation at most once per interval, and never longer than the function can wait."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import rsa

from common import aws
from local.template import load_yaml
from realtime.auth import (
    JWKS_COLD_RETRY_SECONDS,
    JWKS_LIFESPAN_SECONDS,
    JWKS_REFETCH_SECONDS,
    JWKS_TIMEOUT,
    JWKS_WORST_SECONDS,
    InvalidToken,
    SigningKeys,
    TokenVerifier,
    fetch_jwks,
)

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
CLIENT = "client-1"
ROOT = Path(__file__).resolve().parents[3]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Pool:
    """A user pool's keys: what its JWKS endpoint serves, and tokens signed with them."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        self.down = False
        self.rotate()

    def rotate(self) -> str:
        kid = uuid.uuid4().hex
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return kid

    def jwks(self) -> dict[str, Any]:
        self.fetches += 1
        if self.down:
            raise httpx.ConnectTimeout("the JWKS endpoint did not answer")
        return {
            "keys": [
                {
                    **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())),
                    "kid": kid,
                    "alg": "RS256",
                    "use": "sig",
                }
                for kid, k in self.keys.items()
            ]
        }

    def token(self, kid: str, key: Any = None) -> str:
        now = int(time.time())
        claims = {
            "sub": "user-1",
            "iss": ISSUER,
            "aud": CLIENT,
            "token_use": "id",
            "exp": now + 600,
            "iat": now,
        }
        signer = key or self.keys[kid]
        return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def pool() -> Pool:
    return Pool()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _verifier(pool: Pool, clock: Clock) -> TokenVerifier:
    keys = SigningKeys(pool.jwks, clock=clock)
    return TokenVerifier(ISSUER, CLIENT, "unused", jwks_client=keys)


def test_a_stream_of_random_kids_costs_one_fetch(pool: Pool, clock: Clock) -> None:
    # Given a verifier that has never fetched the keys
    verifier = _verifier(pool, clock)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # When 200 tokens arrive, each with a kid the pool never had, over four minutes
    for _ in range(200):
        clock.now += 1.2
        with pytest.raises(InvalidToken):
            verifier.verify(pool.token(uuid.uuid4().hex, stranger))
    # Then the keys were fetched once
    assert pool.fetches == 1
    # And a real token still verifies, from the cache
    assert verifier.verify(pool.token(next(iter(pool.keys))))["sub"] == "user-1"
    assert pool.fetches == 1


def test_a_rotated_key_is_fetched_once_the_interval_has_passed(pool: Pool, clock: Clock) -> None:
    # Given keys fetched for a first token
    verifier = _verifier(pool, clock)
    verifier.verify(pool.token(next(iter(pool.keys))))
    # When the pool rotates and a token under the new key arrives within the interval
    new_kid = pool.rotate()
    clock.now += JWKS_REFETCH_SECONDS - 1
    with pytest.raises(InvalidToken):
        verifier.verify(pool.token(new_kid))
    assert pool.fetches == 1
    # Then once the interval has passed, one fetch finds it
    clock.now += 1
    assert verifier.verify(pool.token(new_kid))["sub"] == "user-1"
    assert verifier.verify(pool.token(new_kid))["sub"] == "user-1"
    assert pool.fetches == 2


def test_keys_are_fetched_again_when_an_hour_old_and_kept_when_the_fetch_fails(
    pool: Pool, clock: Clock
) -> None:
    verifier = _verifier(pool, clock)
    kid = next(iter(pool.keys))
    verifier.verify(pool.token(kid))
    # When an hour has passed and the JWKS endpoint is down
    clock.now += JWKS_LIFESPAN_SECONDS
    pool.down = True
    # Then the known key still verifies, and the failed fetch is not tried again at once
    for _ in range(50):
        assert verifier.verify(pool.token(kid))["sub"] == "user-1"
    assert pool.fetches == 2


def test_a_cold_start_with_the_endpoint_down_retries_every_few_seconds(
    pool: Pool, clock: Clock
) -> None:
    # Given a container whose first fetch fails
    verifier = _verifier(pool, clock)
    kid = next(iter(pool.keys))
    pool.down = True
    for _ in range(20):
        with pytest.raises(InvalidToken):
            verifier.verify(pool.token(kid))
    assert pool.fetches == 1
    # When the endpoint is back, the next fetch comes after the cold retry, not the interval
    pool.down = False
    clock.now += JWKS_COLD_RETRY_SECONDS
    assert verifier.verify(pool.token(kid))["sub"] == "user-1"
    assert pool.fetches == 2


@respx.mock
def test_the_fetch_gives_up_well_inside_the_authorizers_timeout() -> None:
    # Given the authorizer's Timeout, and its other call's worst case (the tombstone's read)
    functions = load_yaml(ROOT / "template.yaml")["Resources"]
    timeout = functions["WsAuthorizerFunction"]["Properties"]["Timeout"]
    # Then the JWKS fetch's worst case (connect, then one read of a small document) and the
    # read's end before the function does
    assert JWKS_TIMEOUT.connect + JWKS_TIMEOUT.read == pytest.approx(JWKS_WORST_SECONDS)
    assert JWKS_WORST_SECONDS + aws.worst_case_seconds(aws.CONFIG) < timeout
    # And the fetch is made with that timeout, following no redirect
    route = respx.get("https://issuer.example/jwks.json").mock(
        return_value=httpx.Response(200, json={"keys": []})
    )
    assert fetch_jwks("https://issuer.example/jwks.json") == {"keys": []}
    sent = route.calls.last.request.extensions["timeout"]
    assert sent == {"connect": 0.5, "read": 0.4, "write": 0.4, "pool": 0.4}
