"""Verify a Cognito token the way API Gateway's JWT authorizer does, for the WebSocket $connect.

RS256 against the pool's JWKS (cached across invocations of a container: ``SigningKeys``),
the issuer, ``aud`` (or ``client_id`` when there is no ``aud``: Cognito's access tokens),
expiry, not-before, issued-at and ``token_use``.
The JWKS URL and issuer are configuration, so the same code verifies the local stack's tokens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt

from common.observability import logger

TOKEN_USES = frozenset({"id", "access"})
# The keys are fetched again when an hour old, and for a kid they lack (a rotation) at most
# once per JWKS_REFETCH_SECONDS: a stream of tokens with made-up kids costs one fetch, not one
# each. Until a first fetch succeeds (a cold start while the JWKS is unreachable), every
# JWKS_COLD_RETRY_SECONDS.
JWKS_LIFESPAN_SECONDS = 3600
JWKS_REFETCH_SECONDS = 300
JWKS_COLD_RETRY_SECONDS = 1
# A small document from the pool's region: 0.5 s to connect (TLS included), 0.4 s for each
# read, so at worst 0.9 s, which with the tombstone's DynamoDB read at its worst (4 s,
# common/aws.py) ends inside the authorizer's 5 s Timeout (tests/unit/realtime/test_jwks.py).
JWKS_TIMEOUT = httpx.Timeout(0.4, connect=0.5)
JWKS_WORST_SECONDS = 0.9


def fetch_jwks(url: str, timeout: httpx.Timeout = JWKS_TIMEOUT) -> Any:
    """The pool's JWKS document."""
    response = httpx.get(url, timeout=timeout, follow_redirects=False)
    response.raise_for_status()
    return response.json()


class SigningKeys:
    """The pool's signing keys by kid, fetched at most once per interval whatever kids arrive.

    PyJWT's client fetched the whole set again for every kid it did not know, with the
    function's own timeout: tokens with random kids became a stream of fetches and timeouts.
    """

    def __init__(
        self,
        fetch: Callable[[], Any],
        *,
        clock: Callable[[], float] = time.monotonic,
        lifespan: float = JWKS_LIFESPAN_SECONDS,
        refetch_after: float = JWKS_REFETCH_SECONDS,
        cold_retry_after: float = JWKS_COLD_RETRY_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lifespan = lifespan
        self._refetch_after = refetch_after
        self._cold_retry_after = cold_retry_after
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # the last fetch that succeeded
        self._tried_at: float | None = None  # the last fetch, whatever came of it
        self._lock = threading.Lock()

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._lifespan
            if (kid not in self._keys or stale) and self._may_fetch(now):
                self._refresh(now)
            key = self._keys.get(kid)
        if key is None:
            raise jwt.PyJWKClientError(f"no signing key with kid {kid[:64]!r}")
        return key

    def _may_fetch(self, now: float) -> bool:
        if self._tried_at is None:
            return True
        wait = self._refetch_after if self._fetched_at is not None else self._cold_retry_after
        return now - self._tried_at >= wait

    def _refresh(self, now: float) -> None:
        self._tried_at = now
        try:
            keys = jwt.PyJWKSet.from_dict(self._fetch()).keys
        except (httpx.HTTPError, jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:
            # Keep the keys we have: an outage of the JWKS must not refuse every known token.
            logger.warning("JWKS fetch failed", error_type=type(exc).__name__)
            return
        self._keys = {key.key_id: key for key in keys if key.key_id}
        self._fetched_at = now


class InvalidToken(Exception):
    """The token is missing, forged, expired or meant for someone else."""


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        jwks_url: str,
        *,
        jwks_client: Any = None,
        leeway: float = 0,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.jwks = jwks_client or SigningKeys(lambda: fetch_jwks(jwks_url))
        self.leeway = leeway

    def verify(self, token: str | None) -> Mapping[str, Any]:
        if not token:
            raise InvalidToken("no token")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256":
                raise InvalidToken(f"alg {header.get('alg')!r} is not RS256")
            key = self.jwks.get_signing_key(header.get("kid", ""))
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                leeway=self.leeway,
                options={"verify_aud": False, "require": ["exp", "iss", "sub", "token_use"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        token_use = claims.get("token_use")
        if token_use not in TOKEN_USES:
            raise InvalidToken("token_use is neither id nor access")
        # As API Gateway's JWT authorizer: aud when present, client_id only without one.
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise InvalidToken("the token was issued to another client")
        return claims
