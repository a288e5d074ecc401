"""Fakes shared by the eBay client's unit tests: a clock that sleeps instantly, a transport (and
each API on it, alone) or a whole client on an ``httpx.MockTransport`` or respx, and Date
headers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from email.utils import formatdate

import httpx
import pytest
import respx
from pydantic import SecretStr

from common.ebay.app_tokens import ApplicationTokens
from common.ebay.browse import BrowseApi
from common.ebay.client import EbayClient
from common.ebay.config import EbayConfig, RetryPolicy
from common.ebay.credentials import AppCredentials
from common.ebay.oauth import OAuthApi
from common.ebay.offer import BuyOfferApi
from common.ebay.transport import Transport

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


@pytest.fixture
def make_transport(clock: FakeClock, config: EbayConfig) -> Callable[..., Transport]:
    def make(handler: Handler, *, cfg: EbayConfig | None = None) -> Transport:
        return Transport(
            cfg or config,
            http=httpx.Client(transport=httpx.MockTransport(handler)),
            clock=clock,
            sleep=clock.sleep,
            rng=random.Random(7),
        )

    return make


# One API at a time, on a real httpx client, with eBay played by respx (the ``ebay`` router).


@pytest.fixture
def ebay() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def transport(clock: FakeClock, config: EbayConfig) -> Transport:
    return Transport(config, http=httpx.Client(), clock=clock, sleep=clock.sleep)


@pytest.fixture
def oauth(transport: Transport) -> OAuthApi:
    return OAuthApi(transport, CREDENTIALS)


@pytest.fixture
def app_tokens(transport: Transport, oauth: OAuthApi) -> ApplicationTokens:
    return ApplicationTokens(transport, oauth)


@pytest.fixture
def browse(transport: Transport, app_tokens: ApplicationTokens) -> BrowseApi:
    return BrowseApi(transport, app_tokens)


@pytest.fixture
def offer(transport: Transport) -> BuyOfferApi:
    return BuyOfferApi(transport)
