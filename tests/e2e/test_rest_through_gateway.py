"""The REST API as a client meets it: the local gateway, real tokens from the local user pool,
the JWT authorizer, the handlers, moto and the eBay simulator, all in one stack."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from common.data.dynamo import default_client
from local.testing import RunningStack, running_stack
from tests.dynamo_faults import LostAnswers

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    with running_stack(aws_endpoint_url=aws_endpoint) as stack:
        yield stack


def _login(base: str, email: str, password: str = "Sniper-Test-Pass1") -> dict[str, str]:
    httpx.post(f"{base}/local/signup", json={"email": email, "password": password})
    tokens = httpx.post(
        f"{base}/local/login", json={"username": email, "password": password}
    ).json()
    return {"Authorization": f"Bearer {tokens['idToken']}"}


def _auction(running: RunningStack, **fields: object) -> dict[str, str]:
    payload = {"title": "Nikon F2 Photomic", "startPrice": 1500, "endsInSeconds": 900}
    payload.update(fields)
    response = httpx.post(f"{running.sim_url}/_sim/auctions", json=payload)
    response.raise_for_status()
    return dict(response.json())


def test_a_signed_in_user_snipes_an_auction(running: RunningStack) -> None:
    base = running.base_url
    # Given a user signed in through the local user pool
    auth = _login(base, "buyer1@example.com")
    profile = httpx.get(f"{base}/users/profile", headers=auth)
    assert profile.status_code == 200
    assert profile.json()["email"] == "buyer1@example.com"
    # When they snipe an auction on the simulator
    auction = _auction(running)
    created = httpx.post(
        f"{base}/bids",
        headers=auth,
        json={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 4200, "leadSeconds": 3},
    )
    # Then the snipe is stored with eBay's data and listed
    assert created.status_code == 201, created.text
    snipe = created.json()
    assert snipe["itemTitle"] == "Nikon F2 Photomic"
    assert snipe["itemId"] == auction["itemId"]
    listed = httpx.get(f"{base}/bids", headers=auth, params={"status": "PENDING"}).json()
    assert [b["bidId"] for b in listed["items"]] == [snipe["bidId"]]
    history = httpx.get(f"{base}/bid-history/{snipe['bidId']}", headers=auth).json()
    assert [e["action"] for e in history["items"]] == ["CREATE"]


def test_the_authorizer_guards_every_route(running: RunningStack) -> None:
    base = running.base_url
    for method, path in (("GET", "/bids"), ("GET", "/users/profile"), ("POST", "/bids")):
        response = httpx.request(method, f"{base}{path}")
        assert response.status_code == 401
        bad = httpx.request(method, f"{base}{path}", headers={"Authorization": "Bearer x.y.z"})
        assert bad.status_code == 401


def test_users_are_isolated(running: RunningStack) -> None:
    base = running.base_url
    alice = _login(base, "alice@example.com")
    bob = _login(base, "bob@example.com")
    auction = _auction(running)
    snipe = httpx.post(
        f"{base}/bids",
        headers=alice,
        json={"ebayItemId": auction["legacyItemId"], "maxBidAmount": 3000},
    ).json()
    for method in ("GET", "PUT", "DELETE"):
        body = {"maxBidAmount": 5000} if method == "PUT" else None
        response = httpx.request(method, f"{base}/bids/{snipe['bidId']}", headers=bob, json=body)
        assert response.status_code == 404
        assert "Nikon" not in response.text
    assert httpx.get(f"{base}/bid-history/{snipe['bidId']}", headers=bob).status_code == 404
    assert httpx.get(f"{base}/bids", headers=bob).json()["items"] == []


def test_racing_creates_through_the_gateway_give_one_201(running: RunningStack) -> None:
    base = running.base_url
    auth = _login(base, "racer@example.com")
    auction = _auction(running)
    body = {"ebayItemId": auction["legacyItemId"], "maxBidAmount": 2500}

    def create(_: int) -> int:
        return httpx.post(f"{base}/bids", headers=auth, json=body, timeout=30).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(create, range(6)))
    assert statuses == [201, 409, 409, 409, 409, 409]


def _subject(auth: dict[str, str]) -> str:
    payload = auth["Authorization"].split()[1].split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def test_a_create_whose_answer_was_lost_is_retried_with_its_key_to_the_same_snipe(
    running: RunningStack,
) -> None:
    base = running.base_url
    # Given a signed-in user, an auction, and the dashboard's origin allowed to send the key
    auth = _login(base, "retrier@example.com")
    auction = _auction(running)
    preflight = httpx.options(
        f"{base}/bids",
        headers={
            "Origin": running.stack.dashboard_url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    body = {"ebayItemId": auction["legacyItemId"], "maxBidAmount": 3300, "leadSeconds": 4}
    keyed = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    # When the create's transaction lands but DynamoDB's answer never reaches the function
    lost = LostAnswers(default_client())
    try:
        lost.arm(1, only=f"SNIPE#{_subject(auth)}#{auction['legacyItemId']}")
        first = httpx.post(f"{base}/bids", headers=keyed, json=body, timeout=30)
    finally:
        lost.close()
    # Then the user is told to try again, although the snipe is stored
    assert first.status_code == 503, first.text
    assert first.json()["error"]["message"] == "The database did not answer in time; try again"
    [stored] = httpx.get(f"{base}/bids", headers=auth).json()["items"]
    # When they try again with the same key
    again = httpx.post(f"{base}/bids", headers=keyed, json=body, timeout=30)
    # Then they get that snipe, created once
    assert again.status_code == 201, again.text
    assert again.json()["bidId"] == stored["bidId"]
    assert [b["bidId"] for b in httpx.get(f"{base}/bids", headers=auth).json()["items"]] == [
        stored["bidId"]
    ]
    history = httpx.get(f"{base}/bid-history/{stored['bidId']}", headers=auth).json()
    assert [e["action"] for e in history["items"]] == ["CREATE"]
    # and a retry without the key is still the one-active-snipe conflict
    plain = httpx.post(f"{base}/bids", headers=auth, json=body, timeout=30)
    assert plain.status_code == 409


def test_the_openapi_document_and_swagger_page_are_served(running: RunningStack) -> None:
    document = httpx.get(f"{running.base_url}/openapi.json").json()
    assert {"/bids", "/bids/{bidId}", "/users/profile", "/bid-history"} <= set(document["paths"])
    assert httpx.get(f"{running.base_url}/docs").status_code == 200
