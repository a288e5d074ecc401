"""Verify a Cognito token the way API Gateway's JWT authorizer does, for the WebSocket $connect.

RS256 against the pool's JWKS (fetched once and cached across invocations of a container),
the issuer, ``aud`` (or ``client_id`` when there is no ``aud``: Cognito's access tokens),
expiry, not-before, issued-at and ``token_use``.
The JWKS URL and issuer are configuration, so the same code verifies the local stack's tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

TOKEN_USES = frozenset({"id", "access"})
JWKS_LIFESPAN_SECONDS = 3600


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
        self.jwks = jwks_client or jwt.PyJWKClient(
            jwks_url, cache_keys=True, lifespan=JWKS_LIFESPAN_SECONDS, timeout=5
        )
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
