"""WebSocket $connect authorizer: REQUEST type, identity ``route.request.querystring.token``.

Browsers cannot set headers on a WebSocket, so the Cognito id or access token comes in the
query string. A valid token gets an Allow policy for the connect route with principalId = the
user and context ``{userId}``; anything else raises ``Unauthorized``, which API Gateway turns
into a 401 handshake without running $connect.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common.handler import settings_validated
from common.observability import logger
from realtime import deps
from realtime.auth import InvalidToken


class Unauthorized(Exception):
    """API Gateway maps exactly this message, "Unauthorized", to a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        claims = deps.token_verifier().verify(token)
    except InvalidToken as exc:
        logger.info("websocket token refused", reason=str(exc))
        raise Unauthorized() from exc
    user_id = str(claims["sub"])
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
    return authorize(event)
