"""eBay's Notification API: getPublicKey, the key that signs a push notification. Checking the
signature with it, and caching keys, is ``common.ebay.notifications``."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import ValidationError

from common.ebay.app_tokens import ApplicationTokens
from common.ebay.errors import EbayProtocolError
from common.ebay.models import NotificationPublicKey
from common.ebay.transport import Request, Transport

PUBLIC_KEY_PATH = "/commerce/notification/v1/public_key"


class NotificationApi:
    def __init__(self, transport: Transport, app_tokens: ApplicationTokens) -> None:
        self._transport = transport
        self._app_tokens = app_tokens

    def get_public_key(
        self, public_key_id: str, *, deadline: float | None = None
    ) -> NotificationPublicKey:
        """getPublicKey: the key a notification's ``X-EBAY-SIGNATURE`` names by ``kid``, with
        an application token (client credentials). eBay asks callers to cache it (an hour)."""
        path = f"{PUBLIC_KEY_PATH}/{quote(public_key_id, safe='')}"
        url = f"{self._transport.config.api_base_url}{path}"

        def request_with(token: str) -> Request:
            return Request(
                operation="get_public_key",
                method="GET",
                url=url,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )

        exchange = self._app_tokens.send(request_with, deadline=deadline)
        body = self._transport.rest_result(exchange)
        try:
            return NotificationPublicKey.model_validate(body)
        except ValidationError as exc:
            raise EbayProtocolError("unreadable public key response") from exc
