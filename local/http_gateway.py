"""API Gateway HTTP API semantics on aiohttp, for the routes template.yaml declares.

Each request is matched to a route (``GET /bids/{bidId}``, greedy ``{proxy+}``, ``ANY``,
``$default``), checked by the route's JWT authorizer exactly as API Gateway does, turned into a
payload format 2.0 event, handed to the in-process Lambda runtime, and the function's result is
mapped back to an HTTP response by the 2.0 rules. CORS preflights are answered by the gateway
from the API's ``CorsConfiguration``. The local stack's own endpoints (``/local/...``,
``/openapi.json``, ``/docs``) and the dashboard's static files share the port.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import jwt
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

from local.lambda_runtime import FunctionError, FunctionTimeoutError, LambdaRuntime
from local.template import CorsConfig, HttpApiSpec, HttpRoute, JwtAuthorizerConfig, Template

log = logging.getLogger("local.gateway")

STATIC_DIR = Path(__file__).resolve().parent / "static"
# API Gateway gives up on an integration after 30 s and answers 503.
INTEGRATION_TIMEOUT_SECONDS = 30.0

_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|[\w.+-]*\+(json|xml))|image/svg\+xml)$"
)


def _message(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"message": message}, status=status, headers=headers)


# ------------------------------------------------------------------------------ unparseable


class _GatewayRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering a request it cannot parse as API Gateway does
    (its JSON ``{"message"}``) instead of aiohttp's plain text and a logged traceback."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, BadHttpMessage):
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong):
            # The request line (its target, starting with "/") or a header over the limit:
            # API Gateway's is 10,240 bytes for both together, aiohttp's 8,190 for each.
            line = exc.args[0] if exc.args else b""
            if isinstance(line, bytes | bytearray) and line.startswith(b"/"):
                response = _message(414, "Request-URI Too Long")
            else:
                response = _message(431, "Request Header Fields Too Large")
        else:
            response = _message(400, "Bad Request")
        log.info("%s refused before routing: %s", response.status, type(exc).__name__)
        response.force_close()
        return response


class GatewayServer(web.Server):
    """aiohttp's server with :class:`_GatewayRequestHandler` connections."""

    def __call__(self) -> RequestHandler:
        return _GatewayRequestHandler(self, loop=self._loop, **self._kwargs)


def answer_parse_errors_as_api_gateway(runner: web.AppRunner) -> None:
    """Call after ``runner.setup()``: aiohttp has no hook on its connection handler, and its
    runner makes the server."""
    assert runner.server is not None
    runner.server.__class__ = GatewayServer


# ------------------------------------------------------------------------------ routing


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str] | None  # None for $default
    literal_length: int
    greedy: bool

    def match(self, path: str) -> dict[str, str] | None:
        if self.pattern is None:
            return {}
        found = self.pattern.fullmatch(path)
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}


def _compile(route: HttpRoute) -> _CompiledRoute:
    if route.path == "$default":
        return _CompiledRoute(route, None, -1, True)
    regex, literal, greedy = "", 0, False
    for segment in route.path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            regex += rf"/(?P<{segment[1:-2]}>.+)"
            greedy = True
        elif segment.startswith("{") and segment.endswith("}"):
            regex += rf"/(?P<{segment[1:-1]}>[^/]+)"
        else:
            regex += "/" + re.escape(segment)
            literal += len(segment) + 1
    return _CompiledRoute(route, re.compile(regex or "/"), literal, greedy)


class RouteTable:
    """API Gateway's selection: the most specific path, an exact method before ``ANY``."""

    def __init__(self, routes: list[HttpRoute]) -> None:
        self._routes = [_compile(route) for route in routes]
        seen: set[str] = set()
        for route in routes:
            if route.route_key in seen:
                raise ValueError(f"route {route.route_key} is declared twice")
            seen.add(route.route_key)

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        candidates = []
        for compiled in self._routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            params = compiled.match(path)
            if params is None:
                continue
            rank = (
                compiled.pattern is not None,  # $default last
                not compiled.greedy,  # a greedy path loses to any non-greedy match
                compiled.literal_length,
                compiled.route.method != "ANY",
            )
            candidates.append((rank, compiled.route, params))
        if not candidates:
            return None
        _, route, params = max(candidates, key=lambda item: item[0])
        return route, params


