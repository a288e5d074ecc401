"""The local moto server's speed-ups change nothing moto answers (local/moto_speedups.py)."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st


def _table(client: Any) -> str:
    name = f"speedups-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "user", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByUser",
                "KeySchema": [
                    {"AttributeName": "user", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return name


def test_index_query_pages_through_one_partition_in_order(aws_endpoint: str) -> None:
    # Given items of three users, one without the index's range key (not in the index)
    client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    table = _table(client)
    for n in range(30):
        client.put_item(
            TableName=table,
            Item={"pk": {"S": f"k{n:02d}"}, "user": {"S": f"u{n % 3}"}, "at": {"N": str(30 - n)}},
        )
    client.put_item(TableName=table, Item={"pk": {"S": "loose"}, "user": {"S": "u1"}})

    # When one user's items are read back two at a time, newest first
    seen: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": "ByUser",
        "KeyConditionExpression": "#u = :u",
        "ExpressionAttributeNames": {"#u": "user"},
        "ExpressionAttributeValues": {":u": {"S": "u1"}},
        "ScanIndexForward": False,
        "Limit": 2,
    }
    while True:
        page = client.query(**kwargs)
        seen += [item["pk"]["S"] for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # Then they are exactly that user's indexed items, in the index's order
    expected = sorted((n for n in range(30) if n % 3 == 1), key=lambda n: 30 - n, reverse=True)
    assert seen == [f"k{n:02d}" for n in expected]
    # And a scan still sees the whole table
    assert client.scan(TableName=table, Select="COUNT")["Count"] == 31


def test_requests_share_one_connection(aws_endpoint: str) -> None:
    # Given one HTTP/1.1 connection to moto
    body = b"{}"
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/dynamodb/"
        "aws4_request, SignedHeaders=host, Signature=x",
    }
    with httpx.Client(base_url=aws_endpoint) as http:
        # When two requests follow each other
        first = http.post("/", content=body, headers=headers)
        second = http.post("/", content=body, headers=headers)

    # Then both are answered, and the server did not ask to close
    assert first.status_code == second.status_code == 200
    assert "TableNames" in second.json()
    assert first.headers.get("connection", "").lower() != "close"


def test_a_body_the_app_did_not_read_does_not_become_the_next_request(aws_endpoint: str) -> None:
    # Given a request whose body moto ignores, then a second request on the same socket
    host, port = aws_endpoint.removeprefix("http://").split(":")
    request = (
        f"GET /moto-api/ HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nxxxxx"
        f"GET /moto-api/ HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk

    # Then two answers came back
    assert received.count(b"HTTP/1.1 200") == 2


def _streamed_table(client: Any) -> tuple[str, str]:
    """A new table with a stream: (name, stream ARN)."""
    name = f"transactions-{uuid.uuid4().hex[:8]}"
    table = client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name, table["TableDescription"]["LatestStreamArn"]


def _reader(streams: Any, stream_arn: str) -> Iterator[list[dict[str, Any]]]:
    """A stream reader holding one iterator from the trim horizon: each next() is one page."""
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    while True:
        page = streams.get_records(ShardIterator=iterator)
        iterator = page["NextShardIterator"]
        yield page["Records"]


def _keys(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]


def test_a_cancelled_transaction_writes_nothing_and_the_stream_reader_reads_on(
    aws_endpoint: str,
) -> None:
    # Given a table with one item, and a stream reader that has read its record
    client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    streams = boto3.client("dynamodbstreams", endpoint_url=aws_endpoint)
    table, stream_arn = _streamed_table(client)
    client.put_item(TableName=table, Item={"pk": {"S": "held"}, "n": {"N": "1"}})
    reader = _reader(streams, stream_arn)
    assert _keys(next(reader)) == [("INSERT", "held")]

    # When a transaction's second condition fails
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "held"}},
                        "UpdateExpression": "SET n = :two",
                        "ConditionExpression": "n = :zero",
                        "ExpressionAttributeValues": {":two": {"N": "2"}, ":zero": {"N": "0"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )

    # Then it is cancelled with moto's reasons, and nothing was written
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert cancelled.value.response["CancellationReasons"] == [
        {"Code": "None"},
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {"pk": {"S": "held"}, "n": {"N": "1"}},
        },
    ]
    assert client.scan(TableName=table)["Items"] == [{"pk": {"S": "held"}, "n": {"N": "1"}}]
    assert next(reader) == []
    # And the reader still receives what is written afterwards (moto's own transactions put a
    # copy of the table in its place, whose stream the reader's iterator does not see)
    client.put_item(TableName=table, Item={"pk": {"S": "after"}})
    assert _keys(next(reader)) == [("INSERT", "after")]


def test_a_transaction_writes_every_item_and_its_stream_records(aws_endpoint: str) -> None:
    # Given a table with two items and a stream reader that has read their records
    client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    streams = boto3.client("dynamodbstreams", endpoint_url=aws_endpoint)
    table, stream_arn = _streamed_table(client)
    for key in ("kept", "gone"):
        client.put_item(TableName=table, Item={"pk": {"S": key}, "n": {"N": "1"}})
    reader = _reader(streams, stream_arn)
    assert len(next(reader)) == 2

    # When a transaction whose conditions hold puts, updates and deletes
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": "new"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "kept"}},
                    "UpdateExpression": "SET n = n + :one",
                    "ConditionExpression": "n = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "gone"}}}},
        ]
    )

    # Then every item is written, and each write is in the stream, in order
    items = sorted(client.scan(TableName=table)["Items"], key=lambda i: i["pk"]["S"])
    assert items == [{"pk": {"S": "kept"}, "n": {"N": "2"}}, {"pk": {"S": "new"}}]
    assert _keys(next(reader)) == [("INSERT", "new"), ("MODIFY", "kept"), ("REMOVE", "gone")]


def test_a_transaction_whose_write_fails_after_its_checks_leaves_nothing_behind(
    aws_endpoint: str,
) -> None:
    # Given a table with an item, and a stream reader that has read its record
    client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    streams = boto3.client("dynamodbstreams", endpoint_url=aws_endpoint)
    table, stream_arn = _streamed_table(client)
    client.put_item(TableName=table, Item={"pk": {"S": "held"}, "n": {"N": "1"}})
    reader = _reader(streams, stream_arn)
    next(reader)

    # When a transaction's conditions hold but its second write is invalid (a number plus a
    # string), after the first was made
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "held"}},
                        "UpdateExpression": "SET n = n + :text",
                        "ExpressionAttributeValues": {":text": {"S": "x"}},
                    }
                },
            ]
        )

    # Then moto's error comes back, and neither the table nor its stream kept the first write
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert client.scan(TableName=table)["Items"] == [{"pk": {"S": "held"}, "n": {"N": "1"}}]
    assert next(reader) == []
    client.put_item(TableName=table, Item={"pk": {"S": "after"}})
    assert _keys(next(reader)) == [("INSERT", "after")]


_RICH_ITEM = {
    "pk": {"S": "a"},
    "user": {"S": "u"},
    "at": {"N": "1.50"},
    "flags": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]},
    "nested": {"M": {"tags": {"SS": ["p", "q"]}, "sizes": {"NS": ["1", "2"]}}},
    "blob": {"B": b"\x00\x01"},
    "blobs": {"BS": [b"a"]},
}


def _answers(table: str) -> list[tuple[str, dict[str, Any]]]:
    """One request of each operation the speed-up answers, in an order that leaves each
    table as the last found it; every shape of answer: items, none, pages, old and new images,
    consumed capacity."""
    key_a = {"pk": {"S": "a"}}
    return [
        ("batch_get_item", {"RequestItems": {table: {"Keys": [key_a, {"pk": {"S": "none"}}]}}}),
        ("get_item", {"TableName": table, "Key": key_a}),
        ("get_item", {"TableName": table, "Key": {"pk": {"S": "none"}}}),
        ("get_item", {"TableName": table, "Key": key_a, "ReturnConsumedCapacity": "TOTAL"}),
        ("put_item", {"TableName": table, "Item": {"pk": {"S": "c"}, "n": {"N": "1"}}}),
        (
            "put_item",
            {
                "TableName": table,
                "Item": {"pk": {"S": "c"}, "n": {"N": "2"}},
                "ReturnValues": "ALL_OLD",
            },
        ),
        (
            "update_item",
            {
                "TableName": table,
                "Key": {"pk": {"S": "c"}},
                "UpdateExpression": "SET n = n + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        (
            "update_item",
            {
                "TableName": table,
                "Key": {"pk": {"S": "c"}},
                "UpdateExpression": "SET m = :m",
                "ExpressionAttributeValues": {":m": {"S": "x"}},
            },
        ),
        (
            "update_item",
            {
                "TableName": table,
                "Key": {"pk": {"S": "c"}},
                "UpdateExpression": "SET m = :m",
                "ExpressionAttributeValues": {":m": {"S": "y"}},
                "ReturnValues": "UPDATED_OLD",
                "ReturnConsumedCapacity": "INDEXES",
            },
        ),
        (
            "query",
            {
                "TableName": table,
                "IndexName": "ByUser",
                "KeyConditionExpression": "#u = :u",
                "ExpressionAttributeNames": {"#u": "user"},
                "ExpressionAttributeValues": {":u": {"S": "u"}},
                "ReturnConsumedCapacity": "INDEXES",
            },
        ),
        (
            "query",
            {
                "TableName": table,
                "IndexName": "ByUser",
                "KeyConditionExpression": "#u = :u",
                "ExpressionAttributeNames": {"#u": "user"},
                "ExpressionAttributeValues": {":u": {"S": "u"}},
                "Limit": 1,
            },
        ),
        ("scan", {"TableName": table, "Limit": 2}),
        ("scan", {"TableName": table, "Select": "COUNT"}),
        ("transact_get_items", {"TransactItems": [{"Get": {"TableName": table, "Key": key_a}}]}),
        (
            "transact_write_items",
            {"TransactItems": [{"Put": {"TableName": table, "Item": {"pk": {"S": "d"}}}}]},
        ),
        (
            "batch_write_item",
            {"RequestItems": {table: [{"PutRequest": {"Item": {"pk": {"S": "e"}}}}]}},
        ),
        ("delete_item", {"TableName": table, "Key": {"pk": {"S": "e"}}, "ReturnValues": "ALL_OLD"}),
        ("delete_item", {"TableName": table, "Key": {"pk": {"S": "d"}}}),
    ]


def test_item_operations_answer_what_motos_serializer_writes(aws_endpoint: str) -> None:
    from moto.dynamodb.responses import DynamoHandler

    from local.moto_speedups import FAST_ANSWERS

    # Given two tables holding the same items, of every kind of attribute
    client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    tables = [_table(client), _table(client)]
    for table in tables:
        client.put_item(TableName=table, Item=_RICH_ITEM)
        client.put_item(
            TableName=table, Item={"pk": {"S": "b"}, "user": {"S": "u"}, "at": {"N": "2"}}
        )
    bodies: list[bytes] = []
    client.meta.events.register(
        "after-call.dynamodb.*",
        lambda http_response, **_kwargs: bodies.append(http_response.content),
    )
    fast = {name: getattr(DynamoHandler, name) for name in FAST_ANSWERS}
    # When the same requests are answered on one by moto's own serializer, on the other by the
    # speed-up
    for name in fast:
        setattr(DynamoHandler, name, fast[name].original)
    try:
        slow_answers = [getattr(client, op)(**request) for op, request in _answers(tables[0])]
    finally:
        for name, answer in fast.items():
            setattr(DynamoHandler, name, answer)
    slow_bodies, bodies[:] = list(bodies), []
    fast_answers = [getattr(client, op)(**request) for op, request in _answers(tables[1])]

    # Then every body holds the same JSON (but for the table's name), and boto3 reads the same
    for (op, _), slow, quick, slow_body, quick_body in zip(
        _answers(tables[0]), slow_answers, fast_answers, slow_bodies, bodies, strict=True
    ):
        same = quick_body.decode().replace(tables[1], tables[0])
        assert json.loads(same) == json.loads(slow_body), op
        slow.pop("ResponseMetadata"), quick.pop("ResponseMetadata")
        assert json.loads(json.dumps(quick, default=repr).replace(tables[1], tables[0])) == (
            json.loads(json.dumps(slow, default=repr))
        ), op
    assert fast_answers[1]["Item"] == _RICH_ITEM


def test_an_invalid_request_is_refused_as_moto_refuses_it(aws_endpoint: str) -> None:
    # Given a table
    client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    table = _table(client)
    # When a put misses the key, or an update's condition fails
    with pytest.raises(ClientError) as missing:
        client.put_item(TableName=table, Item={"user": {"S": "u"}})
    with pytest.raises(ClientError) as failed:
        client.update_item(
            TableName=table,
            Key={"pk": {"S": "x"}},
            UpdateExpression="SET n = :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    # Then moto's errors come back as before
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_routing_and_dispatch_lookups_are_computed_once() -> None:
    from moto import backends
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler

    from local import moto_speedups

    # Given the speed-ups installed
    moto_speedups.install()
    # When moto asks for its modules and a handler's methods
    modules = list(backends.list_of_moto_modules())
    names = responses.method_names_from_class(DynamoHandler)
    # Then it gets what it would have listed, from a cache
    assert "dynamodb" in modules
    assert "get_item" in names
    assert responses.method_names_from_class(DynamoHandler) is names


def test_dynamodb_requests_take_their_turn_in_the_order_they_came() -> None:
    import threading
    import time

    from local.aws import _FirstComeFirstServed

    # Given the lock moto's DynamoDB requests take, held, and 20 requests queued behind it one
    # after another
    lock = _FirstComeFirstServed()
    served: list[int] = []

    def request(i: int) -> None:
        with lock:
            served.append(i)

    lock.__enter__()
    threads = []
    for i in range(20):
        threads.append(threading.Thread(target=request, args=(i,)))
        threads[-1].start()
        deadline = time.monotonic() + 5  # a bounded poll: the thread queues at once
        while len(lock._waiting) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    # When the holder lets go
    lock.__exit__(None, None, None)
    for thread in threads:
        thread.join(5)
    # Then they were served in the order they asked, each once, and the lock is free again
    assert served == list(range(20))
    with lock:
        pass


_ITEMS = [
    {"pk": {"S": "a"}},
    {
        "pk": {"S": "b"},
        "n": {"N": "12.50"},
        "bin": {"B": b"\x00\x01"},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2"]},
        "m": {"M": {"deep": {"L": [{"S": "v"}, {"N": "3"}, {"BOOL": True}, {"NULL": True}]}}},
        "empty": {"S": ""},
    },
]


@pytest.mark.parametrize("attrs", _ITEMS, ids=["key only", "every type"])
def test_an_item_sized_once_is_the_item_moto_builds(attrs: dict[str, Any]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    from local import moto_speedups

    # Given the speed-ups installed
    moto_speedups.install()
    # When an item is built by them and by moto's own constructor
    built = Item(DynamoType(attrs["pk"]), None, attrs)
    theirs = Item.__new__(Item)
    Item.__init__.original(theirs, DynamoType(attrs["pk"]), None, attrs)  # type: ignore[attr-defined]
    # Then the two are the same item, in the same kind of mapping
    assert built == theirs
    assert type(built.attrs) is LimitedSizeDict
    assert built.to_json() == theirs.to_json()


def test_an_item_is_refused_at_the_size_moto_refuses() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from local import moto_speedups

    moto_speedups.install()

    def outcome(build: Any, padding: int) -> str:
        # an item whose size is exactly moto's limit + padding - 1 ... + padding
        fixed = {"pk": {"S": "k"}, "n": {"N": "7"}}
        base = sum(len(k) + len(v.get("S", "")) for k, v in fixed.items()) + 1  # "7": 1 byte
        attrs = {**fixed, "big": {"S": "x" * (moto_speedups.ITEM_SIZE_LIMIT - base - 3 + padding)}}
        try:
            build(attrs)
        except ItemSizeTooLarge:
            return "refused"
        return "stored"

    def ours(attrs: dict[str, Any]) -> None:
        Item(DynamoType(attrs["pk"]), None, attrs)

    def motos(attrs: dict[str, Any]) -> None:
        Item.__init__.original(Item.__new__(Item), DynamoType(attrs["pk"]), None, attrs)  # type: ignore[attr-defined]

    # Given items just under, at and just over the limit
    # Then the speed-up refuses exactly those moto's own constructor refuses
    outcomes = [(outcome(ours, p), outcome(motos, p)) for p in (-1, 0, 1, 2)]
    assert [o for o, _ in outcomes] == [m for _, m in outcomes]
    assert {o for o, _ in outcomes} == {"stored", "refused"}


def test_the_server_refuses_an_item_over_400_kb(aws_endpoint: str) -> None:
    # Given a table on the local moto server
    client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    table = _table(client)
    # When an item of 300 KB and one of 410 KB are put
    client.put_item(TableName=table, Item={"pk": {"S": "ok"}, "v": {"S": "x" * 300_000}})
    with pytest.raises(ClientError) as refused:
        client.put_item(TableName=table, Item={"pk": {"S": "big"}, "v": {"S": "x" * 410_000}})
    # Then the first is stored and the second refused as DynamoDB refuses it
    assert client.get_item(TableName=table, Key={"pk": {"S": "ok"}})["Item"]["v"]["S"][:3] == "xxx"
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Item size has exceeded" in refused.value.response["Error"]["Message"]


# ---------------------------------------------------------------- parameters from json.loads

_NAME = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
_SCALARS = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=12)),
    st.builds(lambda n: {"N": str(n)}, st.integers(-(10**12), 10**12) | st.decimals(places=2)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"SS": v}, st.lists(st.text(max_size=5), min_size=1, max_size=3)),
    st.builds(
        lambda v: {"NS": [str(n) for n in v]}, st.lists(st.integers(), min_size=1, max_size=3)
    ),
)
_BLOBS = st.one_of(
    st.builds(lambda b: {"B": b}, st.binary(max_size=8)),
    st.builds(lambda v: {"BS": v}, st.lists(st.binary(max_size=4), min_size=1, max_size=2)),
)


def _values(blobs: bool) -> st.SearchStrategy[dict[str, Any]]:
    leaves = st.one_of(_SCALARS, _BLOBS) if blobs else _SCALARS
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
            st.builds(lambda v: {"M": v}, st.dictionaries(_NAME, inner, max_size=3)),
        ),
        max_leaves=12,
    )


def _requests(blobs: bool) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """Requests of every operation the product sends moto, as boto3 takes them."""
    value = _values(blobs)
    item = st.dictionaries(_NAME, value, min_size=1, max_size=6).map(
        lambda attrs: {"PK": {"S": "USER#u1"}, "SK": {"S": "BID#1"}, **attrs}
    )
    key = st.builds(lambda pk, sk: {"PK": {"S": pk}, "SK": {"S": sk}}, _NAME, _NAME)
    names = st.dictionaries(st.from_regex(r"#[a-z]{1,4}", fullmatch=True), _NAME, max_size=3)
    values = st.dictionaries(st.from_regex(r":[a-z]{1,4}", fullmatch=True), value, max_size=3)
    returns = st.sampled_from(["NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"])
    capacity = st.sampled_from(["NONE", "TOTAL", "INDEXES"])
    condition = {
        "ConditionExpression": st.just("attribute_exists(PK) AND #s = :armed"),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": st.sampled_from(["NONE", "ALL_OLD"]),
        "ReturnConsumedCapacity": capacity,
    }
    update = {"UpdateExpression": st.just("SET countdownPhase = :p, version = version + :one")}
    keys_read = {
        "ConsistentRead": st.booleans(),
        "ProjectionExpression": st.just("PK, #s"),
        "ExpressionAttributeNames": names,
    }
    read = {**keys_read, "ReturnConsumedCapacity": capacity}
    listing = {
        "IndexName": st.just("ByOwner"),
        "Limit": st.integers(1, 1000),
        "ExclusiveStartKey": key,
        "FilterExpression": st.just("#s = :armed"),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "Select": st.sampled_from(["ALL_ATTRIBUTES", "COUNT"]),
        "ReturnConsumedCapacity": capacity,
        "ConsistentRead": st.booleans(),
    }
    table = st.sampled_from(["Bids", "Connections"])
    write = st.one_of(
        st.builds(lambda i: {"PutRequest": {"Item": i}}, item),
        st.builds(lambda k: {"DeleteRequest": {"Key": k}}, key),
    )
    transact = st.one_of(
        st.builds(lambda t, i: {"Put": {"TableName": t, "Item": i}}, table, item),
        st.builds(lambda t, k: {"Delete": {"TableName": t, "Key": k}}, table, key),
        st.builds(
            lambda t, k, e, v: {
                "Update": {
                    "TableName": t,
                    "Key": k,
                    "UpdateExpression": "SET n = :n",
                    "ConditionExpression": "#s = :armed",
                    "ExpressionAttributeNames": e,
                    "ExpressionAttributeValues": v,
                }
            },
            table,
            key,
            names,
            values,
        ),
        st.builds(
            lambda t, k, v: {
                "ConditionCheck": {
                    "TableName": t,
                    "Key": k,
                    "ConditionExpression": "attribute_not_exists(PK)",
                    "ExpressionAttributeValues": v,
                }
            },
            table,
            key,
            values,
        ),
    )

    def op(name: str, required: dict[str, Any], optional: dict[str, Any]) -> Any:
        return st.tuples(
            st.just(name),
            st.fixed_dictionaries(
                {
                    k: v if isinstance(v, st.SearchStrategy) else st.just(v)
                    for k, v in required.items()
                },
                optional=optional,
            ),
        )

    return st.one_of(
        op("GetItem", {"TableName": table, "Key": key}, read),
        op("PutItem", {"TableName": table, "Item": item}, {**condition, "ReturnValues": returns}),
        op(
            "UpdateItem",
            {"TableName": table, "Key": key, **update},
            {**condition, "ReturnValues": returns},
        ),
        op("DeleteItem", {"TableName": table, "Key": key}, {**condition, "ReturnValues": returns}),
        op(
            "Query",
            {"TableName": table, "KeyConditionExpression": "PK = :pk"},
            {**listing, "ScanIndexForward": st.booleans()},
        ),
        op("Scan", {"TableName": table}, listing),
        op(
            "BatchGetItem",
            {
                "RequestItems": st.dictionaries(
                    table,
                    st.fixed_dictionaries(
                        {"Keys": st.lists(key, min_size=1, max_size=5)}, optional=keys_read
                    ),
                    min_size=1,
                )
            },
            {"ReturnConsumedCapacity": capacity},
        ),
        op(
            "BatchWriteItem",
            {
                "RequestItems": st.dictionaries(
                    table, st.lists(write, min_size=1, max_size=5), min_size=1
                )
            },
            {"ReturnConsumedCapacity": capacity},
        ),
        op(
            "TransactWriteItems",
            {"TransactItems": st.lists(transact, min_size=1, max_size=4)},
            {"ReturnConsumedCapacity": capacity, "ClientRequestToken": _NAME},
        ),
        op(
            "TransactGetItems",
            {
                "TransactItems": st.lists(
                    st.builds(lambda t, k: {"Get": {"TableName": t, "Key": k}}, table, key),
                    min_size=1,
                    max_size=4,
                )
            },
            {"ReturnConsumedCapacity": capacity},
        ),
    )


def _body(operation: str, params: dict[str, Any], order: list[str]) -> bytes:
    """The body boto3 sends for ``params``, its members in the caller's ``order``."""
    from botocore.serialize import create_serializer
    from moto.core.utils import get_service_model

    model = get_service_model("dynamodb").operation_model(operation)
    ordered = {name: params[name] for name in order}
    body: bytes = create_serializer("json").serialize_to_request(ordered, model)["body"]
    return body


