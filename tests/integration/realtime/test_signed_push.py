"""The signed send path (common.data.push.SignedPusher over common.http1) against a scripted
management API: what each answer of API Gateway's ``@connections`` becomes, with the same
outcomes as the boto3 path before it (410 -> gone, 429 -> backoff then RetryableError, 5xx and
timeouts -> RetryableError), signatures the local gateway's botocore check accepts, and
kept-alive connections, including one the server closed while idle."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiohttp import web
from botocore.credentials import Credentials

from common.data.push import SignedPusher
from common.errors import PushRejected, RetryableError
from common.http1 import KeepAliveClient
from local import sigv4
from local.testing import serving_app

pytestmark = pytest.mark.integration

CREDENTIALS = Credentials("AKIDLOCAL", "local-secret")
REGION = "eu-west-1"


class ScriptedApi:
    """@connections whose answer depends on the connection id; every request's signature is
    checked as the local gateway checks it (a wrong one is AWS's 403)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.peers: set[int] = set()
        self.throttles: Counter[str] = Counter({"throttled-twice=": 2, "throttled=": 10**6})

    async def post(self, request: web.Request) -> web.Response:
        body = await request.read()
        refused = sigv4.check(
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            request.headers,
            body,
            secrets={CREDENTIALS.access_key: CREDENTIALS.secret_key},
            region=REGION,
        )
        if refused is not None:
            return _error(refused.status, refused.error_type, refused.message)
        connection_id = request.match_info["connection_id"]
        self.requests.append((connection_id, body))
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.peers.add(peer[1] if peer else 0)
        if connection_id.startswith("gone"):
            return _error(410, "GoneException", None)
        if self.throttles[connection_id] > 0:
            self.throttles[connection_id] -= 1
            return _error(429, "LimitExceededException", "Too Many Requests")
        if connection_id == "broken=":
            return _error(500, "InternalServerErrorException", "Internal server error")
        if connection_id == "unavailable=":
            return web.Response(status=503, text="Service Unavailable")
        if connection_id == "too-large=":
            return _error(413, "PayloadTooLargeException", "Request entity too large")
        if connection_id == "slow=":
            await asyncio.sleep(1.0)  # real time, on purpose: outlasts the client's read timeout
        return web.Response(status=200)

    def sent_to(self, connection_id: str) -> int:
        return sum(1 for c, _ in self.requests if c == connection_id)


def _error(status: int, error_type: str, message: str | None) -> web.Response:
    return web.json_response(
        {"message": message}, status=status, headers={"x-amzn-ErrorType": error_type}
    )


@pytest.fixture
def api() -> Iterator[tuple[ScriptedApi, str]]:
    scripted = ScriptedApi()
    app = web.Application()
    app.router.add_post("/prod/@connections/{connection_id}", scripted.post)
    with serving_app(app) as base_url:
        yield scripted, f"{base_url}/prod"


def _pusher(
    url: str, *, read_timeout: float = 5.0, sleeps: list[float] | None = None
) -> SignedPusher:
    return SignedPusher(
        url,
        http=KeepAliveClient(url, read_timeout=read_timeout),
        credentials=CREDENTIALS,
        region=REGION,
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
    )


def test_posts_are_signed_and_share_one_kept_alive_connection(api):
    scripted, url = api
    pusher = _pusher(url)
    # When twenty messages are posted, one after another
    results = [pusher.post("AbC+/dEf=", f'{{"n": {n}}}'.encode()) for n in range(20)]
    # Then each was accepted (its signature checked by botocore), arrived as sent, and they all
    # went over one TCP connection
    assert results == [True] * 20
    assert [body for _c, body in scripted.requests] == [f'{{"n": {n}}}'.encode() for n in range(20)]
    assert {c for c, _ in scripted.requests} == {"AbC+/dEf="}
    assert len(scripted.peers) == 1


def test_a_gone_connection_is_false_and_not_retried(api):
    scripted, url = api
    # When a post meets 410 GoneException
    gone = _pusher(url).post("gone-1=", b"{}")
    # Then the pusher says "gone" (the fan-out deletes that connection), after one request
    assert gone is False
    assert scripted.sent_to("gone-1=") == 1


def test_throttling_is_retried_with_growing_backoff_then_delivered(api):
    scripted, url = api
    sleeps: list[float] = []
    # When the first two posts meet 429
    delivered = _pusher(url, sleeps=sleeps).post("throttled-twice=", b"{}")
    # Then the third goes through, after two waits, the second longer on average (jitter 0.5-1.5)
    assert delivered is True
    assert scripted.sent_to("throttled-twice=") == 3
    assert len(sleeps) == 2
    assert 0.025 <= sleeps[0] <= 0.075
    assert 0.05 <= sleeps[1] <= 0.15


def test_throttling_that_never_ends_is_a_retryable_error(api):
    scripted, url = api
    # When every attempt meets 429
    with pytest.raises(RetryableError, match="kept throttling"):
        _pusher(url).post("throttled=", b"{}")
    # Then it gave up after its five attempts (the record goes back to the stream)
    assert scripted.sent_to("throttled=") == 5


@pytest.mark.parametrize("connection_id", ["broken=", "unavailable="])
def test_a_server_error_is_retryable_at_once(api, connection_id: str):
    scripted, url = api
    # When API Gateway answers 5xx
    with pytest.raises(RetryableError, match="answered 50"):
        _pusher(url).post(connection_id, b"{}")
    # Then that record fails now, once: the stream's retry replays it in order
    assert scripted.sent_to(connection_id) == 1


def test_another_refusal_is_not_taken_for_gone(api):
    _scripted, url = api
    with pytest.raises(PushRejected, match="413 PayloadTooLargeException"):
        _pusher(url).post("too-large=", b"{}")


def test_a_wrong_signature_is_refused(api):
    _scripted, url = api
    # Given a pusher that signs with a secret the API does not know for its key
    pusher = SignedPusher(
        url, credentials=Credentials(CREDENTIALS.access_key, "not-the-secret"), region=REGION
    )
    # Then its post is refused as AWS refuses it
    with pytest.raises(PushRejected, match="403 InvalidSignatureException"):
        pusher.post("AbC=", b"{}")


def test_an_answer_that_does_not_come_is_a_retryable_timeout(api):
    _scripted, url = api
    # When the answer takes longer than the read timeout
    with pytest.raises(RetryableError, match="did not answer in time"):
        _pusher(url, read_timeout=0.2).post("slow=", b"{}")


def test_an_endpoint_that_cannot_be_reached_is_retryable():
    # Given a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Then the post fails as retryable
    with pytest.raises(RetryableError, match="could not be reached"):
        _pusher(f"http://127.0.0.1:{port}/prod").post("AbC=", b"{}")


class _OneAnswerPerConnection(socketserver.BaseRequestHandler):
    """Answers one request, then closes the connection without saying so (as a server whose
    idle keep-alive timer fired): the client's next request on it finds it closed. The answer
    is chunked, as a proxy may send it."""

    seen: list[bytes]

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.request.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        fields = dict(line.partition(b": ")[::2] for line in head.split(b"\r\n")[1:])
        while len(body) < int(fields[b"Content-Length"]):
            body += self.request.recv(65536)
        self.seen.append(body)
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        )


@contextmanager
def _closing_server() -> Iterator[tuple[str, list[bytes]]]:
    seen: list[bytes] = []
    handler = type("Handler", (_OneAnswerPerConnection,), {"seen": seen})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prod", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_kept_alive_connection_the_server_closed_is_replaced():
    with _closing_server() as (url, seen):
        client = KeepAliveClient(url)
        # Given a connection kept from a first exchange, which the server has since closed
        first = client.request("POST", "/prod/@connections/a", body=b"1")
        # When the next request goes out
        second = client.request("POST", "/prod/@connections/a", body=b"2")
        # Then it is sent again on a new connection: each body arrived once, both answered
        assert (first.status, first.body, second.status, second.body) == (200, b"{}", 200, b"{}")
        assert seen == [b"1", b"2"]
