"""Fakes shared by the eBay client's unit tests: a clock that sleeps instantly, a client on
an ``httpx.MockTransport``, and Date headers."""

from __future__ import annotations

import random
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest
from pydantic import SecretStr

from common.ebay.client import EbayClient
from common.ebay.config import EbayConfig, RetryPolicy
from common.ebay.credentials import AppCredentials

API = "https://api.sandbox.ebay.com"
CLIENT_SECRET = "SBX-client-secret-do-not-log"
START = 1_700_000_000.0

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """``time.time`` and ``time.sleep`` that never wait: sleeping moves the clock."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def date_header(epoch: float) -> dict[str, str]:
    return {"Date": formatdate(epoch, usegmt=True)}


CREDENTIALS = AppCredentials(
    clientId="sniper-app-id", clientSecret=SecretStr(CLIENT_SECRET), ruName="Sniper-RuName"
)


@pytest.fixture
def credentials() -> AppCredentials:
    return CREDENTIALS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> EbayConfig:
    return EbayConfig.for_environment(
        "sandbox", retry=RetryPolicy(max_attempts=4, base_delay=0.2, max_delay=2.0)
    )


@pytest.fixture
def make_client(clock: FakeClock, config: EbayConfig) -> Callable[..., EbayClient]:
    def make(handler: Handler, *, cfg: EbayConfig | None = None) -> EbayClient:
        return EbayClient(
            cfg or config,
            CREDENTIALS,
            http=httpx.Client(transport=httpx.MockTransport(handler)),
            clock=clock,
            sleep=clock.sleep,
            rng=random.Random(7),
        )

    return make
