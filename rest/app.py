"""The HTTP API resolver every REST function uses, and the one place errors become HTTP."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from re import Match
from typing import Any, Protocol
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from common.errors import (
    BadRequestError,
    ConflictError,
    DomainError,
    EbayNotLinkedError,
    FieldIssue,
    NotFoundError,
    NoticeRejected,
    RateLimited,
    RetryableError,
    UnauthorizedError,
    UpstreamRateLimited,
    UpstreamUnavailable,
    ValidationFailed,
)
from common.observability import logger

STATUS_BY_ERROR: Sequence[tuple[type[DomainError], int]] = (
    (BadRequestError, 400),
    (UnauthorizedError, 401),
    (EbayNotLinkedError, 401),
    (UpstreamRateLimited, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (NoticeRejected, 412),
    (ValidationFailed, 422),
    (RateLimited, 429),
    (UpstreamUnavailable, 503),
    (RetryableError, 503),
)


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """The one shape of every error this API answers."""

    error: ErrorInfo


class GatewayMessage(BaseModel):
    """What API Gateway answers by itself, before any function runs (its JWT authorizer's 401)."""

    message: str


def _error_response(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


ERROR_RESPONSES: dict[int, OpenAPIResponse] = {
    400: _error_response("Malformed JSON or a request that cannot be acted on"),
    401: {
        "description": "No caller identity: the gateway refused the token ({message}), or the "
        "function found no verified identity (the error shape)",
        "content": {"application/json": {"model": ErrorBody | GatewayMessage}},
    },
    404: _error_response("Unknown id, or one belonging to another user"),
    409: _error_response("Conflicts with the current state"),
    422: _error_response("A field failed validation"),
    503: _error_response("AWS throttled the request or eBay is unavailable; try again"),
}
# Only on the routes whose request calls eBay (rest/logic/upstream.py): eBay limiting this app's
# calls (429 after the client's retries).
EBAY_RATE_LIMITED_RESPONSE: OpenAPIResponse = _error_response(
    "eBay is limiting this app's calls (code EBAY_RATE_LIMITED); try again in a few minutes"
)
# Only on the routes that have a per-user cap or spend eBay calls (common/data/budget.py).
RATE_LIMITED_RESPONSE: OpenAPIResponse = {
    "description": "An allowance is used up (a per-user cap, or today's share of eBay calls, "
    "named in the details); the Retry-After header says in how many seconds to try again",
    "headers": {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}},
    "content": {"application/json": {"model": ErrorBody}},
}


def documented(
    errors: Mapping[int, OpenAPIResponse] = ERROR_RESPONSES,
    *,
    status: int = 200,
    description: str = "Success",
) -> dict[int, OpenAPIResponse]:
    """A route's responses: its success, with the schema of the route's return type, and its
    errors. Powertools documents the success response only for routes given no ``responses``."""
    return {status: {"description": description}, **errors}


@dataclass(frozen=True)
class Caller:
    user_id: str
    email: str | None
    # The Cognito username: ``cognito:username`` in an ID token, ``username`` in an access token
    # (with email as the pool's username attribute, a UUID equal to ``sub``).
    username: str = ""
    # The bearer token when it is an access token, which has no email claim: what Cognito is
    # asked for its user's email when a profile needs one (sign_in_email). Never logged.
    access_token: str | None = field(default=None, repr=False)
    scopes: frozenset[str] = frozenset()


class EmailLookup(Protocol):
    """Cognito's answer for an access token: its user's email (common.data.identities)."""

    def email(self, access_token: str, scopes: frozenset[str]) -> str | None: ...


def sign_in_email(who: Caller, lookup: EmailLookup) -> Callable[[], str | None]:
    """The caller's sign-in email, for logic to ask when a profile needs it (the first request
    makes the profile; a change of its email is checked against it): an ID token's email claim,
    or, for an access token, which has none, what Cognito answers for the token. Every route
    takes either token; only a request that needs the email, which most do not, asks Cognito."""
    token = who.access_token
    if who.email is not None or token is None:
        return lambda: who.email
    return lambda: lookup.email(token, who.scopes)


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[FieldIssue],
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"error": {"code": code, "message": message, "details": [d.as_dict() for d in details]}}
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(body), headers=headers
    )


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc[1:] if not isinstance(p, int)] if loc else []
    return ".".join(parts) or (str(loc[0]) if loc else "body")


# The one media type of request bodies. A body sent without a Content-Type is read as JSON too
# (Powertools' default, and what scripts posting JSON without the header expect); any other type
# (text/plain, forms, multipart, XML) gets 415 before the body is read, so nothing a browser may
# send cross-origin without a CORS preflight reaches a route.
JSON_MEDIA_TYPE = "application/json"

# On every answer of every REST function. API Gateway terminates TLS and passes a function's
# headers through, so HSTS is set here; nothing the API answers is a page to frame, sniff or
# cache, or a place to leak a referrer from.
SECURITY_HEADERS: Mapping[str, str] = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def media_type(content_type: str) -> str:
    """``application/json`` of ``Application/JSON; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()


class _JsonBodiesOnly(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, reading a route's body only when it is JSON: Powertools
    also parses forms and multipart (a multipart type without a boundary raised a ValueError,
    a 500) and raises RequestUnsupportedContentType for the rest."""

    def _get_body(self, app: Any) -> dict[str, Any]:
        sent = media_type(app.current_event.headers.get("content-type", ""))
        if sent not in ("", JSON_MEDIA_TYPE):
            raise RequestUnsupportedContentType(
                "Unsupported content type",
                errors=[{"type": "unsupported_content_type", "loc": ("body",), "msg": sent}],
            )
        body: dict[str, Any] = self._parse_json_data(app)
        return body


