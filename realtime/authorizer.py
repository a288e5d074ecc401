"""WebSocket $connect authorizer: REQUEST type, identity ``route.request.querystring.token``.

Browsers cannot set headers on a WebSocket, so the Cognito id or access token comes in the
query string. A valid token gets an Allow policy for the connect route with principalId = the
user and context ``{userId}``; anything else raises ``Unauthorized``, which API Gateway turns
into a 401 handshake without running $connect. So does a valid token of a deleted account
(its profile's tombstone, common/data/users.py): the token outlives the account by up to an
hour, and nothing but this authorizer stands before $connect's write. The handler reads the
token out of the event and answers API Gateway's policy; whom the token names is decided in
realtime/logic/authorization.py.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common.handler import settings_validated
from common.observability import logger
from realtime.composition import AuthorizerSettings, authorizer_ports
from realtime.logic.authorization import LiveProfiles, Unauthorized, Verifier, authorized_user

__all__ = ["Unauthorized", "Verifier", "authorize", "handler"]


def authorize(event: dict[str, Any], verifier: Verifier, users: LiveProfiles) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    user_id = authorized_user(token, verifier, users)
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


@settings_validated(AuthorizerSettings)
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = authorizer_ports()
    return authorize(event, p.verifier, p.users)
