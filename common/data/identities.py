"""The Cognito user pool's users: an account's sign-in identity, deleted last with the account."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from common import aws
from common.container import per_container
from common.errors import RetryableError

if TYPE_CHECKING:
    # A module import: tests/unit/static_calls.py would read a `from mypy_boto3_cognito_idp`
    # import as a service called "cognito_idp", which botocore does not know (it is
    # "cognito-idp", named by boto3.client below).
    import mypy_boto3_cognito_idp

# Cognito's passing faults; the caller may try again.
RETRYABLE_CODES = frozenset({"TooManyRequestsException", "InternalErrorException"})


@per_container
def default_cognito_client() -> mypy_boto3_cognito_idp.CognitoIdentityProviderClient:
    return boto3.client("cognito-idp", config=aws.CONFIG)


class CognitoIdentities:
    def __init__(
        self,
        user_pool_id: str,
        client: mypy_boto3_cognito_idp.CognitoIdentityProviderClient | None = None,
    ) -> None:
        self.user_pool_id = user_pool_id
        self._client = client

    @property
    def client(self) -> mypy_boto3_cognito_idp.CognitoIdentityProviderClient:
        if self._client is None:
            self._client = default_cognito_client()
        return self._client

    def delete(self, username: str) -> bool:
        """Delete the user (``username``: the token's ``cognito:username``/``username`` claim,
        which AdminDeleteUser takes as is). False if there was no such user: a retry after a
        deletion whose answer was lost finds it gone."""
        try:
            self.client.admin_delete_user(UserPoolId=self.user_pool_id, Username=username)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "UserNotFoundException":
                return False
            if code in RETRYABLE_CODES:
                raise RetryableError("The sign-in service was busy; try again") from exc
            raise
        return True
