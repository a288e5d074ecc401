"""Sending a request to eBay: httpx, the retry policy, deadlines, clock samples, and turning an
error answer into ``common.ebay.errors``. Every API module (``oauth``, ``browse``, ``offer``,
``trading``, ``identity``, ``notification_api``) sends through one :class:`Transport`.

Every call is bounded by an optional ``deadline`` (epoch seconds): a retry never starts past it
and each attempt's timeout is clipped to what remains.
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from aws_lambda_powertools import Logger
from pydantic import SecretStr

from common.ebay.config import EbayConfig, Timeouts
from common.ebay.errors import (
    DeadlineExceeded,
    EbayError,
    EbayProtocolError,
    EbayRateLimited,
    EbayUnavailable,
    error_from_body,
)
from common.ebay.models import ClockSample

logger = Logger(child=True)

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


@functools.cache
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


def secret(value: str | SecretStr) -> str:
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


def json_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


@dataclass(frozen=True, slots=True)
class Request:
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
class Exchange:
    operation: str
    response: httpx.Response
    sent_ms: int
    received_ms: int
    sample: ClockSample | None


@dataclass(frozen=True, slots=True)
class _Failure:
    """An attempt that may be worth another: what to raise if not, and what we know."""

    error: EbayError
    retry_allowed: bool
    retry_after: float | None
    maybe_processed: bool


class Transport:
    """Sends requests to eBay (or the local simulator) with the configured retry policy.

    ``clock``, ``sleep`` and ``rng`` exist for tests: no real waits, no real randomness.
    ``on_clock_sample`` sees every response's send/receive instants and ``Date`` header.
    """

    def __init__(
        self,
        config: EbayConfig,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_clock_sample: Callable[[ClockSample], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.on_clock_sample = on_clock_sample
        self._http = http if http is not None else default_http_client()
        self._rng = rng if rng is not None else random.Random()
        self._samples: deque[ClockSample] = deque(maxlen=_CLOCK_SAMPLES_KEPT)
        # One transport is shared by threads (the price updater polls from a pool). Copying the
        # deque while another thread appends is safe only because CPython's list() holds the
        # GIL throughout; the lock does not rely on that.
        self._samples_lock = threading.Lock()

    @property
    def last_clock_sample(self) -> ClockSample | None:
        with self._samples_lock:
            return self._samples[-1] if self._samples else None

    def recent_clock_samples(self) -> list[ClockSample]:
        """The latest responses' send/receive instants and ``Date`` headers, oldest first."""
        with self._samples_lock:
            return list(self._samples)

    def bearer_headers(
        self, access_token: str | SecretStr, *, json_body: bool = False
    ) -> dict[str, str]:
        """A REST call's headers with an access token (the user's, or the application's)."""
        headers = {
            "Authorization": f"Bearer {secret(access_token)}",
            "X-EBAY-C-MARKETPLACE-ID": self.config.marketplace_id,
            "Accept": "application/json",
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def timeout(self, read_timeout: float | None, deadline: float | None) -> httpx.Timeout:
        t = self.config.timeouts
        read = t.read if read_timeout is None else read_timeout
        values = [t.connect, read, t.write, t.pool]
        if deadline is not None:
            remaining = max(deadline - self.clock(), 0.001)
            values = [min(v, remaining) for v in values]
        connect, read, write, pool = values
        return httpx.Timeout(connect=connect, read=read, write=write, pool=pool)

    def build(self, request: Request, timeout: httpx.Timeout | None = None) -> httpx.Request:
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

    def attempt(self, request: Request, timeout: httpx.Timeout) -> Exchange:
        """One try, no retry: transport errors are httpx's."""
        if request.built is not None:
            built = request.built
            built.extensions["timeout"] = timeout.as_dict()
        else:
            built = self.build(request, timeout)
        sent_ms = round(self.clock() * 1000)
        response = self._http.send(built)
        received_ms = round(self.clock() * 1000)
        sample = self._record_sample(request.operation, response, sent_ms, received_ms)
        logger.debug(
            "ebay call",
            operation=request.operation,
            http_status=response.status_code,
            duration_ms=received_ms - sent_ms,
        )
        return Exchange(request.operation, response, sent_ms, received_ms, sample)

    def _record_sample(
        self, operation: str, response: httpx.Response, sent_ms: int, received_ms: int
    ) -> ClockSample | None:
        server_date = _server_date_seconds(response)
        if server_date is None:
            return None
        sample = ClockSample(
            operation=operation,
            sent_ms=sent_ms,
            received_ms=received_ms,
            server_date_seconds=server_date,
            http_status=response.status_code,
        )
        with self._samples_lock:
            self._samples.append(sample)
        if self.on_clock_sample is not None:
            self.on_clock_sample(sample)
        return sample

    def send(
        self,
        request: Request,
        *,
        deadline: float | None,
        retry_on_timeout: bool,
        read_timeout: float | None = None,
    ) -> Exchange:
        """Send with retries; returns the first answer that is not worth retrying.

        Raises :class:`EbayRateLimited`/:class:`EbayUnavailable` when retries run out and
        :class:`DeadlineExceeded` when the deadline stops them.
        """
        maybe_processed = False
        last_error: EbayError | None = None
        for attempt in range(self.config.retry.max_attempts):
            if deadline is not None and self.clock() >= deadline:
                raise DeadlineExceeded(
                    f"{request.operation}: deadline passed after {attempt} attempt(s)",
                    last_error=last_error,
                    maybe_processed=maybe_processed,
                    http_status=last_error.http_status if last_error else None,
                ) from last_error
            outcome = self._try(request, deadline, read_timeout, retry_on_timeout, maybe_processed)
            if isinstance(outcome, Exchange):
                return outcome
            last_error, maybe_processed = outcome.error, outcome.maybe_processed
            delay = self._retry_delay(request.operation, outcome, attempt, deadline)
            logger.warning(
                "ebay call retrying",
                operation=request.operation,
                attempt=attempt + 1,
                delay_s=round(delay, 3),
                reason=type(last_error.__cause__ or last_error).__name__,
                http_status=last_error.http_status,
            )
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _try(
        self,
        request: Request,
        deadline: float | None,
        read_timeout: float | None,
        retry_on_timeout: bool,
        maybe_processed: bool,
    ) -> Exchange | _Failure:
        """One attempt: the exchange when it is not worth retrying, else why it failed."""
        try:
            exchange = self.attempt(request, self.timeout(read_timeout, deadline))
        except _NOT_SENT_ERRORS as exc:
            error = EbayUnavailable(
                f"{request.operation}: {type(exc).__name__}", maybe_processed=maybe_processed
            )
            error.__cause__ = exc
            return _Failure(error, True, None, maybe_processed)
        except _UNKNOWN_OUTCOME_ERRORS as exc:
            error = EbayUnavailable(
                f"{request.operation}: {type(exc).__name__}", maybe_processed=True
            )
            error.__cause__ = exc
            return _Failure(error, retry_on_timeout, None, True)
        status = exchange.response.status_code
        if status not in _RETRY_STATUSES:
            return exchange
        retry_after = _retry_after_seconds(exchange.response, self.clock())
        safe = status in _SAFE_RETRY_STATUSES
        maybe_processed = maybe_processed or not safe
        refused = self._retryable_error(exchange, retry_after, maybe_processed)
        return _Failure(refused, safe or retry_on_timeout, retry_after, maybe_processed)

    def _retry_delay(
        self, operation: str, failure: _Failure, attempt: int, deadline: float | None
    ) -> float:
        """How long to wait before the next attempt; raises when there is to be none."""
        policy = self.config.retry
        error = failure.error
        if (
            not failure.retry_allowed
            or attempt + 1 >= policy.max_attempts
            or (failure.retry_after is not None and failure.retry_after > policy.max_retry_after)
        ):
            _log_failure(operation, error, attempt + 1)
            raise error
        if failure.retry_after is not None:
            delay = failure.retry_after
        else:
            cap = min(policy.max_delay, policy.base_delay * (2**attempt))
            delay = self._rng.uniform(0.0, cap)
        if deadline is not None and self.clock() + delay >= deadline:
            _log_failure(operation, error, attempt + 1, deadline=True)
            raise DeadlineExceeded(
                f"{operation}: no time left to retry after {attempt + 1} attempt(s)",
                last_error=error,
                maybe_processed=failure.maybe_processed,
                http_status=error.http_status,
            ) from error
        return delay

    def _retryable_error(
        self, exchange: Exchange, retry_after: float | None, maybe_processed: bool
    ) -> EbayError:
        response = exchange.response
        parsed = error_from_body(
            json_body(response), http_status=response.status_code, timing=exchange.sample
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

    def rest_result(self, exchange: Exchange) -> Any:
        """A REST answer's JSON body; an error answer raises its ``common.ebay.errors`` type."""
        if exchange.response.status_code >= 400:
            raise self.rest_error(exchange)
        body = json_body(exchange.response)
        if body is None:
            raise EbayProtocolError(
                "eBay answered without a JSON body", http_status=exchange.response.status_code
            )
        return body

    def rest_error(self, exchange: Exchange) -> EbayError:
        response = exchange.response
        error = error_from_body(
            json_body(response), http_status=response.status_code, timing=exchange.sample
        )
        if isinstance(error, EbayRateLimited):
            error.retry_after = _retry_after_seconds(response, self.clock())
        logger.info(
            "ebay call refused",
            operation=exchange.operation,
            http_status=response.status_code,
            error_id=error.error_id,
            error_type=type(error).__name__,
        )
        return error


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
