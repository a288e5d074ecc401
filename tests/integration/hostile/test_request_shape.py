"""Requests judged by their shape, on the whole local stack: the body's media type, the method,
the request line's length; and the headers every answer carries (security headers, CORS).

API Gateway passes any Content-Type and any body to the function; Powertools read a JSON body
sent as text/plain or multipart as an error of its own, which the API answered 500. An
undeclared method got API Gateway's 404 for a path that exists, and a request line over what
the local gateway reads got aiohttp's plain-text 400 and a traceback in the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.http_gateway import DASHBOARD_HEADERS
from local.testing import RunningStack
from rest.app import SECURITY_HEADERS
from rest.openapi import build_openapi
from tests.integration.hostile.hostile_helpers import User, api, sign_up

pytestmark = pytest.mark.e2e

DOCUMENT = build_openapi()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, methods in DOCUMENT["paths"].items()
    for method, operation in methods.items()
]
BODY_OPERATIONS = [(m, p) for m, p, operation in OPERATIONS if "requestBody" in operation]
# What a client may send that is not application/json; the multipart type has no boundary.
NOT_JSON = (
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/xml",
    "application/json-patch+json",
)


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


@pytest.fixture(scope="module")
def user(running: RunningStack) -> User:
    return sign_up(running, "shape")


@pytest.fixture(scope="module")
def http(running: RunningStack) -> Iterator[httpx.Client]:
    with api(running) as client:
        yield client


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, response.text
    assert set(body["error"]) == {"code", "message", "details"}, response.text
    return dict(body["error"])


@pytest.mark.parametrize(
    ("method", "path"), BODY_OPERATIONS, ids=[f"{m} {p}" for m, p in BODY_OPERATIONS]
)
def test_a_body_that_is_not_json_gets_415_in_the_error_shape(
    http: httpx.Client, user: User, method: str, path: str
) -> None:
    for content_type in NOT_JSON:
        # When a JSON body arrives under another media type
        response = http.request(
            method,
            _url(path),
            headers={**user.headers, "Content-Type": content_type},
            content=b'{"maxBidAmount": 5000}',
        )
        # Then it is refused as such, in the API's error shape, naming the header
        assert response.status_code == 415, f"{content_type}: {response.text}"
        error = _error(response)
        assert error["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert error["details"] == [
            {"field": "Content-Type", "message": "must be application/json"}
        ]
    # And JSON with a charset, in capitals or without a Content-Type is read as JSON
    for headers in (
        {"Content-Type": "Application/JSON; charset=utf-8"},
        {},
    ):
        response = http.request(
            method, _url(path), headers={**user.headers, **headers}, content=b"{}"
        )
        assert response.status_code != 415, f"{headers}: {response.text}"
        assert response.status_code < 500, response.text


@pytest.mark.parametrize("path", sorted(DOCUMENT["paths"]))
def test_an_undeclared_method_gets_405_naming_the_paths_methods(
    http: httpx.Client, user: User, path: str
) -> None:
    declared = sorted(m.upper() for m in DOCUMENT["paths"][path])
    for method in sorted({"GET", "PUT", "POST", "DELETE", "PATCH", "TRACE"} - set(declared)):
        # When the path is asked with a method it does not have
        response = http.request(method, _url(path), headers=user.headers)
        # Then the answer is 405, with Allow listing exactly the documented methods
        assert response.status_code == 405, f"{method} {path}: {response.text}"
        assert response.headers["allow"] == ", ".join(declared)
        assert _error(response)["code"] == "METHOD_NOT_ALLOWED"


def test_a_request_line_over_the_limit_gets_414_and_no_traceback(
    http: httpx.Client, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a request line longer than the gateway reads (API Gateway's limit is 10,240 bytes
    # for the request line and headers together)
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    # When it is sent
    response = http.get("/bids", params={"cursor": "a" * 9000}, headers=user.headers)
    # Then the gateway answers as API Gateway does, and logs no traceback
    assert response.status_code == 414
    assert response.json() == {"message": "Request-URI Too Long"}
    assert not [r for r in caplog.records if r.exc_info], caplog.text


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p, _ in OPERATIONS],
    ids=[f"{m} {p}" for m, p, _ in OPERATIONS],
)
def test_every_answer_of_the_api_carries_the_security_headers(
    http: httpx.Client, user: User, method: str, path: str
) -> None:
    if (method, path) == ("DELETE", "/users/account"):
        path, method = "/users/account", "PATCH"  # a 405 from the same function; keep the user
    # When the operation answers (whatever it answers)
    response = http.request(method, _url(path), headers=user.headers)
    # Then the function's answer carries every security header
    assert response.status_code < 500, response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{name} on {method} {path}"


def test_the_dashboard_is_served_with_its_security_headers(http: httpx.Client) -> None:
    for path in ("/", "/index.html"):
        response = http.get(path)
        assert response.status_code == 200
        for name, value in DASHBOARD_HEADERS.items():
            assert response.headers.get(name) == value, f"{name} on {path}"


def test_cors_allows_exactly_the_dashboards_origin(
    running: RunningStack, http: httpx.Client
) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    # Given the dashboard's origin (the stack serves it on localhost, its DashboardUrl)
    dashboard = running.stack.base_url
    # When the dashboard asks
    allowed = http.options("/bids", headers={"Origin": dashboard, **preflight})
    # Then it may call the API
    assert allowed.headers.get("access-control-allow-origin") == dashboard
    # And any other origin, a lookalike or the API's own 127.0.0.1 too, may not
    for origin in ("https://evil.example", f"{dashboard}.evil.example", "null", running.base_url):
        refused = http.options("/bids", headers={"Origin": origin, **preflight})
        assert "access-control-allow-origin" not in refused.headers, origin
        answer = http.get("/bids", headers={"Origin": origin})
        assert "access-control-allow-origin" not in answer.headers, origin
