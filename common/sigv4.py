"""AWS Signature Version 4 for one kind of request: a body sent to a path without a query,
signing ``host``, ``x-amz-date``, with temporary credentials ``x-amz-security-token``, and any
other headers named — what the broadcaster sends to API Gateway's ``@connections`` (and its one
DynamoDB read per batch, ``common.data.dynamo_http``).

botocore's ``SigV4Auth`` computes the same signature (``tests/unit/test_sigv4.py`` checks it
byte for byte, and the local WebSocket gateway verifies every post with botocore's signer), but
it costs ~60 us of CPU per request on this machine: its ``AWSRequest`` headers are
``email.message`` objects, and it derives the signing key again for every request. Here the
canonical request is one f-string and the key is derived once a day per secret: ~10 us.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CACHED_PATHS = 4096


class SigV4Signer:
    def __init__(self, credentials: Any, region: str, service: str) -> None:
        """``credentials``: botocore's (``get_frozen_credentials()`` is read for every request,
        so credentials that refresh are followed)."""
        self.credentials = credentials
        self.region = region
        self.service = service
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (day, secret, signing key)
        self._paths: dict[str, str] = {}  # path -> its canonical form (a socket's, again)

    def headers(
        self,
        method: str,
        host: str,
        path: str,
        body: bytes,
        now: float | None = None,
        signed: Sequence[tuple[str, str]] = (),
    ) -> list[tuple[str, str]]:
        """The headers that sign this request: X-Amz-Date, [X-Amz-Security-Token,]
        Authorization. ``path`` as it is sent (percent-encoded); ``host`` the Host header;
        ``signed``: other headers the request sends that the signature covers (lower-case
        names; DynamoDB's Content-Type and X-Amz-Target)."""
        frozen = self.credentials.get_frozen_credentials()
        access_key, secret, token = frozen.access_key, frozen.secret_key, frozen.token
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        day = amz_date[:8]
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        covered = [("host", host), ("x-amz-date", amz_date), *signed]
        if token:
            covered.append(("x-amz-security-token", token))
        covered.sort()
        canonical_headers = "".join(f"{name}:{_trim(value)}\n" for name, value in covered)
        signed_names = ";".join(name for name, _ in covered)
        # The path's escapes are escaped again (every service but S3 signs it so), and the
        # empty line is the (empty) query string.
        canonical_path = self._paths.get(path)
        if canonical_path is None:
            if len(self._paths) >= MAX_CACHED_PATHS:
                self._paths.clear()
            canonical_path = self._paths[path] = quote(path, safe="/~")
        canonical = (
            f"{method}\n{canonical_path}\n\n{canonical_headers}\n{signed_names}\n"
            f"{hashlib.sha256(body).hexdigest()}"
        )
        string_to_sign = (
            f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(
            self._signing_key(day, secret), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        headers = [("X-Amz-Date", amz_date)]
        if token:
            headers.append(("X-Amz-Security-Token", token))
        headers.append(
            (
                "Authorization",
                f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed_names}, "
                f"Signature={signature}",
            )
        )
        return headers

    def _signing_key(self, day: str, secret: str) -> bytes:
        cached_day, cached_secret, key = self._key
        if cached_day == day and cached_secret == secret:
            return key
        key = f"AWS4{secret}".encode()
        for part in (day, self.region, self.service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        self._key = (day, secret, key)
        return key


def _trim(value: str) -> str:
    return " ".join(value.split())
