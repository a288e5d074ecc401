"""Account deletion's Cognito side: the adapter's answers, and the tombstone's lifetime against
the tokens template.yaml lets Cognito issue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from common.data.identities import CognitoIdentities
from common.errors import RetryableError
from local.template import load_yaml
from rest.logic.users import LONGEST_TOKEN_SECONDS, TOMBSTONE_SECONDS

ROOT = Path(__file__).resolve().parents[2]
SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def _identities() -> tuple[CognitoIdentities, Stubber]:
    client = boto3.client(
        "cognito-idp",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return CognitoIdentities("us-east-1_pool", client), Stubber(client)


def test_the_tombstone_outlives_every_token_the_pool_client_issues():
    # Given the lifetimes template.yaml gives the dashboard's ID and access tokens
    client = load_yaml(ROOT / "template.yaml")["Resources"]["UserPoolClient"]["Properties"]
    units = client["TokenValidityUnits"]
    lifetimes = [
        client["IdTokenValidity"] * SECONDS[units["IdToken"]],
        client["AccessTokenValidity"] * SECONDS[units["AccessToken"]],
    ]
    # Then the code knows the longest, and a tombstone lasts longer (a refresh token mints
    # no new one once the Cognito user is gone)
    assert max(lifetimes) == LONGEST_TOKEN_SECONDS
    assert TOMBSTONE_SECONDS > LONGEST_TOKEN_SECONDS


def test_deleting_a_user_names_the_pool_and_the_username():
    identities, stub = _identities()
    # Given Cognito deleting the user
    stub.add_response(
        "admin_delete_user", {}, {"UserPoolId": "us-east-1_pool", "Username": "u-123"}
    )
    # When the user is deleted
    with stub:
        deleted = identities.delete("u-123")
    # Then it was
    assert deleted is True
    stub.assert_no_pending_responses()


def test_a_user_already_gone_is_not_an_error():
    identities, stub = _identities()
    # Given a retry after a deletion whose answer was lost
    stub.add_client_error("admin_delete_user", "UserNotFoundException", http_status_code=400)
    # When the user is deleted again
    with stub:
        deleted = identities.delete("u-123")
    # Then that is fine, and says so
    assert deleted is False


@pytest.mark.parametrize("code", ["TooManyRequestsException", "InternalErrorException"])
def test_a_throttled_or_failing_cognito_is_retryable(code: str):
    identities, stub = _identities()
    stub.add_client_error("admin_delete_user", code, http_status_code=400)
    # When Cognito is busy
    with stub, pytest.raises(RetryableError) as raised:
        identities.delete("u-123")
    # Then the caller may try again, and the cause is kept
    assert raised.value.__cause__ is not None


def test_any_other_refusal_is_not_hidden():
    identities, stub = _identities()
    stub.add_client_error("admin_delete_user", "NotAuthorizedException", http_status_code=400)
    with stub, pytest.raises(identities.client.exceptions.NotAuthorizedException):
        identities.delete("u-123")


class UnansweredCognito:
    """A Cognito client that botocore gives up on."""

    def admin_delete_user(self, **_: Any) -> Any:
        raise ReadTimeoutError(endpoint_url="https://cognito-idp.us-east-1.amazonaws.com/")


def test_a_cognito_that_does_not_answer_is_retryable():
    # Given Cognito does not answer the deletion in time
    identities = CognitoIdentities("us-east-1_pool", UnansweredCognito())  # type: ignore[arg-type]
    # When the user is deleted, then the caller may try again (a 503, not a 500 naming nothing)
    with pytest.raises(RetryableError) as raised:
        identities.delete("u-123")
    assert isinstance(raised.value.__cause__, ReadTimeoutError)
