"""The HTTP gateway behaves like API Gateway's HTTP API: routes, payload 2.0, JWT, CORS, errors.

A small template (same authorizer and CORS shape as template.yaml) routes to throw-away
handlers, so each test sees exactly what a function receives and what the client gets back.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import jwt
import moto
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local.aws import Provisioned, provision
from local.http_gateway import HttpGateway, build_app, build_event
from local.lambda_runtime import LambdaRuntime
from local.template import Template
from local.testing import serving_app

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "events"
ORIGIN = "http://localhost:8000"

GATEWAY_TEMPLATE = Path(__file__).with_name("gateway_template.yaml")

USER = "gateway-user@example.com"
PASSWORD = "Gateway-Pass1"


@pytest.fixture(scope="module")
def gateway_stack(aws_endpoint: str) -> Iterator[Any]:
    template = Template.load(GATEWAY_TEMPLATE, name_prefix="gw-")
    provisioned = provision(template, aws_endpoint)
    runtime = LambdaRuntime(template)
    gateway = HttpGateway(template, runtime, jwks_url=provisioned.jwks_url)
    cognito = boto3.client("cognito-idp")
    cognito.admin_create_user(
        UserPoolId=provisioned.user_pool_id, Username=USER, MessageAction="SUPPRESS"
    )
    cognito.admin_set_user_password(
        UserPoolId=provisioned.user_pool_id, Username=USER, Password=PASSWORD, Permanent=True
    )
    tokens = cognito.initiate_auth(
        ClientId=provisioned.user_pool_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": USER, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    with serving_app(build_app(gateway)) as base_url:
        yield type(
            "GatewayStack",
            (),
            {
                "url": base_url,
                "provisioned": provisioned,
                "runtime": runtime,
                "id_token": tokens["IdToken"],
                "access_token": tokens["AccessToken"],
            },
        )
    runtime.shutdown()


def _moto_signing_key() -> Any:
    resource = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    return jwt.PyJWK(json.loads(gzip.decompress(resource.read_bytes()))).key


def _token(provisioned: Provisioned, key: Any = None, **changes: Any) -> str:
    """An id token signed like moto's, with some claims changed."""
    now = int(time.time())
    claims = {
        "iss": provisioned.issuer,
        "sub": "user-1",
        "aud": provisioned.user_pool_client_id,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "email": USER,
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(
        claims, key or _moto_signing_key(), algorithm="RS256", headers={"kid": "dummy"}
    )


def _get(stack: Any, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{stack.url}{path}", headers=headers, **kwargs)


# ------------------------------------------------------------------------------ payload 2.0


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


def test_event_has_the_shape_sam_generate_event_produces() -> None:
    # Given the event `sam local generate-event apigateway http-api-proxy` prints (written from
    # the documented format; aws-sam-cli is not installed here)
    sample = json.loads((FIXTURES / "http_api_proxy.json").read_text())

    # When the gateway builds an event for a comparable request
    event = build_event(
        method="POST",
        raw_path="/path/to/resource",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=[
            ("Header1", "value1"),
            ("Header2", "value1"),
            ("header2", "value2"),
            ("Cookie", "cookie1; cookie2"),
            ("Content-Type", "application/octet-stream"),
        ],
        body=b'{"test":"body"}',
        source_ip="192.168.0.1",
        protocol="HTTP/1.1",
        api_id="api-id",
        account_id="123456789012",
        region="us-east-1",
        route_key="$default",
        path_parameters={"parameter1": "value1"},
        authorizer={"claims": {"claim1": "value1"}, "scopes": ["scope1"]},
    )

    # Then it has the same fields and types (mTLS and stage variables are not configured here)
    del sample["requestContext"]["authentication"], sample["stageVariables"]
    expected, actual = _shape(sample), _shape(event)
    for volatile in ("headers",):
        expected.pop(volatile), actual.pop(volatile)
    assert actual == {
        **expected,
        "requestContext": {
            **expected["requestContext"],
            "authorizer": {"jwt": {"claims": {"claim1": "str"}, "scopes": "list"}},
        },
    }
    assert event["cookies"] == sample["cookies"]
    assert event["queryStringParameters"] == sample["queryStringParameters"]
    assert event["headers"]["header2"] == "value1,value2"
    assert event["body"] == sample["body"]
    assert event["isBase64Encoded"] is True


def test_request_reaches_the_function_as_a_2_0_event(gateway_stack: Any) -> None:
    # Given a signed-in caller
    # When they GET a route with a path parameter, a repeated query parameter and cookies
    response = _get(
        gateway_stack,
        "/things/abc%20d?tag=a&tag=b&q=x%2By",
        gateway_stack.id_token,
        headers={"X-Custom": "1", "Cookie": "c1=v1; c2=v2", "User-Agent": "pytest"},
    )

    # Then the function got API Gateway's payload 2.0 event and context
    assert response.status_code == 200
    seen = response.json()
    event, context = seen["event"], seen["context"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /things/{thingId}"
    assert event["rawPath"] == "/things/abc%20d"
    assert event["rawQueryString"] == "tag=a&tag=b&q=x%2By"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x+y"}
    assert event["pathParameters"] == {"thingId": "abc d"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "1"
    assert "cookie" not in event["headers"]
    ctx = event["requestContext"]
    assert ctx["stage"] == "$default"
    assert ctx["routeKey"] == "GET /things/{thingId}"
    assert ctx["http"] == {
        "method": "GET",
        "path": "/things/abc%20d",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    claims = ctx["authorizer"]["jwt"]["claims"]
    assert claims["email"] == USER
    assert claims["token_use"] == "id"
    assert all(isinstance(value, str) for value in claims.values())
    assert "body" not in event
    assert context["function_name"] == "gw-local-EchoFunction"
    assert context["memory_limit_in_mb"] == 512
    assert context["function_version"] == "$LATEST"
    assert 0 < context["remaining"] <= 10_000
    # And the response carries the function's headers and cookies
    assert response.headers["x-seen"] == "yes"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_bodies_text_and_binary(gateway_stack: Any) -> None:
    # Given a JSON body and a binary body
    text = httpx.post(
        f"{gateway_stack.url}/things",
        json={"a": 1},
        headers={"Authorization": gateway_stack.id_token},  # no "Bearer": also accepted
    ).json()["event"]
    raw = httpx.post(
        f"{gateway_stack.url}/things",
        content=b"\xff\x00",
        headers={
            "Authorization": f"Bearer {gateway_stack.id_token}",
            "Content-Type": "application/octet-stream",
        },
    ).json()["event"]

    # Then text arrives as is and binary base64-encoded
    assert (json.loads(text["body"]), text["isBase64Encoded"]) == ({"a": 1}, False)
    assert (base64.b64decode(raw["body"]), raw["isBase64Encoded"]) == (b"\xff\x00", True)


def test_greedy_path_and_any_method(gateway_stack: Any) -> None:
    response = httpx.delete(
        f"{gateway_stack.url}/files/a/b/c.txt",
        headers={"Authorization": f"Bearer {gateway_stack.id_token}"},
    )
    event = response.json()["event"]
    assert event["routeKey"] == "ANY /files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_a_literal_path_wins_over_a_path_parameter(gateway_stack: Any) -> None:
    response = _get(gateway_stack, "/things/mine", gateway_stack.id_token)
    assert response.json() == {"hello": "world"}


def test_responses_without_status_code_and_base64_responses(gateway_stack: Any) -> None:
    # When functions return a bare dict, or a base64 body
    plain = _get(gateway_stack, "/open")
    binary = _get(gateway_stack, "/binary")

    # Then API Gateway's 2.0 rules map them
    assert (plain.status_code, plain.json()) == (200, {"hello": "world"})
    assert plain.headers["content-type"].startswith("application/json")
    assert (binary.status_code, binary.content) == (201, b"\x00\x01\x02")


# ------------------------------------------------------------------------------ errors


def test_unknown_route_and_wrong_method_are_404(gateway_stack: Any) -> None:
    assert (
        _get(gateway_stack, "/nowhere").status_code,
        _get(gateway_stack, "/nowhere").json(),
    ) == (
        404,
        {"message": "Not Found"},
    )
    wrong_method = httpx.put(f"{gateway_stack.url}/open")
    assert (wrong_method.status_code, wrong_method.json()) == (404, {"message": "Not Found"})


def test_handler_exception_is_a_bare_500(
    gateway_stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # When the function raises
    response = _get(gateway_stack, "/boom")

    # Then the client sees API Gateway's message and nothing of the traceback
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert "secret internals" not in response.text
    # And the traceback is in the local stack's log
    assert "secret internals" in caplog.text


def test_a_function_past_its_timeout_is_an_error(gateway_stack: Any) -> None:
    # When a function with Timeout: 1 runs for 1.5 s
    response = _get(gateway_stack, "/slow")

    # Then the gateway answers as for a failed invocation, and the timeout is counted
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert gateway_stack.runtime.stats["SlowFunction"].timeouts == 1


# ------------------------------------------------------------------------------ JWT authorizer


def test_valid_id_and_access_tokens_are_accepted(gateway_stack: Any) -> None:
    for token in (gateway_stack.id_token, gateway_stack.access_token):
        response = _get(gateway_stack, "/things/1", token)
        assert response.status_code == 200
    claims = response.json()["event"]["requestContext"]["authorizer"]["jwt"]
    assert claims["claims"]["token_use"] == "access"
    assert claims["scopes"] == ["aws.cognito.signin.user.admin"]


def _forged(provisioned: Provisioned) -> str:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _token(provisioned, key=other_key)


def _alg_none(provisioned: Provisioned) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT","kid":"dummy"}').rstrip(b"=")
    claims = jwt.decode(_token(provisioned), options={"verify_signature": False})
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    return f"{header.decode()}.{payload.decode()}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(_forged, id="forged-signature"),
        pytest.param(_alg_none, id="alg-none"),
        pytest.param(
            lambda p: _token(p, iss="https://cognito-idp.us-east-1.amazonaws.com/other"),
            id="wrong-issuer",
        ),
        pytest.param(lambda p: _token(p, aud="someone-else"), id="wrong-audience"),
        pytest.param(lambda p: _token(p, exp=int(time.time()) - 5), id="expired"),
        pytest.param(lambda p: _token(p, nbf=int(time.time()) + 300), id="not-yet-valid"),
        pytest.param(lambda p: _token(p, token_use="refresh"), id="wrong-token-use"),
        pytest.param(lambda p: "not-a-jwt", id="garbage"),
        pytest.param(lambda p: None, id="missing"),
    ],
)
def test_bad_tokens_are_401_and_the_handler_never_runs(gateway_stack: Any, make_token: Any) -> None:
    # Given a token the authorizer must refuse
    token = make_token(gateway_stack.provisioned)
    before = gateway_stack.runtime.stats["EchoFunction"].invocations

    # When it calls a protected route
    response = _get(gateway_stack, "/things/1", token)

    # Then API Gateway's 401 comes back and the function was not invoked
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    assert gateway_stack.runtime.stats["EchoFunction"].invocations == before


def test_a_token_for_the_right_client_via_client_id_is_accepted(gateway_stack: Any) -> None:
    # Access tokens carry client_id instead of aud
    token = _token(
        gateway_stack.provisioned,
        aud=None,
        token_use="access",
        client_id=gateway_stack.provisioned.user_pool_client_id,
    )
    assert _get(gateway_stack, "/things/1", token).status_code == 200


# ------------------------------------------------------------------------------ CORS


def test_preflight_is_answered_by_the_gateway(gateway_stack: Any) -> None:
    # When the dashboard's origin sends a preflight for a protected route
    response = httpx.options(
        f"{gateway_stack.url}/things/1",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )

    # Then the gateway answers from CorsConfiguration, without a token or a function
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert set(response.headers["access-control-allow-methods"].split(",")) == {
        "GET",
        "POST",
        "PUT",
        "DELETE",
        "OPTIONS",
    }
    assert response.headers["access-control-allow-headers"] == "authorization,content-type"
    assert response.headers["access-control-max-age"] == "600"


def test_preflight_from_another_origin_gets_no_cors_headers(gateway_stack: Any) -> None:
    response = httpx.options(
        f"{gateway_stack.url}/things/1",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 204
    assert "access-control-allow-origin" not in response.headers


def test_actual_responses_carry_the_allowed_origin(gateway_stack: Any) -> None:
    response = _get(gateway_stack, "/open", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    unauthorized = _get(gateway_stack, "/things/1", headers={"Origin": ORIGIN})
    assert unauthorized.headers["access-control-allow-origin"] == ORIGIN
