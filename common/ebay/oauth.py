"""eBay's OAuth (Identity API's token endpoint and the consent page): the user's grant, their
tokens, and minting application tokens (``app_tokens`` caches those)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr, ValidationError

from common.ebay.config import DEFAULT_USER_SCOPES
from common.ebay.credentials import AppCredentials
from common.ebay.errors import (
    EbayAuthError,
    EbayError,
    EbayProtocolError,
    EbayRequestError,
    InvalidGrant,
    InvalidScope,
)
from common.ebay.models import ClockSample, UserTokens
from common.ebay.transport import Exchange, Request, Transport, json_body


class OAuthApi:
    """``credentials`` is the application's keyset or a provider called whenever it is needed
    (``common.ebay.credentials.secret_credentials``), so a rotated secret is picked up."""

    def __init__(
        self, transport: Transport, credentials: AppCredentials | Callable[[], AppCredentials]
    ) -> None:
        self._transport = transport
        self._credentials = credentials

    def credentials(self) -> AppCredentials:
        creds = self._credentials
        return creds if isinstance(creds, AppCredentials) else creds()

    def authorization_url(self, state: str, scopes: Sequence[str] = DEFAULT_USER_SCOPES) -> str:
        """Where to send the user to grant access; eBay redirects to the RuName's URL."""
        creds = self.credentials()
        query = urlencode(
            {
                "client_id": creds.client_id,
                "redirect_uri": creds.ru_name,
                "response_type": "code",
                "scope": " ".join(scopes),
                "state": state,
            }
        )
        return f"{self._transport.config.authorize_url}?{query}"

    def exchange_code(self, code: str, *, deadline: float | None = None) -> UserTokens:
        """Trade the authorization code for the user's tokens.

        A code works once, so a timed-out exchange is not retried (the retry would fail with
        ``invalid_grant`` even though the first attempt succeeded).
        """
        creds = self.credentials()
        exchange, body = self._token_request(
            "exchange_code",
            creds,
            {"grant_type": "authorization_code", "code": code, "redirect_uri": creds.ru_name},
            deadline=deadline,
            retry_on_timeout=False,
        )
        issued_at = exchange.sent_ms // 1000
        try:
            return UserTokens(
                access_token=SecretStr(str(body["access_token"])),
                access_expires_at=issued_at + int(body["expires_in"]),
                refresh_token=SecretStr(str(body["refresh_token"])),
                refresh_expires_at=issued_at + int(body["refresh_token_expires_in"]),
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise EbayProtocolError("incomplete token response") from exc

    def refresh_user_token(
        self,
        tokens: UserTokens,
        scopes: Sequence[str] = DEFAULT_USER_SCOPES,
        *,
        deadline: float | None = None,
    ) -> UserTokens:
        """A new access token. eBay keeps the refresh token (and its expiry) unchanged."""
        exchange, body = self._token_request(
            "refresh_user_token",
            self.credentials(),
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.get_secret_value(),
                "scope": " ".join(scopes),
            },
            deadline=deadline,
            retry_on_timeout=True,
        )
        issued_at = exchange.sent_ms // 1000
        try:
            refresh = tokens.refresh_token
            refresh_expires_at = tokens.refresh_expires_at
            if body.get("refresh_token"):
                refresh = SecretStr(str(body["refresh_token"]))
                if body.get("refresh_token_expires_in") is not None:
                    refresh_expires_at = issued_at + int(body["refresh_token_expires_in"])
            return UserTokens(
                access_token=SecretStr(str(body["access_token"])),
                access_expires_at=issued_at + int(body["expires_in"]),
                refresh_token=refresh,
                refresh_expires_at=refresh_expires_at,
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise EbayProtocolError("incomplete token response") from exc

    def mint_application_token(
        self, creds: AppCredentials, scope: str, *, deadline: float | None
    ) -> tuple[SecretStr, float]:
        """A new application token (client credentials grant) and when it expires (epoch s)."""
        exchange, body = self._token_request(
            "application_token",
            creds,
            {"grant_type": "client_credentials", "scope": scope},
            deadline=deadline,
            retry_on_timeout=True,
        )
        try:
            token = SecretStr(str(body["access_token"]))
            return token, exchange.sent_ms / 1000 + int(body["expires_in"])
        except (KeyError, TypeError, ValueError) as exc:
            raise EbayProtocolError("incomplete token response") from exc

    def _token_request(
        self,
        operation: str,
        creds: AppCredentials,
        form: Mapping[str, str],
        *,
        deadline: float | None,
        retry_on_timeout: bool,
    ) -> tuple[Exchange, Mapping[str, Any]]:
        basic = base64.b64encode(
            f"{creds.client_id}:{creds.client_secret.get_secret_value()}".encode()
        ).decode()
        request = Request(
            operation=operation,
            method="POST",
            url=self._transport.config.token_url,
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            form=form,
        )
        exchange = self._transport.send(
            request, deadline=deadline, retry_on_timeout=retry_on_timeout
        )
        body = json_body(exchange.response)
        status = exchange.response.status_code
        if status >= 400 or not isinstance(body, Mapping):
            raise _oauth_error(body, status, exchange.sample)
        return exchange, body


def _oauth_error(body: Any, status: int, timing: ClockSample | None) -> EbayError:
    code = body.get("error") if isinstance(body, Mapping) else None
    description = body.get("error_description") if isinstance(body, Mapping) else None
    message = f"{code or 'unexpected token response'}: {description or f'HTTP {status}'}"
    kwargs: dict[str, Any] = {"http_status": status, "timing": timing}
    if code == "invalid_grant":
        return InvalidGrant(message, **kwargs)
    if code == "invalid_scope":
        return InvalidScope(message, **kwargs)
    if code in {"invalid_client", "unauthorized_client", "invalid_scope"} or status == 401:
        return EbayAuthError(message, **kwargs)
    if status < 400:
        return EbayProtocolError(message, **kwargs)
    return EbayRequestError(message, **kwargs)
