"""Check a request's AWS Signature Version 4 as an AWS endpoint does (IAM-authorized
``execute-api``: the WebSocket API's ``@connections``), for the local stand-ins.

moto accepts any signature; API Gateway recomputes it from the request and the caller's secret
key and answers 403 when it differs. ``check`` does the same with botocore's own signer: it
rebuilds the canonical request from what arrived (method, path as sent, query, the headers the
``Authorization`` header names, the body), signs it with the secret of the access key the
credential scope names, and compares. Its answers are AWS's: the status, ``x-amzn-ErrorType``
and message for a missing, malformed, unknown-key, out-of-scope, expired or wrong signature.
A session token is accepted as sent (there is no STS locally).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore import auth as botocore_auth
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import HeadersDict
from botocore.credentials import Credentials

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
    host = sent.get("host", "")
    covered = {name: sent[name] for name in signed if name in sent}
    request: Any = _Received(  # duck-typed as the AWSRequest SigV4Auth reads
        method,
        f"http://{host}{raw_path}" + (f"?{query_string}" if query_string else ""),
        HeadersDict(covered),
        body,
        covered,
    )
    request.context["timestamp"] = amz_date
    signer = _SigV4Check(
        Credentials(access_key, secret, sent.get("x-amz-security-token")),
        scope_service,
        scope_region,
    )
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, match["signature"]):
        return Refusal(403, "InvalidSignatureException", MISMATCH)
    return None


class _Received:
    """The parts of a request botocore's ``SigV4Auth`` reads, as received: an ``AWSRequest``
    would prepare its headers and body again first (a third of the check's CPU)."""

    def __init__(
        self, method: str, url: str, headers: HeadersDict, body: bytes, covered: dict[str, str]
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.covered = covered  # the signed headers, lower-case names
        self.params: dict[str, str] = {}
        self.context: dict[str, Any] = {}


class _Headers(dict[str, str]):
    """What ``SigV4Auth.canonical_headers`` reads of ``headers_to_sign``'s answer (botocore's
    is an ``email.message``: building and iterating it was a third of the check's CPU)."""

    def get_all(self, name: str) -> list[str]:
        return [self[name]] if name in self else []


class _SigV4Check(SigV4Auth):
    """botocore's signer, choosing the headers to sign as it does (all but its blacklist, and
    the URL's host when none was sent) from a plain mapping."""

    def headers_to_sign(self, request: Any) -> Any:
        chosen = _Headers(
            (name, value)
            for name, value in request.covered.items()
            if name not in SIGNED_HEADERS_BLACKLIST
        )
        if "host" not in chosen:
            chosen["host"] = botocore_auth._host_from_url(request.url)  # type: ignore[attr-defined]
        return chosen
