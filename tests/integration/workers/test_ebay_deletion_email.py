"""The notifier's EBAY_ACCOUNT_DELETED email against moto: one per removal of the link (the
profile's ebayDeletedAt), none without one, and the master switch still applies."""

from __future__ import annotations

import boto3
import pytest

from common.data.email_guards import notification_key
from common.notifier_client import NotificationKind, notification_event
from tests import stack_env
from tests.integration.workers.worker_helpers import NOW, FakeClock, FakeMailer, put_user
from tests.stack_env import get_settings
from workers.composition import LinkExpiryReader
from workers.logic import notice_delivery as logic

pytestmark = pytest.mark.usefixtures("workers_env")
DASHBOARD = "http://localhost:8000"


def _notify(mailer: FakeMailer) -> logic.NotifyResult:
    event = logic.NotifyEvent.model_validate(
        notification_event(NotificationKind.EBAY_ACCOUNT_DELETED, "user-1")
    )
    return logic.notify(
        event,
        stack_env.users_repo(),
        stack_env.bids_repo(),
        LinkExpiryReader(stack_env.ebay_links_repo()),
        stack_env.notification_guards(),
        mailer,
        DASHBOARD,
        FakeClock(),
    )


def _deleted_at(at_ms: int) -> None:
    boto3.client("dynamodb").update_item(
        TableName=get_settings().users_and_app_state_table,
        Key={"userId": {"S": "user-1"}},
        UpdateExpression="SET ebayDeletedAt = :at",
        ExpressionAttributeValues={":at": {"N": str(at_ms)}},
    )


def test_one_email_per_removal_of_the_link():
    # Given a user whose link eBay's deletion notice removed
    put_user()
    _deleted_at(NOW * 1000)
    mailer = FakeMailer()
    # When the notifier is invoked twice (the notice's retry)
    results = [_notify(mailer).status, _notify(mailer).status]
    # Then one email, about the closed account, with the way back
    assert results == ["SENT", "DUPLICATE"]
    [message] = mailer.sent
    assert message.to == "buyer@example.com"
    assert "eBay account was closed" in message.subject
    assert f"{DASHBOARD}/#/account" in message.text_body
    assert "cancelled" in message.text_body
    key = notification_key("user-1", "EBAY_ACCOUNT_DELETED", NOW * 1000)
    assert stack_env.notification_guards().get(key) is not None
    # And a later removal (another eBay account, linked and closed since) gets its own
    _deleted_at(NOW * 1000 + 5)
    assert _notify(mailer).status == "SENT"


def test_nothing_is_sent_without_a_removal_or_with_emails_off():
    put_user()
    assert _notify(FakeMailer()).reason == "no eBay account deletion recorded"
    put_user(emailNotifications=False)
    _deleted_at(NOW * 1000)
    assert _notify(FakeMailer()).reason == "preferences"


def test_the_event_carries_no_bid_id():
    assert notification_event(NotificationKind.EBAY_ACCOUNT_DELETED, "u") == {
        "kind": "EBAY_ACCOUNT_DELETED",
        "userId": "u",
    }
