"""Builders for the realtime functions' events: Bids stream records (Lambda's shape, as
`sam local generate-event dynamodb update` produces them), snipe images, and the $connect
REQUEST authorizer's event."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from common.data.dynamo import to_item

FIXTURES = Path(__file__).parent / "fixtures" / "events"
_sequence = itertools.count(1_000_000)


def sam_dynamodb_event() -> dict[str, Any]:
    return json.loads((FIXTURES / "dynamodb_update.json").read_text())


def snipe(user: str = "user-a", bid: str = "1700000000000aaaa", **fields: Any) -> dict[str, Any]:
    image: dict[str, Any] = {
        "userId": user,
        "bidId": bid,
        "ebayItemId": "123456789012",
        "itemId": "v1|123456789012|0",
        "maxBidAmount": 2500,
        "currency": "USD",
        "leadSeconds": 6,
        "status": "PENDING",
        "auctionEndTime": int(time.time()) + 3600,
        "itemTitle": "Vintage lamp",
        "currentPrice": 1000,
        "createdAt": 1,
        "updatedAt": 1,
        "version": 1,
    }
    image.update(fields)
    return {k: v for k, v in image.items() if v is not None}


def record(
    old: dict[str, Any] | None, new: dict[str, Any] | None, event_id: str | None = None
) -> dict[str, Any]:
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    image = new or old or {}
    seq = str(next(_sequence))
    ddb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time()),
        "Keys": to_item({k: image[k] for k in ("userId", "bidId") if k in image}),
        "SequenceNumber": seq,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        ddb["NewImage"] = to_item(new)
    if old is not None:
        ddb["OldImage"] = to_item(old)
    return {
        "eventID": event_id or f"evt{seq}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": ddb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/local-BidsTable/stream/x",
    }


def stream_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def connect_authorizer_event(token: str, connection_id: str = "conn-1=") -> dict[str, Any]:
    """What API Gateway hands the $connect REQUEST authorizer for ``wss://...?token=...``."""
    now = time.time()
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api-id/test/$connect",
        "headers": {"Host": "api-id.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["api-id.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": {"token": token},
        "multiValueQueryStringParameters": {"token": [token]},
        "stageVariables": None,
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "messageDirection": "IN",
            "stage": "test",
            "connectedAt": int(now * 1000),
            "requestTimeEpoch": int(now * 1000),
            "requestId": "req-1=",
            "domainName": "api-id.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection_id,
            "apiId": "api-id",
            "identity": {"sourceIp": "192.0.2.1", "userAgent": "pytest"},
        },
    }
