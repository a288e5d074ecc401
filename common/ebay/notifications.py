"""eBay's push notifications (Marketplace Account Deletion): the endpoint's challenge response,
the ``X-EBAY-SIGNATURE`` check and the getPublicKey cache.

As eBay's own SDKs do it (github.com/eBay/event-notification-nodejs-sdk ``lib/validator.js``,
github.com/eBay/event-notification-java-sdk ``utils/SignatureValidator.java`` and
``utils/EndpointValidator.java``):

- challenge: ``hex(SHA-256(challengeCode + verificationToken + endpoint))``, the three UTF-8
  strings hashed one after another, answered as ``{"challengeResponse": ...}``;
- the header is base64 of a JSON object ``{"alg": "ecdsa", "kid": ..., "signature": ...,
  "digest": "SHA1"}``; ``kid`` names the key getPublicKey returns as ``{"algorithm": "ECDSA",
  "digest": "SHA1", "key": "-----BEGIN PUBLIC KEY-----<base64 DER>-----END PUBLIC KEY-----"}``;
- ``signature`` is base64 of a DER ECDSA signature (``SHA1withECDSA``: the key's digest and
  algorithm) over the message as compact JSON: the SDKs parse the body and verify
  ``JSON.stringify(message)`` (Node) or Jackson's ``writeValueAsString`` (Java). eBay sends
  that compact form, so the bytes received are tried first, then the body re-serialised the
  way the SDKs do (key order kept, no spaces). Either way only eBay's key can have signed it.

The SDKs' test vector (``test/test.json`` "VALID", ``data/message.json``) is checked in
``tests/unit/ebay/test_ebay_notifications.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from common.ebay.errors import EbayError
from common.ebay.models import NotificationPublicKey

SIGNATURE_HEADER = "X-EBAY-SIGNATURE"
# A notice is a few hundred bytes; its header a few hundred more.
MAX_HEADER_CHARS = 2048
MAX_SIGNATURE_BYTES = 256  # a DER ECDSA signature on P-521 is at most 139
# eBay's key ids are UUIDs; anything else is not looked up (it becomes a path segment).
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,  # what eBay uses today: the SDKs' "SHA1withECDSA"
    "SHA256": hashes.SHA256,
}
_PEM_MARKERS = re.compile(r"-----(BEGIN|END) PUBLIC KEY-----")


class SignatureError(ValueError):
    """The header cannot be read, or the signature does not verify."""


def challenge_response(challenge_code: str, verification_token: str, endpoint: str) -> str:
    digest = hashlib.sha256()
    for part in (challenge_code, verification_token, endpoint):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class SignatureHeader:
    kid: str
    signature: bytes


def parse_signature_header(value: str | None) -> SignatureHeader:
    """The decoded ``X-EBAY-SIGNATURE``; SignatureError when it is missing or malformed."""
    if not value or len(value) > MAX_HEADER_CHARS:
        raise SignatureError("no readable signature header")
    try:
        document = json.loads(base64.b64decode(value.strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("the signature header is not base64 JSON") from exc
    if not isinstance(document, dict):
        raise SignatureError("the signature header is not a JSON object")
    alg, kid, signature = document.get("alg"), document.get("kid"), document.get("signature")
    if not isinstance(alg, str) or alg.upper() != "ECDSA":
        raise SignatureError("the signature is not ECDSA")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise SignatureError("the key id is not one eBay would send")
    if not isinstance(signature, str):
        raise SignatureError("the signature is missing")
    try:
        raw = base64.b64decode(signature, validate=True)
    except binascii.Error as exc:
        raise SignatureError("the signature is not base64") from exc
    if not raw or len(raw) > MAX_SIGNATURE_BYTES:
        raise SignatureError("the signature has an impossible length")
    return SignatureHeader(kid=kid, signature=raw)


def signed_forms(body: bytes, message: Any) -> list[bytes]:
    """The bytes eBay may have signed: as received, then compact JSON as the SDKs verify."""
    compact = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return [body] if compact == body else [body, compact]


def verify(body: bytes, message: Any, header: SignatureHeader, key: NotificationPublicKey) -> bool:
    """Whether ``header`` is eBay's signature of this body (``message`` is the body parsed)."""
    digest = _DIGESTS.get(key.digest.upper())
    if key.algorithm.upper() != "ECDSA" or digest is None:
        return False
    public_key = _public_key(key.key)
    for candidate in signed_forms(body, message):
        try:
            public_key.verify(header.signature, candidate, ec.ECDSA(digest()))
        except InvalidSignature:
            continue
        return True
    return False


def _public_key(pem: str) -> ec.EllipticCurvePublicKey:
    """eBay's key as it sends it: PEM markers around base64 DER, with or without line breaks."""
    text = "".join(_PEM_MARKERS.sub("", pem).split())
    try:
        loaded = load_der_public_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError("eBay's public key cannot be read") from exc
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise SignatureError("eBay's public key is not an elliptic curve key")
    return loaded


class KeyLookupsExhausted(Exception):
    """Too many key ids not seen before, in too short a time: looked up later."""


class PublicKeys:
    """getPublicKey, cached per key id for ``ttl`` seconds (eBay recommends an hour).

    The endpoint is public, and every new ``kid`` in a forged header would be a call to eBay
    on the application's quota: an id eBay does not know is remembered as unknown for
    ``unknown_ttl`` seconds, and at most ``max_lookups`` ids are looked up per minute (beyond,
    KeyLookupsExhausted: the caller answers "try again", which eBay does). Thread-safe: the
    local stack runs a container's invocations on threads.
    """

    def __init__(
        self,
        fetch: Callable[[str], NotificationPublicKey],
        clock: Callable[[], float] = time.time,
        *,
        ttl: float = 3600,
        unknown_ttl: float = 300,
        max_lookups: int = 10,
        max_entries: int = 256,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._ttl = ttl
        self._unknown_ttl = unknown_ttl
        self._max_lookups = max_lookups
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, NotificationPublicKey | None]] = OrderedDict()
        self._lookups: deque[float] = deque()
        self._lock = threading.Lock()

    def get(self, kid: str) -> NotificationPublicKey | None:
        """eBay's key for ``kid``, or None when eBay has none. EbayError when eBay cannot say."""
        now = self._clock()
        with self._lock:
            cached = self._entries.get(kid)
            if cached is not None and cached[0] > now:
                return cached[1]
            while self._lookups and self._lookups[0] <= now - 60:
                self._lookups.popleft()
            if len(self._lookups) >= self._max_lookups:
                raise KeyLookupsExhausted(kid)
            self._lookups.append(now)
        try:
            key: NotificationPublicKey | None = self._fetch(kid)
            expires = now + self._ttl
        except EbayError as exc:
            # 404 (errorId 195001, "The specified key id is invalid") or a 400: no such key.
            if exc.http_status not in (400, 404):
                raise
            key, expires = None, now + self._unknown_ttl
        with self._lock:
            self._entries[kid] = (expires, key)
            self._entries.move_to_end(kid)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return key
