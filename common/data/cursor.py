"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey, bound to its user and signed.

A cursor that was altered, or belongs to another user or another listing, is rejected with a
BadRequestError (400), never a 500 and never another user's data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from common.errors import BadRequestError, FieldIssue

_BAD = "The cursor is not valid for this listing; start again without it"


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("cursor signing key must be at least 16 bytes")
        self._key = key

    def encode(self, last_key: dict[str, Any] | None, user_id: str, scope: str) -> str | None:
        if not last_key:
            return None
        payload = json.dumps({"u": user_id, "s": scope, "k": last_key}, separators=(",", ":"))
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def decode(self, cursor: str | None, user_id: str, scope: str) -> dict[str, Any] | None:
        if not cursor:
            return None
        try:
            body, signature = cursor.rsplit(".", 1)
            # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
            if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
                raise ValueError("signature")
            padded = body + "=" * (-len(body) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequestError(_BAD, [FieldIssue("cursor", _BAD)]) from exc
        if not isinstance(data, dict) or data.get("u") != user_id or data.get("s") != scope:
            raise BadRequestError(_BAD, [FieldIssue("cursor", _BAD)])
        key = data.get("k")
        if not isinstance(key, dict):
            raise BadRequestError(_BAD, [FieldIssue("cursor", _BAD)])
        return key

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, f"{body}".encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode()


def default_codec(secret_name: str) -> CursorCodec:
    """The deployed key is an SSM SecureString (CURSOR_SECRET_NAME), cached for an hour."""
    from common import aws

    secret = aws.get_secret(secret_name, max_age=3600)
    value = secret if isinstance(secret, str) else bytes(secret).decode()
    return CursorCodec(value.encode())
