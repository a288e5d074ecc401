"""What a scanner looks for on every answer: security headers on the REST API's (whatever the
route answers, a 500 too) and the dashboard's, and CORS for exactly the dashboard's origin."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from local.http_gateway import DASHBOARD_HEADERS
from local.template import load_yaml
from rest.app import SECURITY_HEADERS, create_app
from tests.events import FakeLambdaContext, http_event

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
SCANNED = {
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Content-Security-Policy",
    "Referrer-Policy",
}


class Thing(BaseModel):
    name: str


def _app() -> Any:
    router = APIGatewayHttpRouter()

    @router.get("/things")
    def things() -> dict[str, Any]:
        return {"items": []}

    @router.post("/things")
    def create(body: Thing) -> dict[str, Any]:
        return {"name": body.name}

    @router.get("/boom")
    def boom() -> dict[str, Any]:
        raise RuntimeError("a bug")

    app = create_app()
    app.include_router(router)
    return app


def _answer(event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    result = _app().resolve(event, FakeLambdaContext())
    return result["statusCode"], result["headers"], json.loads(result["body"] or "null")


def test_every_rest_answer_carries_the_security_headers() -> None:
    events = {
        200: http_event("GET", "/things"),
        422: http_event("POST", "/things", body={"name": 5}),
        415: {**http_event("POST", "/things"), "headers": {"content-type": "text/plain"}},
        405: http_event("DELETE", "/things"),
        404: http_event("GET", "/nothing"),
        500: http_event("GET", "/boom"),
    }
    for status, event in events.items():
        # When the resolver answers, whatever it answers
        got, headers, _ = _answer(event)
        # Then the answer is what was expected, with every header a scanner checks
        assert got == status, event["rawPath"]
        assert set(headers) >= SCANNED, status
        assert {name: headers[name] for name in SECURITY_HEADERS} == dict(SECURITY_HEADERS)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_a_405_names_the_methods_and_a_415_the_header() -> None:
    status, headers, body = _answer(http_event("DELETE", "/things"))
    assert (status, headers["Allow"]) == (405, "GET, POST")
    assert body["error"]["code"] == "METHOD_NOT_ALLOWED"
    event = {**http_event("POST", "/things", body={"name": "x"})}
    event["headers"] = {"content-type": "multipart/form-data"}  # no boundary
    status, _, body = _answer(event)
    assert status == 415
    assert body["error"]["details"] == [
        {"field": "Content-Type", "message": "must be application/json"}
    ]


def test_cors_allows_exactly_the_dashboards_origin() -> None:
    # Given the dashboard's URL, as the functions are told it (links in emails, OAuth returns)
    dashboard = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["DASHBOARD_URL"]
    cors = RESOURCES["HttpApi"]["Properties"]["CorsConfiguration"]
    # Then the API allows that origin and no other, without credentials
    assert cors["AllowOrigins"] == [dashboard]
    assert not cors.get("AllowCredentials", False)
    # And a DashboardUrl given as a parameter is an origin: an Origin header has no path, so a
    # trailing slash or a path would match no browser's request
    pattern = TEMPLATE["Parameters"]["DashboardUrl"]["AllowedPattern"]
    for origin in ("", "https://sniper.example.com", "http://localhost:8000"):
        assert re.fullmatch(pattern, origin), origin
    for not_origin in ("https://sniper.example.com/", "https://x.example/app", "*", "x.example"):
        assert not re.fullmatch(pattern, not_origin), not_origin


def test_the_local_dashboard_sends_the_hosted_dashboards_headers() -> None:
    # Given the hosted dashboard's response headers policy (CloudFront)
    (policy,) = [
        r for r in RESOURCES.values() if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    ]
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    frame_ancestors = re.search(r"frame-ancestors [^;]+", csp)
    # Then the dashboard served from source locally sends the same, but HSTS (plain HTTP) and,
    # of the CSP, the directive that does not name AWS's endpoints
    assert "ContentTypeOptions" in security
    assert {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
        "Content-Security-Policy": frame_ancestors[0] if frame_ancestors else None,
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
    } == DASHBOARD_HEADERS
