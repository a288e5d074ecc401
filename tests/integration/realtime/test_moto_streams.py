"""local.moto_streams writes the GetRecords body moto's own serializer writes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local.moto_streams import dumps_page

pytestmark = pytest.mark.integration

ITEM = {
    "userId": {"S": "user-a"},
    "bidId": {"S": "b-1"},
    "amount": {"N": "1.50"},
    "flags": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]},
    "nested": {"M": {"tags": {"SS": ["p", "q"]}, "sizes": {"NS": ["1", "2"]}}},
    "blob": {"B": b"\x00\x01"},
    "blobs": {"BS": [b"a"]},
}


def test_a_page_dumped_as_it_is_equals_what_moto_serialises(stack_resources, clean_tables):
    # Given an insert, a modify and a remove on the Bids table (stream: new and old images)
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    table = stack_resources.tables["BidsTable"].name
    dynamodb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    start = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")
    dynamodb.put_item(TableName=table, Item=ITEM)
    dynamodb.put_item(TableName=table, Item={**ITEM, "amount": {"N": "2"}})
    dynamodb.delete_item(TableName=table, Key={"userId": ITEM["userId"], "bidId": ITEM["bidId"]})
    # When the page is read through moto's server, and from its backend then dumped
    bodies: list[bytes] = []

    def keep(http_response: Any, **_kwargs: Any) -> None:
        bodies.append(http_response.content)

    streams.meta.events.register("after-call.dynamodbstreams.GetRecords", keep)
    streams.get_records(ShardIterator=start["ShardIterator"])
    backend = dynamodbstreams_backends["123456789012"]["us-east-1"]
    dumped = json.loads(dumps_page(backend.get_records(start["ShardIterator"], 1000)))
    served = json.loads(bodies[0])
    # Then both hold the same three records, value for value (the next iterators differ)
    assert [r["eventName"] for r in served["Records"]] == ["INSERT", "MODIFY", "REMOVE"]
    assert dumped["Records"] == served["Records"]
    assert set(dumped) == set(served)