class _Resolver(APIGatewayHttpResolver):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._request_validation_middleware = _JsonBodiesOnly()

    def _convert_matches_into_route_keys(self, match: Match[str]) -> dict[str, str]:
        # Routes match API Gateway's rawPath, which keeps the client's percent-encoding: an id
        # such as v1|123|0 arrives as v1%7C123%7C0 and must reach the route decoded.
        return {name: unquote(value) for name, value in match.groupdict().items()}

    def allowed_methods(self, path: str) -> list[str]:
        """The methods this function routes for ``path`` (empty: no route has the path)."""
        routes = self._static_routes + self._dynamic_routes
        return sorted({route.method for route in routes if route.rule.match(path)})

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = super().resolve(event, context)
        response["headers"] = {**SECURITY_HEADERS, **(response.get("headers") or {})}
        return response


def body_problem(event: Mapping[str, Any]) -> str | None:
    """Why the request body cannot be read as JSON, or None when it can (or there is none).

    Powertools turns only a JSONDecodeError into a validation error; a body that is not UTF-8
    (API Gateway base64-encodes it), nested deeper than the parser's recursion limit, or holding
    an integer longer than Python's 4,300-digit limit raises something else.
    """
    body = event.get("body")
    if not body:
        return None
    try:
        text = base64.b64decode(body).decode("utf-8") if event.get("isBase64Encoded") else body
        json.loads(text)
    except (binascii.Error, UnicodeDecodeError):
        return "not UTF-8 text"
    except RecursionError:
        return "nested too deeply"
    except json.JSONDecodeError:
        return "not valid JSON"
    except ValueError:
        return "holds a number too long to read"
    return None


def create_app() -> _Resolver:
    """A resolver answering every error with the API's one error-to-HTTP mapping."""
    app = _Resolver(enable_validation=True)
    app.exception_handler(RequestValidationError)(_validation_failed)
    # A body powertools could not parse raises one of these (see body_problem).
    app.exception_handler([ValueError, RecursionError])(functools.partial(_unreadable_body, app))
    app.exception_handler(RequestUnsupportedContentType)(_unsupported_media_type)
    # A path's undeclared methods reach its function through the path's ANY route
    # (template.yaml); API Gateway answers 404 only for paths no route has.
    app.not_found(functools.partial(_no_route, app))
    app.exception_handler(DomainError)(_domain_error)
    app.exception_handler(Exception)(_internal)
    return app


def _validation_failed(exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(
            400,
            "MALFORMED_JSON",
            "The request body is not valid JSON",
            [FieldIssue("body", "not valid JSON")],
        )
    details = [FieldIssue(_field_name(e.get("loc", ())), str(e.get("msg"))) for e in errors]
    return error_response(422, "VALIDATION_ERROR", "Some fields are not valid", details)


def _unreadable_body(app: _Resolver, exc: Exception) -> Response:
    problem = body_problem(app.current_event.raw_event)
    if problem is None:
        return _internal(exc)
    return error_response(
        400,
        "MALFORMED_JSON",
        "The request body is not valid JSON",
        [FieldIssue("body", problem)],
    )


def _unsupported_media_type(exc: RequestUnsupportedContentType) -> Response:
    return error_response(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Send the request body as application/json",
        [FieldIssue("Content-Type", f"must be {JSON_MEDIA_TYPE}")],
    )


def _no_route(app: _Resolver, exc: Exception) -> Response:
    allowed = app.allowed_methods(app.current_event.path)
    if allowed:
        return error_response(
            405,
            "METHOD_NOT_ALLOWED",
            f"{app.current_event.http_method} is not a method of this path",
            [],
            {"Allow": ", ".join(allowed)},
        )
    return error_response(404, "NOT_FOUND", "No such route", [])


def _domain_error(exc: DomainError) -> Response:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            headers = None
            if isinstance(exc, RateLimited):
                headers = {"Retry-After": str(max(1, exc.retry_after))}
            return error_response(status, exc.code, exc.message, exc.details, headers)
    return _internal(exc)


def _internal(exc: Exception) -> Response:
    # The outermost edge: log the cause here, tell the client nothing about it.
    logger.exception("unhandled error", error_type=type(exc).__name__)
    return error_response(500, "INTERNAL", "Something went wrong on our side", [])


def caller(app: APIGatewayHttpResolver | APIGatewayHttpRouter) -> Caller:
    """The user the JWT authorizer vouched for; no claims means 401."""
    try:
        claims = app.current_event.request_context.authorizer.jwt_claim or {}
    except (AttributeError, KeyError, TypeError):
        claims = {}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise UnauthorizedError("Sign in first: the request carries no verified identity")
    email = claims.get("email")
    username = claims.get("cognito:username") or claims.get("username")
    access_token = None
    if claims.get("token_use") == "access":
        headers = app.current_event.headers or {}
        authorization = next(
            (value for name, value in headers.items() if name.lower() == "authorization"), ""
        )
        scheme, _, token = authorization.strip().partition(" ")
        access_token = token.strip() if scheme.lower() == "bearer" else authorization.strip()
    return Caller(
        user_id=sub,
        email=email if isinstance(email, str) else None,
        username=username if isinstance(username, str) and username else sub,
        access_token=access_token or None,
        scopes=frozenset(str(claims.get("scope") or "").split()),
    )
