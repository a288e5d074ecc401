"""The realtime path end to end on the local stack: token checks at $connect, a DynamoDB write
reaching its owner's socket through the stream pump, isolation between users, the management
API, prices pulled by an open socket (``refreshPrices``), and `sniper ws`."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import jwt
import moto
import pytest
import websockets
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from common.data.push import SignedPusher
from common.sigv4 import SigV4Signer
from local.aws import client
from local.lambda_runtime import new_containers
from local.testing import RunningStack, link_ebay_account, running_stack
from tests import aio, stack_env
from tests.polling import eventually
from tests.realtime_events import snipe

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    new_containers()
    with running_stack(aws_endpoint_url=aws_endpoint) as stack:
        yield stack
    new_containers()


def _login(running: RunningStack, email: str) -> tuple[str, str]:
    password = "Realtime-Pass-123"
    httpx.post(f"{running.base_url}/local/signup", json={"email": email, "password": password})
    token = httpx.post(
        f"{running.base_url}/local/login", json={"username": email, "password": password}
    ).json()["idToken"]
    return token, jwt.decode(token, options={"verify_signature": False})["sub"]


def _ws_url(running: RunningStack) -> str:
    return running.stack.websocket_url.replace("localhost", "127.0.0.1")


def _moto_key() -> dict[str, Any]:
    path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    return json.loads(gzip.decompress(path.read_bytes()))


def _signed(claims: dict[str, Any], key: Any = None) -> str:
    signing = key or jwt.PyJWK(_moto_key()).key
    return jwt.encode(claims, signing, algorithm="RS256", headers={"kid": "dummy"})


async def _handshake_status(url: str) -> int:
    try:
        async with websockets.connect(url):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


def test_missing_forged_expired_and_foreign_tokens_are_refused(running: RunningStack):
    from cryptography.hazmat.primitives.asymmetric import rsa

    provisioned = running.stack.provisioned
    assert provisioned is not None
    good = {
        "sub": "someone",
        "iss": provisioned.issuer,
        "aud": provisioned.user_pool_client_id,
        "token_use": "id",
        "exp": int(time.time()) + 600,
    }
    forged = _signed(good, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    expired = _signed({**good, "exp": int(time.time()) - 60})
    foreign = _signed({**good, "aud": "another-client"})
    url = _ws_url(running)
    statuses = aio.run(
        _all(
            _handshake_status(url),
            _handshake_status(f"{url}?token=not-a-jwt"),
            _handshake_status(f"{url}?token={forged}"),
            _handshake_status(f"{url}?token={expired}"),
            _handshake_status(f"{url}?token={foreign}"),
            _handshake_status(f"{url}?token={_signed(good)}"),
        )
    )
    assert statuses == [401, 401, 401, 401, 401, 101]


async def _all(*coroutines: Any) -> list[Any]:
    return list(await asyncio.gather(*coroutines))


def test_a_write_reaches_its_owner_only_and_gone_connections_are_removed(running: RunningStack):
    token_a, user_a = _login(running, "alice@example.com")
    token_b, user_b = _login(running, "bob@example.com")
    provisioned = running.stack.provisioned
    assert provisioned is not None
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    table = provisioned.tables["BidsTable"].name
    url = _ws_url(running)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with (
            websockets.connect(f"{url}?token={token_a}") as ws_a,
            websockets.connect(f"{url}?token={token_b}") as ws_b,
        ):
            for ws in (ws_a, ws_b):
                await ws.send(json.dumps({"action": "sync"}))
                assert json.loads(await ws.recv())["type"] == "snapshot"
            # Given a snipe of A written to DynamoDB, then its price changed
            from common.data.dynamo import to_item

            item = snipe(user_a, bid="e2e-1")
            dynamodb.put_item(TableName=table, Item=to_item(item))
            dynamodb.put_item(TableName=table, Item=to_item({**item, "currentPrice": 1234}))
            got_a = await _events(ws_a, 2)
            await ws_b.send(json.dumps({"action": "ping"}))
            got_b = [json.loads(await asyncio.wait_for(ws_b.recv(), 10))]
            return got_a, got_b

    got_a, got_b = aio.run(scenario())
    # Then A sees both changes in order, B sees none of them
    assert [m["type"] for m in got_a] == ["bid.created", "price.changed"]
    assert [m["type"] for m in got_b] == ["pong"]
    # And once both sockets closed, their $disconnect removed them
    repo = stack_env.connections_repo()
    eventually(lambda: not (repo.connection_ids(user_a) or repo.connection_ids(user_b)), 5)
    assert repo.connection_ids(user_a) == []


async def _events(ws: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events, as a client reads them (a batch frame's one by one)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        events += message["data"]["events"] if message["type"] == "batch" else [message]
    return events


def test_a_refresh_brings_a_price_changed_at_ebay_to_the_socket_without_the_price_updater(
    running: RunningStack,
):
    # Given a linked user's snipe on an auction in its last 10 minutes
    token, _user = _login(running, "erin@example.com")
    http = httpx.Client(base_url=running.base_url, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    link_ebay_account(http, headers, "erin_ebay")
    created = httpx.post(
        f"{running.sim_url}/_sim/auctions",
        json={
            "title": "Hasselblad 500C/M",
            "startPrice": 1000,
            "endsInSeconds": 300,
            "bots": False,
        },
    )
    created.raise_for_status()
    item = created.json()["legacyItemId"]
    answer = http.post(
        "/bids", json={"ebayItemId": item, "maxBidAmount": 9000, "leadSeconds": 6}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    # and rivals' bids at eBay since, and the scheduled price updater doing nothing meanwhile
    for bidder, cents in (("rival_a", 2000), ("rival_b", 3000)):
        rival = httpx.post(
            f"{running.sim_url}/_sim/auctions/{item}/bids",
            json={"bidder": bidder, "maxAmount": cents},
        )
        assert rival.status_code == 201, rival.text
    price = httpx.get(f"{running.sim_url}/_sim/auctions/{item}").json()["currentPrice"]
    assert price > 1000
    updater_runs: list[Any] = []
    assert running.stack.runtime is not None

    async def scenario() -> list[dict[str, Any]]:
        async with websockets.connect(f"{_ws_url(running)}?token={token}") as ws:
            # When the open socket asks for fresh prices
            await ws.send(json.dumps({"action": "refreshPrices"}))
            got: list[dict[str, Any]] = []
            while not any(m["type"] == "price.changed" for m in got):
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                got += message["data"]["events"] if message["type"] == "batch" else [message]
            return got

    with running.stack.runtime.handler_replaced(
        "PriceUpdaterFunction", lambda event, context: updater_runs.append(event)
    ):
        got = aio.run(scenario())
    # Then the refresh polled the item, and the new price reached the socket
    [refreshed] = [m for m in got if m["type"] == "pricesRefreshed"]
    assert refreshed["data"]["throttled"] is False
    assert (refreshed["data"]["items"], refreshed["data"]["polled"]) == (1, 1)
    [changed] = [m for m in got if m["type"] == "price.changed"]
    assert (changed["ebayItemId"], changed["data"]["currentPrice"]) == (item, price)


def test_a_message_naming_a_lifecycle_route_is_an_unknown_action_and_keeps_the_socket(
    running: RunningStack,
):
    # Given an open, synced socket (one connection row)
    token, user = _login(running, "frank@example.com")
    repo = stack_env.connections_repo()

    async def scenario() -> list[dict[str, Any]]:
        async with websockets.connect(f"{_ws_url(running)}?token={token}") as ws:
            await ws.send(json.dumps({"action": "sync"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
            # When it sends messages whose action names $connect and $disconnect, which API
            # Gateway invokes only as a connection opens and closes
            answers = []
            for action in ("$connect", "$disconnect"):
                await ws.send(json.dumps({"action": action}))
                answers.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            assert len(repo.connection_ids(user)) == 1
            return answers

    answers = aio.run(scenario())
    # Then each is an unknown action ($default), answered as such, and the socket stays
    # registered for its owner's events
    assert [(a["type"], a["data"]["code"]) for a in answers] == [
        ("error", "UNKNOWN_ACTION"),
        ("error", "UNKNOWN_ACTION"),
    ]


def test_frames_are_not_compressed_as_api_gateway_negotiates_no_extension(running: RunningStack):
    token, _user = _login(running, "dave@example.com")

    async def handshake() -> tuple[str | None, dict[str, Any]]:
        # Given a client offering permessage-deflate (websockets does by default, as browsers)
        async with websockets.connect(f"{_ws_url(running)}?token={token}") as ws:
            await ws.send(json.dumps({"action": "ping"}))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ws.response is not None
            return ws.response.headers.get("Sec-WebSocket-Extensions"), answer

    # When it connects, then no extension is agreed, and messages still flow
    extensions, answer = aio.run(handshake())
    assert extensions is None
    assert answer["type"] == "pong"


def test_the_management_api_answers_410_for_a_gone_connection(running: RunningStack):
    # Given a post signed with the stack's credentials, to a connection that does not exist
    url = f"{running.stack.websocket_management_url}/@connections/nope%3D"
    signer = SigV4Signer(Credentials("testing", "testing"), "us-east-1", "execute-api")
    target = httpx.URL(url)
    headers = signer.headers("POST", target.netloc.decode(), target.raw_path.decode(), b"{}")
    # When it is sent
    response = httpx.post(url, content=b"{}", headers=dict(headers))
    # Then the connection is gone, as API Gateway says it
    assert response.status_code == 410
    assert response.headers["x-amzn-errortype"] == "GoneException"
    # And the product's pusher reads that as "gone"
    assert SignedPusher(running.stack.websocket_management_url).post("nope=", b"{}") is False


def test_the_management_api_refuses_a_request_signed_wrongly(running: RunningStack):
    # Given the management API, which checks SigV4 as AWS does (moto does not)
    url = running.stack.websocket_management_url
    wrong_secret = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="not-the-secret",
    )
    unknown_key = SigV4Signer(Credentials("AKIDUNKNOWN", "testing"), "us-east-1", "execute-api")
    right = SigV4Signer(Credentials("testing", "testing"), "us-east-1", "execute-api")
    host, path = httpx.URL(url).netloc.decode(), httpx.URL(url).path + "/@connections/x%3D"
    # When a post is signed with a wrong secret (boto3's own client), by an unknown key, for
    # another body than the one sent, or not at all
    with pytest.raises(ClientError) as wrong:
        wrong_secret.post_to_connection(ConnectionId="x=", Data=b"{}")
    answers = [
        httpx.post(url + "/@connections/x%3D", content=b"{}", headers=dict(headers))
        for headers in (
            unknown_key.headers("POST", host, path, b"{}"),
            right.headers("POST", host, path, b'{"signed": "this"}'),
            [],
        )
    ]
    # Then each is refused with 403 and AWS's error type, before the connection is looked up
    assert wrong.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert wrong.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert [(a.status_code, a.headers["x-amzn-errortype"]) for a in answers] == [
        (403, "UnrecognizedClientException"),
        (403, "InvalidSignatureException"),
        (403, "MissingAuthenticationTokenException"),
    ]


def _sniper(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "ws", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_cli_connects_receives_and_exits_non_zero_on_a_bad_token(running: RunningStack):
    token, _user = _login(running, "carol@example.com")
    url = _ws_url(running)
    ok = _sniper(
        "--url", url, "--token", token, "--json", "--send", '{"action": "ping"}',
        "--filter", "pong", "--count", "1",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.strip())["type"] == "pong"
    bad = _sniper("--url", url, "--token", "forged", "--no-reconnect")
    assert bad.returncode == 3
    assert bad.stderr.strip() == "sniper ws: token rejected (HTTP 401)"


def test_the_cli_stops_at_the_accounts_socket_cap_instead_of_retrying(running: RunningStack):
    token, _user = _login(running, "gina@example.com")
    url = _ws_url(running)
    cap = 10  # MaxConnectionsPerUser's default (template.yaml), which the local stack uses

    async def scenario() -> subprocess.CompletedProcess[str]:
        # Given an account with as many sockets open as it may have
        sockets = [await websockets.connect(f"{url}?token={token}") for _ in range(cap)]
        try:
            # When the CLI connects as that account, reconnecting as it does by default
            return await asyncio.to_thread(_sniper, "--url", url, "--token", token, timeout=20)
        finally:
            for ws in sockets:
                await ws.close()

    answer = aio.run(scenario())
    # Then it says why and exits, as the protocol asks of a client (no retry of a 429 in a loop)
    assert answer.returncode == 5, answer.stderr
    assert "HTTP 429" in answer.stderr