def _motos_params(operation: str, body: bytes) -> Any:
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    model = get_service_model("dynamodb").operation_model(operation)
    return JSONParser(model).parse(
        {
            "body": body,
            "headers": {},
            "method": "POST",
            "url_params": {},
            "url_path": "/",
            "values": {},
        }  # type: ignore[typeddict-item]
    )


def _identical(a: Any, b: Any) -> bool:
    """Equal, of the same types, and every mapping's keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_identical, a, b))
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(request=_requests(blobs=False), data=st.data())
def test_a_request_without_blobs_is_parsed_by_json_loads_as_moto_parses_it(
    request: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    from local.moto_speedups import fast_params

    # Given a request boto3 sends, its members in any order
    operation, params = request
    body = _body(operation, params, data.draw(st.permutations(list(params))))
    # When it is parsed from json.loads and by moto's parser
    fast = fast_params(operation, body)
    # Then json.loads was enough, and made exactly what moto's parser makes
    assert fast is not None
    assert _identical(fast, _motos_params(operation, body))


@settings(max_examples=200, deadline=None)
@given(request=_requests(blobs=True))
def test_a_request_with_blobs_is_left_to_motos_parser(request: tuple[str, dict[str, Any]]) -> None:
    from local.moto_speedups import fast_params

    # Given a request boto3 sends, which may hold binary values
    operation, params = request
    body = _body(operation, params, list(params))
    # When it is parsed from json.loads
    fast = fast_params(operation, body)
    # Then moto's parser is left to decode a blob, and otherwise json.loads made what it makes
    if b'"B' in body and fast is None:
        return
    assert fast is not None
    assert _identical(fast, _motos_params(operation, body))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


@settings(max_examples=300, deadline=None)
@given(request=_requests(blobs=True), data=st.data())
def test_a_request_boto3_would_not_send_is_parsed_as_moto_parses_it(
    request: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    from local.moto_speedups import fast_params

    # Given a request's JSON with one value anywhere replaced by any JSON, or a member added
    operation, params = request
    decoded = json.loads(_body(operation, params, list(params)))
    path = data.draw(st.sampled_from(list(_paths(decoded))[1:]))
    parent = decoded
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(_JSON)
    if isinstance(parent, dict) and data.draw(st.booleans()):
        parent[data.draw(st.text(max_size=3))] = data.draw(_JSON)
    body = json.dumps(decoded).encode()
    # When it is parsed from json.loads and by moto's parser
    fast = fast_params(operation, body)
    try:
        motos = _motos_params(operation, body)
    except Exception:
        # Then where moto's parser fails, it is the one that runs
        assert fast is None
        return
    # Then json.loads made what moto's parser makes, or moto's parser runs
    assert fast is None or _identical(fast, motos)


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("Query", b'{"TableName": "t", "Limit": true}'),
        ("Query", b'{"TableName": "t", "Limit": 5.0}'),
        ("Query", b'{"TableName": "t", "Limit": "5"}'),
        ("Query", b'{"Limit": 5, "TableName": "t", "ScanIndexForward": "yes"}'),
        ("GetItem", b'{"TableName": "t", "Key": null}'),
        ("GetItem", b'{"TableName": "t", "Key": {"pk": {"N": "1", "S": "x"}}}'),
        ("GetItem", b'{"TableName": "t", "Key": {"pk": {"SS": "ab"}}}'),
        ("GetItem", b'{"TableName": "t", "Key": {"pk": {"X": "1"}}}'),
        ("GetItem", b'{"TableName": "t", "Key": {"pk": {"B": "AAE="}}}'),
        ("GetItem", b'{"TableName": "t", "Key": {"pk": {"S": {"deep": [1, null]}}}}'),
        ("GetItem", b"null"),
        ("GetItem", b"[]"),
        ("GetItem", b""),
        ("GetItem", b"{not json"),
        ("GetItem", b'{"TableName": "\xff"}'),
        ("NoSuchOperation", b'{"TableName": "t"}'),
    ],
)
def test_an_odd_body_is_parsed_as_moto_parses_it(operation: str, body: bytes) -> None:
    from local.moto_speedups import fast_params

    # Given a body no boto3 client sends
    # When it is parsed from json.loads and by moto's parser
    fast = fast_params(operation, body)
    # Then json.loads made what moto's parser makes, or moto's parser runs
    if fast is not None:
        assert _identical(fast, _motos_params(operation, body))


# ---------------------------------------------------------------- DynamoDB without Flask

_SIGNED = (
    "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/{}/aws4_request, "
    "SignedHeaders=host, Signature=x"
)


def _environ(target: str, body: bytes, account: str = "123456789012", **extra: Any) -> Any:
    from werkzeug.test import EnvironBuilder

    service = "dynamodb"
    headers = {
        "X-Amz-Target": target,
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": _SIGNED.format(service),
        "x-moto-account-id": account,
        "User-Agent": "Boto3/1.40 md/Botocore#1.40 region/us-east-1",
        **extra.pop("headers", {}),
    }
    return EnvironBuilder(
        path=extra.pop("path", "/"), method=extra.pop("method", "POST"), headers=headers, data=body
    ).get_environ()


def _wsgi(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """The status, headers and body ``app`` answers, or the exception it raised (the server
    answers that with a 500)."""
    from werkzeug.test import run_wsgi_app

    try:
        body, status, headers = run_wsgi_app(app, environ, buffered=True)
    except Exception as exc:
        return "raised", [(type(exc).__name__, str(exc))], b""
    return status, list(headers), b"".join(body)


def _dispatchers() -> tuple[Any, Any]:
    """moto's own dispatcher (every request through Flask) and the speed-up's, each with its
    own Flask apps."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from local.moto_speedups import dispatcher

    return DomainDispatcherApplication(create_backend_app), dispatcher()(create_backend_app)


