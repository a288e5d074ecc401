"""The local moto server's speed-ups change nothing moto answers (local/moto_speedups.py)."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import boto3
import httpx


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
