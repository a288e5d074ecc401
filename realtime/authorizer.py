"""WebSocket $connect authorizer: REQUEST type, identity ``route.request.querystring.token``.

Browsers cannot set headers on a WebSocket, so the Cognito id or access token comes in the
query string. A valid token gets an Allow policy for the connect route with principalId = the
user and context ``{userId}``; anything else raises ``Unauthorized``, which API Gateway turns
into a 401 handshake without running $connect. So does a valid token of a deleted account
(its profile's tombstone, common/data/users.py): the token outlives the account by up to an
hour, and nothing but this authorizer stands before $connect's write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from aws_lambda_powertools.utilities.typing import LambdaContext

from common.data.users import UsersRepository
from common.errors import AccountDeletedError
from common.handler import settings_validated
from common.observability import logger
from realtime import deps
from realtime.auth import InvalidToken


class Verifier(Protocol):
    """Checks a Cognito token (realtime.auth.TokenVerifier); raises InvalidToken."""

    def verify(self, token: str | None) -> Mapping[str, Any]: ...


class Unauthorized(Exception):
    """API Gateway maps exactly this message, "Unauthorized", to a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(event: dict[str, Any], verifier: Verifier, users: UsersRepository) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        claims = verifier.verify(token)
    except InvalidToken as exc:
        logger.info("websocket token refused", reason=str(exc))
        raise Unauthorized() from exc
    user_id = str(claims["sub"])
    # A read: $connect writes to the Connections table, and checking the profile in that write
    # would make it a transaction across two tables. What stays open: a socket authorised
    # before a concurrent deletion marks the profile, and recorded after that deletion's sweep
    # of the user's sockets, keeps its row until the row's TTL (about 2 hours).
    try:
        users.get_live(user_id)
    except AccountDeletedError as exc:
        logger.info("websocket token refused", reason="account deleted")
        raise Unauthorized() from exc
    return {
        "principalId": user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "context": {"userId": user_id},
    }


@settings_validated
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event, deps.token_verifier(), deps.users_repo())
