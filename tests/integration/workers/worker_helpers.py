"""Helpers for the workers' tests: fakes for Postmark and Lambda, rows in moto's tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from common.data.bids import BidsRepository
from common.data.dynamo import to_item
from common.email import EmailMessage
from common.models import BidEntity, BidStatus, Preferences, UserEntity
from common.notifier_client import NotificationKind
from tests.stack_env import get_settings

NOW = 1_900_000_000


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeMailer:
    """Implements common.email.Mailer; ``fail_with`` is raised by the next sends."""

    sent: list[EmailMessage] = field(default_factory=list)
    fail_with: Exception | None = None

    def send(self, message: EmailMessage) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)
        return f"msg-{len(self.sent)}"


@dataclass
class FakeNotifier:
    """Implements common.notifier_client.Notifier by recording the calls."""

    calls: list[tuple[NotificationKind, str, str | None]] = field(default_factory=list)

    def notify(self, kind: NotificationKind, user_id: str, bid_id: str | None = None) -> None:
        self.calls.append((kind, user_id, bid_id))


def put_user(user_id: str = "user-1", email: str = "buyer@example.com", **prefs: Any) -> UserEntity:
    user = UserEntity(
        userId=user_id,
        email=email,
        displayName="Ada",
        preferences=Preferences(**prefs),
        createdAt=NOW * 1000,
        updatedAt=NOW * 1000,
    )
    boto3.client("dynamodb").put_item(
        TableName=get_settings().users_and_app_state_table,
        Item=to_item(user.model_dump(mode="json")),
    )
    return user


def put_bid(
    user_id: str = "user-1",
    bid_id: str = "1900000000000aaaaaaaaaa",
    ebay_item_id: str = "110000000001",
    **fields: Any,
) -> BidEntity:
    data: dict[str, Any] = {
        "userId": user_id,
        "bidId": bid_id,
        "ebayItemId": ebay_item_id,
        "itemId": f"v1|{ebay_item_id}|0",
        "maxBidAmount": 5000,
        "currency": "USD",
        "leadSeconds": 6,
        "status": BidStatus.PENDING,
        "auctionEndTime": NOW + 7200,
        "itemTitle": "Vintage <Leica> M3",
        "createdAt": NOW * 1000,
        "updatedAt": NOW * 1000,
    }
    data.update(fields)
    bid = BidEntity(**data)
    boto3.client("dynamodb").put_item(
        TableName=get_settings().bids_table, Item=to_item(bid.to_item())
    )
    return bid


def bids_repo() -> BidsRepository:
    s = get_settings()
    return BidsRepository(s.bids_table, s.users_and_app_state_table, s.bid_history_table)