def _outcomes() -> list[Any]:
    from botocore.exceptions import ClientError
    from werkzeug.exceptions import BadRequest

    def raising(exc: Exception) -> Any:
        def outcome() -> Any:
            raise exc

        return outcome

    return [
        lambda: (
            200,
            {"Content-Type": "application/x-amz-json-1.0", "x-amz-crc32": "7"},
            '{"a": 1}',
        ),
        lambda: (400, {"status": "400", "x-amzn-ErrorType": "X"}, '{"__type": "x"}'),
        lambda: ("500", {}, b"bytes"),
        lambda: '{"a string"}',
        lambda: (200, {"Access-Control-Allow-Origin": "https://x"}, ""),
        raising(ClientError({"Error": {"Code": "X", "Message": "refused"}}, "Op")),
        raising(BadRequest("odd")),
        raising(KeyError("a bug in moto")),
    ]


@pytest.mark.parametrize("outcome", range(len(_outcomes())))
@pytest.mark.parametrize(
    ("target", "extra"),
    [
        ("DynamoDB_20120810.GetItem", {}),
        ("DynamoDBStreams_20120810.GetRecords", {}),
        ("DynamoDB_20120810.GetItem", {"headers": {"Origin": "https://dashboard"}}),
        ("DynamoDB_20120810.GetItem", {"method": "GET"}),
        ("DynamoDB_20120810.GetItem", {"path": "/other"}),
    ],
    ids=["dynamodb", "streams", "with an origin", "a GET", "another path"],
)
def test_the_view_answers_without_flask_what_flask_sends(
    outcome: int, target: str, extra: dict[str, Any]
) -> None:
    # Given moto's dispatcher and the speed-up's, whose apps' view answers the same way
    seen: list[list[Any]] = [[], []]
    dispatchers = _dispatchers()
    body = b'{"TableName": "t"}'
    for dispatcher, calls in zip(dispatchers, seen, strict=True):
        app = dispatcher.get_application(_environ(target, body))
        view = next(iter(app.view_functions.values()))

        def callback(request: Any, url: str, headers: Any, calls: list[Any] = calls) -> Any:
            calls.append((type(request), url, headers, request.get_data(), request.method))
            calls.append(request.from_wsgi_server)
            return _outcomes()[outcome]()

        view.callback = callback
        through_flask: list[Any] = []
        app.wsgi_app = lambda *args, app=app, seen=through_flask: (  # type: ignore[method-assign]
            seen.append(args) or type(app).wsgi_app(app, *args)
        )
    # When the same request reaches each
    flask, bare = (_wsgi(d, _environ(target, body, **dict(extra))) for d in dispatchers)
    # Then both handed the view the same request and sent the same status, headers and body
    assert seen[0] == seen[1]
    assert flask == bare
    # And DynamoDB's and its streams' POSTs to / without an Origin went around Flask
    assert bool(through_flask) == bool(extra)


