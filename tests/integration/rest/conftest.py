"""REST handlers against moto's tables (from template.yaml) and the eBay simulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest

from local.aws import Provisioned
from local.ebay_sim.testing import TEST_CONFIG, running_simulator
from local.lambda_runtime import new_containers
from tests.events import FakeLambdaContext, http_event


def _clear_caches() -> None:
    new_containers()


@pytest.fixture(scope="session")
def ebay_sim(stack_resources: Provisioned) -> Iterator[str]:
    """The simulator, a SecureString parameter holding its keyset, and EBAY_* pointing at both.

    The keyset goes into a parameter of its own so the template's stays as provisioned.
    """
    with running_simulator() as (_sim, base_url), pytest.MonkeyPatch.context() as env:
        env.setenv("EBAY_API_BASE_URL", base_url)
        env.setenv("EBAY_AUTH_URL", f"{base_url}/oauth2/authorize")
        name = f"/rest-tests/ebay-keyset-{uuid.uuid4().hex[:8]}"
        boto3.client("ssm").put_parameter(
            Name=name,
            Type="SecureString",
            Value=json.dumps(
                {
                    "clientId": TEST_CONFIG.client_id,
                    "clientSecret": TEST_CONFIG.client_secret,
                    "ruName": TEST_CONFIG.ru_name,
                }
            ),
        )
        env.setenv("EBAY_APP_SECRET_NAME", name)
        _clear_caches()
        yield base_url
    _clear_caches()


@pytest.fixture
def rest_env(clean_tables: Provisioned, ebay_sim: str) -> Iterator[Provisioned]:
    _clear_caches()
    yield clean_tables
    _clear_caches()


Call = Callable[..., tuple[int, Any]]


def make_call(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Call:
    def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        route = kwargs.pop("route", None)
        response = handler(http_event(method, path, route=route, **kwargs), FakeLambdaContext())
        body = response.get("body")
        return response["statusCode"], json.loads(body) if body else None

    return call


@pytest.fixture
def new_auction(ebay_sim: str) -> Callable[..., dict[str, Any]]:
    """Create an auction in the simulator through its admin API."""

    def create(**fields: Any) -> dict[str, Any]:
        payload = {"title": "Vintage Leica M3 camera", "startPrice": 1000, "endsInSeconds": 3600}
        payload.update(fields)
        response = httpx.post(f"{ebay_sim}/_sim/auctions", json=payload, timeout=5)
        response.raise_for_status()
        return dict(response.json())

    return create
