"""eBay's account deletion notice against the seal (docs/sniping-engine.md, "One seal"): the
executor against moto's tables and the eBay simulator, the notice through
rest/logic/marketplace_deletion.py, as they race. A sealed snipe is placing its bid: the notice
leaves it to finish and waits for it (503, eBay delivers again), like an unlink; every other
pending snipe is cancelled at once."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common.data.dynamo import default_client, to_item
from common.data.ebay_deletions import EbayDeletions
from common.data.users import UsersRepository
from common.ebay.models import NotificationPublicKey
from common.errors import RetryableError
from common.models import BidStatus
from common.notifier_client import NotificationKind
from rest.logic.marketplace_deletion import CANCEL_REASON, handle_notice
from tests.integration.sniping.test_bid_executor import EBAY_USER, USER, auction, our_bids, snipe
from tests.integration.sniping.test_seal import run_in_background, wait_until_sealed
from tests.stack_env import get_settings


class Ebay:
    """eBay's side in one process: a signing key, and the key source the endpoint reads it from
    (the port PublicKeys fills from getPublicKey)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.kid = str(uuid.uuid4())

    def get(self, kid: str) -> NotificationPublicKey | None:
        if kid != self.kid:
            return None
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pem = f"-----BEGIN PUBLIC KEY-----{base64.b64encode(der).decode()}-----END PUBLIC KEY-----"
        return NotificationPublicKey(algorithm="ECDSA", digest="SHA1", key=pem)

    def notice(self, account_id: str) -> tuple[bytes, str]:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        body = json.dumps(
            {
                "metadata": {"topic": "MARKETPLACE_ACCOUNT_DELETION", "schemaVersion": "1.0"},
                "notification": {
                    "notificationId": str(uuid.uuid4()),
                    "eventDate": now,
                    "publishDate": now,
                    "publishAttemptCount": 1,
                    "data": {"username": account_id, "userId": account_id, "eiasToken": "e"},
                },
            },
            separators=(",", ":"),
        ).encode()
        signature = base64.b64encode(self._key.sign(body, ec.ECDSA(hashes.SHA1()))).decode()
        header = {"alg": "ecdsa", "kid": self.kid, "signature": signature, "digest": "SHA1"}
        return body, base64.b64encode(json.dumps(header).encode()).decode()


class Notifications:
    def __init__(self) -> None:
        self.sent: list[tuple[NotificationKind, str]] = []

    def notify(self, kind: NotificationKind, user_id: str, bid_id: str | None = None) -> None:
        self.sent.append((kind, user_id))


def _guard(account_id: str, owner: str) -> None:
    default_client().put_item(
        TableName=get_settings().users_and_app_state_table,
        Item=to_item({"userId": f"EBAYACCOUNT#{account_id}", "ownerId": owner}),
    )


def test_a_deletion_notice_waits_for_a_sealed_bid_and_cancels_the_rest_at_once(
    world: dict[str, Any],
) -> None:
    # Given a linked user with a snipe its run has sealed, and another snipe still pending
    table = get_settings().users_and_app_state_table
    _guard(EBAY_USER, USER)
    lot = auction(world, ends_in=3)
    sealed = snipe(world, lot)
    pending = snipe(world, auction(world, ends_in=600))
    thread, results = run_in_background(world, sealed)
    wait_until_sealed(world, sealed)
    ebay, notifier, deletions = Ebay(), Notifications(), EbayDeletions(table)
    users = UsersRepository(table)
    body, signature = ebay.notice(EBAY_USER)

    def deliver(clock: Any = time.time) -> Any:
        return handle_notice(body, signature, ebay, deletions, world["bids"], notifier, 30, clock)

    # When eBay's notice of the account's deletion arrives while the bid is being placed
    with pytest.raises(RetryableError):
        deliver()
    # Then the pending snipe is cancelled now; the link stays for the sealed bid, which goes
    assert world["bids"].require(USER, pending.bidId).status is BidStatus.CANCELLED
    assert world["bids"].require(USER, pending.bidId).cancelReason == CANCEL_REASON
    assert users.require(USER).ebayAccountId == EBAY_USER
    assert deletions.account_owner(EBAY_USER) == USER
    assert notifier.sent == []
    thread.join()
    assert results == ["won"]
    assert len(our_bids(world, lot)) == 1
    # When eBay delivers the notice again once the auction is over (the seal has run out)
    outcome = deliver(lambda: time.time() + 10)
    # Then the link and its guard go, the sealed snipe kept its outcome, and the user is told
    assert outcome.status == "DELETED"
    assert deletions.account_owner(EBAY_USER) is None
    profile = users.require(USER)
    assert (profile.ebayAccountId, profile.ebayLinkState) == (None, None)
    assert profile.ebayDeletedAt is not None
    assert world["bids"].require(USER, sealed.bidId).status is BidStatus.WON
    assert notifier.sent == [(NotificationKind.EBAY_ACCOUNT_DELETED, USER)]
    # And a third delivery is a retry of a finished notice: nothing more
    assert deliver(lambda: time.time() + 10).status == "ALREADY_HANDLED"
    assert notifier.sent == [(NotificationKind.EBAY_ACCOUNT_DELETED, USER)]
