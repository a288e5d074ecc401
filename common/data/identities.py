"""The Cognito user pool's users: an account's sign-in identity, deleted last with the account,
and the email an access token's user signed in with."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
import httpx
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.errors import RetryableError

if TYPE_CHECKING:
    # A module import: tests/unit/static_calls.py would read a `from mypy_boto3_cognito_idp`
    # import as a service called "cognito_idp", which botocore does not know (it is
    # "cognito-idp", named by boto3.client below).
    import mypy_boto3_cognito_idp

# Cognito's passing faults; the caller may try again.
RETRYABLE_CODES = frozenset({"TooManyRequestsException", "InternalErrorException"})
# The userInfo request, inside the API functions' 10 s with room for the rest of the request.
USERINFO_TIMEOUT = httpx.Timeout(2.0, connect=1.0)


@functools.cache
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
        except BotoCoreError as exc:
            raise RetryableError("The sign-in service did not answer; try again") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "UserNotFoundException":
                return False
            if code in RETRYABLE_CODES:
                raise RetryableError("The sign-in service was busy; try again") from exc
            raise
        return True


@functools.cache
def default_userinfo_http() -> httpx.Client:
    return httpx.Client(timeout=USERINFO_TIMEOUT, follow_redirects=False)


class CognitoUserInfo:
    """The email of the user an access token belongs to, as Cognito answers for the token.

    An access token has no email claim (an ID token has). The Hosted UI's access tokens (scope
    ``openid``) are answered by the pool domain's ``/oauth2/userInfo``; the user pool API's
    (InitiateAuth: scope ``aws.cognito.signin.user.admin`` only), which userInfo refuses, by
    GetUser. The token itself authorises either request: no IAM permission is involved.
    """

    def __init__(
        self,
        userinfo_url: str,
        http: httpx.Client | None = None,
        client: mypy_boto3_cognito_idp.CognitoIdentityProviderClient | None = None,
    ) -> None:
        self.userinfo_url = userinfo_url
        self._http = http
        self._client = client

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = default_userinfo_http()
        return self._http

    @property
    def client(self) -> mypy_boto3_cognito_idp.CognitoIdentityProviderClient:
        if self._client is None:
            self._client = default_cognito_client()
        return self._client

    def email(self, access_token: str, scopes: frozenset[str]) -> str | None:
        """The user's email; None when Cognito refuses the token or knows no email for it."""
        if "openid" in scopes:
            return self._from_userinfo(access_token)
        return self._from_get_user(access_token)

    def _from_userinfo(self, access_token: str) -> str | None:
        if not self.userinfo_url:
            return None
        try:
            response = self.http.get(
                self.userinfo_url, headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError as exc:
            raise RetryableError("The sign-in service did not answer; try again") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError("The sign-in service was busy; try again")
        if response.status_code != 200:
            return None
        try:
            email = response.json().get("email")
        except (ValueError, AttributeError):
            return None
        return email if isinstance(email, str) and email else None

    def _from_get_user(self, access_token: str) -> str | None:
        try:
            user = self.client.get_user(AccessToken=access_token)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in RETRYABLE_CODES:
                raise RetryableError("The sign-in service was busy; try again") from exc
            if code in ("NotAuthorizedException", "UserNotFoundException"):
                return None
            raise
        except BotoCoreError as exc:
            raise RetryableError("The sign-in service did not answer; try again") from exc
        for attribute in user.get("UserAttributes", []):
            if attribute.get("Name") == "email" and attribute.get("Value"):
                return str(attribute["Value"])
        return None