# ------------------------------------------------------------------------------ JWT authorizer


class Unauthorized(Exception):
    """The authorizer rejects the request: 401 and the handler never runs."""


class JwtAuthorizer:
    """API Gateway's JWT authorizer: RS256 against the issuer's JWKS, iss, aud/client_id, exp."""

    def __init__(self, config: JwtAuthorizerConfig, jwks_url: str, leeway: float = 0) -> None:
        self.config = config
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600)
        self.leeway = leeway

    def token_from(self, headers: Mapping[str, str]) -> str:
        value = headers.get(self.config.identity_header, "").strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if not value:
            raise Unauthorized("no token in the identity source")
        return value

    def authorize(self, headers: Mapping[str, str], scopes: tuple[str, ...]) -> dict[str, Any]:
        """Return ``{"claims": ..., "scopes": ...}`` or raise :class:`Unauthorized`."""
        token = self.token_from(headers)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256":
                raise Unauthorized(f"unsupported alg {header.get('alg')!r}")
            key = self.jwks.get_signing_key(header.get("kid", ""))
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.config.issuer,
                leeway=self.leeway,
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(str(exc)) from exc
        # As API Gateway: aud when the token has one; client_id only when it has none. A token
        # with a foreign aud is refused even if its client_id is ours.
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if not set(audiences) & set(self.config.audience):
            raise Unauthorized("the aud (or, without one, client_id) is not an allowed audience")
        if claims.get("token_use") not in ("id", "access"):
            raise Unauthorized("token_use is neither id nor access")
        token_scopes = str(claims.get("scope", "")).split()
        if scopes and not set(scopes) & set(token_scopes):
            raise PermissionError("the token has none of the route's scopes")
        return {
            "claims": {name: _claim_string(value) for name, value in claims.items()},
            "scopes": token_scopes or None,
        }


