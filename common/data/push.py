"""Push to WebSocket connections through API Gateway's management API (`@connections`).

The one adapter for ``apigatewaymanagementapi``: ``post`` answers False for a connection that
is gone (GoneException, HTTP 410) and retries throttling with exponential backoff and jitter
before raising ``RetryableError``. The client is thread-safe, so one adapter serves a pool.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.errors import RetryableError

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
