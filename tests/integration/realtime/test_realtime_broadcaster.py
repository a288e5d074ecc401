"""The broadcaster against moto's Connections table, with a fake management API."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from common.data.connections import ConnectionsRepository
from common.data.push import ConnectionPusher
from common.models import ConnectionEntity
from local.lambda_runtime import new_containers
from realtime.broadcaster import BroadcastProcessor
from realtime.fanout import Fanout
from tests.events import FakeLambdaContext
from tests.realtime_events import record, sam_dynamodb_event, snipe, stream_event
from tests.stack_env import get_settings

pytestmark = pytest.mark.integration


class FakeManagementApi:
    """boto3's apigatewaymanagementapi surface: 410 for gone ids, 429 a given number of times;
    records what each socket received, message by message."""

    def __init__(self, gone: set[str] = frozenset(), throttle: int = 0) -> None:  # type: ignore[assignment]
        self.gone = set(gone)
        self.throttle = throttle
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:
        if self.throttle:
            self.throttle -= 1
            raise ClientError({"Error": {"Code": "LimitExceededException"}}, "PostToConnection")
        if ConnectionId in self.gone:
            raise ClientError({"Error": {"Code": "GoneException"}}, "PostToConnection")
        message = json.loads(Data)
        # As a client reads it: a batch frame's events one by one
        events = message["data"]["events"] if message["type"] == "batch" else [message]
        self.sent += [(ConnectionId, event) for event in events]

    def to(self, connection_id: str) -> list[dict[str, Any]]:
        return [m for c, m in self.sent if c == connection_id]


@pytest.fixture
def connections(clean_tables) -> Iterator[ConnectionsRepository]:
    new_containers()
    repo = ConnectionsRepository(get_settings().connections_table)
    for connection_id, user in (("a1=", "user-a"), ("a2=", "user-a"), ("b1=", "user-b")):
        expires = int(time.time()) + 7200
        repo.put(
            ConnectionEntity(connectionId=connection_id, userId=user, connectedAt=1, ttl=expires)
        )
    yield repo
    new_containers()


def _run(event: dict[str, Any], repo: ConnectionsRepository, api: FakeManagementApi) -> Any:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    processor = BroadcastProcessor(
        Fanout(lambda: repo, lambda: ConnectionPusher(api, sleep=lambda _s: None))
    )

    def handler(record: Any) -> None:
        processor.plan(record)

    return process_partial_response(event, handler, processor, FakeLambdaContext())


def test_each_user_receives_only_their_own_events_on_every_connection(connections):
    # Given a change to user A's snipe and one to user B's
    api = FakeManagementApi()
    event = stream_event(record(None, snipe("user-a")), record(None, snipe("user-b", bid="b-1")))
    # When the batch is broadcast
    response = _run(event, connections, api)
    # Then A's two sockets get A's event, B's socket gets only B's
    assert response == {"batchItemFailures": []}
    assert [m["bidId"] for m in api.to("a1=")] == ["1700000000000aaaa"]
    assert [m["bidId"] for m in api.to("a2=")] == ["1700000000000aaaa"]
    assert [m["bidId"] for m in api.to("b1=")] == ["b-1"]


def test_a_gone_connection_is_removed_and_the_others_still_receive(connections):
    # Given one of user A's two sockets is gone
    api = FakeManagementApi(gone={"a1="})
    # When A's snipe changes
    _run(stream_event(record(None, snipe("user-a"))), connections, api)
    # Then the other socket receives it, and the gone one is removed: row and index
    assert len(api.to("a2=")) == 1
    assert connections.connection_ids("user-a") == ["a2="]
    assert connections.connection_ids_by_user(["user-a"]) == {"user-a": ["a2="]}


def test_the_connections_of_a_whole_batch_are_read_with_one_call(connections):
    # Given a batch touching three users (one without sockets)
    calls = CountingClient(connections.client)
    repo = ConnectionsRepository(connections.table, calls)  # type: ignore[arg-type]
    event = stream_event(
        record(None, snipe("user-a")),
        record(None, snipe("user-b", bid="b-1")),
        record(None, snipe("user-c", bid="c-1")),
    )
    api = FakeManagementApi()
    # When it is broadcast
    _run(event, repo, api)
    # Then one BatchGetItem found every socket, and nothing else was read
    assert calls.operations == ["batch_get_item"]
    assert {c for c, _m in api.sent} == {"a1=", "a2=", "b1="}


def test_a_poison_record_fails_alone_and_the_rest_are_delivered(connections):
    # Given a batch whose middle record is not a valid snipe
    good_1 = record(None, snipe("user-a", bid="x1"))
    poison = record(snipe("user-b"), snipe("user-b", status="BOGUS"))
    good_2 = record(None, snipe("user-b", bid="x2"))
    api = FakeManagementApi()
    # When it is broadcast
    response = _run(stream_event(good_1, poison, good_2), connections, api)
    # Then only the poison record is reported, and the others reached their owners
    assert response["batchItemFailures"] == [
        {"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}
    ]
    assert [m["bidId"] for m in api.to("a1=")] == ["x1"]
    assert [m["bidId"] for m in api.to("b1=")] == ["x2"]


def test_order_per_snipe_is_kept_within_a_batch(connections):
    prices = [1000, 1100, 1200, 1300, 1400, 1500]
    records = [
        record(snipe(currentPrice=a), snipe(currentPrice=b)) for a, b in itertools.pairwise(prices)
    ]
    api = FakeManagementApi()
    _run(stream_event(*records), connections, api)
    assert [m["data"]["currentPrice"] for m in api.to("a1=")] == prices[1:]


def test_redelivered_records_carry_the_same_event_ids(connections):
    event = stream_event(record(snipe(), snipe(currentPrice=1999, countdownPhase="1m")))
    first, second = FakeManagementApi(), FakeManagementApi()
    _run(event, connections, first)
    _run(event, connections, second)
    assert [m["eventId"] for m in first.to("a1=")] == [m["eventId"] for m in second.to("a1=")]


def test_throttling_is_retried_with_backoff(connections):
    api = FakeManagementApi(throttle=2)
    response = _run(stream_event(record(None, snipe("user-b"))), connections, api)
    assert response == {"batchItemFailures": []}
    assert len(api.to("b1=")) == 1


def test_an_undeliverable_record_fails_with_the_later_records_of_its_user(connections):
    # Given user B's connection throttles longer than the pusher retries
    api = FakeManagementApi()
    throttled = ConnectionPusher(api, attempts=2, sleep=lambda _s: None)

    class Throttling:
        def post(self, connection_id: str, data: bytes) -> bool:
            if connection_id == "b1=":
                raise RetryableErrorForTest()
            return throttled.post(connection_id, data)

    first = record(None, snipe("user-b", bid="y1"))
    later = record(snipe("user-b", bid="y1"), snipe("user-b", bid="y1", currentPrice=5))
    other = record(None, snipe("user-a", bid="z1"))
    processor = BroadcastProcessor(Fanout(lambda: connections, lambda: Throttling()))
    from aws_lambda_powertools.utilities.batch import process_partial_response

    # When broadcast, both of B's records fail (the later must not overtake the first on retry)
    response = process_partial_response(
        stream_event(first, later, other),
        lambda record: processor.plan(record),
        processor,
        FakeLambdaContext(),
    )
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {first["dynamodb"]["SequenceNumber"], later["dynamodb"]["SequenceNumber"]}
    assert [m["bidId"] for m in api.to("a1=")] == ["z1"]


class RetryableErrorForTest(Exception):
    pass


def test_the_event_sam_local_generate_event_produces_is_accepted(connections):
    # Given `sam local generate-event dynamodb update` (images that are not snipes)
    from realtime.broadcaster import handler

    # When the real handler gets it
    response = handler(sam_dynamodb_event(), FakeLambdaContext())
    # Then nothing fails (and, with nothing to show, nothing is read or sent)
    assert response == {"batchItemFailures": []}


class CountingClient:
    """A DynamoDB client that records which operations were called, then makes them."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.operations: list[str] = []

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.operations.append(name)
            return operation(**kwargs)

        return call
