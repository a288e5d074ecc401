"""The eBay client: OAuth, Browse, Buy Offer, the Trading watch list and eBay's clock.

One ``EbayClient`` per container. Every call is bounded by an optional ``deadline`` (epoch
seconds): a retry never starts past it and each attempt's timeout is clipped to what remains.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from aws_lambda_powertools import Logger
from pydantic import SecretStr, ValidationError

from common.container import per_container
from common.ebay.config import (
    APP_SCOPE,
    BULK_ITEMS_SCOPE,
    DEFAULT_USER_SCOPES,
    EbayConfig,
    Timeouts,
)
from common.ebay.credentials import AppCredentials
from common.ebay.errors import (
    BulkItemsDenied,
    DeadlineExceeded,
    EbayAuthError,
    EbayError,
    EbayProtocolError,
    EbayRateLimited,
    EbayRequestError,
    EbayUnavailable,
    InvalidGrant,
    InvalidItemId,
    InvalidScope,
    ItemNotFound,
    error_from_body,
)
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
    ebay_datetime_to_epoch_ms,
)
from common.ebay.trading import parse_watch_list, watch_list_request

logger = Logger(child=True)

BROWSE_PATH = "/buy/browse/v1/item"
OFFER_PATH = "/buy/offer/v1_beta/bidding"
IDENTITY_PATH = "/commerce/identity/v1/user/"
PUBLIC_KEY_PATH = "/commerce/notification/v1/public_key"

# Statuses worth another attempt. 503 and 429 mean eBay did not act on the request; after a
# 500/502/504 it may have, which matters for a bid.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SAFE_RETRY_STATUSES = frozenset({429, 503})
# Transport failures before the request left us: always safe to retry.
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Failures after the request (maybe) reached eBay: its outcome is unknown.
_UNKNOWN_OUTCOME_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)

_CLOCK_SAMPLES_KEPT = 64
# getItems' item_ids: "A comma separated list of the unique identifiers of the items to
# retrieve (maximum 20)" (buy-browse-v1.yml).
MAX_ITEMS_PER_CALL = 20
# After eBay refused getItems (a Limited Release method), ask again this much later: the keyset
# may be granted it meanwhile, and asking costs one token request, no Browse call.
BULK_RECHECK_SECONDS = 3600


@per_container
def default_http_client() -> httpx.Client:
    """One pooled client per container: warm connections survive across invocations."""
    timeouts = Timeouts()
    return httpx.Client(
        timeout=httpx.Timeout(
            connect=timeouts.connect,
            read=timeouts.read,
            write=timeouts.write,
            pool=timeouts.pool,
        ),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=60),
        follow_redirects=False,
        headers={"User-Agent": "ebay-sniper/1.0"},
    )


def rest_item_id(item_id: str | int) -> str:
    """eBay's RESTful item id: ``v1|<legacy>|0`` for a legacy number, unchanged otherwise."""
    text = str(item_id).strip()
    if text.isdigit():
        return f"v1|{text}|0"
    if not text:
        raise ValueError("empty item id")
    return text


