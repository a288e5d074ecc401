"""common.data.dynamo_http, the broadcaster's BatchGetItem without boto3: it answers what boto3's
client answers (against moto), and its errors are boto3's, so the repository's translation and
the stream's retries see no difference."""

from __future__ import annotations

import json
import socket
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from common import aws
from common.data.connections import ConnectionsRepository
from common.data.dynamo_http import DynamoDbHttp
from common.errors import RetryableError
from common.http1 import HttpTimeout, KeepAliveClient
from common.models import ConnectionEntity
from local.testing import serving_app
from tests.stack_env import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def tables(clean_tables) -> tuple[ConnectionsRepository, ConnectionsRepository]:
    """The Connections table with sockets for a and b (b's index expired), read by boto3 and
    by DynamoDbHttp."""
    client = boto3.client("dynamodb", config=aws.CONFIG)
    table = get_settings().connections_table
    through_boto3 = ConnectionsRepository(table, client)
    now = int(time.time())
    for connection_id, user, ttl in (
        ("a1=", "user-a", now + 7200),
        ("a/2+", "user-a", now + 7200),
        ("b1=", "user-b", now - 60),
    ):
        through_boto3.put(
            ConnectionEntity(connectionId=connection_id, userId=user, connectedAt=1, ttl=ttl)
        )
    return through_boto3, ConnectionsRepository(
        table, client, batch_client=DynamoDbHttp.like(client)
    )


def test_it_reads_what_boto3_reads(tables):
    through_boto3, through_http = tables
    users = ["user-a", "user-b", "user-c"]
    # When both read the sockets of the same users
    # Then they agree: a's two, none for b (expired) or c (never connected)
    assert through_http.connection_ids_by_user(users) == through_boto3.connection_ids_by_user(users)
    assert through_http.connection_ids_by_user(users) == {
        "user-a": ["a/2+", "a1="],
        "user-b": [],
        "user-c": [],
    }


def test_its_answer_is_the_low_level_clients(tables):
    through_boto3, _ = tables
    client = through_boto3.client
    request = {
        get_settings().connections_table: {
            "Keys": [{"userId": {"S": "user-a"}, "connectionId": {"S": "#index"}}]
        }
    }
    # When the same BatchGetItem goes through both
    ours = DynamoDbHttp.like(client).batch_get_item(RequestItems=request)
    theirs = client.batch_get_item(RequestItems=request)
    # Then the answers are the same but for boto3's ResponseMetadata
    theirs.pop("ResponseMetadata")
    assert ours == theirs


class ScriptedDynamoDb:
    """Answers BatchGetItem with the given (status, body, damaged?) in turn."""

    def __init__(self, *answers: tuple[int, dict[str, Any], bool]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        assert request.headers["X-Amz-Target"] == "DynamoDB_20120810.BatchGetItem"
        assert (
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target"
            in (request.headers["Authorization"])
        )
        self.requests.append(json.loads(await request.read()))
        status, body, damaged = self.answers.pop(0)
        text = json.dumps(body).encode()
        crc = zlib.crc32(text) + (1 if damaged else 0)
        return web.Response(status=status, body=text, headers={"x-amz-crc32": str(crc)})


OK = (200, {"Responses": {"t": [{"userId": {"S": "u"}}]}, "UnprocessedKeys": {}}, False)
THROTTLED = (
    400,
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "slow down",
    },
    False,
)
BROKEN = (500, {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError"}, False)
INVALID = (
    400,
    {"__type": "com.amazon.coral.validate#ValidationException", "message": "bad key"},
    False,
)


@contextmanager
def scripted(*answers: tuple[int, dict[str, Any], bool]) -> Iterator[tuple[DynamoDbHttp, Any]]:
    api = ScriptedDynamoDb(*answers)
    app = web.Application()
    app.router.add_post("/", api.handle)
    with serving_app(app) as url:
        yield DynamoDbHttp(url, Credentials("k", "s"), "eu-west-1", sleep=lambda _s: None), api


@pytest.mark.parametrize(
    "first", [THROTTLED, BROKEN, (200, OK[1], True)], ids=["throttled", "5xx", "damaged"]
)
def test_a_passing_fault_is_tried_once_more(first):
    # Given DynamoDB fails the first attempt, then answers
    with scripted(first, OK) as (dynamodb, api):
        # When the items are read
        answer = dynamodb.batch_get_item(RequestItems={"t": {"Keys": []}})
    # Then the second attempt's answer comes back
    assert answer == OK[1]
    assert len(api.requests) == 2


def test_throttling_twice_is_the_repositorys_retryable_error():
    # Given DynamoDB throttles both attempts
    with scripted(THROTTLED, THROTTLED) as (dynamodb, _api):
        repo = ConnectionsRepository("t", client=object(), batch_client=dynamodb)  # type: ignore[arg-type]
        # Then the read fails as boto3's would: throttling is RetryableError
        with pytest.raises(RetryableError):
            repo.connection_ids_by_user(["u"])


def test_a_request_dynamodb_refuses_is_boto3s_client_error_at_once():
    # When DynamoDB refuses the request itself
    with scripted(INVALID) as (dynamodb, api), pytest.raises(ClientError) as refused:
        dynamodb.batch_get_item(RequestItems={"t": {"Keys": []}})
    # Then it is not tried again, and the error is the one boto3 raises
    assert refused.value.response["Error"] == {"Code": "ValidationException", "Message": "bad key"}
    assert len(api.requests) == 1


def test_an_endpoint_that_cannot_be_reached_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dynamodb = DynamoDbHttp(
        f"http://127.0.0.1:{port}", Credentials("k", "s"), "eu-west-1", sleep=lambda _s: None
    )
    with pytest.raises(RetryableError):
        dynamodb.batch_get_item(RequestItems={"t": {"Keys": []}})


def test_an_endpoint_that_never_answers_is_retryable_after_both_attempts():
    # Given an endpoint that takes the connection (the kernel's backlog) and never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        dynamodb = DynamoDbHttp(
            url,
            Credentials("k", "s"),
            "eu-west-1",
            http=KeepAliveClient(url, connect_timeout=1.0, read_timeout=0.05),
            sleep=lambda _s: None,
        )
        # When the items are read, then each attempt times out and the read is RetryableError,
        # as a boto3 read that timed out is in the repositories
        with pytest.raises(RetryableError) as raised:
            dynamodb.batch_get_item(RequestItems={"t": {"Keys": []}})
    assert isinstance(raised.value.__cause__, HttpTimeout)
