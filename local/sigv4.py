"""Check a request's AWS Signature Version 4 as an AWS endpoint does (IAM-authorized
``execute-api``: the WebSocket API's ``@connections``), for the local stand-ins.

moto accepts any signature; API Gateway recomputes it from the request and the caller's secret
key and answers 403 when it differs. ``check`` does the same: it rebuilds the canonical request
from what arrived (method, path as sent, query, the headers the ``Authorization`` header names,
the body) as botocore's signer does, signs it with the secret of the access key the credential
scope names, and compares. Its answers are AWS's: the status, ``x-amzn-ErrorType``
and message for a missing, malformed, unknown-key, out-of-scope, expired or wrong signature.
A session token is accepted as sent (there is no STS locally).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from botocore.utils import normalize_url_path

# How far X-Amz-Date may be from the server's clock (AWS: 5 minutes for API Gateway).
MAX_SKEW_SECONDS = 300
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your"
    " AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error_type: str
    message: str


def check(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: Mapping[str, str],
    region: str,
    service: str = "execute-api",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Refusal | None:
    """None when the signature is right; else what AWS answers. ``headers``: as received (a
    header sent twice is read as its values joined by ','); ``raw_path``: the path as sent,
    still percent-encoded; ``secrets``: access key -> secret."""
    received: dict[str, list[str]] = {}
    for name, value in headers.items():  # a multidict's items() yields every value
        received.setdefault(name.lower(), []).append(value)
    sent = {name: ",".join(values) for name, values in received.items()}
    authorization = sent.get("authorization")
    if not authorization:
        return Refusal(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTHORIZATION.match(authorization.strip())
    if not match:
        return Refusal(
            403,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            f"parameters. Authorization={authorization[:40]}",
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return Refusal(403, "IncompleteSignatureException", "Credential is not well-formed.")
    access_key, day, scope_region, scope_service, _ = parts
    amz_date = sent.get("x-amz-date", "")
    signed = match["signed"].split(";")
    if not amz_date or "x-amz-date" not in signed or "host" not in signed:
        return Refusal(
            403,
            "IncompleteSignatureException",
            "Authorization header requires existence of a signed 'X-Amz-Date' and 'Host' header.",
        )
    try:
        if len(amz_date) != 16 or amz_date[8] != "T" or amz_date[15] != "Z":
            raise ValueError(amz_date)
        sent_at = datetime(
            int(amz_date[0:4]),
            int(amz_date[4:6]),
            int(amz_date[6:8]),
            int(amz_date[9:11]),
            int(amz_date[11:13]),
            int(amz_date[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return Refusal(403, "IncompleteSignatureException", f"Invalid X-Amz-Date {amz_date}")
    secret = secrets.get(access_key)
    if secret is None:
        return Refusal(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    if scope_service != service:
        return Refusal(
            403,
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'.",
        )
    if scope_region != region or day != amz_date[:8]:
        return Refusal(
            403, "InvalidSignatureException", "Credential should be scoped to a valid region."
        )
    skew = (now() - sent_at).total_seconds()
    if abs(skew) > MAX_SKEW_SECONDS:
        return Refusal(
            403,
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier or later than the server's time "
            f"(+/- {MAX_SKEW_SECONDS // 60} min.)",
        )
    # A declared payload hash stands for the body only when it is signed itself, as botocore
    # reads it from the headers it signs: an unsigned one could be added to any other body.
    declared = sent.get("x-amz-content-sha256") if "x-amz-content-sha256" in signed else None
    expected = _signature(
        method,
        raw_path,
        query_string,
        [(name, sent.get(name, "")) for name in signed],
        declared or hashlib.sha256(body).hexdigest(),
        amz_date,
        secret,
        scope_region,
        scope_service,
    )
    if not hmac.compare_digest(expected, match["signature"]):
        return Refusal(403, "InvalidSignatureException", MISMATCH)
    return None


def _signature(
    method: str,
    raw_path: str,
    query_string: str,
    covered: list[tuple[str, str]],
    payload: str,
    amz_date: str,
    secret: str,
    region: str,
    service: str,
) -> str:
    """The signature AWS computes for what arrived: SigV4's canonical request, built as
    botocore's ``SigV4Auth`` builds it (``tests/unit/test_sigv4.py`` checks the two agree on
    generated requests), from the headers the request says it signed; ``payload``: the body's
    SHA-256, or the X-Amz-Content-SHA256 header where one was sent and signed. Written apart from
    ``common.sigv4``, which it checks, rather than through ``SigV4Auth``, which derives the key
    again for every request and walks its headers as ``email`` messages: the check was half the
    stack's CPU per post in the fan-out bench."""
    headers = sorted((name, " ".join(value.split())) for name, value in covered)
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in headers)
    signed_names = ";".join(name for name, _ in headers)
    canonical = (
        f"{method.upper()}\n{_canonical_path(raw_path)}\n{_canonical_query(query_string)}\n"
        f"{canonical_headers}\n{signed_names}\n{payload}"
    )
    day = amz_date[:8]
    string_to_sign = (
        f"AWS4-HMAC-SHA256\n{amz_date}\n{day}/{region}/{service}/aws4_request\n"
        f"{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    key = _signing_key(secret, day, region, service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=4096)
def _canonical_path(raw_path: str) -> str:
    """As botocore: dot segments and empty segments removed, then quoted again (every service
    but S3 signs the path's escapes escaped)."""
    return quote(normalize_url_path(raw_path), safe="/~")


def _canonical_query(query_string: str) -> str:
    if not query_string:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query_string.split("&"))
    return "&".join(f"{key}={value}" for key, value in pairs)


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
