"""Sending email through Postmark (postmarker), behind a small port the notifier depends on.

Postmark's answers become types: a rejection of the message (``ErrorCode`` 300 invalid address,
406 inactive recipient, ...) is :class:`EmailRejected` and must not be retried; a failure where
Postmark certainly did not take the message (connection refused, HTTP 429/5xx) is
:class:`EmailNotSent`, safe to retry; a failure after the request may have reached Postmark (a
read timeout) is :class:`EmailOutcomeUnknown`. Postmark's API has no idempotency key, so a retry
of the last kind could deliver twice.

postmarker (and requests under it) is imported on the first send, not at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from common import aws

DEFAULT_API_URL = "https://api.postmarkapp.com"
SEND_TIMEOUT_SECONDS = (3.05, 10)  # (connect, read), requests' form
# Postmark ErrorCodes worth naming (https://postmarkapp.com/developer/api/overview#error-codes).
INVALID_EMAIL = 300
INACTIVE_RECIPIENT = 406
BAD_TOKEN = 10
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    html_body: str
    text_body: str
    tag: str
    metadata: dict[str, str] = field(default_factory=dict)


class EmailError(Exception):
    pass


class EmailRejected(EmailError):
    """Postmark refused this message; sending it again would be refused again."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(f"[{error_code}] {message}")
        self.error_code = error_code


class EmailNotSent(EmailError):
    """Postmark certainly did not accept the message (connection failed, 429, 5xx)."""


class EmailOutcomeUnknown(EmailError):
    """The request may have reached Postmark; whether it was accepted is unknown."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Send; return Postmark's MessageID. Raises the EmailError subclasses above."""
        ...


def load_server_token(secret_name: str, *, max_age: int = 300) -> str:
    """The Postmark server token from its SSM SecureString: ``{"serverToken": "..."}`` or plain."""
    raw: Any = aws.get_secret(secret_name, max_age=max_age)
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    if text.lstrip().startswith("{"):
        import json

        return str(json.loads(text).get("serverToken", ""))
    return text


class PostmarkMailer:
    """Sends through Postmark's ``POST /email``; ``api_url`` points at Postmark or a sink."""

    def __init__(
        self,
        api_url: str,
        sender: str,
        server_token: str | None = None,
        secret_name: str = "",
        message_stream: str = "outbound",
    ) -> None:
        self.api_url = api_url.rstrip("/") + "/"  # postmarker urljoins endpoints onto it
        self.sender = sender
        self.message_stream = message_stream
        self._token = server_token
        self._secret_name = secret_name
        self._client: Any = None

    def _server_token(self) -> str:
        if self._token:
            return self._token
        token = load_server_token(self._secret_name) if self._secret_name else ""
        if not token:
            raise EmailNotSent("No Postmark server token is configured")
        return token

    def _postmark(self) -> Any:
        from postmarker.core import PostmarkClient

        token = self._server_token()
        if self._client is None or self._client.server_token != token:
            self._client = PostmarkClient(
                server_token=token, root_api_url=self.api_url, timeout=SEND_TIMEOUT_SECONDS
            )
        return self._client

    def send(self, message: EmailMessage) -> str:
        import requests
        from postmarker.exceptions import ClientError

        client = self._postmark()
        try:
            answer = client.emails.send(
                From=self.sender,
                To=message.to,
                Subject=message.subject,
                HtmlBody=message.html_body,
                TextBody=message.text_body,
                Tag=message.tag,
                Metadata=message.metadata or None,
                MessageStream=self.message_stream,
            )
        except ClientError as exc:
            status = getattr(getattr(exc.__cause__, "response", None), "status_code", 422)
            if status in RETRYABLE_STATUSES or exc.error_code == BAD_TOKEN:
                # Postmark did not take it, for reasons of its own or our configuration.
                raise EmailNotSent(f"Postmark answered HTTP {status}: {exc}") from exc
            raise EmailRejected(int(exc.error_code), str(exc)) from exc
        except requests.ConnectTimeout as exc:
            raise EmailNotSent("Postmark could not be reached") from exc
        except requests.Timeout as exc:
            raise EmailOutcomeUnknown("Postmark did not answer in time") from exc
        except requests.ConnectionError as exc:
            raise EmailNotSent("Postmark could not be reached") from exc
        except requests.HTTPError as exc:
            # An error without Postmark's JSON body (a proxy, an outage page): not taken.
            status = exc.response.status_code if exc.response is not None else "error"
            raise EmailNotSent(f"Postmark answered HTTP {status}") from exc
        except requests.RequestException as exc:
            raise EmailOutcomeUnknown("The request to Postmark failed midway") from exc
        return str(answer.get("MessageID", ""))
