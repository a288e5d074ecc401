"""The eBay client. Import from here: ``from common.ebay import EbayClient, EbayConfig``.

Names load on first use (PEP 562): a function that needs only the error types or models does
not pay for httpx and the client at cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from common.ebay.client import (
        EbayClient,
        default_http_client,
        rest_item_id,
    )
    from common.ebay.config import (
        APP_SCOPE,
        BID_SCOPE,
        DEFAULT_USER_SCOPES,
        IDENTITY_SCOPE,
        EbayConfig,
        EbayEnvironment,
        RetryPolicy,
        Timeouts,
    )
    from common.ebay.credentials import (
        AppCredentials,
        load_app_credentials,
        secret_credentials,
    )
    from common.ebay.errors import (
        AdultConsentRequired,
        AuctionClosed,
        AuctionEnded,
        BidRejected,
        BidTooLow,
        CannotLowerProxyBid,
        CurrencyMismatch,
        DeadlineExceeded,
        EbayAuthError,
        EbayError,
        EbayProtocolError,
        EbayRateLimited,
        EbayRequestError,
        EbayUnavailable,
        EndedByBuyItNow,
        InvalidGrant,
        InvalidItemId,
        ItemNotFound,
        ItemUnavailable,
        NoBiddingActivity,
        NotEligibleToBid,
    )
    from common.ebay.models import (
        BiddingStatus,
        ClockSample,
        EbayItem,
        EbayUser,
        Money,
        NotificationPublicKey,
        ProxyBidResult,
        UserTokens,
        WatchItem,
        WatchListPage,
    )

_SOURCES = {
    "EbayClient": "common.ebay.client",
    "default_http_client": "common.ebay.client",
    "rest_item_id": "common.ebay.client",
    "APP_SCOPE": "common.ebay.config",
    "BID_SCOPE": "common.ebay.config",
    "DEFAULT_USER_SCOPES": "common.ebay.config",
    "IDENTITY_SCOPE": "common.ebay.config",
    "EbayConfig": "common.ebay.config",
    "EbayEnvironment": "common.ebay.config",
    "RetryPolicy": "common.ebay.config",
    "Timeouts": "common.ebay.config",
    "AppCredentials": "common.ebay.credentials",
    "load_app_credentials": "common.ebay.credentials",
    "secret_credentials": "common.ebay.credentials",
    "AdultConsentRequired": "common.ebay.errors",
    "AuctionClosed": "common.ebay.errors",
    "AuctionEnded": "common.ebay.errors",
    "BidRejected": "common.ebay.errors",
    "BidTooLow": "common.ebay.errors",
    "CannotLowerProxyBid": "common.ebay.errors",
    "CurrencyMismatch": "common.ebay.errors",
    "DeadlineExceeded": "common.ebay.errors",
    "EbayAuthError": "common.ebay.errors",
    "EbayError": "common.ebay.errors",
    "EbayProtocolError": "common.ebay.errors",
    "EbayRateLimited": "common.ebay.errors",
    "EbayRequestError": "common.ebay.errors",
    "EbayUnavailable": "common.ebay.errors",
    "EndedByBuyItNow": "common.ebay.errors",
    "InvalidGrant": "common.ebay.errors",
    "InvalidItemId": "common.ebay.errors",
    "ItemNotFound": "common.ebay.errors",
    "ItemUnavailable": "common.ebay.errors",
    "NoBiddingActivity": "common.ebay.errors",
    "NotEligibleToBid": "common.ebay.errors",
    "BiddingStatus": "common.ebay.models",
    "ClockSample": "common.ebay.models",
    "EbayItem": "common.ebay.models",
    "EbayUser": "common.ebay.models",
    "Money": "common.ebay.models",
    "NotificationPublicKey": "common.ebay.models",
    "ProxyBidResult": "common.ebay.models",
    "UserTokens": "common.ebay.models",
    "WatchItem": "common.ebay.models",
    "WatchListPage": "common.ebay.models",
}

__all__ = [
    "APP_SCOPE",
    "BID_SCOPE",
    "DEFAULT_USER_SCOPES",
    "IDENTITY_SCOPE",
    "AdultConsentRequired",
    "AppCredentials",
    "AuctionClosed",
    "AuctionEnded",
    "BidRejected",
    "BidTooLow",
    "BiddingStatus",
    "CannotLowerProxyBid",
    "ClockSample",
    "CurrencyMismatch",
    "DeadlineExceeded",
    "EbayAuthError",
    "EbayClient",
    "EbayConfig",
    "EbayEnvironment",
    "EbayError",
    "EbayItem",
    "EbayProtocolError",
    "EbayRateLimited",
    "EbayRequestError",
    "EbayUnavailable",
    "EbayUser",
    "EndedByBuyItNow",
    "InvalidGrant",
    "InvalidItemId",
    "ItemNotFound",
    "ItemUnavailable",
    "Money",
    "NoBiddingActivity",
    "NotEligibleToBid",
    "NotificationPublicKey",
    "ProxyBidResult",
    "RetryPolicy",
    "Timeouts",
    "UserTokens",
    "WatchItem",
    "WatchListPage",
    "default_http_client",
    "load_app_credentials",
    "rest_item_id",
    "secret_credentials",
]


def __getattr__(name: str) -> Any:
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
