"""Tokens that must not let anyone in: on every REST route (the HTTP gateway's Cognito JWT
authorizer, as API Gateway checks: RS256 against the pool's JWKS, kid, iss, aud or else
client_id, exp, nbf, iat, plus token_use) and on the WebSocket ``$connect`` (the realtime
REQUEST authorizer, realtime/auth.py). Every forged token carries the victim's ``sub``, and
afterwards the victim's data is untouched: no handler ran.

tests/e2e/test_realtime_e2e.py already refuses a forged signature, an expired token and a
foreign audience at $connect; here each refusal is checked on both doors, with the rest.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import moto
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.testing import RunningStack
from rest.openapi import build_openapi
from tests import aio
from tests.integration.hostile.hostile_helpers import User, api, footprint, new_auction, sign_up

pytestmark = pytest.mark.e2e

# Every operation behind the JWT authorizer: eBay's notification endpoint (security: []) takes
# no token and proves itself by its signature (tests/e2e/test_marketplace_account_deletion.py).
OPERATIONS = sorted(
    (method.upper(), path)
    for path, methods in build_openapi()["paths"].items()
    for method, operation in methods.items()
    if operation.get("security") != []
)


def _moto_signing_key() -> Any:
    """moto signs every user pool's tokens with this one key (kid "dummy")."""
    path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    return jwt.PyJWK(json.loads(gzip.decompress(path.read_bytes()))).key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    """The algorithm-confusion attack, built by hand: PyJWT refuses to make it."""
    signing_input = _unsigned(claims, {"alg": "HS256", "typ": "JWT", "kid": "dummy"})[:-1]
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


class Forge:
    """Tokens built from the victim's real ones, each wrong in one way."""

    def __init__(self, running: RunningStack, victim: User, other: User) -> None:
        provisioned = running.stack.provisioned
        assert provisioned is not None
        self.key = _moto_signing_key()
        self.id_claims = jwt.decode(victim.id_token, options={"verify_signature": False})
        self.access_claims = jwt.decode(victim.access_token, options={"verify_signature": False})
        self.issuer = provisioned.issuer
        self.victim = victim
        self.other = other
        self.jwks = httpx.get(provisioned.jwks_url, timeout=10).json()

    def signed(self, claims: dict[str, Any], key: Any = None, kid: str = "dummy") -> str:
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})

    def id(self, **changes: Any) -> str:
        claims = {**self.id_claims, "iat": int(time.time()) - 5, "exp": int(time.time()) + 600}
        claims.update(changes)
        return self.signed({k: v for k, v in claims.items() if v is not None})

    def refused(self) -> dict[str, str]:
        now = int(time.time())
        id_claims = {**self.id_claims, "iat": now - 5, "exp": now + 600}
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        other_header, _, other_signature = self.other.id_token.split(".")
        victim_payload = self.victim.id_token.split(".")[1]
        public_pem = jwt.PyJWK(self.jwks["keys"][0]).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        jwe_header = _b64(json.dumps({"cty": "JWT", "enc": "A256GCM", "alg": "RSA-OAEP"}).encode())
        return {
            "signed by another key": self.signed(id_claims, stranger),
            "the victim's claims under another user's signature": (
                f"{other_header}.{victim_payload}.{other_signature}"
            ),
            "alg none": _unsigned(id_claims, {"alg": "none", "typ": "JWT", "kid": "dummy"}),
            "alg none, no kid": _unsigned(id_claims, {"alg": "none", "typ": "JWT"}),
            "HS256 keyed with the public key": _hs256(id_claims, public_pem),
            "an unknown kid": self.signed(id_claims, kid="not-a-key"),
            "another user pool's issuer": self.id(
                iss=self.issuer.rsplit("/", 1)[0] + "/us-east-1_SomeOtherPool"
            ),
            "an issuer with a trailing slash": self.id(iss=self.issuer + "/"),
            "no issuer": self.id(iss=None),
            "another app client's audience": self.id(aud="another-client-id"),
            "a wrong aud beside the right client_id": self.id(
                aud="another-client-id", client_id=id_claims["aud"]
            ),
            "no audience at all": self.id(aud=None),
            "an access token with a foreign aud": self.signed(
                {**self.access_claims, "aud": "another-client-id", "exp": now + 600}
            ),
            "an access token for another app client": self.signed(
                {**self.access_claims, "client_id": "another-client-id", "exp": now + 600}
            ),
            "expired a minute ago": self.id(exp=now - 60),
            "no expiry": self.id(exp=None),
            "not valid before an hour from now": self.id(nbf=now + 3600),
            "issued an hour from now": self.id(iat=now + 3600),
            "token_use refresh": self.id(token_use="refresh"),
            "no token_use": self.id(token_use=None),
            "the refresh token": self.victim.refresh_token,
            "a Cognito-shaped (JWE) refresh token": ".".join(
                [jwe_header, *(_b64(part) for part in (b"k" * 256, b"i" * 12, b"c" * 300))]
            ),
            "the id token cut short": self.victim.id_token[:-10],
            "an empty token": "",
            "not a JWT": "not.a.jwt",
        }


