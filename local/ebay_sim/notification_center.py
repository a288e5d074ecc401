"""The simulator's side of eBay's notifications: its signing key, the subscribed endpoint and
the deliveries made (routes in ``local.ebay_sim.notifications``, which says what eBay does)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from local.ebay_sim import views

if TYPE_CHECKING:
    from local.ebay_sim.simulator import Account

TOPIC = "MARKETPLACE_ACCOUNT_DELETION"
SIGNATURE_HEADER = "X-EBAY-SIGNATURE"


def challenge_response(challenge_code: str, verification_token: str, endpoint: str) -> str:
    return hashlib.sha256((challenge_code + verification_token + endpoint).encode()).hexdigest()


@dataclass(frozen=True)
class Destination:
    endpoint: str
    verification_token: str


@dataclass(frozen=True)
class Delivery:
    notification_id: str
    body: bytes
    signature: str
    status: int | None  # None: the endpoint could not be reached
    answer: str


class NotificationCenter:
    """The signing key, the subscribed destination and what was delivered (thread-safe)."""

    def __init__(self) -> None:
        self._private_key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = str(uuid.uuid4())
        self._lock = threading.Lock()
        self._destination: Destination | None = None
        self._deliveries: list[Delivery] = []

    # -- the key -------------------------------------------------------------------------

    def public_key_json(self, key_id: str) -> dict[str, str] | None:
        if key_id != self.key_id:
            return None
        der = self._private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pem = f"-----BEGIN PUBLIC KEY-----{base64.b64encode(der).decode()}-----END PUBLIC KEY-----"
        return {"algorithm": "ECDSA", "digest": "SHA1", "key": pem}

    def sign(self, body: bytes) -> str:
        """The ``X-EBAY-SIGNATURE`` header eBay would send with ``body``."""
        signature = self._private_key.sign(body, ec.ECDSA(hashes.SHA1()))  # noqa: S303
        header = {
            "alg": "ecdsa",
            "kid": self.key_id,
            "signature": base64.b64encode(signature).decode(),
            "digest": "SHA1",
        }
        return base64.b64encode(json.dumps(header, separators=(",", ":")).encode()).decode()

    # -- the destination -----------------------------------------------------------------

    @property
    def destination(self) -> Destination | None:
        with self._lock:
            return self._destination

    def subscribe(self, destination: Destination) -> None:
        with self._lock:
            self._destination = destination

    def record(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)

    def deliveries_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [delivery_json(d) for d in self._deliveries]


def deletion_notice(account: Account, now_ms: int) -> bytes:
    """A MARKETPLACE_ACCOUNT_DELETION notice as eBay sends it: compact JSON, eBay's field order."""
    stamp = views.ebay_time(now_ms)
    eias = base64.b64encode(hashlib.sha256(account.user_id.encode()).digest()[:30]).decode()
    notice = {
        "metadata": {"topic": TOPIC, "schemaVersion": "1.0", "deprecated": False},
        "notification": {
            "notificationId": f"{uuid.uuid4()}_{uuid.uuid4()}",
            "eventDate": stamp,
            "publishDate": stamp,
            "publishAttemptCount": 1,
            "data": {"username": account.username, "userId": account.user_id, "eiasToken": eias},
        },
    }
    return json.dumps(notice, separators=(",", ":")).encode()


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "notificationId": delivery.notification_id,
        "body": delivery.body.decode(),
        "signature": delivery.signature,
        "status": delivery.status,
        "answer": delivery.answer,
    }
