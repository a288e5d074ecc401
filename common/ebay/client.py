"""``EbayClient``: the eBay APIs a function uses, as one object built once per container.

Each API is its own module and class, usable (and tested) alone on a ``Transport``:
``oauth.OAuthApi`` (consent, user tokens), ``app_tokens.ApplicationTokens`` (the application
token cache), ``browse.BrowseApi``, ``offer.BuyOfferApi``, ``trading.TradingApi`` (the watch
list), ``identity.IdentityApi``, ``notification_api.NotificationApi`` (getPublicKey) and
``clock.probe_clock``. This class only builds them on one transport and token cache and offers
their methods under one name, so a caller's port (``workers.logic.snipe_engine.EbayBidding``,
``rest.logic.wishlist.ItemSource``, ...) is met by one object whichever APIs it spans.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

import httpx
from pydantic import SecretStr

from common.ebay.app_tokens import ApplicationTokens
from common.ebay.browse import BrowseApi
from common.ebay.clock import probe_clock
from common.ebay.config import APP_SCOPE, DEFAULT_USER_SCOPES, EbayConfig
from common.ebay.credentials import AppCredentials
from common.ebay.identity import IdentityApi
from common.ebay.models import (
    BiddingStatus,
    ClockSample,
    EbayItem,
    EbayUser,
    ItemPrice,
    Money,
    NotificationPublicKey,
    ProxyBidResult,
    UserTokens,
    WatchListPage,
)
from common.ebay.notification_api import NotificationApi
from common.ebay.oauth import OAuthApi
from common.ebay.offer import BuyOfferApi, PreparedBid
from common.ebay.trading import TradingApi
from common.ebay.transport import Transport


class EbayClient:
    """Talks to eBay (or the local simulator) for the whole product.

    ``credentials`` is the application's keyset or a provider called whenever it is needed
    (``common.ebay.credentials.secret_credentials``), so a rotated secret is picked up.
    ``clock``, ``sleep`` and ``rng`` exist for tests: no real waits, no real randomness.
    """

    def __init__(
        self,
        config: EbayConfig,
        credentials: AppCredentials | Callable[[], AppCredentials],
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_clock_sample: Callable[[ClockSample], None] | None = None,
    ) -> None:
        self.transport = Transport(config, http, clock, sleep, rng, on_clock_sample)
        self.oauth = OAuthApi(self.transport, credentials)
        self.app_tokens = ApplicationTokens(self.transport, self.oauth)
        self.browse = BrowseApi(self.transport, self.app_tokens)
        self.offer = BuyOfferApi(self.transport)
        self.trading = TradingApi(self.transport)
        self.identity = IdentityApi(self.transport)
        self.notification = NotificationApi(self.transport, self.app_tokens)

    @property
    def config(self) -> EbayConfig:
        return self.transport.config

    @property
    def items_per_call(self) -> int:
        return self.browse.items_per_call

    @property
    def last_clock_sample(self) -> ClockSample | None:
        return self.transport.last_clock_sample

    def probe_clock(
        self, n: int = 5, *, interval_s: float = 0.0, deadline: float | None = None
    ) -> list[ClockSample]:
        return probe_clock(self.transport, n, interval_s=interval_s, deadline=deadline)

    def recent_clock_samples(self) -> list[ClockSample]:
        return self.transport.recent_clock_samples()

    # Written out rather than bound in __init__: a method runs only where it is called, which
    # is how tests/unit/static_calls.py reads what each function can reach.

    def authorization_url(self, state: str, scopes: Sequence[str] = DEFAULT_USER_SCOPES) -> str:
        return self.oauth.authorization_url(state, scopes)

    def exchange_code(self, code: str, *, deadline: float | None = None) -> UserTokens:
        return self.oauth.exchange_code(code, deadline=deadline)

    def refresh_user_token(
        self,
        tokens: UserTokens,
        scopes: Sequence[str] = DEFAULT_USER_SCOPES,
        *,
        deadline: float | None = None,
    ) -> UserTokens:
        return self.oauth.refresh_user_token(tokens, scopes, deadline=deadline)

    def application_token(self, *, deadline: float | None = None, scope: str = APP_SCOPE) -> str:
        return self.app_tokens.token(deadline=deadline, scope=scope)

    def get_item_by_legacy_id(
        self, legacy_id: str | int, *, deadline: float | None = None
    ) -> EbayItem:
        return self.browse.get_item_by_legacy_id(legacy_id, deadline=deadline)

    def get_item(self, item_id: str, *, deadline: float | None = None) -> EbayItem:
        return self.browse.get_item(item_id, deadline=deadline)

    def get_items(
        self, item_ids: Sequence[str], *, deadline: float | None = None
    ) -> list[ItemPrice]:
        return self.browse.get_items(item_ids, deadline=deadline)

    def prepare_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
    ) -> PreparedBid:
        return self.offer.prepare_proxy_bid(access_token, item_id, max_amount, adult_only)

    def place_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
        deadline: float | None = None,
        *,
        retry_on_timeout: bool = False,
        read_timeout: float | None = None,
        prepared: PreparedBid | None = None,
    ) -> ProxyBidResult:
        return self.offer.place_proxy_bid(
            access_token,
            item_id,
            max_amount,
            adult_only,
            deadline,
            retry_on_timeout=retry_on_timeout,
            read_timeout=read_timeout,
            prepared=prepared,
        )

    def get_bidding(
        self, access_token: str | SecretStr, item_id: str, *, deadline: float | None = None
    ) -> BiddingStatus:
        return self.offer.get_bidding(access_token, item_id, deadline=deadline)

    def get_watch_list(
        self,
        access_token: str | SecretStr,
        page: int = 1,
        per_page: int = 25,
        *,
        deadline: float | None = None,
    ) -> WatchListPage:
        return self.trading.get_watch_list(access_token, page, per_page, deadline=deadline)

    def get_user(self, access_token: str | SecretStr, *, deadline: float | None = None) -> EbayUser:
        return self.identity.get_user(access_token, deadline=deadline)

    def get_public_key(
        self, public_key_id: str, *, deadline: float | None = None
    ) -> NotificationPublicKey:
        return self.notification.get_public_key(public_key_id, deadline=deadline)
