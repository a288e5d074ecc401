"""The notifier inside the running stack: its Postmark calls land in the email sink."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import httpx
import pytest

from common.data.dynamo import to_item
from common.models import BidEntity, BidStatus, UserEntity
from local.lambda_runtime import new_containers
from local.testing import RunningStack, running_stack


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    with running_stack(aws_endpoint_url=aws_endpoint) as stack:
        new_containers()
        yield stack
    new_containers()


def test_a_won_snipe_email_reaches_the_sink_once(running: RunningStack) -> None:
    # Given a user and a won snipe in the stack's tables
    assert running.stack.provisioned is not None
    tables = running.stack.provisioned
    dynamodb = boto3.client("dynamodb")
    now = int(time.time())
    user = UserEntity(
        userId="e2e-user", email="winner@example.com", createdAt=now * 1000, updatedAt=now * 1000
    )
    dynamodb.put_item(
        TableName=tables.table_name("UsersTable"), Item=to_item(user.model_dump(mode="json"))
    )
    bid = BidEntity(
        userId="e2e-user",
        bidId=f"{now * 1000:013d}abcdef0123",
        ebayItemId="110000000077",
        itemId="v1|110000000077|0",
        maxBidAmount=12000,
        currency="GBP",
        leadSeconds=6,
        status=BidStatus.WON,
        auctionEndTime=now - 60,
        itemTitle="Brass telescope",
        finalPrice=9950,
        createdAt=now * 1000,
        updatedAt=now * 1000,
    )
    dynamodb.put_item(TableName=tables.table_name("BidsTable"), Item=to_item(bid.to_item()))
    event = {"kind": "WON", "userId": "e2e-user", "bidId": bid.bidId}
    assert running.stack.runtime is not None

    # When the notifier is invoked twice (a retry)
    first = running.stack.runtime.invoke("NotifierFunction", event)
    second = running.stack.runtime.invoke("NotifierFunction", event)

    # Then one email, in pounds, is in the sink
    assert (first["status"], second["status"]) == ("SENT", "DUPLICATE")
    messages = httpx.get(f"{running.base_url}/local/emails.json").json()["messages"]
    assert [m["To"] for m in messages] == ["winner@example.com"]
    assert "£99.50" in messages[0]["TextBody"]
    assert "Brass telescope" in messages[0]["Subject"]
    assert "Brass telescope" in httpx.get(f"{running.base_url}/local/emails").text
