"""The notifier against moto: preferences, idempotency per (snipe, kind), rejections."""

from __future__ import annotations

import pytest

from common.data.email_guards import GuardStatus, notification_key
from common.email import EmailNotSent, EmailOutcomeUnknown, EmailRejected
from common.models import BidStatus
from common.notifier_client import NotificationKind
from tests import stack_env
from tests.integration.workers.worker_helpers import FakeClock, FakeMailer, put_bid, put_user
from workers.composition import LinkExpiryReader
from workers.logic import notice_delivery as logic

pytestmark = pytest.mark.usefixtures("workers_env")
DASHBOARD = "http://localhost:8000"


def _notify(kind: NotificationKind, mailer: FakeMailer, bid_id: str | None = "b1"):
    event = logic.NotifyEvent(kind=kind, userId="user-1", bidId=bid_id)
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


def test_a_won_email_names_the_item_amounts_and_dashboard_and_is_sent_once():
    # Given a won snipe
    put_user()
    put_bid(bid_id="b1", status=BidStatus.WON, finalPrice=4250, maxBidAmount=5000)
    mailer = FakeMailer()
    # When the notifier is invoked twice (a retry)
    first = _notify(NotificationKind.WON, mailer)
    second = _notify(NotificationKind.WON, mailer)
    # Then one email went out, with the item, both amounts in dollars and a dashboard link
    assert (first.status, second.status) == ("SENT", "DUPLICATE")
    assert len(mailer.sent) == 1
    message = mailer.sent[0]
    assert message.to == "buyer@example.com"
    assert "Vintage <Leica> M3" in message.subject
    for body in (message.text_body, message.html_body):
        assert "$42.50" in body
        assert "$50.00" in body
        assert f"{DASHBOARD}/#/snipes/b1" in body
    assert "&lt;Leica&gt;" in message.html_body
    guard = stack_env.notification_guards().get(notification_key("b1", "WON"))
    assert guard is not None
    assert guard.status is GuardStatus.SENT


@pytest.mark.parametrize(
    ("kind", "status", "prefs"),
    [
        (NotificationKind.WON, BidStatus.WON, {"bidWinNotifications": False}),
        (NotificationKind.LOST, BidStatus.LOST, {"bidLossNotifications": False}),
        (NotificationKind.FAILED, BidStatus.FAILED, {"emailNotifications": False}),
        (NotificationKind.WON, BidStatus.WON, {"emailNotifications": False}),
    ],
)
def test_preferences_turn_emails_off(kind, status, prefs):
    put_user(**prefs)
    put_bid(bid_id="b1", status=status, finalPrice=6000)
    mailer = FakeMailer()
    result = _notify(kind, mailer)
    assert result.status == "SKIPPED"
    assert mailer.sent == []


def test_lost_email_is_sent_when_only_win_emails_are_off():
    put_user(bidWinNotifications=False)
    put_bid(bid_id="b1", status=BidStatus.LOST, finalPrice=6000)
    mailer = FakeMailer()
    assert _notify(NotificationKind.LOST, mailer).status == "SENT"
    assert "$60.00" in mailer.sent[0].text_body


def test_an_event_that_no_longer_matches_the_snipe_sends_nothing():
    # Given a WON event for a snipe that is still pending (never trust the event)
    put_user()
    put_bid(bid_id="b1", status=BidStatus.PENDING)
    mailer = FakeMailer()
    assert _notify(NotificationKind.WON, mailer).status == "SKIPPED"
    assert mailer.sent == []


def test_price_alert_is_one_per_maximum():
    put_user()
    put_bid(bid_id="b1", currentPrice=5100, maxBidAmount=5000, lastAlertBidAmount=5000, version=3)
    mailer = FakeMailer()
    assert _notify(NotificationKind.PRICE_ALERT, mailer).status == "SENT"
    assert _notify(NotificationKind.PRICE_ALERT, mailer).status == "DUPLICATE"
    # A raised maximum that the price exceeds again is a new alert
    put_bid(bid_id="b1", currentPrice=6100, maxBidAmount=6000, lastAlertBidAmount=6000, version=5)
    assert _notify(NotificationKind.PRICE_ALERT, mailer).status == "SENT"
    assert len(mailer.sent) == 2
    assert "$61.00" in mailer.sent[1].subject


def test_a_rejected_address_is_recorded_and_not_retried():
    put_user(email="not-an-address")
    put_bid(bid_id="b1", status=BidStatus.FAILED, failureReason="The auction has ended.")
    mailer = FakeMailer(fail_with=EmailRejected(300, "Invalid 'To' address"))
    result = _notify(NotificationKind.FAILED, mailer)
    assert (result.status, result.errorCode) == ("REJECTED", 300)
    mailer.fail_with = None
    assert _notify(NotificationKind.FAILED, mailer).status == "DUPLICATE"
    assert mailer.sent == []
    guard = stack_env.notification_guards().get(notification_key("b1", "FAILED"))
    assert guard is not None
    assert (guard.status, guard.error_code) == (GuardStatus.REJECTED, 300)


def test_postmark_unreachable_releases_the_guard_so_a_retry_sends():
    put_user()
    put_bid(bid_id="b1", status=BidStatus.LOST, finalPrice=6000)
    mailer = FakeMailer(fail_with=EmailNotSent("connection refused"))
    with pytest.raises(EmailNotSent):
        _notify(NotificationKind.LOST, mailer)
    mailer.fail_with = None
    assert _notify(NotificationKind.LOST, mailer).status == "SENT"
    assert len(mailer.sent) == 1


def test_an_unknown_outcome_is_never_resent():
    put_user()
    put_bid(bid_id="b1", status=BidStatus.LOST, finalPrice=6000)
    mailer = FakeMailer(fail_with=EmailOutcomeUnknown("read timeout"))
    assert _notify(NotificationKind.LOST, mailer).status == "UNKNOWN"
    mailer.fail_with = None
    assert _notify(NotificationKind.LOST, mailer).status == "DUPLICATE"
    assert mailer.sent == []


def test_relink_needed_without_a_link_is_skipped():
    put_user()
    result = _notify(NotificationKind.RELINK_NEEDED, FakeMailer(), bid_id=None)
    assert (result.status, result.reason) == ("SKIPPED", "not linked")
