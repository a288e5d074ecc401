"""Ask the notifier to email a user: an asynchronous (Event) invocation of NotifierFunction.

The contract every caller (bid executor, price updater, token worker) uses:

    {"kind": "WON" | "LOST" | "FAILED" | "OUTCOME_UNKNOWN" | "PRICE_ALERT" | "RELINK_NEEDED"
             | "EBAY_ACCOUNT_DELETED",
     "userId": "...", "bidId": "..."}        # bidId absent for the account's kinds

The notifier reads the snipe, the user and their link itself; nothing else in the event is
trusted. Sending twice is harmless: the notifier sends at most one email per (snipe, kind[,
maximum]), per (user, RELINK_NEEDED, refresh-token expiry) and per (user,
EBAY_ACCOUNT_DELETED, the link's removal).
"""

from __future__ import annotations

import functools
import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class NotificationKind(StrEnum):
    WON = "WON"
    LOST = "LOST"
    FAILED = "FAILED"
    # The bid was placed, but eBay had not reported the outcome an hour after the end.
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
    PRICE_ALERT = "PRICE_ALERT"
    RELINK_NEEDED = "RELINK_NEEDED"
    # eBay's Marketplace Account Deletion notice removed the user's eBay link.
    EBAY_ACCOUNT_DELETED = "EBAY_ACCOUNT_DELETED"


# Kinds about the account, not a snipe: their events carry no bidId.
ACCOUNT_KINDS = frozenset({NotificationKind.RELINK_NEEDED, NotificationKind.EBAY_ACCOUNT_DELETED})


class Notifier(Protocol):
    """What callers depend on; tests pass a fake that records the calls."""

    def notify(self, kind: NotificationKind, user_id: str, bid_id: str | None = None) -> None: ...


def notification_event(
    kind: NotificationKind, user_id: str, bid_id: str | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {"kind": kind.value, "userId": user_id}
    if kind not in ACCOUNT_KINDS:
        if not bid_id:
            raise ValueError(f"{kind.value} needs a bidId")
        event["bidId"] = bid_id
    return event


@functools.cache
def default_lambda_client() -> LambdaClient:
    """One client per container; locally AWS_ENDPOINT_URL(_LAMBDA) points it at the stack."""
    return boto3.client("lambda", config=aws.CONFIG)


class LambdaNotifier:
    """Invokes the notifier with InvocationType=Event: Lambda queues it and retries it."""

    def __init__(self, function_name: str, client: LambdaClient | None = None) -> None:
        if not function_name:
            raise ValueError("NOTIFIER_FUNCTION_NAME is not set")
        self.function_name = function_name
        self._client = client

    @property
    def client(self) -> LambdaClient:
        return self._client or default_lambda_client()

    def notify(self, kind: NotificationKind, user_id: str, bid_id: str | None = None) -> None:
        payload = json.dumps(notification_event(kind, user_id, bid_id)).encode()
        try:
            self.client.invoke(
                FunctionName=self.function_name, InvocationType="Event", Payload=payload
            )
        except (ClientError, BotoCoreError) as exc:
            raise RetryableError("The notifier could not be invoked") from exc