@pytest.fixture(scope="module")
def forge(running: RunningStack) -> Forge:
    return Forge(running, sign_up(running, "victim"), sign_up(running, "other"))


@pytest.fixture(scope="module")
def victim_bid(running: RunningStack, forge: Forge) -> str:
    auction = new_auction(running)
    response = httpx.post(
        f"{running.base_url}/bids",
        headers=forge.victim.headers,
        json={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 3000},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["bidId"])


BODIES: dict[str, dict[str, Any]] = {
    "/bids": {"ebayItemId": "123456789", "maxBidAmount": 5000},
    "/bids/{bidId}": {"maxBidAmount": 5000},
    "/users/profile": {"displayName": "Mallory"},
    "/users/preferences": {"timezone": "UTC"},
    "/ebay/auth/callback": {"code": "c", "state": "s"},
}


def _request(
    http: httpx.Client, method: str, path: str, bid_id: str, token: str | None
) -> httpx.Response:
    url = path.replace("{bidId}", bid_id).replace("{itemId}", "123456789")
    # httpx sends no header value with trailing space: an empty token is a bare "Bearer".
    headers = {} if token is None else {"Authorization": f"Bearer {token}".strip()}
    body = BODIES.get(path) if method in ("POST", "PUT") else None
    return http.request(method, url, headers=headers, json=body)


def test_every_route_refuses_every_bad_token_and_runs_nothing(
    running: RunningStack, forge: Forge, victim_bid: str
) -> None:
    # Given the victim's data as it stands, and the victim's own token working
    before = footprint(running, forge.victim)
    refused = [*forge.refused().items(), ("no Authorization header", None)]
    with api(running) as http:
        ok = _request(http, "GET", "/bids/{bidId}", victim_bid, forge.victim.id_token)
        assert ok.status_code == 200

        def attempt(case: tuple[str, str, str, str | None]) -> tuple[str, int, Any]:
            method, path, name, token = case
            response = _request(http, method, path, victim_bid, token)
            return f"{method} {path} with {name}", response.status_code, response.json()

        # When every route is called with every bad token for the victim
        cases = [(m, p, name, token) for m, p in OPERATIONS for name, token in refused]
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(attempt, cases))
    # Then the gateway answered 401 itself each time; no function ran
    wrong = [a for a in answers if a[1:] != (401, {"message": "Unauthorized"})]
    assert not wrong
    assert len(answers) == len(OPERATIONS) * len(refused)
    # And nothing of the victim changed (DELETE /users/account was among the routes)
    assert footprint(running, forge.victim) == before


def test_the_access_token_is_accepted_as_the_authorizers_allow(
    running: RunningStack, forge: Forge, victim_bid: str
) -> None:
    # Given Cognito's access token (client_id, no aud), which API Gateway's JWT authorizer and
    # the WebSocket authorizer both accept: neither door requires the id token specifically
    # When it is used
    with api(running) as http:
        response = _request(http, "GET", "/bids/{bidId}", victim_bid, forge.victim.access_token)
    # Then it identifies the same user
    assert response.status_code == 200
    assert response.json()["bidId"] == victim_bid


async def _handshake(url: str) -> int:
    try:
        async with websockets.connect(url, open_timeout=30):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


def _ws_statuses(running: RunningStack, tokens: list[str]) -> list[int]:
    base = running.stack.websocket_url.replace("localhost", "127.0.0.1")

    async def all_of() -> list[int]:
        return list(
            await asyncio.gather(
                *(_handshake(f"{base}?{httpx.QueryParams({'token': t})}") for t in tokens)
            )
        )

    return aio.run(all_of())


def test_the_websocket_connect_refuses_every_bad_token(running: RunningStack, forge: Forge) -> None:
    refused = forge.refused()
    # When $connect carries each bad token (and, last, the two good ones)
    statuses = _ws_statuses(
        running, [*refused.values(), forge.victim.id_token, forge.victim.access_token]
    )
    # Then each bad one gets a 401 handshake, the good ones connect
    assert dict(zip([*refused, "id token", "access token"], statuses, strict=True)) == {
        **dict.fromkeys(refused, 401),
        "id token": 101,
        "access token": 101,
    }
