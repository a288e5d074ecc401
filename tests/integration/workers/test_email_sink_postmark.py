"""The real Postmark adapter (postmarker) against the local email sink, which speaks Postmark."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from common.email import EmailMessage, EmailNotSent, EmailRejected, PostmarkMailer
from local.email_sink import LOCAL_SERVER_TOKEN, POSTMARK_PREFIX, EmailSink
from local.testing import serving_app


@pytest.fixture
def sink() -> Iterator[tuple[EmailSink, str]]:
    sink = EmailSink(inactive={"bounced@example.com"})
    app = web.Application()
    app.add_routes(sink.routes())
    with serving_app(app) as base_url:
        yield sink, base_url


def _message(to: str = "Ada <ada@example.com>") -> EmailMessage:
    return EmailMessage(
        to=to,
        subject="You won: Leica M3",
        html_body="<p>You won</p>",
        text_body="You won",
        tag="won",
        metadata={"bidId": "b1"},
    )


def test_a_sent_email_is_kept_and_listed_as_json_and_html(sink):
    # Given the sink and a mailer pointed at it
    _, base_url = sink
    mailer = PostmarkMailer(
        f"{base_url}{POSTMARK_PREFIX}", "Sniper <sniper@example.com>", LOCAL_SERVER_TOKEN
    )
    # When an email is sent
    message_id = mailer.send(_message())
    # Then Postmark's answer carried a MessageID and the sink shows the message
    listed = httpx.get(f"{base_url}/local/emails.json").json()["messages"]
    assert [m["MessageID"] for m in listed] == [message_id]
    assert listed[0]["To"] == "Ada <ada@example.com>"
    assert listed[0]["Tag"] == "won"
    assert listed[0]["Metadata"] == {"bidId": "b1"}
    assert listed[0]["MessageStream"] == "outbound"
    page = httpx.get(f"{base_url}/local/emails")
    assert "You won: Leica M3" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_an_invalid_address_is_postmarks_error_300(sink):
    _, base_url = sink
    mailer = PostmarkMailer(f"{base_url}{POSTMARK_PREFIX}", "s@example.com", LOCAL_SERVER_TOKEN)
    with pytest.raises(EmailRejected) as error:
        mailer.send(_message(to="not-an-address"))
    assert error.value.error_code == 300


def test_an_inactive_recipient_is_postmarks_error_406(sink):
    _, base_url = sink
    mailer = PostmarkMailer(f"{base_url}{POSTMARK_PREFIX}", "s@example.com", LOCAL_SERVER_TOKEN)
    with pytest.raises(EmailRejected) as error:
        mailer.send(_message(to="bounced@example.com"))
    assert error.value.error_code == 406


def test_a_wrong_token_is_not_a_rejection_of_the_message(sink):
    # A configuration fault: the notifier releases its guard and Lambda retries.
    _, base_url = sink
    mailer = PostmarkMailer(f"{base_url}{POSTMARK_PREFIX}", "s@example.com", "wrong-token")
    with pytest.raises(EmailNotSent):
        mailer.send(_message())


def test_postmark_unreachable_is_not_sent():
    mailer = PostmarkMailer("http://127.0.0.1:9", "s@example.com", "token")
    with pytest.raises(EmailNotSent):
        mailer.send(_message())