def _ddb(operation: str, body: dict[str, Any]) -> tuple[str, bytes]:
    return f"DynamoDB_20120810.{operation}", json.dumps(body).encode()


def test_moto_answers_without_flask_what_it_answers_through_flask() -> None:
    # Given moto's dispatcher and the speed-up's, each with a table of its own (two accounts)
    table = f"bare-{uuid.uuid4().hex[:8]}"
    create = _ddb(
        "CreateTable",
        {
            "TableName": table,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        },
    )
    dispatchers = _dispatchers()
    accounts = ("111111111111", "222222222222")
    for dispatcher, account in zip(dispatchers, accounts, strict=True):
        assert _wsgi(dispatcher, _environ(*create, account=account))[0] == "200 OK"
    key = {"pk": {"S": "a"}}
    requests = [
        _ddb("PutItem", {"TableName": table, "Item": {**key, "n": {"N": "1"}, "b": {"B": "AAE="}}}),
        _ddb("GetItem", {"TableName": table, "Key": key}),
        _ddb(
            "UpdateItem",
            {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET n = n + :one",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        _ddb(
            "PutItem",
            {
                "TableName": table,
                "Item": key,
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        ),
        _ddb("BatchGetItem", {"RequestItems": {table: {"Keys": [key, {"pk": {"S": "z"}}]}}}),
        _ddb(
            "Query",
            {
                "TableName": table,
                "KeyConditionExpression": "pk = :a",
                "ExpressionAttributeValues": {":a": {"S": "a"}},
            },
        ),
        _ddb("GetItem", {"TableName": "no-such-table", "Key": key}),
        _ddb("PutItem", {"TableName": table, "Item": {"n": {"N": "1"}}}),
        _ddb("NoSuchOperation", {}),
        ("DynamoDB_20120810.GetItem", b"{not json"),
        (
            "DynamoDBStreams_20120810.DescribeStream",
            b'{"StreamArn": "arn:aws:dynamodb:us-east-1:1:table/x/stream/2024"}',
        ),
        ("DynamoDBStreams_20120810.GetRecords", b'{"ShardIterator": "nonsense"}'),
    ]
    statuses = set()
    for target, body in requests:
        # When the same request reaches each
        answers = []
        for dispatcher, account in zip(dispatchers, accounts, strict=True):
            status, headers, answer = _wsgi(dispatcher, _environ(target, body, account=account))
            answers.append(
                (status, [(k, "id" if k == "x-amzn-requestid" else v) for k, v in headers], answer)
            )
        # Then the status, the headers (but for the request's id) and the body are the same
        assert answers[0] == answers[1], target
        statuses.add(answers[0][0])
    assert {"200 OK", "400 BAD REQUEST", "raised"} <= statuses


# ---------------------------------------------------------------- request headers

_TOKEN = st.text(st.sampled_from("!#$%&'*+-.^_`|~0123456789AZaz"), min_size=1, max_size=12)
_PRINTABLE = st.text(
    st.characters(min_codepoint=32, max_codepoint=126) | st.just("\t"), max_size=20
)
_LATIN_1 = st.text(st.characters(max_codepoint=255), max_size=20)
_HEADER_LINES = st.one_of(
    st.builds("{}:{}\r\n".format, _TOKEN, _PRINTABLE),
    st.builds("{}: {}\r\n".format, _TOKEN, _PRINTABLE),
    st.builds(
        "Content-Type: {}\r\n".format,
        st.sampled_from(
            [
                "application/x-amz-json-1.0",
                "multipart/form-data; boundary=b",
                "message/rfc822",
                "text/x",
            ]
        ),
    ),
    st.builds("{}\r\n".format, _LATIN_1),  # anything: no colon, a bare CR, a form feed, ...
    st.builds("{}:{}\r\n".format, _LATIN_1, _LATIN_1),
    st.builds(" {}\r\n".format, _PRINTABLE),  # a folded line
    st.builds("{}:{}\n".format, _TOKEN, _PRINTABLE),
    st.just("From someone\r\n"),
)


@settings(max_examples=500, deadline=None)
@given(lines=st.lists(_HEADER_LINES, max_size=8), end=st.sampled_from(["\r\n", "\n", ""]))
def test_headers_are_the_message_emails_parser_makes(lines: list[str], end: str) -> None:
    import email.parser
    import http.client

    from local.moto_speedups import _plain_headers

    # Given the lines of a request's headers, whatever they hold
    text = "".join(lines) + end
    plain = _plain_headers()
    # When the speed-up makes a message of them, and email's parser does
    fast = http.client.parse_headers.plain_message(text)  # type: ignore[attr-defined]
    parsed = email.parser.Parser(_class=plain).parsestr(text)
    # Then the speed-up made the parser's message, or left the lines to it
    if fast is not None:
        assert type(fast) is type(parsed)
        assert fast.__dict__ == parsed.__dict__


def test_a_boto3_request_s_headers_are_read_without_emails_parser() -> None:
    import email.parser
    import http.client
    import io

    from local.moto_speedups import _plain_headers

    # Given the header block of a boto3 request
    block = (
        b"Host: 127.0.0.1:5000\r\nAccept-Encoding: identity\r\n"
        b"X-Amz-Target: DynamoDB_20120810.GetItem\r\n"
        b"Content-Type: application/x-amz-json-1.0\r\n"
        b"User-Agent: Boto3/1.40.0 md/Botocore#1.40.0 ua/2.1 os/linux#6 cfg/retry-mode#legacy\r\n"
        b"X-Amz-Date: 20261203T170000Z\r\n"
        b"Authorization: AWS4-HMAC-SHA256 Credential=bench/20261203/us-east-1/dynamodb/"
        b"aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=abc\r\n"
        b"amz-sdk-invocation-id: 0f0f0f0f\r\namz-sdk-request: attempt=1\r\n"
        b"Content-Length: 80\r\n\r\n{}"
    )
    plain = _plain_headers()
    # When the server's handler reads it
    stream = io.BytesIO(block)
    headers = http.client.parse_headers(stream, _class=plain)
    # Then it is the message email's parser makes, without the parser, and the body is unread
    assert http.client.parse_headers.plain_message(block[:-2].decode()) is not None  # type: ignore[attr-defined]
    parsed = email.parser.Parser(_class=plain).parsestr(block[:-2].decode())
    assert headers.__dict__ == parsed.__dict__
    assert headers["x-amz-target"] == "DynamoDB_20120810.GetItem"
    assert stream.read() == b"{}"


# ---------------------------------------------------------------- results as plain dicts


def _results() -> st.SearchStrategy[Any]:
    """What moto's DynamoDB handlers put in a DynamoResult: dicts (its items' own kind too),
    lists, scalars, DynamoTypes and Items of every attribute type, a datetime, a tuple."""
    from datetime import datetime

    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    wire = _values(blobs=True).map(
        lambda v: {
            k: (base64.b64encode(x).decode() if isinstance(x, bytes) else x) for k, x in v.items()
        }
    )
    blobs = _BLOBS.map(
        lambda v: {
            k: (base64.b64encode(x).decode() if isinstance(x, bytes) else x) for k, x in v.items()
        }
    )
    typed = st.one_of(
        wire.map(DynamoType),
        blobs.map(DynamoType),
        st.dictionaries(_NAME, wire, max_size=3).map(
            lambda attrs: Item(DynamoType({"S": "k"}), None, {"pk": {"S": "k"}, **attrs})
        ),
    )
    leaves = st.one_of(
        typed,
        st.text(max_size=4),
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.just(datetime(2026, 12, 3, 17, 0)),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.lists(inner, max_size=2).map(tuple),
            st.dictionaries(_NAME, inner, max_size=3),
            st.dictionaries(_NAME, typed, max_size=3).map(LimitedSizeDict),
            st.dictionaries(_NAME, inner, max_size=2).map(
                lambda d: DynamoType({"M": {}}) if not d else DynamoType({"L": []})
            ),
        ),
        max_leaves=10,
    )


@settings(max_examples=300, deadline=None)
@given(result=_results())
def test_a_result_is_converted_as_motos_dynamo_to_dict_converts_it(result: Any) -> None:
    from local.moto_speedups import plain_result

    # Given anything a handler returns
    convert = plain_result()
    # When the speed-up and moto's own dynamo_to_dict convert it
    # Then both made the same values, of the same types, in the same order
    assert _identical(convert(result), convert.original(result))
