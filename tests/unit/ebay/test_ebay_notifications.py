"""eBay's notification checks (common/ebay/notifications.py) on eBay's own test vectors.

The vectors come from eBay's SDKs: github.com/eBay/event-notification-nodejs-sdk
(``test/test.json``, commit feaf337) and github.com/eBay/event-notification-java-sdk
(``src/test/java/.../data/message.json``, ``tampered_message.json``, ``public_key_response.json``,
``DataProvider.java``'s SIGNATURE_HEADER and ``NotificationConsumerApplicationTest``'s challenge
inputs, commit e61e189). eBay signed them; nothing here could have produced them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from common.ebay.errors import EbayError, EbayUnavailable
from common.ebay.models import NotificationPublicKey
from common.ebay.notifications import (
    KeyLookupsExhausted,
    PublicKeys,
    SignatureError,
    challenge_response,
    parse_signature_header,
    signed_forms,
    verify,
)

# Both SDKs' "valid" notice, signed by the key below (kid 9936261a-...-96ccb428af49).
MESSAGE: dict[str, Any] = {
    "metadata": {
        "topic": "MARKETPLACE_ACCOUNT_DELETION",
        "schemaVersion": "1.0",
        "deprecated": False,
    },
    "notification": {
        "notificationId": (
            "49feeaeb-4982-42d9-a377-9645b8479411_33f7e043-fed8-442b-9d44-791923bd9a6d"
        ),
        "eventDate": "2021-03-19T20:43:59.462Z",
        "publishDate": "2021-03-19T20:43:59.679Z",
        "publishAttemptCount": 1,
        "data": {
            "username": "test_user",
            "userId": "ma8vp1jySJC",
            "eiasToken": "nY+sHZ2PrBmdj6wVnY+sEZ2PrA2dj6wJnY+gAZGEpwmdj6x9nY+seQ==",
        },
    },
}
SIGNATURE = (
    "eyJhbGciOiJlY2RzYSIsImtpZCI6Ijk5MzYyNjFhLTdkN2ItNDYyMS1hMGYxLTk2Y2NiNDI4YWY0OSIsInNpZ25hdH"
    "VyZSI6Ik1FWUNJUUNmeGZJV3V4bVdjSUJRSjljNS9YN2lHREpxczJSQ0dzQkVhQWppbnlycmZBSWhBSVY2d0djVGlC"
    "dVY1S0pVaWYyaG9reXJMK1E5c3NIa2FkK214Mm5FRTI1dyIsImRpZ2VzdCI6IlNIQTEifQ=="
)
# The Node SDK's SIGNATURE_MISMATCH case: another (valid-looking) signature for the same kid.
OTHER_SIGNATURE = (
    "eyJhbGciOiJlY2RzYSIsImtpZCI6Ijk5MzYyNjFhLTdkN2ItNDYyMS1hMGYxLTk2Y2NiNDI4YWY0OSIsInNpZ25hdH"
    "VyZSI6Ik1FVUNJUUNHY1NubUFrVGZyK1paMlZnMGJXRW9zOGEvdGVCcWk3UGU2OCtoR21MTUNRSWdlRnZrcnRvKzhk"
    "czhSVndJM0dnbjFtTUdDck5NRVpKM1NSbE8yZngveHFJPSIsImRpZ2VzdCI6IlNIQTEifQ=="
)
KEY = NotificationPublicKey(
    algorithm="ECDSA",
    digest="SHA1",
    key="-----BEGIN PUBLIC KEY-----MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZhhxXKtR+TOvtDbgTPCkSof02q"
    "gBB7IsYOyf76ilExJ/upAa/vKIKheOoCyOpcLmi4t0b4uepb7LLjmMr90FUg==-----END PUBLIC KEY-----",
)


def _compact(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _verifies(body: bytes, signature: str = SIGNATURE, key: NotificationPublicKey = KEY) -> bool:
    return verify(body, json.loads(body), parse_signature_header(signature), key)


def test_the_challenge_response_is_sha256_of_code_token_and_endpoint_in_hex():
    # Given the Java SDK test's challenge code, verification token and endpoint
    code = "a8628072-3d33-45ee-9004-bee86830a22d"
    token = "71745723-d031-455c-bfa5-f90d11b4f20a"
    endpoint = "http://www.testendpoint.com/webhook"
    # When the endpoint answers the challenge
    answer = challenge_response(code, token, endpoint)
    # Then it is the hex SHA-256 of the three concatenated, as eBay's SDKs compute it
    assert answer == "ca527df75caa230092d7e90484071e8f05d63068f1317973d6a3a42593734bbb"
    assert answer == hashlib.sha256((code + token + endpoint).encode()).hexdigest()


def test_the_header_is_base64_json_with_alg_kid_signature_and_digest():
    header = parse_signature_header(SIGNATURE)
    assert header.kid == "9936261a-7d7b-4621-a0f1-96ccb428af49"
    assert header.signature[:1] == b"\x30"  # DER SEQUENCE


def test_eBays_signed_notice_verifies_as_sent_compact():
    assert _verifies(_compact(MESSAGE))


def test_eBays_signed_notice_verifies_when_spaced_out_as_the_sdks_reserialise_it():
    # Given the same JSON with whitespace (the SDKs verify JSON.stringify of the parsed body)
    spaced = json.dumps(MESSAGE, indent=2).encode()
    # Then it verifies through its compact form, and both forms were tried
    assert _verifies(spaced)
    assert signed_forms(spaced, MESSAGE) == [spaced, _compact(MESSAGE)]


def test_the_java_sdks_tampered_message_does_not_verify():
    # Given tampered_message.json: the username changed from test_user to test_user2
    tampered = json.loads(json.dumps(MESSAGE))
    tampered["notification"]["data"]["username"] = "test_user2"
    # Then the signature fails
    assert not _verifies(_compact(tampered))


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["notification"]["data"].update(userId="someoneElse"),
        lambda m: m["notification"].update(eventDate="2031-03-19T20:43:59.462Z"),
        lambda m: m["metadata"].update(schemaVersion=None),  # the Node SDK's INVALID case
        lambda m: m.update(extra=True),
    ],
)
def test_any_altered_field_fails(change: Any):
    altered = json.loads(json.dumps(MESSAGE))
    change(altered)
    assert not _verifies(_compact(altered))


def test_another_signature_for_the_same_key_fails():
    assert not _verifies(_compact(MESSAGE), OTHER_SIGNATURE)


def test_a_key_eBay_does_not_describe_as_ecdsa_sha1_or_sha256_verifies_nothing():
    for key in (
        KEY.model_copy(update={"digest": "MD5"}),
        KEY.model_copy(update={"algorithm": "RSA"}),
    ):
        assert not _verifies(_compact(MESSAGE), key=key)


def test_the_key_may_come_with_line_breaks():
    body = KEY.key.removeprefix("-----BEGIN PUBLIC KEY-----").removesuffix(
        "-----END PUBLIC KEY-----"
    )
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + body[:64]
        + "\n"
        + body[64:]
        + "\n-----END PUBLIC KEY-----\n"
    )
    assert _verifies(_compact(MESSAGE), key=KEY.model_copy(update={"key": pem}))


def _header(**fields: Any) -> str:
    document = {"alg": "ecdsa", "kid": "k-1", "signature": "MEUCIQ==", "digest": "SHA1"}
    document.update(fields)
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        _header(alg="RS256"),
        _header(kid="../../oauth2/token"),
        _header(kid=""),
        _header(signature=None),
        _header(signature="%%%"),
        _header(signature=""),
        _header(signature=base64.b64encode(b"x" * 300).decode()),
        "A" * 4000,
    ],
)
def test_unreadable_headers_are_refused_before_any_key_is_fetched(value: str | None):
    with pytest.raises(SignatureError):
        parse_signature_header(value)


class Fetches:
    def __init__(self, answers: dict[str, NotificationPublicKey | Exception]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, kid: str) -> NotificationPublicKey:
        self.calls.append(kid)
        answer = self.answers[kid]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_fetched_once_an_hour_and_an_unknown_id_once_in_five_minutes():
    # Given eBay knowing one key id and not another
    fetch = Fetches({"known": KEY, "unknown": EbayError("invalid", http_status=404)})
    clock = Clock()
    keys = PublicKeys(fetch, clock)
    # When both are asked for repeatedly within five minutes
    for _ in range(3):
        assert keys.get("known") == KEY
        assert keys.get("unknown") is None
    # Then eBay was asked once for each
    assert fetch.calls == ["known", "unknown"]
    # And after six minutes the unknown one again, after an hour the known one again
    clock.now += 360
    keys.get("known"), keys.get("unknown")
    assert fetch.calls == ["known", "unknown", "unknown"]
    clock.now += 3600
    keys.get("known")
    assert fetch.calls[-1] == "known"


def test_ebay_unavailable_is_not_remembered():
    fetch = Fetches({"known": EbayUnavailable("down", http_status=503)})
    keys = PublicKeys(fetch, Clock())
    for _ in range(2):
        with pytest.raises(EbayUnavailable):
            keys.get("known")
    assert fetch.calls == ["known", "known"]


def test_new_key_ids_are_looked_up_at_most_ten_a_minute():
    # Given a forger sending a new kid with each request
    fetch = Fetches({f"kid{i}": EbayError("invalid", http_status=404) for i in range(20)})
    clock = Clock()
    keys = PublicKeys(fetch, clock)
    for i in range(10):
        keys.get(f"kid{i}")
    # When the eleventh arrives within the minute
    with pytest.raises(KeyLookupsExhausted):
        keys.get("kid10")
    # Then eBay was asked ten times; a minute later lookups resume
    assert len(fetch.calls) == 10
    clock.now += 61
    assert keys.get("kid10") is None