def _secret(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _server_date_seconds(response: httpx.Response) -> int | None:
    raw = response.headers.get("Date")
    if not raw:
        return None
    try:
        return int(parsedate_to_datetime(raw).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    """``Retry-After`` (seconds or an HTTP date), else a ``RateLimit-Reset`` in seconds."""
    raw = response.headers.get("Retry-After")
    if raw:
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - now)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    for name in ("RateLimit-Reset", "X-RateLimit-Reset"):
        value = response.headers.get(name)
        if value:
            try:
                seconds = float(value.strip())
            except ValueError:
                continue
            # Some servers send an epoch instant rather than a delay.
            return max(0.0, seconds - now) if seconds > 1e9 else max(0.0, seconds)
    return None


def _json_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


@dataclass(frozen=True, slots=True)
class _Request:
    operation: str
    method: str
    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    content: bytes | None = None
    built: httpx.Request | None = None  # built ahead: sent as is


@dataclass(frozen=True, slots=True)
class PreparedBid:
    """A proxy bid built ahead of its instant (``EbayClient.prepare_proxy_bid``): firing it is
    one send on a warm connection, with no URL, header or JSON work on the critical path."""

    item_id: str
    max_amount: Money
    adult_only: bool
    built: httpx.Request


@dataclass(frozen=True, slots=True)
class _Exchange:
    operation: str
    response: httpx.Response
    sent_ms: int
    received_ms: int
    sample: ClockSample | None


@dataclass(slots=True)
class _CachedToken:
    client_id: str
    token: SecretStr
    expires_at: float


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
        self._config = config
        self._credentials = credentials
        self._http = http if http is not None else default_http_client()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._on_clock_sample = on_clock_sample
        self._samples: deque[ClockSample] = deque(maxlen=_CLOCK_SAMPLES_KEPT)
        # One client is shared by threads (the price updater polls from a pool). Copying the
        # deque while another thread appends is safe only because CPython's list() holds the
        # GIL throughout; the lock does not rely on that. The cached app token has its own.
        self._samples_lock = threading.Lock()
        # Application tokens by scope: the basic one, and buy.item.bulk's for getItems.
        self._app_tokens: dict[str, _CachedToken] = {}
        self._app_token_lock = threading.Lock()
        self._bulk_refused_until = 0.0

    @property
    def config(self) -> EbayConfig:
        return self._config

    # --- clock ---------------------------------------------------------------------------

    @property
    def last_clock_sample(self) -> ClockSample | None:
        with self._samples_lock:
            return self._samples[-1] if self._samples else None

    def recent_clock_samples(self) -> list[ClockSample]:
        """The latest responses' send/receive instants and ``Date`` headers, oldest first."""
        with self._samples_lock:
            return list(self._samples)

    def probe_clock(
        self, n: int = 5, *, interval_s: float = 0.0, deadline: float | None = None
    ) -> list[ClockSample]:
        """Sample eBay's clock ``n`` times with a cheap, token-less Browse request.

        eBay answers 401 at its gateway without counting a call; only the ``Date`` matters.
        Spread the samples (``interval_s``) to catch a second boundary for a finer estimate.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        request = _Request(
            operation="probe_clock",
            method="GET",
            url=f"{self._config.api_base_url}{BROWSE_PATH}/get_item_by_legacy_id",
            headers={"X-EBAY-C-MARKETPLACE-ID": self._config.marketplace_id},
            params={"legacy_item_id": "0"},
        )
        samples: list[ClockSample] = []
        failures = 0
        for index in range(n):
            if index and interval_s > 0:
                if deadline is not None and self._clock() + interval_s >= deadline:
                    break
                self._sleep(interval_s)
            if deadline is not None and self._clock() >= deadline:
                break
            try:
                exchange = self._attempt(request, self._timeout(None, deadline))
            except httpx.TransportError as exc:
                failures += 1
                logger.warning("ebay clock probe failed", reason=type(exc).__name__)
                continue
            if exchange.sample is not None:
                samples.append(exchange.sample)
        if not samples:
            raise EbayUnavailable(
                f"no clock sample from eBay ({failures} failed probes)", maybe_processed=False
            )
        return samples

    # --- OAuth ---------------------------------------------------------------------------

    def authorization_url(self, state: str, scopes: Sequence[str] = DEFAULT_USER_SCOPES) -> str:
        """Where to send the user to grant access; eBay redirects to the RuName's URL."""
        creds = self._app_credentials()
        query = urlencode(
            {
                "client_id": creds.client_id,
                "redirect_uri": creds.ru_name,
                "response_type": "code",
                "scope": " ".join(scopes),
                "state": state,
            }
        )
        return f"{self._config.authorize_url}?{query}"

    def exchange_code(self, code: str, *, deadline: float | None = None) -> UserTokens:
        """Trade the authorization code for the user's tokens.

        A code works once, so a timed-out exchange is not retried (the retry would fail with
        ``invalid_grant`` even though the first attempt succeeded).
        """
        creds = self._app_credentials()
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
        creds = self._app_credentials()
        exchange, body = self._token_request(
            "refresh_user_token",
            creds,
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
            access = SecretStr(str(body["access_token"]))
            access_expires_at = issued_at + int(body["expires_in"])
            refresh = tokens.refresh_token
            refresh_expires_at = tokens.refresh_expires_at
            if body.get("refresh_token"):
                refresh = SecretStr(str(body["refresh_token"]))
                if body.get("refresh_token_expires_in") is not None:
                    refresh_expires_at = issued_at + int(body["refresh_token_expires_in"])
            return UserTokens(
                access_token=access,
                access_expires_at=access_expires_at,
                refresh_token=refresh,
                refresh_expires_at=refresh_expires_at,
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise EbayProtocolError("incomplete token response") from exc

    def application_token(self, *, deadline: float | None = None, scope: str = APP_SCOPE) -> str:
        """The application access token for ``scope``, minted once and reused until ~5 minutes
        before expiry.

        eBay allows 1,000 client-credentials grants a day; one per scope per container per two
        hours stays far below that.
        """
        creds = self._app_credentials()
        with self._app_token_lock:
            cached = self._app_tokens.get(scope)
            margin = self._config.app_token_refresh_margin
            if (
                cached is not None
                and cached.client_id == creds.client_id
                and self._clock() < cached.expires_at - margin
            ):
                return cached.token.get_secret_value()
            exchange, body = self._token_request(
                "application_token",
                creds,
                {"grant_type": "client_credentials", "scope": scope},
                deadline=deadline,
                retry_on_timeout=True,
            )
            try:
                token = SecretStr(str(body["access_token"]))
                expires_at = exchange.sent_ms / 1000 + int(body["expires_in"])
            except (KeyError, TypeError, ValueError) as exc:
                raise EbayProtocolError("incomplete token response") from exc
            self._app_tokens[scope] = _CachedToken(creds.client_id, token, expires_at)
            logger.info("ebay application token minted", expires_at=int(expires_at), scope=scope)
            return token.get_secret_value()

    def forget_application_token(self) -> None:
        with self._app_token_lock:
            self._app_tokens.clear()

    # --- Browse --------------------------------------------------------------------------

    def get_item_by_legacy_id(
        self, legacy_id: str | int, *, deadline: float | None = None
    ) -> EbayItem:
        legacy = str(legacy_id).strip()
        if not legacy.isdigit():
            raise InvalidItemId(f"not an eBay item number: {legacy!r}")
        return self._browse(
            "get_item_by_legacy_id",
            f"{BROWSE_PATH}/get_item_by_legacy_id",
            {"legacy_item_id": legacy},
            deadline,
        )

    def get_item(self, item_id: str, *, deadline: float | None = None) -> EbayItem:
        path = f"{BROWSE_PATH}/{quote(rest_item_id(item_id), safe='')}"
        return self._browse("get_item", path, None, deadline)

    @property
    def items_per_call(self) -> int:
        """How many items one :meth:`get_items` call may ask for: getItems' 20, or 1 while eBay
        refuses this app getItems (it then answers with getItem)."""
        return 1 if self._clock() < self._bulk_refused_until else MAX_ITEMS_PER_CALL

    def get_items(
        self, item_ids: Sequence[str], *, deadline: float | None = None
    ) -> list[ItemPrice]:
        """The prices of up to :attr:`items_per_call` items in one Browse call: getItems, or
        getItem for a single item while getItems is refused. Items eBay does not have are left
        out. :class:`BulkItemsDenied` (before any Browse call) when eBay refuses this app
        getItems and more than one item was asked for: ask again, one at a time."""
        ids = list(dict.fromkeys(rest_item_id(item_id) for item_id in item_ids))
        if len(ids) > MAX_ITEMS_PER_CALL:
            raise ValueError(f"getItems takes at most {MAX_ITEMS_PER_CALL} items")
        if not ids:
            return []
        if self.items_per_call == 1:
            if len(ids) > 1:
                raise BulkItemsDenied("getItems is refused to this app: one item per call")
            try:
                return [ItemPrice.of(self.get_item(ids[0], deadline=deadline))]
            except ItemNotFound:
                return []
        return self._get_items(ids, deadline)

    def _get_items(self, ids: list[str], deadline: float | None) -> list[ItemPrice]:
        for attempt in range(2):
            try:
                token = self.application_token(deadline=deadline, scope=BULK_ITEMS_SCOPE)
            except InvalidScope as exc:
                raise self._bulk_refused("the keyset has no buy.item.bulk") from exc
            request = _Request(
                operation="get_items",
                method="GET",
                url=f"{self._config.api_base_url}{BROWSE_PATH}/",
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-EBAY-C-MARKETPLACE-ID": self._config.marketplace_id,
                    "Accept": "application/json",
                },
                params={"item_ids": ",".join(ids)},
            )
            exchange = self._send(request, deadline=deadline, retry_on_timeout=True)
            status = exchange.response.status_code
            if status == 401 and attempt == 0:
                logger.warning("ebay application token refused; minting a new one")
                self.forget_application_token()
                continue
            if status == 403:
                raise self._bulk_refused("getItems answered 403") from self._rest_error(exchange)
            try:
                body = self._rest_result(exchange)
            except ItemNotFound:
                return []  # none of them exists (errorId 11001)
            try:
                return [_price_from(item) for item in body.get("items") or ()]
            except (AttributeError, KeyError, TypeError, ValueError, ValidationError) as exc:
                raise EbayProtocolError("unreadable items response") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _bulk_refused(self, why: str) -> BulkItemsDenied:
        self._bulk_refused_until = self._clock() + BULK_RECHECK_SECONDS
        logger.warning("ebay refuses getItems; polling one item per call", reason=why)
        return BulkItemsDenied(f"getItems is refused to this app: {why}")

    # --- Buy Offer -----------------------------------------------------------------------

    def prepare_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
    ) -> PreparedBid:
        """Build the bid request now, to send it later with ``place_proxy_bid(prepared=...)``."""
        request = self._proxy_bid_request(access_token, item_id, max_amount, adult_only)
        return PreparedBid(item_id, max_amount, adult_only, self._build(request))

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
        """Place (or raise) the user's proxy bid.

        ``retry_on_timeout`` also covers 500/502/504 and dropped connections: after those eBay
        may have accepted the bid, so by default the caller gets :class:`EbayUnavailable` with
        ``maybe_processed=True`` and decides (e.g. by calling :meth:`get_bidding`).
        ``prepared``, from :meth:`prepare_proxy_bid` for the same item, amount and token, is
        sent as built.
        """
        rest_id = rest_item_id(item_id)
        request = self._proxy_bid_request(access_token, item_id, max_amount, adult_only)
        if prepared is not None:
            if (prepared.item_id, prepared.max_amount, prepared.adult_only) != (
                item_id,
                max_amount,
                adult_only,
            ):
                raise ValueError("the prepared bid is for another item or amount")
            request = replace(request, built=prepared.built)
        exchange = self._send(
            request,
            deadline=deadline,
            retry_on_timeout=retry_on_timeout,
            read_timeout=read_timeout,
        )
        body = self._rest_result(exchange)
        proxy_bid_id = body.get("proxyBidId") if isinstance(body, Mapping) else None
        if not proxy_bid_id:
            raise EbayProtocolError(
                "bid response without proxyBidId", http_status=exchange.response.status_code
            )
        logger.info(
            "ebay proxy bid accepted",
            item_id=rest_id,
            sent_ms=exchange.sent_ms,
            received_ms=exchange.received_ms,
        )
        return ProxyBidResult(proxy_bid_id=str(proxy_bid_id), timing=exchange.sample)

    def _proxy_bid_request(
        self, access_token: str | SecretStr, item_id: str, max_amount: Money, adult_only: bool
    ) -> _Request:
        rest_id = rest_item_id(item_id)
        bidding_url = f"{self._config.api_base_url}{OFFER_PATH}/{quote(rest_id, safe='')}"
        return _Request(
            operation="place_proxy_bid",
            method="POST",
            url=f"{bidding_url}/place_proxy_bid",
            headers=self._user_headers(access_token, json_body=True),
            json={"maxAmount": max_amount.to_ebay(), "userConsent": {"adultOnlyItem": adult_only}},
        )

    def get_bidding(
        self, access_token: str | SecretStr, item_id: str, *, deadline: float | None = None
    ) -> BiddingStatus:
        rest_id = rest_item_id(item_id)
        request = _Request(
            operation="get_bidding",
            method="GET",
            url=f"{self._config.api_base_url}{OFFER_PATH}/{quote(rest_id, safe='')}",
            headers=self._user_headers(access_token),
        )
        body = self._rest_result(self._send(request, deadline=deadline, retry_on_timeout=True))
        try:
            return _bidding_from(body)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise EbayProtocolError("unreadable bidding response") from exc

    # --- Trading (watch list) ------------------------------------------------------------

    def get_watch_list(
        self,
        access_token: str | SecretStr,
        page: int = 1,
        per_page: int = 25,
        *,
        deadline: float | None = None,
    ) -> WatchListPage:
        request = _Request(
            operation="get_watch_list",
            method="POST",
            url=self._config.trading_url,
            headers={
                "X-EBAY-API-CALL-NAME": "GetMyeBayBuying",
                "X-EBAY-API-SITEID": self._config.trading_site_id,
                "X-EBAY-API-COMPATIBILITY-LEVEL": self._config.trading_compatibility_level,
                "X-EBAY-API-IAF-TOKEN": _secret(access_token),
                "Content-Type": "text/xml; charset=utf-8",
            },
            content=watch_list_request(page, per_page),
        )
        exchange = self._send(request, deadline=deadline, retry_on_timeout=True)
        if exchange.response.status_code >= 400:
            raise self._rest_error(exchange)
        return parse_watch_list(exchange.response.content, page=page, timing=exchange.sample)

    # --- Commerce Identity ---------------------------------------------------------------

    def get_user(self, access_token: str | SecretStr, *, deadline: float | None = None) -> EbayUser:
        """The linked eBay account (needs the ``commerce.identity.readonly`` scope)."""
        request = _Request(
            operation="get_user",
            method="GET",
            url=f"{self._config.identity_base_url}{IDENTITY_PATH}",
            headers=self._user_headers(access_token),
        )
        body = self._rest_result(self._send(request, deadline=deadline, retry_on_timeout=True))
        try:
            return EbayUser(user_id=str(body["userId"]), username=str(body["username"]))
        except (KeyError, TypeError, ValidationError) as exc:
            raise EbayProtocolError("unreadable identity response") from exc

    def get_user_account_id(
        self, access_token: str | SecretStr, *, deadline: float | None = None
    ) -> str:
        return self.get_user(access_token, deadline=deadline).user_id

    # --- Notification API -----------------------------------------------------------------

    def get_public_key(
        self, public_key_id: str, *, deadline: float | None = None
    ) -> NotificationPublicKey:
        """getPublicKey: the key a notification's ``X-EBAY-SIGNATURE`` names by ``kid``, with
        an application token (client credentials). eBay asks callers to cache it (an hour)."""
        path = f"{PUBLIC_KEY_PATH}/{quote(public_key_id, safe='')}"
        for attempt in range(2):
            token = self.application_token(deadline=deadline)
            request = _Request(
                operation="get_public_key",
                method="GET",
                url=f"{self._config.api_base_url}{path}",
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            exchange = self._send(request, deadline=deadline, retry_on_timeout=True)
            if exchange.response.status_code == 401 and attempt == 0:
                self.forget_application_token()
                continue
            body = self._rest_result(exchange)
            try:
                return NotificationPublicKey.model_validate(body)
            except ValidationError as exc:
                raise EbayProtocolError("unreadable public key response") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # --- internals -----------------------------------------------------------------------

    def _app_credentials(self) -> AppCredentials:
        creds = self._credentials
        return creds if isinstance(creds, AppCredentials) else creds()

    def _user_headers(
        self, access_token: str | SecretStr, *, json_body: bool = False
    ) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {_secret(access_token)}",
            "X-EBAY-C-MARKETPLACE-ID": self._config.marketplace_id,
            "Accept": "application/json",
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _browse(
        self,
        operation: str,
        path: str,
        params: Mapping[str, str] | None,
        deadline: float | None,
    ) -> EbayItem:
        for attempt in range(2):
            token = self.application_token(deadline=deadline)
            request = _Request(
                operation=operation,
                method="GET",
                url=f"{self._config.api_base_url}{path}",
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-EBAY-C-MARKETPLACE-ID": self._config.marketplace_id,
                    "Accept": "application/json",
                },
                params=params,
            )
            exchange = self._send(request, deadline=deadline, retry_on_timeout=True)
            if exchange.response.status_code == 401 and attempt == 0:
                # Revoked or expired early: mint a new token once rather than fail the read.
                logger.warning("ebay application token refused; minting a new one")
                self.forget_application_token()
                continue
            body = self._rest_result(exchange)
            try:
                return _item_from(body)
            except (KeyError, TypeError, ValueError, ValidationError) as exc:
                raise EbayProtocolError("unreadable item response") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _token_request(
        self,
        operation: str,
        creds: AppCredentials,
        form: Mapping[str, str],
        *,
        deadline: float | None,
        retry_on_timeout: bool,
    ) -> tuple[_Exchange, Mapping[str, Any]]:
        basic = base64.b64encode(
            f"{creds.client_id}:{creds.client_secret.get_secret_value()}".encode()
        ).decode()
        request = _Request(
            operation=operation,
            method="POST",
            url=self._config.token_url,
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            form=form,
        )
        exchange = self._send(request, deadline=deadline, retry_on_timeout=retry_on_timeout)
        body = _json_body(exchange.response)
        status = exchange.response.status_code
        if status >= 400 or not isinstance(body, Mapping):
            raise _oauth_error(body, status, exchange.sample)
        return exchange, body

    def _rest_result(self, exchange: _Exchange) -> Any:
        if exchange.response.status_code >= 400:
            raise self._rest_error(exchange)
        body = _json_body(exchange.response)
        if body is None:
            raise EbayProtocolError(
                "eBay answered without a JSON body", http_status=exchange.response.status_code
            )
        return body

    def _rest_error(self, exchange: _Exchange) -> EbayError:
        response = exchange.response
        error = error_from_body(
            _json_body(response), http_status=response.status_code, timing=exchange.sample
        )
        if isinstance(error, EbayRateLimited):
            error.retry_after = _retry_after_seconds(response, self._clock())
        logger.info(
            "ebay call refused",
            operation=exchange.operation,
            http_status=response.status_code,
            error_id=error.error_id,
            error_type=type(error).__name__,
        )
        return error

    def _timeout(self, read_timeout: float | None, deadline: float | None) -> httpx.Timeout:
        t = self._config.timeouts
        read = t.read if read_timeout is None else read_timeout
        values = [t.connect, read, t.write, t.pool]
        if deadline is not None:
            remaining = max(deadline - self._clock(), 0.001)
            values = [min(v, remaining) for v in values]
        connect, read, write, pool = values
        return httpx.Timeout(connect=connect, read=read, write=write, pool=pool)

    def _build(self, request: _Request, timeout: httpx.Timeout | None = None) -> httpx.Request:
        return self._http.build_request(
            request.method,
            request.url,
            headers=dict(request.headers),
            params=dict(request.params) if request.params is not None else None,
            json=request.json,
            data=dict(request.form) if request.form is not None else None,
            content=request.content,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )

    def _attempt(self, request: _Request, timeout: httpx.Timeout) -> _Exchange:
        if request.built is not None:
            built = request.built
            built.extensions["timeout"] = timeout.as_dict()
        else:
            built = self._build(request, timeout)
        sent_ms = round(self._clock() * 1000)
        response = self._http.send(built)
        received_ms = round(self._clock() * 1000)
        server_date = _server_date_seconds(response)
        sample: ClockSample | None = None
        if server_date is not None:
            sample = ClockSample(
                operation=request.operation,
                sent_ms=sent_ms,
                received_ms=received_ms,
                server_date_seconds=server_date,
                http_status=response.status_code,
            )
            with self._samples_lock:
                self._samples.append(sample)
            if self._on_clock_sample is not None:
                self._on_clock_sample(sample)
        logger.debug(
            "ebay call",
            operation=request.operation,
            http_status=response.status_code,
            duration_ms=received_ms - sent_ms,
        )
        return _Exchange(request.operation, response, sent_ms, received_ms, sample)

    def _send(
        self,
        request: _Request,
        *,
        deadline: float | None,
        retry_on_timeout: bool,
        read_timeout: float | None = None,
    ) -> _Exchange:
        """Send with retries; returns the first answer that is not worth retrying.

        Raises :class:`EbayRateLimited`/:class:`EbayUnavailable` when retries run out and
        :class:`DeadlineExceeded` when the deadline stops them.
        """
        policy = self._config.retry
        maybe_processed = False
        last_error: EbayError | None = None
        for attempt in range(policy.max_attempts):
            if deadline is not None and self._clock() >= deadline:
                raise DeadlineExceeded(
                    f"{request.operation}: deadline passed after {attempt} attempt(s)",
                    last_error=last_error,
                    maybe_processed=maybe_processed,
                    http_status=last_error.http_status if last_error else None,
                ) from last_error
            retry_after: float | None = None
            try:
                exchange = self._attempt(request, self._timeout(read_timeout, deadline))
            except _NOT_SENT_ERRORS as exc:
                last_error = EbayUnavailable(
                    f"{request.operation}: {type(exc).__name__}",
                    maybe_processed=maybe_processed,
                )
                last_error.__cause__ = exc
                retry_allowed = True
            except _UNKNOWN_OUTCOME_ERRORS as exc:
                maybe_processed = True
                last_error = EbayUnavailable(
                    f"{request.operation}: {type(exc).__name__}", maybe_processed=True
                )
                last_error.__cause__ = exc
                retry_allowed = retry_on_timeout
            else:
                status = exchange.response.status_code
                if status not in _RETRY_STATUSES:
                    return exchange
                retry_after = _retry_after_seconds(exchange.response, self._clock())
                if status not in _SAFE_RETRY_STATUSES:
                    maybe_processed = True
                last_error = self._retryable_error(exchange, retry_after, maybe_processed)
                retry_allowed = status in _SAFE_RETRY_STATUSES or retry_on_timeout
            if (
                not retry_allowed
                or attempt + 1 >= policy.max_attempts
                or (retry_after is not None and retry_after > policy.max_retry_after)
            ):
                self._log_failure(request.operation, last_error, attempt + 1)
                raise last_error
            if retry_after is not None:
                delay = retry_after
            else:
                cap = min(policy.max_delay, policy.base_delay * (2**attempt))
                delay = self._rng.uniform(0.0, cap)
            if deadline is not None and self._clock() + delay >= deadline:
                self._log_failure(request.operation, last_error, attempt + 1, deadline=True)
                raise DeadlineExceeded(
                    f"{request.operation}: no time left to retry after {attempt + 1} attempt(s)",
                    last_error=last_error,
                    maybe_processed=maybe_processed,
                    http_status=last_error.http_status,
                ) from last_error
            logger.warning(
                "ebay call retrying",
                operation=request.operation,
                attempt=attempt + 1,
                delay_s=round(delay, 3),
                reason=type(last_error.__cause__ or last_error).__name__,
                http_status=last_error.http_status,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _log_failure(
        operation: str, error: EbayError, attempts: int, *, deadline: bool = False
    ) -> None:
        logger.warning(
            "ebay call failed",
            operation=operation,
            attempts=attempts,
            stopped_by_deadline=deadline,
            reason=type(error.__cause__ or error).__name__,
            http_status=error.http_status,
            maybe_processed=getattr(error, "maybe_processed", None),
        )

    def _retryable_error(
        self, exchange: _Exchange, retry_after: float | None, maybe_processed: bool
    ) -> EbayError:
        response = exchange.response
        parsed = error_from_body(
            _json_body(response), http_status=response.status_code, timing=exchange.sample
        )
        if response.status_code == 429:
            return EbayRateLimited(
                parsed.message,
                retry_after=retry_after,
                error_id=parsed.error_id,
                http_status=429,
                parameters=parsed.parameters,
                timing=exchange.sample,
            )
        return EbayUnavailable(
            parsed.message,
            maybe_processed=maybe_processed,
            error_id=parsed.error_id,
            http_status=response.status_code,
            parameters=parsed.parameters,
            timing=exchange.sample,
        )


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


def _money(raw: Any) -> Money | None:
    if not isinstance(raw, Mapping) or raw.get("value") is None:
        return None
    return Money.from_ebay_amount(raw)


def _epoch_ms(raw: Any) -> int | None:
    return ebay_datetime_to_epoch_ms(raw) if isinstance(raw, str) and raw else None


def _optional_bool(raw: Any) -> bool | None:
    return raw if isinstance(raw, bool) else None


def _item_from(body: Mapping[str, Any]) -> EbayItem:
    item_id = str(body["itemId"])
    legacy = body.get("legacyItemId")
    if not legacy:
        parts = item_id.split("|")
        legacy = parts[1] if len(parts) == 3 else item_id
    options: Iterable[Any] = body.get("buyingOptions") or ()
    buying_options = tuple(str(option) for option in options)
    image = body.get("image")
    seller = body.get("seller")
    return EbayItem(
        item_id=item_id,
        legacy_item_id=str(legacy),
        title=str(body.get("title") or ""),
        is_auction="AUCTION" in buying_options,
        buying_options=buying_options,
        current_bid_price=_money(body.get("currentBidPrice")),
        minimum_price_to_bid=_money(body.get("minimumPriceToBid")),
        bid_count=int(body.get("bidCount") or 0),
        end_time_ms=_epoch_ms(body.get("itemEndDate")),
        image_url=image.get("imageUrl") if isinstance(image, Mapping) else None,
        condition=body.get("condition"),
        seller_username=seller.get("username") if isinstance(seller, Mapping) else None,
        reserve_price_met=_optional_bool(body.get("reservePriceMet")),
    )


def _price_from(body: Mapping[str, Any]) -> ItemPrice:
    """One of getItems' items: a CoreItem with only that method's fields."""
    item_id = str(body["itemId"])
    legacy = body.get("legacyItemId")
    if not legacy:
        parts = item_id.split("|")
        legacy = parts[1] if len(parts) == 3 else item_id
    return ItemPrice(
        item_id=item_id,
        legacy_item_id=str(legacy),
        current_bid_price=_money(body.get("currentBidPrice")),
        minimum_price_to_bid=_money(body.get("minimumPriceToBid")),
        bid_count=int(body.get("bidCount") or 0),
        reserve_price_met=_optional_bool(body.get("reservePriceMet")),
    )


def _bidding_from(body: Mapping[str, Any]) -> BiddingStatus:
    proxy = body.get("currentProxyBid")
    proxy_map: Mapping[str, Any] = proxy if isinstance(proxy, Mapping) else {}
    suggested = body.get("suggestedBidAmounts") or []
    return BiddingStatus(
        item_id=body.get("itemId"),
        auction_status=str(body["auctionStatus"]),
        high_bidder=bool(body.get("highBidder", False)),
        current_price=_money(body.get("currentPrice")),
        bid_count=int(body.get("bidCount") or 0),
        current_proxy_bid=_money(proxy_map.get("maxAmount")),
        proxy_bid_id=proxy_map.get("proxyBidId"),
        auction_end_ms=_epoch_ms(body.get("auctionEndDate")),
        reserve_price_met=_optional_bool(body.get("reservePriceMet")),
        suggested_bid_amounts=tuple(m for m in (_money(s) for s in suggested) if m is not None),
    )
