"""eBay's Commerce Identity API: the account a user linked, read with their access token."""

from __future__ import annotations

from pydantic import SecretStr, ValidationError

from common.ebay.errors import EbayProtocolError
from common.ebay.models import EbayUser
from common.ebay.transport import Request, Transport

IDENTITY_PATH = "/commerce/identity/v1/user/"


class IdentityApi:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def get_user(self, access_token: str | SecretStr, *, deadline: float | None = None) -> EbayUser:
        """The linked eBay account (needs the ``commerce.identity.readonly`` scope)."""
        request = Request(
            operation="get_user",
            method="GET",
            url=f"{self._transport.config.identity_base_url}{IDENTITY_PATH}",
            headers=self._transport.bearer_headers(access_token),
        )
        exchange = self._transport.send(request, deadline=deadline, retry_on_timeout=True)
        body = self._transport.rest_result(exchange)
        try:
            return EbayUser(user_id=str(body["userId"]), username=str(body["username"]))
        except (KeyError, TypeError, ValidationError) as exc:
            raise EbayProtocolError("unreadable identity response") from exc
