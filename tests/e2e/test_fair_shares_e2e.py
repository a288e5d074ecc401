"""Fair shares as a client meets them on the local stack (its gateways read template.yaml): the
WebSocket handshake beyond the per-user cap, and a 429's Retry-After through the HTTP gateway,
readable by the dashboard's origin."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import websockets

from common.data.budget import ITEM_LOOKUPS, Limits
from local.template import load_yaml
from local.testing import RunningStack, running_stack
from tests import aio

pytestmark = pytest.mark.e2e
PARAMETERS = load_yaml()["Parameters"]


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    with running_stack(aws_endpoint_url=aws_endpoint, demo=False) as stack:
        yield stack


def _login(base: str, email: str, password: str = "Fair-Shares-Pass1") -> str:
    httpx.post(f"{base}/local/signup", json={"email": email, "password": password})
    tokens = httpx.post(f"{base}/local/login", json={"username": email, "password": password})
    return str(tokens.json()["idToken"])


async def _handshake(url: str) -> int:
    try:
        async with websockets.connect(url):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


def test_a_socket_beyond_the_per_user_cap_is_refused_with_429(running: RunningStack):
    # Given a user with as many sockets open as the template's cap allows
    cap = int(PARAMETERS["MaxConnectionsPerUser"]["Default"])
    token = _login(running.base_url, "tabs@example.com")
    url = f"{running.stack.websocket_url.replace('localhost', '127.0.0.1')}?token={token}"
    other = f"{url.split('?')[0]}?token={_login(running.base_url, 'other@example.com')}"

    async def scenario() -> tuple[int, int, int]:
        async with contextlib.AsyncExitStack() as open_sockets:
            sockets = [
                await open_sockets.enter_async_context(websockets.connect(url)) for _ in range(cap)
            ]
            # When they open one more / Then the handshake is refused with 429
            refused = await _handshake(url)
            # while another user connects
            stranger = await _handshake(other)
            # When one of theirs is closed / Then they may connect again
            await sockets[0].close()
            for _ in range(50):  # $disconnect runs after the close, asynchronously
                accepted = await _handshake(url)
                if accepted == 101:
                    break
                await asyncio.sleep(0.1)  # real time: the gateway's $disconnect to run
            return refused, stranger, accepted

    assert aio.run(scenario()) == (429, 101, 101)


def test_a_spent_lookup_allowance_answers_429_with_a_retry_after_the_dashboard_can_read(
    running: RunningStack,
):
    # Given a user who looked up as many items as one user may a day (4% of the look-ups' quota)
    per_user = Limits.of(ITEM_LOOKUPS, int(PARAMETERS["EbayDailyCallBudget"]["Default"])).per_user
    assert per_user
    auth = {"Authorization": f"Bearer {_login(running.base_url, 'browser@example.com')}"}
    with httpx.Client(base_url=running.sim_url, timeout=30) as sim:
        lots = [
            sim.post(
                "/_sim/auctions", json={"title": "Lot", "startPrice": 100, "endsInSeconds": 900}
            ).json()["legacyItemId"]
            for _ in range(per_user + 1)
        ]
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=30) as api:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(lambda lot: api.get(f"/wishlist/items/{lot}").status_code, lots[:-1])
            )
        assert statuses == [200] * per_user
        # When they look up one more, from the dashboard's origin (the stack serves it)
        answer = api.get(f"/wishlist/items/{lots[-1]}", headers={"Origin": running.stack.base_url})
    # Then 429, with a Retry-After the browser may read (exposed by CORS)
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "EBAY_SHARE_EXHAUSTED"
    assert 0 < int(answer.headers["Retry-After"]) <= 86_400
    assert "retry-after" in answer.headers["access-control-expose-headers"].lower()
