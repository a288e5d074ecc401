"""DynamoDB's JSON protocol, spoken directly, for the broadcaster's one read per batch.

Each stream batch reads the sockets of its users with one BatchGetItem (common.data.connections).
Through boto3's client that call costs ~2 ms of CPU on this machine (its request pipeline,
urllib3 and http.client's header parsing, its shape-driven parser): for a batch of ten records,
half of all the broadcaster's CPU per message (a py-spy profile, docs/realtime-protocol.md).
Here the same request is a ``json.dumps``, a signature (``common.sigv4``, as botocore signs
it) and a POST on a kept-alive connection (``common.http1``); the answer a ``json.loads``: the
low-level client's shape (attribute values as DynamoDB sends them), which is what the product's
callers of ``batch_get_item`` read. Items with binary attributes would differ (boto3 decodes
their base64): the Connections table has none.

Errors as boto3 raises them, so the repositories' ``translate_errors`` maps them unchanged: an
error answer is a ``ClientError`` with DynamoDB's code (throttling -> RetryableError there). As
the product's boto3 clients (common/aws.py): 0.5 s to connect, 1 s per read, two attempts, the
second after a throttle, a 5xx, a timeout, a broken connection or a damaged answer (DynamoDB's
``x-amz-crc32`` of the body, which botocore checks too); a connection that fails twice is a
``RetryableError``.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from common import aws
from common.errors import RetryableError
from common.http1 import HttpError, KeepAliveClient, Response
from common.sigv4 import SigV4Signer

TARGET_PREFIX = "DynamoDB_20120810."
STREAMS_TARGET_PREFIX = "DynamoDBStreams_20120810."  # the same protocol, signed as "dynamodb"
CONTENT_TYPE = "application/x-amz-json-1.0"
# Error codes that a second attempt may cure (botocore's standard retry mode retries these).
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


class DynamoDbHttp:
    def __init__(
        self,
        endpoint_url: str,
        credentials: Any,
        region: str,
        *,
        http: KeepAliveClient | None = None,
        attempts: int = aws.TOTAL_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        target_prefix: str = TARGET_PREFIX,
    ) -> None:
        """``credentials``: botocore's (they may refresh); ``endpoint_url``: the one boto3
        resolves (``client.meta.endpoint_url``: AWS_ENDPOINT_URL locally); ``target_prefix``:
        DynamoDB's, or its stream's (``STREAMS_TARGET_PREFIX``)."""
        self.http = http or KeepAliveClient(
            endpoint_url,
            max_idle=4,
            connect_timeout=aws.CONNECT_TIMEOUT_SECONDS,
            read_timeout=aws.READ_TIMEOUT_SECONDS,
        )
        self.signer = SigV4Signer(credentials, region, "dynamodb")
        self.attempts = attempts
        self.sleep = sleep
        self.target_prefix = target_prefix
        self._path = self.http.base_path or "/"

    @classmethod
    def like(cls, client: Any) -> DynamoDbHttp:
        """Speaking to the endpoint and region of a boto3 DynamoDB client, with the
        credentials boto3 finds (Lambda's environment)."""
        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials to sign DynamoDB requests with")
        return cls(client.meta.endpoint_url, credentials, client.meta.region_name)

    def batch_get_item(self, **request: Any) -> dict[str, Any]:
        return self.call("BatchGetItem", request)

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(request, separators=(",", ":")).encode()
        signed = [("content-type", CONTENT_TYPE), ("x-amz-target", self.target_prefix + operation)]
        for attempt in range(1, self.attempts + 1):
            headers = self.signer.headers(
                "POST", self.http.host_header, self._path, body, signed=signed
            )
            headers += [("Content-Type", CONTENT_TYPE), ("X-Amz-Target", signed[1][1])]
            try:
                response = self.http.request("POST", self._path, headers, body)
            except HttpError as exc:
                if attempt == self.attempts:
                    raise RetryableError("The database could not be reached") from exc
                self._backoff(attempt)
                continue
            answer = _read(response, operation)
            if isinstance(answer, dict):
                return answer
            if attempt == self.attempts or not _transient(answer, response):
                raise answer
            self._backoff(attempt)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> None:
        # botocore's standard mode: rand(0, 1) x 2 ** (attempt - 1) s (before the 2nd: <= 1 s)
        self.sleep(random.random() * min(2 ** (attempt - 1), aws.MAX_BACKOFF_SECONDS))


def _read(response: Response, operation: str) -> dict[str, Any] | ClientError:
    """The answer, or the ClientError boto3 would raise for it."""
    crc = response.headers.get("x-amz-crc32")
    if crc is not None and int(crc) != zlib.crc32(response.body):
        return _error(response, operation, "CRC32CheckFailed", "the answer was damaged")
    try:
        data = json.loads(response.body or b"{}")
    except ValueError:
        data = {}
    if response.status == 200 and isinstance(data, dict):
        return data
    if not isinstance(data, dict):
        data = {}
    code = str(data.get("__type", "")).rpartition("#")[2] or str(response.status)
    return _error(response, operation, code, str(data.get("message") or data.get("Message", "")))


def _error(response: Response, operation: str, code: str, message: str) -> ClientError:
    parsed: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": response.status},
    }
    return ClientError(parsed, operation)


def _transient(error: ClientError, response: Response) -> bool:
    return (
        response.status >= 500
        or error.response["Error"]["Code"] in TRANSIENT_CODES
        or error.response["Error"]["Code"] == "CRC32CheckFailed"
    )
