"""Push to WebSocket connections through API Gateway's management API (`@connections`).

Two adapters with the same answers: ``post`` returns False for a connection that is gone
(GoneException, HTTP 410) and retries throttling (429) with exponential backoff and jitter
before raising ``RetryableError``.

- ``SignedPusher``, the hot path (the broadcaster's and the action handler's posts): each POST
  SigV4-signed with the function's credentials (service ``execute-api``; ``common.sigv4``
  computes botocore's signature) and sent over kept-alive HTTP/1.1 connections
  (``common.http1``). A 5xx, a timeout or a
  broken connection raises ``RetryableError`` at once, any other status ``PushRejected``, as
  the boto3 client (one attempt) raised its ``ClientError``/``BotoCoreError``: the record fails
  and the stream retries it.
- ``ConnectionPusher`` on boto3's ``apigatewaymanagementapi`` client, where a call is rare
  (closing a deleted account's sockets): per post, botocore's request pipeline costs ~1 ms of
  CPU where the signed path costs ~0.1 ms (docs/realtime-protocol.md).

Both are thread-safe, so one adapter serves a pool of threads.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import boto3
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.errors import PushRejected, RetryableError
from common.http1 import HttpError, HttpTimeout, KeepAliveClient, Response
from common.sigv4 import MAX_CACHED_PATHS, SigV4Signer

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

GONE_CODES = frozenset({"GoneException"})
THROTTLED_CODES = frozenset(
    {"LimitExceededException", "TooManyRequestsException", "ThrottlingException"}
)


def management_client(endpoint_url: str, max_connections: int = 32) -> Any:
    """One client per container. The explicit endpoint wins over AWS_ENDPOINT_URL."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        config=aws.config(
            max_pool_connections=max_connections,
            # Our own backoff below; botocore's would hide throttling from it. One attempt:
            # botocore's "max_attempts" counts retries (1 was a second attempt, 2 x 7 s).
            retries={"total_max_attempts": 1, "mode": "standard"},
            # Per post, botocore checks the parameters against the model and assembles its
            # User-Agent from a dozen sanitised parts: ~10 and ~100 us of CPU (~5% and ~1/3 of
            # its work before the HTTP send) spent again on every one of thousands of posts of
            # an (id, bytes) pair. A fixed User-Agent costs nothing; AWS reads it for telemetry.
            parameter_validation=False,
            user_agent="ebay-sniper",
            connect_timeout=2,
            read_timeout=5,
        ),
    )


class ConnectionPusher:
    def __init__(
        self,
        client: ApiGatewayManagementApiClient | Any,
        *,
        attempts: int = 5,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep

    def post(self, connection_id: str, data: bytes) -> bool:
        """Send ``data`` to one connection; False when the connection is gone."""
        for attempt in range(self.attempts):
            try:
                self.client.post_to_connection(ConnectionId=connection_id, Data=data)
                return True
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in GONE_CODES:
                    return False
                if code not in THROTTLED_CODES:
                    raise
                if attempt + 1 == self.attempts:
                    raise RetryableError("The WebSocket API kept throttling") from exc
                self.sleep(self.base_delay * (2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def disconnect(self, connection_id: str) -> None:
        """Close one connection; one that is gone already is fine."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") not in GONE_CODES:
                raise RetryableError("The WebSocket API did not close the connection") from exc
        except BotoCoreError as exc:
            raise RetryableError("The WebSocket API could not be reached") from exc


# What a post may take: the TCP/TLS handshake, then each wait for the answer's bytes (the same
# as the boto3 client's, which tests/unit/test_aws_clients.py checks against the functions).
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0


class SignedPusher:
    """``@connections`` POSTs, SigV4-signed for ``execute-api`` with the function's credentials
    (``common.sigv4``: botocore's signature, at a sixth of its signer's CPU) and sent over
    kept-alive HTTP/1.1 connections (``common.http1``), at most ``max_connections`` idle."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        http: KeepAliveClient | None = None,
        credentials: Credentials | None = None,
        region: str | None = None,
        max_connections: int = 32,
        attempts: int = 5,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = http or KeepAliveClient(
            endpoint_url,
            max_idle=max_connections,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        )
        session = boto3.Session()
        # The function's credentials as botocore resolves them (Lambda's environment); kept as
        # botocore's object, so credentials that refresh do so here too.
        resolved = credentials or session.get_credentials()
        if resolved is None:
            raise RuntimeError("no AWS credentials to sign @connections requests with")
        self.signer = SigV4Signer(resolved, region or session.region_name or "", "execute-api")
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self._prefix = f"{self.http.base_path}/@connections/"
        self._paths: dict[str, str] = {}  # connection id -> its path (posted to again and again)

    def post(self, connection_id: str, data: bytes) -> bool:
        """Send ``data`` to one connection; False when the connection is gone."""
        for attempt in range(self.attempts):
            response = self._send("POST", connection_id, data)
            if response.status < 300:
                return True
            code = _error_code(response)
            if response.status == 410 or code in GONE_CODES:
                return False
            if response.status != 429 and code not in THROTTLED_CODES:
                if response.status >= 500:
                    raise RetryableError(f"The WebSocket API answered {response.status} {code}")
                raise PushRejected(f"The WebSocket API refused the post: {response.status} {code}")
            if attempt + 1 == self.attempts:
                raise RetryableError("The WebSocket API kept throttling")
            self.sleep(self.base_delay * (2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _send(self, method: str, connection_id: str, data: bytes) -> Response:
        path = self._paths.get(connection_id)
        if path is None:
            if len(self._paths) >= MAX_CACHED_PATHS:
                self._paths.clear()
            # The id quoted as botocore quotes a URI label (all but -._~): API Gateway's ids
            # are base64, whose '=', '+' and '/' must not reach the path as they are.
            path = self._paths[connection_id] = self._prefix + quote(connection_id, safe="-._~")
        headers = self.signer.headers(method, self.http.host_header, path, data)
        headers.append(("User-Agent", "ebay-sniper"))
        try:
            return self.http.request(method, path, headers, data)
        except HttpTimeout as exc:
            raise RetryableError("The WebSocket API did not answer in time") from exc
        except HttpError as exc:
            raise RetryableError("The WebSocket API could not be reached") from exc


def _error_code(response: Response) -> str:
    """The error's type as botocore reads it for API Gateway: x-amzn-ErrorType up to ':'."""
    return response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
