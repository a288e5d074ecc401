"""Every route takes Cognito's ID and access tokens alike: where a profile needs the user's
email, an ID token carries it and an access token (which has no email claim) is traded for it
with Cognito (rest.app.sign_in_email, common.data.identities.CognitoUserInfo)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from botocore.exceptions import ClientError

from common.data.identities import CognitoUserInfo
from common.errors import RetryableError
from rest.app import Caller, caller, sign_in_email
from tests.events import FakeLambdaContext, http_event

USERINFO_URL = "https://sniper-test.auth.us-east-1.amazoncognito.com/oauth2/userInfo"


class RecordingLookup:
    """An EmailLookup that answers one address and records what it was asked."""

    def __init__(self, answer: str | None = "b@example.com") -> None:
        self.answer = answer
        self.asked: list[tuple[str, frozenset[str]]] = []

    def email(self, access_token: str, scopes: frozenset[str]) -> str | None:
        self.asked.append((access_token, scopes))
        return self.answer


class FakeCognito:
    """GetUser as Cognito answers it (the user pool API's access tokens)."""

    def __init__(self, attributes: dict[str, str] | None = None, error: str | None = None):
        self.attributes = attributes or {}
        self.error = error
        self.tokens: list[str] = []

    def get_user(self, AccessToken: str) -> dict[str, Any]:
        self.tokens.append(AccessToken)
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "GetUser")
        return {
            "Username": "sub-1",
            "UserAttributes": [{"Name": k, "Value": v} for k, v in self.attributes.items()],
        }


def _caller_of(event: dict[str, Any]) -> Caller:
    app = APIGatewayHttpResolver()
    seen: list[Caller] = []

    @app.get("/whoami")
    def whoami() -> dict[str, str]:
        seen.append(caller(app))
        return {}

    app.resolve(event, FakeLambdaContext())
    return seen[0]


def _access_token_event(token: str, scope: str) -> dict[str, Any]:
    event = http_event("GET", "/whoami", email=None)
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    claims.update(token_use="access", client_id="client", scope=scope, username="user-a")
    claims.pop("aud")
    event["headers"]["authorization"] = f"Bearer {token}"
    return event


def test_an_id_tokens_email_claim_is_the_sign_in_email_and_cognito_is_not_asked():
    # Given a request signed with an ID token
    who = _caller_of(http_event("GET", "/whoami", email="a@example.com"))
    lookup = RecordingLookup()
    # When its sign-in email is asked for
    email = sign_in_email(who, lookup)()
    # Then it is the claim's, and nobody was asked
    assert email == "a@example.com"
    assert who.access_token is None
    assert lookup.asked == []


def test_an_access_token_is_traded_for_its_email_only_when_asked():
    # Given a request signed with a Hosted UI access token (no email claim)
    who = _caller_of(_access_token_event("tok.en.sig", "openid email profile"))
    lookup = RecordingLookup("b@example.com")
    # When the route makes the email source but its logic never needs the email
    source = sign_in_email(who, lookup)
    # Then Cognito is not asked
    assert lookup.asked == []
    # When the logic asks (the first request, which makes the profile)
    # Then Cognito is asked with the token and its scopes
    assert source() == "b@example.com"
    assert lookup.asked == [("tok.en.sig", frozenset({"openid", "email", "profile"}))]
    assert "tok.en.sig" not in repr(who)


def test_the_hosted_uis_access_token_is_answered_by_userinfo():
    # Given Cognito's userInfo endpoint
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(USERINFO_URL).respond(
            200, json={"sub": "sub-1", "email": "b@example.com", "email_verified": "true"}
        )
        lookup = CognitoUserInfo(USERINFO_URL, http=httpx.Client(), client=FakeCognito())
        # When a token with the openid scope is traded
        email = lookup.email("tok", frozenset({"openid", "email"}))
    # Then the email is userInfo's, asked with the token
    assert email == "b@example.com"
    assert route.calls.last.request.headers["authorization"] == "Bearer tok"


def test_a_refused_token_has_no_email_and_a_failing_userinfo_is_retryable():
    with respx.mock() as mock:
        mock.get(USERINFO_URL).respond(401, json={"error": "invalid_token"})
        lookup = CognitoUserInfo(USERINFO_URL, http=httpx.Client(), client=FakeCognito())
        assert lookup.email("tok", frozenset({"openid"})) is None
    with respx.mock() as mock:
        mock.get(USERINFO_URL).respond(503)
        with pytest.raises(RetryableError):
            lookup.email("tok", frozenset({"openid"}))


def test_the_user_pool_apis_access_token_is_answered_by_get_user():
    # Given an access token from InitiateAuth (no openid scope: userInfo would refuse it)
    cognito = FakeCognito({"sub": "sub-1", "email": "c@example.com", "email_verified": "true"})
    lookup = CognitoUserInfo(USERINFO_URL, http=httpx.Client(), client=cognito)
    # When it is traded
    with respx.mock(assert_all_mocked=True):
        email = lookup.email("tok", frozenset({"aws.cognito.signin.user.admin"}))
    # Then GetUser answered, with the token
    assert email == "c@example.com"
    assert cognito.tokens == ["tok"]


def test_get_user_refusing_the_token_means_no_email_and_throttling_is_retryable():
    refused = CognitoUserInfo(USERINFO_URL, client=FakeCognito(error="NotAuthorizedException"))
    assert refused.email("tok", frozenset()) is None
    busy = CognitoUserInfo(USERINFO_URL, client=FakeCognito(error="TooManyRequestsException"))
    with pytest.raises(RetryableError):
        busy.email("tok", frozenset())
