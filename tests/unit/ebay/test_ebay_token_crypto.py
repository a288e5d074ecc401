"""Envelope encryption of a user's eBay tokens with KMS (moto)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from pydantic import SecretStr

from common.ebay.models import UserTokens
from common.errors import RetryableError
from common.token_crypto import TokenCipher, TokenDecryptionError

TOKENS = UserTokens(
    access_token=SecretStr("v^1.1#access"),
    access_expires_at=1_700_007_200,
    refresh_token=SecretStr("v^1.1#refresh"),
    refresh_expires_at=1_747_304_000,
)


@pytest.fixture
def kms(aws_endpoint: str) -> Any:
    # moto's server, not mock_aws: mock_aws resets the in-process state that the session's
    # server shares, which would wipe the tables other tests in this worker rely on.
    return boto3.client("kms", region_name="us-east-1", endpoint_url=aws_endpoint)


@pytest.fixture
def cipher(kms: Any) -> TokenCipher:
    key_id = kms.create_key(Description="user tokens")["KeyMetadata"]["KeyId"]
    return TokenCipher(kms, key_id=key_id)


def test_tokens_round_trip(cipher: TokenCipher) -> None:
    # Given a user's tokens / When encrypted and decrypted for the same user
    envelope = cipher.encrypt("user-1", TOKENS)
    # Then they come back whole, and the envelope shows none of them
    assert cipher.decrypt("user-1", envelope) == TOKENS
    assert "access" not in envelope
    assert "v^1.1" not in envelope


def test_each_envelope_is_fresh(cipher: TokenCipher) -> None:
    assert cipher.encrypt("user-1", TOKENS) != cipher.encrypt("user-1", TOKENS)


def test_another_users_envelope_is_refused(cipher: TokenCipher) -> None:
    # Given user 1's envelope copied onto user 2's record
    envelope = cipher.encrypt("user-1", TOKENS)
    # When user 2's tokens are decrypted / Then KMS refuses: the context does not match
    with pytest.raises(TokenDecryptionError):
        cipher.decrypt("user-2", envelope)


@pytest.mark.parametrize("envelope", ["", "not-base64!", "eyJ2IjoyfQ", "eyJ2IjoxfQ"])
def test_malformed_envelopes_are_refused(cipher: TokenCipher, envelope: str) -> None:
    with pytest.raises(TokenDecryptionError):
        cipher.decrypt("user-1", envelope)


def test_a_tampered_ciphertext_is_refused(cipher: TokenCipher) -> None:
    import base64
    import json

    envelope = cipher.encrypt("user-1", TOKENS)
    fields = json.loads(base64.urlsafe_b64decode(envelope + "=" * (-len(envelope) % 4)))
    c = fields["c"]
    fields["c"] = ("A" if c[0] != "A" else "B") + c[1:]
    tampered = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")
    with pytest.raises(TokenDecryptionError):
        cipher.decrypt("user-1", tampered)


class UnansweredKms:
    """A KMS client that botocore gives up on: every call times out."""

    def generate_data_key(self, **_: Any) -> Any:
        raise ReadTimeoutError(endpoint_url="https://kms.us-east-1.amazonaws.com/")

    def decrypt(self, **_: Any) -> Any:
        raise ReadTimeoutError(endpoint_url="https://kms.us-east-1.amazonaws.com/")


def test_a_key_service_that_does_not_answer_is_retryable(cipher: TokenCipher) -> None:
    # Given an envelope sealed with the stack's KMS key, and KMS then not answering in time
    envelope = cipher.encrypt("user-1", TOKENS)
    unanswered = TokenCipher(UnansweredKms(), key_id="the-stacks-key")  # type: ignore[arg-type]
    # When tokens are opened or sealed, then the caller may try again (botocore's error, which
    # would end an executor's run untyped, is the cause), and no envelope is called bad
    with pytest.raises(RetryableError) as opening:
        unanswered.decrypt("user-1", envelope)
    with pytest.raises(RetryableError) as sealing:
        unanswered.encrypt("user-1", TOKENS)
    assert isinstance(opening.value.__cause__, ReadTimeoutError)
    assert isinstance(sealing.value.__cause__, ReadTimeoutError)


# ---- the personal profile: the key in an SSM SecureString (envelope version 2)

KEY = bytes(range(32))


@pytest.fixture
def local_cipher() -> TokenCipher:
    return TokenCipher(local_key=lambda: KEY)


def test_the_parameters_key_seals_to_the_user(local_cipher: TokenCipher) -> None:
    # Given tokens sealed with the parameter's key (no KMS call: no client at all)
    envelope = local_cipher.encrypt("user-1", TOKENS)
    # Then they open for their user only, and show nothing
    assert local_cipher.decrypt("user-1", envelope) == TOKENS
    assert "v^1.1" not in envelope
    with pytest.raises(TokenDecryptionError):
        local_cipher.decrypt("user-2", envelope)
    # And another key opens nothing
    with pytest.raises(TokenDecryptionError):
        TokenCipher(local_key=lambda: bytes(32)).decrypt("user-1", envelope)


def test_a_stack_moved_to_kms_still_opens_its_old_envelopes(
    kms: Any, local_cipher: TokenCipher
) -> None:
    # Given an envelope sealed in the personal profile, and the production cipher (KMS to seal,
    # the parameter's key kept to open)
    old = local_cipher.encrypt("user-1", TOKENS)
    key_id = kms.create_key(Description="user tokens")["KeyMetadata"]["KeyId"]
    production = TokenCipher(kms, key_id=key_id, local_key=lambda: KEY)
    # Then it opens the old envelope and seals new ones with KMS (version 1)
    assert production.decrypt("user-1", old) == TOKENS
    new = production.encrypt("user-1", TOKENS)
    assert production.decrypt("user-1", new) == TOKENS
    # And a personal cipher refuses the KMS envelope rather than calling KMS
    with pytest.raises(TokenDecryptionError):
        local_cipher.decrypt("user-1", new)


def test_a_cipher_needs_a_key() -> None:
    with pytest.raises(ValueError, match="key_id or local_key"):
        TokenCipher()
