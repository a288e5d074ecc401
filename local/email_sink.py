"""An email sink that speaks Postmark's API, for the local stack: nothing is delivered.

``POST /email`` takes what Postmark takes (``X-Postmark-Server-Token``; JSON From, To,
Subject, HtmlBody, TextBody, MessageStream, Tag, Metadata) and answers like Postmark:
``{To, SubmittedAt, MessageID, ErrorCode: 0, Message: "OK"}``; a wrong token is HTTP 401 with
ErrorCode 10, an invalid To is HTTP 422 with ErrorCode 300, an address in ``inactive`` is 422
with ErrorCode 406 (Postmark's inactive recipient). Messages are kept in memory and shown at
``GET /local/emails`` (HTML) and ``GET /local/emails.json``; ``DELETE /local/emails.json``
forgets them.
"""

from __future__ import annotations

import html
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

# postmarker joins "/email" onto its API URL as an absolute path, so the URL must be a host
# root: the sink answers Postmark's paths at the root of the stack's port.
POSTMARK_PREFIX = ""
LOCAL_SERVER_TOKEN = "local-postmark-server-token"
# One address, optionally with a display name: "Name <a@b.c>" or "a@b.c".
_ADDRESS = re.compile(r"^\s*(?:[^<>@]*<)?[^\s<>@,;]+@[^\s<>@,;]+\.[^\s<>@,;]+>?\s*$")


@dataclass
class EmailSink:
    server_token: str = LOCAL_SERVER_TOKEN
    inactive: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def routes(self, prefix: str = POSTMARK_PREFIX) -> list[web.AbstractRouteDef]:
        return [
            web.post(f"{prefix}/email", self.send),
            web.get("/local/emails", self.page),
            web.get("/local/emails.json", self.listing),
            web.delete("/local/emails.json", self.clear),
        ]

    async def send(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Postmark-Server-Token") != self.server_token:
            return _postmark_error(401, 10, "Request does not contain a valid Server token.")
        try:
            body = await request.json()
        except ValueError:
            return _postmark_error(422, 402, "Received invalid JSON input.")
        if not isinstance(body, dict):
            return _postmark_error(422, 402, "Received invalid JSON input.")
        to = body.get("To")
        if not isinstance(to, str) or not to.strip():
            return _postmark_error(422, 300, "Zero recipients specified")
        recipients = [part.strip() for part in to.split(",")]
        if not all(_ADDRESS.match(r) for r in recipients):
            return _postmark_error(422, 300, f"Invalid 'To' address: '{to}'.")
        if any(_bare(r) in self.inactive for r in recipients):
            return _postmark_error(
                422,
                406,
                "You tried to send to recipient(s) that have been marked as inactive.",
            )
        if not body.get("From"):
            return _postmark_error(422, 300, "Invalid 'From' address: ''.")
        if not (body.get("HtmlBody") or body.get("TextBody")):
            return _postmark_error(422, 300, "Provide either email TextBody or HtmlBody or both.")
        submitted = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        message_id = str(uuid.uuid4())
        stored = {
            "MessageID": message_id,
            "SubmittedAt": submitted,
            **{
                key: body.get(key)
                for key in (
                    "From",
                    "To",
                    "Subject",
                    "HtmlBody",
                    "TextBody",
                    "MessageStream",
                    "Tag",
                    "Metadata",
                )
            },
        }
        with self._lock:
            self.messages.append(stored)
        return web.json_response(
            {
                "To": to,
                "SubmittedAt": submitted,
                "MessageID": message_id,
                "ErrorCode": 0,
                "Message": "OK",
            }
        )

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self.messages]

    async def listing(self, request: web.Request) -> web.Response:
        return web.json_response({"messages": self.snapshot()})

    async def clear(self, request: web.Request) -> web.Response:
        with self._lock:
            self.messages.clear()
        return web.json_response({"messages": []})

    async def page(self, request: web.Request) -> web.Response:
        rows = []
        for message in reversed(self.snapshot()):
            rows.append(
                "<article style='border:1px solid #ccc;margin:1em 0;padding:0.5em 1em'>"
                f"<h3>{html.escape(str(message.get('Subject') or '(no subject)'))}</h3>"
                f"<p><b>To</b> {html.escape(str(message.get('To')))} · "
                f"<b>From</b> {html.escape(str(message.get('From')))} · "
                f"<b>Tag</b> {html.escape(str(message.get('Tag') or ''))} · "
                f"{html.escape(str(message.get('SubmittedAt')))}</p>"
                f"<pre style='white-space:pre-wrap'>"
                f"{html.escape(str(message.get('TextBody') or ''))}</pre>"
                "<details><summary>HTML</summary>"
                f"<iframe sandbox style='width:100%;height:300px' srcdoc=\""
                f'{html.escape(str(message.get("HtmlBody") or ""), quote=True)}"></iframe>'
                "</details></article>"
            )
        body = "".join(rows) or "<p>No emails yet.</p>"
        return web.Response(
            text=(
                "<!doctype html><html><head><meta charset='utf-8'><title>Emails (local)</title>"
                "</head><body style='font-family:sans-serif;max-width:60em;margin:auto'>"
                f"<h1>Emails sent by the local stack ({len(rows)})</h1>"
                "<p>Nothing is delivered: the notifier's Postmark calls end here. "
                "<a href='/local/emails.json'>JSON</a></p>"
                f"{body}</body></html>"
            ),
            content_type="text/html",
        )


def _bare(address: str) -> str:
    match = re.search(r"<([^>]+)>", address)
    return (match.group(1) if match else address).strip().lower()


def _postmark_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"ErrorCode": code, "Message": message}, status=status)