def _claim_string(value: Any) -> str:
    """API Gateway hands claims to the function as strings; arrays look like ``[a b]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# ------------------------------------------------------------------------------ CORS


def _allowed_origin(cors: CorsConfig, origin: str) -> str | None:
    if "*" in cors.allow_origins:
        return origin if cors.allow_credentials else "*"
    return origin if origin in cors.allow_origins else None


def _preflight(cors: CorsConfig, headers: Mapping[str, str]) -> web.Response:
    origin = headers.get("origin", "")
    allowed = _allowed_origin(cors, origin)
    method = headers.get("access-control-request-method", "").upper()
    requested = [
        h.strip().lower()
        for h in headers.get("access-control-request-headers", "").split(",")
        if h.strip()
    ]
    response = web.Response(status=204)
    if (
        allowed is None
        or ("*" not in cors.allow_methods and method not in cors.allow_methods)
        or ("*" not in cors.allow_headers and not set(requested) <= set(cors.allow_headers))
    ):
        return response
    response.headers["access-control-allow-origin"] = allowed
    response.headers["access-control-allow-methods"] = ",".join(cors.allow_methods)
    if cors.allow_headers:
        allow = requested if "*" in cors.allow_headers else cors.allow_headers
        if allow:
            response.headers["access-control-allow-headers"] = ",".join(allow)
    if cors.max_age is not None:
        response.headers["access-control-max-age"] = str(cors.max_age)
    if cors.allow_credentials:
        response.headers["access-control-allow-credentials"] = "true"
    return response


def _add_cors(cors: CorsConfig | None, origin: str | None, response: web.StreamResponse) -> None:
    if cors is None or not origin:
        return
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return
    # API Gateway replaces whatever CORS headers the integration returned.
    response.headers["access-control-allow-origin"] = allowed
    if cors.expose_headers:
        response.headers["access-control-expose-headers"] = ",".join(cors.expose_headers)
    if cors.allow_credentials:
        response.headers["access-control-allow-credentials"] = "true"
    if allowed != "*":
        response.headers.add("vary", "Origin")


# ------------------------------------------------------------------------------ payload 2.0


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    return bool(_TEXT_TYPES.match(content_type.split(";", 1)[0].strip().lower()))


def build_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    protocol: str,
    api_id: str,
    account_id: str,
    region: str,
    route_key: str,
    path_parameters: Mapping[str, str],
    authorizer: Mapping[str, Any] | None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A payload format 2.0 event, field for field as API Gateway sends it."""
    now = now or datetime.now(UTC)
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    merged.setdefault("x-forwarded-for", source_ip)
    merged.setdefault("x-forwarded-proto", "http")
    merged.setdefault(
        "x-amzn-trace-id", f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}"
    )
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = merged
    if raw_query:
        params: dict[str, str] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            params[name] = f"{params[name]},{value}" if name in params else value
        event["queryStringParameters"] = params
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
    }
    if authorizer is not None:
        context["authorizer"] = {"jwt": dict(authorizer)}
    context.update(
        {
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": protocol,
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id or _request_id(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        }
    )
    event["requestContext"] = context
    if body:
        if _is_text(merged.get("content-type")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


def _request_id() -> str:
    """API Gateway's request ids look like ``Jx3dEhXPIAMEVZQ=``."""
    return base64.b64encode(uuid.uuid4().bytes[:10]).decode()


class BadIntegrationResponse(Exception):
    """The function's result is not a valid payload 2.0 response."""


def build_response(result: Any) -> web.Response:
    """Map a function's result to HTTP by the payload 2.0 rules."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway assumes 200 and the JSON of whatever was returned.
        return web.Response(
            status=200, body=json.dumps(result).encode(), content_type="application/json"
        )
    try:
        status = int(result["statusCode"])
        headers = CIMultiDict[str]()
        for name, value in (result.get("headers") or {}).items():
            headers[str(name)] = _header_value(value)
        for cookie in result.get("cookies") or []:
            headers.add("Set-Cookie", str(cookie))
        body = result.get("body")
        if body is None:
            payload = b""
        elif result.get("isBase64Encoded"):
            payload = base64.b64decode(str(body), validate=True)
        else:
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    except (TypeError, ValueError, AttributeError) as exc:
        raise BadIntegrationResponse(str(exc)) from exc
    if not 100 <= status <= 599:
        raise BadIntegrationResponse(f"statusCode {status}")
    headers.setdefault("Content-Type", "application/json")
    return web.Response(status=status, body=payload, headers=headers)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


# ------------------------------------------------------------------------------ the gateway


class HttpGateway:
    """The HttpApi of the template, served by aiohttp."""

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        *,
        jwks_url: str,
        api_logical_id: str | None = None,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        apis = template.http_apis
        if api_logical_id is None:
            if len(apis) != 1:
                raise ValueError(f"pick one of the template's HTTP APIs: {sorted(apis)}")
            api_logical_id = next(iter(apis))
        self.api: HttpApiSpec = apis[api_logical_id]
        self.api_id = template.refs[api_logical_id]
        self.template = template
        self.runtime = runtime
        self.integration_timeout = integration_timeout
        self.routes = RouteTable(
            [route for route in template.http_routes if route.api_id == api_logical_id]
        )
        self.authorizers = {
            name: JwtAuthorizer(config, jwks_url) for name, config in self.api.authorizers.items()
        }

    async def handle(self, request: web.Request) -> web.StreamResponse | None:
        """Answer an API request; None when no route matches (so the caller may try others)."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        cors = self.api.cors
        if (
            cors is not None
            and request.method == "OPTIONS"
            and "origin" in headers
            and "access-control-request-method" in headers
        ):
            return _preflight(cors, headers)
        matched = self.routes.match(request.method, request.raw_path.split("?", 1)[0])
        if matched is None:
            return None
        route, params = matched
        response = await self._invoke(request, route, params, headers)
        _add_cors(cors, headers.get("origin"), response)
        return response

    async def _invoke(
        self,
        request: web.Request,
        route: HttpRoute,
        params: dict[str, str],
        headers: dict[str, str],
    ) -> web.Response:
        authorizer_context = None
        authorizer_name = route.authorizer
        if authorizer_name and authorizer_name != "NONE":
            authorizer = self.authorizers[authorizer_name]
            try:
                authorizer_context = await asyncio.to_thread(
                    authorizer.authorize, headers, route.auth_scopes
                )
            except Unauthorized as exc:
                log.info("401 %s %s: %s", request.method, request.path, exc)
                return _message(
                    401,
                    "Unauthorized",
                    {"www-authenticate": 'Bearer error="invalid_token"'},
                )
            except PermissionError:
                return _message(403, "Forbidden")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _message(413, "Request Entity Too Large")
        peer = request.transport.get_extra_info("peername") if request.transport else None
        event = build_event(
            method=request.method,
            raw_path=request.raw_path.split("?", 1)[0],
            raw_query=request.query_string,
            headers=list(request.headers.items()),
            body=body,
            source_ip=peer[0] if peer else "127.0.0.1",
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
            api_id=self.api_id,
            account_id=self.template.account_id,
            region=self.template.region,
            route_key=route.route_key,
            path_parameters=params,
            authorizer=authorizer_context,
        )
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(
                self.runtime.invoke_async(route.function_id, event), self.integration_timeout
            )
            response = build_response(result)
        except FunctionTimeoutError:
            response = _message(500, "Internal Server Error")
        except TimeoutError:
            response = _message(503, "Service Unavailable")
        except FunctionError:
            response = _message(500, "Internal Server Error")
        except BadIntegrationResponse as exc:
            log.error("%s returned a malformed response: %s", route.function_id, exc)
            response = _message(500, "Internal Server Error")
        response.headers["apigw-requestid"] = event["requestContext"]["requestId"]
        log.info(
            "%s %s -> %s %s (%.0f ms)",
            request.method,
            request.raw_path,
            route.function_id,
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response


# ------------------------------------------------------------------------------ the application

Extra = Callable[[web.Request], Awaitable[web.StreamResponse | None]]

# The dashboard served from source (the deployed build, with the template's whole response
# headers policy, is local/hosted_dashboard.py's): that policy's headers but HSTS (plain HTTP
# here; CloudFront sets it where TLS terminates) and, of its CSP, frame-ancestors only (its
# sources name AWS's endpoints). tests/unit/test_security_headers.py keeps them equal.
DASHBOARD_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def build_app(
    gateway: HttpGateway,
    *,
    local_routes: list[web.AbstractRouteDef] | None = None,
    dashboard_dir: Path | None = None,
) -> web.Application:
    """One aiohttp app: the local endpoints, then the API's routes, then the dashboard."""
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app.add_routes(local_routes or [])

    async def api_or_static(request: web.Request) -> web.StreamResponse:
        response = await gateway.handle(request)
        if response is not None:
            return response
        if request.method in ("GET", "HEAD") and dashboard_dir is not None:
            static = _static_file(dashboard_dir, request.path)
            if static is not None:
                return web.FileResponse(static, headers=DASHBOARD_HEADERS)
        return _message(404, "Not Found")

    # Any path, a percent-encoded newline in it too (``.`` would stop at it).
    app.router.add_route("*", r"/{tail:[\s\S]*}", api_or_static)
    return app


def _static_file(root: Path, path: str) -> Path | None:
    if not (root / "index.html").is_file():
        return None
    relative = unquote(path).lstrip("/") or "index.html"
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document from ``rest.openapi.build_openapi()``.

    Raises ``LookupError`` when the product does not provide one (yet).
    """
    try:
        module = importlib.import_module("rest.openapi")
    except ModuleNotFoundError as exc:
        if exc.name in ("rest.openapi", "rest"):
            raise LookupError("rest.openapi is not part of this checkout yet") from exc
        raise
    build = getattr(module, "build_openapi", None)
    if build is None:
        raise LookupError("rest.openapi has no build_openapi()")
    document = build()
    if not isinstance(document, dict):
        raise TypeError("build_openapi() must return a dict")
    return document
