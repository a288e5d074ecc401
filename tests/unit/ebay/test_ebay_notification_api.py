"""eBay's Notification API alone (``NotificationApi``): getPublicKey with an application token,
with eBay played by respx."""

from __future__ import annotations

import httpx
import pytest
import respx

from common.ebay.app_tokens import ApplicationTokens
from common.ebay.errors import EbayError, EbayProtocolError
from common.ebay.models import NotificationPublicKey
from common.ebay.notification_api import NotificationApi
from common.ebay.transport import Transport

KID = "99345d32-1d35-4fbd-a2ef-3b8ad76d6ad5"
KEY_PATH = f"/commerce/notification/v1/public_key/{KID}"
KEY_JSON = {
    "algorithm": "ECDSA",
    "digest": "SHA1",
    "key": "-----BEGIN PUBLIC KEY-----MFkwEwYH-----END PUBLIC KEY-----",
}


@pytest.fixture
def notification(transport: Transport, app_tokens: ApplicationTokens) -> NotificationApi:
    return NotificationApi(transport, app_tokens)


def token_route(ebay: respx.MockRouter, *tokens: str) -> respx.Route:
    return ebay.post("/identity/v1/oauth2/token").mock(
        side_effect=[
            httpx.Response(200, json={"access_token": token, "expires_in": 7200})
            for token in tokens
        ]
    )


def test_a_public_key_is_read_with_the_application_token(
    notification: NotificationApi, ebay: respx.MockRouter
) -> None:
    # Given eBay holding the key a notice names
    token_route(ebay, "app-token")
    route = ebay.get(KEY_PATH).mock(return_value=httpx.Response(200, json=KEY_JSON))
    # When the key is asked for
    key = notification.get_public_key(KID)
    # Then the call carried the application token, and the key comes back as eBay sent it
    assert route.calls.last.request.headers["Authorization"] == "Bearer app-token"
    assert key == NotificationPublicKey(**KEY_JSON)


def test_a_refused_application_token_is_replaced_once(
    notification: NotificationApi, ebay: respx.MockRouter
) -> None:
    # Given eBay refusing the first application token (revoked early)
    tokens = token_route(ebay, "revoked", "fresh")
    route = ebay.get(KEY_PATH).mock(
        side_effect=[
            httpx.Response(401, json={"errors": [{"errorId": 1001}]}),
            httpx.Response(200, json=KEY_JSON),
        ]
    )
    # When the key is asked for / Then a new token is minted and the second call succeeds
    assert notification.get_public_key(KID).algorithm == "ECDSA"
    assert tokens.call_count == 2
    assert route.calls.last.request.headers["Authorization"] == "Bearer fresh"


def test_a_key_id_is_one_path_segment(
    notification: NotificationApi, ebay: respx.MockRouter
) -> None:
    # Given a key id that would climb the path if it were not encoded
    token_route(ebay, "app-token")
    route = ebay.get(url__regex=r".*/public_key/a%2F..%2Fb$").mock(
        return_value=httpx.Response(200, json=KEY_JSON)
    )
    # When asked for / Then eBay sees it as one segment under public_key/
    notification.get_public_key("a/../b")
    assert route.called


def test_an_unknown_key_is_an_ebay_error_and_an_unreadable_one_a_protocol_error(
    notification: NotificationApi, ebay: respx.MockRouter
) -> None:
    # Given eBay not knowing the key, then answering without its fields
    token_route(ebay, "app-token")
    ebay.get(KEY_PATH).mock(
        side_effect=[
            httpx.Response(404, json={"errors": [{"errorId": 195000, "message": "not found"}]}),
            httpx.Response(200, json={"algorithm": "ECDSA"}),
        ]
    )
    # When eBay has no such key / Then an EbayError says so
    with pytest.raises(EbayError) as unknown:
        notification.get_public_key(KID)
    assert unknown.value.http_status == 404
    assert unknown.value.error_id == 195000
    # When eBay answers a key without its fields / Then it is eBay breaking its contract
    with pytest.raises(EbayProtocolError):
        notification.get_public_key(KID)
