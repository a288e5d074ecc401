"""The HTTP API resolver every REST function uses, and the one place errors become HTTP."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
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
    (ValidationFailed, 422),
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


def _error_response(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


ERROR_RESPONSES: dict[int, OpenAPIResponse] = {
    400: _error_response("Malformed JSON or a request that cannot be acted on"),
    401: _error_response("No caller identity"),
    404: _error_response("Unknown id, or one belonging to another user"),
    409: _error_response("Conflicts with the current state"),
    422: _error_response("A field failed validation"),
}


@dataclass(frozen=True)
class Caller:
    user_id: str
    email: str | None


def error_response(status: int, code: str, message: str, details: list[FieldIssue]) -> Response:
    body = {"error": {"code": code, "message": message, "details": [d.as_dict() for d in details]}}
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc[1:] if not isinstance(p, int)] if loc else []
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def create_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response:
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

    @app.not_found
    def _no_route(exc: Exception) -> Response:
        return error_response(404, "NOT_FOUND", "No such route", [])

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response:
        for error_type, status in STATUS_BY_ERROR:
            if isinstance(exc, error_type):
                return error_response(status, exc.code, exc.message, exc.details)
        return _internal(exc)

    @app.exception_handler(Exception)
    def _internal(exc: Exception) -> Response:
        # The outermost edge: log the cause here, tell the client nothing about it.
        logger.exception("unhandled error", error_type=type(exc).__name__)
        return error_response(500, "INTERNAL", "Something went wrong on our side", [])

    return app


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
    return Caller(user_id=sub, email=email if isinstance(email, str) else None)
