"""Lambda's Invoke API (``POST /2015-03-31/functions/{FunctionName}/invocations``) for the local
stack, so that boto3's Lambda client, pointed here by ``AWS_ENDPOINT_URL_LAMBDA``, runs the
template's functions in-process: product code has no local branch.

``X-Amz-Invocation-Type``: ``RequestResponse`` (default) answers 200 with the handler's result,
or with ``X-Amz-Function-Error: Unhandled`` and Lambda's error document; ``Event`` queues the
invocation and answers 202 at once, and a run that fails gets Lambda's asynchronous retries (same
request id, the function's ``EventInvokeConfig``, then its on-failure destination: see
:class:`~local.lambda_runtime.EventInvoker`); ``DryRun`` answers 204. An unknown function is 404
``ResourceNotFoundException``. The function may be named by name, ARN or partial ARN, with or
without a ``:qualifier``.

``RecordingInvoker`` answers the same API without running anything: the test session points
``AWS_ENDPOINT_URL_LAMBDA`` at it when no stack runs, and tests read what was invoked.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from local.lambda_runtime import EventInvoker, FunctionError, FunctionTimeoutError, LambdaRuntime
from local.template import FUNCTION_TYPE, Template

INVOKE_PATH = "/2015-03-31/functions/{function_name}/invocations"


def function_logical_id(template: Template, name_or_arn: str) -> str | None:
    """The logical id of a function named by name, ARN or partial ARN (qualifier ignored)."""
    name = name_or_arn
    if name.startswith("arn:"):
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else ""
    elif ":function:" in name or name.count(":") >= 2:
        name = name.split(":function:")[-1] if ":function:" in name else name.split(":")[2]
    name = name.split(":")[0]
    for logical_id, physical in template.refs.items():
        if physical == name and logical_id in template.resources(FUNCTION_TYPE):
            return logical_id
    return None


class Invoker(Protocol):
    async def invoke(
        self, function_name: str, invocation_type: str, payload: Any
    ) -> web.Response: ...


def _not_found(function_name: str) -> web.Response:
    return web.json_response(
        {"Type": "User", "message": f"Function not found: {function_name}"},
        status=404,
        headers={"x-amzn-ErrorType": "ResourceNotFoundException"},
    )


class RuntimeInvoker:
    """Runs the invocation on the stack's :class:`LambdaRuntime`; ``Event`` invocations through
    ``events`` (the stack's, shared with its scheduler; by default one without an SQS client,
    which logs what it would send to an on-failure destination)."""

    def __init__(
        self, template: Template, runtime: LambdaRuntime, events: EventInvoker | None = None
    ) -> None:
        self.template = template
        self.runtime = runtime
        self.events = events or EventInvoker(template, runtime)

    async def invoke(self, function_name: str, invocation_type: str, payload: Any) -> web.Response:
        logical_id = function_logical_id(self.template, function_name)
        if logical_id is None:
            return _not_found(function_name)
        if invocation_type == "DryRun":
            return web.Response(status=204)
        if invocation_type == "Event":
            self.events.invoke(logical_id, payload)
            return web.Response(status=202)
        try:
            result = await self.runtime.invoke_async(logical_id, payload)
        except FunctionTimeoutError as exc:
            return _function_error({"errorMessage": str(exc), "errorType": "Sandbox.Timedout"})
        except FunctionError as exc:
            return _function_error(
                {"errorMessage": str(exc.error), "errorType": type(exc.error).__name__}
            )
        return web.Response(
            body=json.dumps(result).encode(),
            status=200,
            content_type="application/json",
            headers={"X-Amz-Executed-Version": "$LATEST"},
        )


def _function_error(document: dict[str, Any]) -> web.Response:
    return web.Response(
        body=json.dumps(document).encode(),
        status=200,
        content_type="application/json",
        headers={"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"},
    )


@dataclass(frozen=True)
class Invocation:
    function_name: str
    invocation_type: str
    payload: Any


class RecordingInvoker:
    """Accepts every invocation and records it; runs nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._invocations: list[Invocation] = []

    @property
    def invocations(self) -> list[Invocation]:
        with self._lock:
            return list(self._invocations)

    def clear(self) -> None:
        with self._lock:
            self._invocations.clear()

    async def invoke(self, function_name: str, invocation_type: str, payload: Any) -> web.Response:
        with self._lock:
            self._invocations.append(Invocation(function_name, invocation_type, payload))
        if invocation_type == "Event":
            return web.Response(status=202)
        if invocation_type == "DryRun":
            return web.Response(status=204)
        return web.json_response(None)


def lambda_routes(invoker: Invoker) -> list[web.RouteDef]:
    async def invoke(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            return web.json_response(
                {"Type": "User", "message": "Could not parse request body into json"},
                status=400,
                headers={"x-amzn-ErrorType": "InvalidRequestContentException"},
            )
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            return web.json_response(
                {"Type": "User", "message": f"invalid invocation type {invocation_type}"},
                status=400,
                headers={"x-amzn-ErrorType": "InvalidParameterValueException"},
            )
        return await invoker.invoke(request.match_info["function_name"], invocation_type, payload)

    return [web.post(INVOKE_PATH, invoke)]


def recording_app() -> tuple[web.Application, RecordingInvoker]:
    invoker = RecordingInvoker()
    app = web.Application()
    app.add_routes(lambda_routes(invoker))
    return app, invoker
