"""The application access tokens (client credentials) a container holds, by scope: minted once
and reused until shortly before they expire. The user's tokens are not cached here: they are
stored sealed with the user (``common.ebay_tokens``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from pydantic import SecretStr

from common.ebay.config import APP_SCOPE
from common.ebay.oauth import OAuthApi
from common.ebay.transport import Exchange, Request, Transport

logger = Logger(child=True)


@dataclass(slots=True)
class _CachedToken:
    client_id: str
    token: SecretStr
    expires_at: float


class ApplicationTokens:
    """Application tokens by scope: the basic one, and buy.item.bulk's for getItems."""

    def __init__(self, transport: Transport, oauth: OAuthApi) -> None:
        self._transport = transport
        self._oauth = oauth
        self._tokens: dict[str, _CachedToken] = {}
        self._lock = threading.Lock()

    def token(self, *, deadline: float | None = None, scope: str = APP_SCOPE) -> str:
        """The application access token for ``scope``, minted once and reused until
        ``app_token_refresh_margin`` (~5 minutes) before expiry, or until the keyset rotates.

        eBay allows 1,000 client-credentials grants a day; one per scope per container per two
        hours stays far below that.
        """
        creds = self._oauth.credentials()
        with self._lock:
            cached = self._tokens.get(scope)
            margin = self._transport.config.app_token_refresh_margin
            if (
                cached is not None
                and cached.client_id == creds.client_id
                and self._transport.clock() < cached.expires_at - margin
            ):
                return cached.token.get_secret_value()
            token, expires_at = self._oauth.mint_application_token(creds, scope, deadline=deadline)
            self._tokens[scope] = _CachedToken(creds.client_id, token, expires_at)
            logger.info("ebay application token minted", expires_at=int(expires_at), scope=scope)
            return token.get_secret_value()

    def forget(self) -> None:
        with self._lock:
            self._tokens.clear()

    def send(
        self,
        request_with: Callable[[str], Request],
        *,
        deadline: float | None,
        scope: str = APP_SCOPE,
    ) -> Exchange:
        """Send ``request_with(token)``. A 401 means the token was revoked or expired early:
        mint a new one and send once more rather than fail the call."""
        for attempt in range(2):
            token = self.token(deadline=deadline, scope=scope)
            exchange = self._transport.send(
                request_with(token), deadline=deadline, retry_on_timeout=True
            )
            if exchange.response.status_code != 401 or attempt == 1:
                return exchange
            logger.warning("ebay application token refused; minting a new one")
            self.forget()
        raise AssertionError("unreachable")  # pragma: no cover
