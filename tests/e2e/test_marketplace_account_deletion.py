"""eBay's Marketplace Account Deletion notifications through the local stack: the simulator
plays eBay (its own signing key, getPublicKey, the challenge on subscription) and the gateway
runs the endpoint's function from template.yaml, with no authorizer.

A valid notice deletes the link, tokens and guard of the user who linked that eBay account,
cancels their pending snipes with the reason and emails them; a forged, altered, stale or
replayed notice changes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from local.aws import client
from local.lambda_runtime import new_containers
from local.testing import RunningStack, link_ebay_account, running_stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

PATH = "/notifications/marketplace-account-deletion"


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    new_containers()
    with running_stack(aws_endpoint_url=aws_endpoint, demo=False) as stack:
        yield stack
    new_containers()


class User:
    """A signed-up user whose simulated eBay account is linked."""

    def __init__(self, running: RunningStack, name: str) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.email = f"{name}-{suffix}@example.com"
        self.ebay_user = f"{name}_{suffix}"
        self.http = httpx.Client(base_url=running.base_url, timeout=30)
        password = "Deletion-Pass-123"
        self.http.post("/local/signup", json={"email": self.email, "password": password})
        login = {"username": self.email, "password": password}
        token = self.http.post("/local/login", json=login).json()["idToken"]
        self.id = jwt.decode(token, options={"verify_signature": False})["sub"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http.get("/users/profile", headers=self.headers).raise_for_status()
        self.link()
        self.ebay_id = _ebay_user_id(running, self.ebay_user)

    def link(self) -> None:
        link_ebay_account(self.http, self.headers, self.ebay_user)

    def linked(self) -> bool:
        status = self.http.get("/ebay/auth/status", headers=self.headers)
        status.raise_for_status()
        return bool(status.json()["isLinked"])

    def snipe(self, running: RunningStack) -> str:
        created = httpx.post(
            f"{running.sim_url}/_sim/auctions",
            json={"title": "Deletion lot", "startPrice": 1000, "endsInSeconds": 3600},
            timeout=10,
        )
        created.raise_for_status()
        item = created.json()["legacyItemId"]
        answer = self.http.post(
            "/bids", json={"ebayItemId": item, "maxBidAmount": 5000}, headers=self.headers
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["bidId"])

    def bid(self, bid_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/bids/{bid_id}", headers=self.headers)
        answer.raise_for_status()
        return dict(answer.json())


def _ebay_user_id(running: RunningStack, username: str) -> str:
    accounts = httpx.get(f"{running.sim_url}/_sim/accounts", timeout=10).json()["accounts"]
    return str(next(a["userId"] for a in accounts if a["username"] == username))


def _info(running: RunningStack) -> dict[str, Any]:
    return dict(httpx.get(f"{running.base_url}/local/info", timeout=10).json())


def _ebay_deletes(running: RunningStack, username: str) -> dict[str, Any]:
    """eBay (the simulator) tells the subscribed endpoint the account was deleted."""
    sent = httpx.post(
        f"{running.sim_url}/_sim/notifications/account_deletion",
        json={"username": username},
        timeout=60,
    )
    sent.raise_for_status()
    return dict(sent.json())


def _post_notice(running: RunningStack, body: bytes, signature: str) -> httpx.Response:
    return httpx.post(
        f"{running.base_url}{PATH}",
        content=body,
        headers={"Content-Type": "application/json", "X-EBAY-SIGNATURE": signature},
        timeout=60,
    )


def _users_item(running: RunningStack, key: str) -> dict[str, Any] | None:
    provisioned = running.stack.provisioned
    assert provisioned is not None
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    item = dynamodb.get_item(
        TableName=provisioned.table_name("UsersTable"),
        Key={"userId": {"S": key}},
        ConsistentRead=True,
    ).get("Item")
    return dict(item) if item else None


def _emails_to(running: RunningStack, address: str, wait: float = 15.0) -> list[dict[str, Any]]:
    """The sink's messages to ``address``, once the asynchronous notifier has sent one (none if
    it sent none within ``wait`` seconds)."""

    def found() -> list[dict[str, Any]]:
        messages = httpx.get(f"{running.base_url}/local/emails.json", timeout=10).json()
        return [m for m in messages["messages"] if m["To"] == address]

    eventually(found, wait, interval=0.2)
    return found()


def _state(running: RunningStack, user: User, bid_ids: list[str]) -> dict[str, Any]:
    profile = _users_item(running, user.id) or {}
    return {
        "linked": user.linked(),
        "profile": {k: v for k, v in profile.items() if k.startswith("ebay")},
        "guard": _users_item(running, f"EBAYACCOUNT#{user.ebay_id}"),
        "snipes": [(user.bid(b)["status"], user.bid(b).get("cancelReason")) for b in bid_ids],
    }


def _forged_header(kid: str, body: bytes) -> str:
    """A header naming eBay's key id, signed with a key that is not eBay's."""
    key = ec.generate_private_key(ec.SECP256R1())
    signature = base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA1()))).decode()
    header = {"alg": "ecdsa", "kid": kid, "signature": signature, "digest": "SHA1"}
    return base64.b64encode(json.dumps(header).encode()).decode()


def _notice_for(ebay_user_id: str, username: str) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    notice = {
        "metadata": {"topic": "MARKETPLACE_ACCOUNT_DELETION", "schemaVersion": "1.0"},
        "notification": {
            "notificationId": f"{uuid.uuid4()}_{uuid.uuid4()}",
            "eventDate": now,
            "publishDate": now,
            "publishAttemptCount": 1,
            "data": {"username": username, "userId": ebay_user_id, "eiasToken": "x"},
        },
    }
    return json.dumps(notice, separators=(",", ":")).encode()


def test_the_endpoint_answers_eBays_challenge(running: RunningStack) -> None:
    # Given the endpoint and token /local/info lists, which the stack registered with eBay
    deletion = _info(running)["ebayAccountDeletion"]
    assert deletion["subscribed"] is True
    token, endpoint = deletion["verificationToken"], deletion["endpoint"]
    assert endpoint.endswith(PATH)
    assert 32 <= len(token) <= 80
    assert token.replace("_", "").replace("-", "").isalnum()
    # When eBay sends a challenge, with no Authorization header
    answer = httpx.get(f"{running.base_url}{PATH}", params={"challenge_code": "a8628072"})
    # Then the answer is eBay's hash, as JSON
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    expected = hashlib.sha256(f"a8628072{token}{endpoint}".encode()).hexdigest()
    assert answer.json() == {"challengeResponse": expected}


def test_a_valid_notice_deletes_the_link_cancels_pending_snipes_and_emails(
    running: RunningStack,
) -> None:
    # Given a linked user with two pending snipes, and another linked user with one
    closing, bystander = User(running, "closing"), User(running, "bystander")
    snipes = [closing.snipe(running), closing.snipe(running)]
    kept = bystander.snipe(running)
    assert _users_item(running, f"EBAYACCOUNT#{closing.ebay_id}") is not None
    # When eBay notifies that the first user's eBay account was deleted
    delivery = _ebay_deletes(running, closing.ebay_user)
    # Then eBay got a 204, and the link, its tokens and the account's guard are gone
    assert delivery["status"] == 204, delivery["answer"]
    after = _state(running, closing, snipes)
    assert after["linked"] is False
    assert set(after["profile"]) == {"ebayDeletedAt"}
    assert after["guard"] is None
    # And the pending snipes were cancelled with the reason, with their history
    assert after["snipes"] == [("CANCELLED", "EBAY_ACCOUNT_DELETED")] * 2
    history = closing.http.get(f"/bid-history/{snipes[0]}", headers=closing.headers).json()
    assert any(
        e["action"] == "CANCEL" and e["details"] == {"reason": "EBAY_ACCOUNT_DELETED"}
        for e in history["items"]
    )
    # And the user got one email about it; the other user kept everything
    [email] = _emails_to(running, closing.email)
    assert "eBay account was closed" in email["Subject"]
    assert bystander.linked()
    assert bystander.bid(kept)["status"] == "PENDING"
    # And eBay's retry of the same notice is answered 204 and changes nothing
    retry = _post_notice(running, delivery["body"].encode(), delivery["signature"])
    assert retry.status_code == 204
    assert _state(running, closing, snipes) == after
    assert len(_emails_to(running, closing.email, wait=1)) == 1


def test_a_forged_signature_is_412_and_changes_nothing(running: RunningStack) -> None:
    # Given a linked user with a pending snipe
    victim = User(running, "forged")
    snipes = [victim.snipe(running)]
    before = _state(running, victim, snipes)
    assert running.stack.simulator is not None
    kid = running.stack.simulator.notifications.key_id
    body = _notice_for(victim.ebay_id, victim.ebay_user)
    # When a notice for their account arrives signed by another key, by no key, or garbled
    attempts = [
        _post_notice(running, body, _forged_header(kid, body)),
        _post_notice(running, body, ""),
        _post_notice(running, body, "bm90IGpzb24="),
    ]
    # Then each is refused 412 and nothing changed
    assert [a.status_code for a in attempts] == [412, 412, 412]
    assert _state(running, victim, snipes) == before


def test_an_altered_body_is_412_and_changes_nothing(running: RunningStack) -> None:
    # Given a linked user, and a notice eBay really signed, for another eBay account
    victim = User(running, "altered")
    snipes = [victim.snipe(running)]
    before = _state(running, victim, snipes)
    signed = _ebay_deletes(running, f"someone_else_{uuid.uuid4().hex[:8]}")
    assert signed["status"] == 204
    # When its body is changed to name the victim's account, keeping eBay's signature
    body = json.loads(signed["body"])
    body["notification"]["notificationId"] = str(uuid.uuid4())
    body["notification"]["data"]["userId"] = victim.ebay_id
    altered = json.dumps(body, separators=(",", ":")).encode()
    answer = _post_notice(running, altered, signed["signature"])
    # Then it is refused and nothing changed
    assert answer.status_code == 412
    assert _state(running, victim, snipes) == before


def test_a_replayed_notice_changes_nothing(running: RunningStack) -> None:
    # Given a user whose eBay account's deletion notice was handled
    user = User(running, "replayed")
    delivery = _ebay_deletes(running, user.ebay_user)
    assert delivery["status"] == 204
    assert not user.linked()
    # And who then links that eBay account again, with a new snipe
    user.link()
    snipes = [user.snipe(running)]
    before = _state(running, user, snipes)
    assert before["linked"] is True
    # When the same signed notice is sent again
    replay = _post_notice(running, delivery["body"].encode(), delivery["signature"])
    # Then it is acknowledged and changes nothing
    assert replay.status_code == 204
    assert _state(running, user, snipes) == before
    assert len(_emails_to(running, user.email, wait=1)) == 1


def test_a_notice_older_than_thirty_days_is_412_and_changes_nothing(
    running: RunningStack,
) -> None:
    # Given a linked user, and eBay's clock 31 days behind (a notice dated then)
    user = User(running, "stale")
    snipes = [user.snipe(running)]
    before = _state(running, user, snipes)
    skew = httpx.post(
        f"{running.sim_url}/_sim/clock", json={"skewMs": -31 * 86_400_000}, timeout=10
    )
    skew.raise_for_status()
    try:
        # When eBay signs and sends a notice dated 31 days ago
        delivery = _ebay_deletes(running, user.ebay_user)
    finally:
        httpx.post(f"{running.sim_url}/_sim/clock", json={"skewMs": 0}, timeout=10)
    # Then it is refused and nothing changed
    assert delivery["status"] == 412
    assert _state(running, user, snipes) == before


def test_a_notice_for_an_account_nobody_linked_is_204_and_changes_nothing(
    running: RunningStack,
) -> None:
    # Given a linked user
    user = User(running, "unrelated")
    snipes = [user.snipe(running)]
    before = _state(running, user, snipes)
    # When eBay reports the deletion of an eBay account nobody linked
    delivery = _ebay_deletes(running, f"stranger_{uuid.uuid4().hex[:8]}")
    # Then it is acknowledged and nothing is written, not even the notice
    assert delivery["status"] == 204
    assert _state(running, user, snipes) == before
    assert _users_item(running, f"EBAYNOTICE#{delivery['notificationId']}") is None
