"""The handlers accept the events `sam local generate-event apigateway http-api-proxy` produces."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rest import bids, history, users
from tests.events import FakeLambdaContext

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "events" / "http_api_proxy.json"
pytestmark = pytest.mark.integration


def _sam_event(method: str, path: str, body: Any = None, claims: bool = True) -> dict[str, Any]:
    event = copy.deepcopy(json.loads(FIXTURE.read_text()))
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["rawQueryString"] = ""
    event.pop("queryStringParameters", None)
    if body is None:
        event.pop("body", None)
    else:
        # sam's sample carries a base64 body; keep that encoding
        event["body"] = base64.b64encode(json.dumps(body).encode()).decode()
        event["isBase64Encoded"] = True
    if claims:
        event["requestContext"]["authorizer"]["jwt"]["claims"].update(
            sub="sam-user", email="sam@example.com"
        )
    return event


@pytest.mark.parametrize(
    ("handler", "method", "path", "body", "expected"),
    [
        (users.handler, "GET", "/users/profile", None, 200),
        (users.handler, "PUT", "/users/preferences", {"timezone": "UTC"}, 200),
        (bids.handler, "GET", "/bids", None, 200),
        (bids.handler, "GET", "/bids/unknown", None, 404),
        (bids.handler, "POST", "/bids", {"ebayItemId": "1", "maxBidAmount": 1}, 422),
        (history.handler, "GET", "/bid-history", None, 200),
    ],
)
def test_sam_generated_events_are_handled(rest_env, handler, method, path, body, expected):
    # Given sam's sample event, pointed at one of our routes with a signed-in caller
    event = _sam_event(method, path, body)
    # When the handler runs
    response = handler(event, FakeLambdaContext())
    # Then it answers as for any API Gateway request
    assert response["statusCode"] == expected
    assert json.loads(response["body"])


def test_the_untouched_sample_is_a_404_in_the_error_shape(rest_env):
    event = json.loads(FIXTURE.read_text())
    response = bids.handler(event, FakeLambdaContext())
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "NOT_FOUND"


def test_without_a_sub_claim_it_is_401(rest_env):
    event = _sam_event("GET", "/bids", claims=False)
    response = bids.handler(event, FakeLambdaContext())
    assert response["statusCode"] == 401
