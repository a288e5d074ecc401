"""Builders for the Lambda events the handlers receive, in API Gateway's own shapes.

The HTTP API event follows payload format 2.0 as `sam local generate-event apigateway
http-api-proxy` produces it, with the JWT authorizer's claims where a caller is signed in.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    raw_body: str | None = None,
    user: str | None = "user-a",
    email: str | None = "a@example.com",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    now = time.time()
    claims: dict[str, str] | None = None
    if user is not None:
        claims = {"sub": user, "token_use": "id", "aud": "client", "iss": "https://issuer"}
        if email is not None:
            claims["email"] = email
    if raw_body is None and body is not None:
        raw_body = json.dumps(body)
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api-id",
        "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "id",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "pytest",
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": f"{method} {route or path}",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        # API Gateway (payload 2.0) lower-cases the names of the headers it passes on.
        "headers": {
            "content-type": "application/json",
            "user-agent": "pytest",
            **{name.lower(): value for name, value in (headers or {}).items()},
        },
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if raw_body is not None:
        event["body"] = raw_body
    return event


class FakeLambdaContext:
    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb = 256
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
