"""API Gateway WebSocket API semantics on aiohttp, for the WebSocket API template.yaml declares.

Clients connect to ``ws://HOST:PORT/{stage}?token=...``. As on AWS: the ``$connect`` route's
REQUEST authorizer runs first with API Gateway's event (a missing identity source is a 401
without running it; an ``Unauthorized`` error is a 401, a Deny policy a 403), then the
``$connect`` integration (a non-2xx answer refuses the handshake); messages are routed by the
API's route selection expression (``$request.body.action``) to their route or ``$default``
(``$connect`` and ``$disconnect`` are never a message's);
closing runs ``$disconnect`` with the close code and reason. Connections last at most 2 hours
and close after 10 minutes without a message from the client (both configurable); messages
are limited to 128 KB.

The management API is served under the same stage: ``POST``/``GET``/``DELETE``
``/{stage}/@connections/{id}``, 410 ``GoneException`` for an unknown connection, so the product
pushes exactly as on AWS. As on AWS (IAM authorization, which moto does not check), every call
must carry a SigV4 signature for ``execute-api`` by known credentials (the local stack's, of
``local.aws``): a missing, unknown, expired or wrong one is a 403 (``local.sigv4``).

``management_latency`` adds AWS-like latency to each management call before it acts
(``ManagementLatency``: lognormal, a median of a few ms with a tail), so that the senders'
concurrency is measured where it matters; none by default, or ``SNIPER_WS_LATENCY_MS``
(``median,p99`` in ms, e.g. ``6,40``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import random
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from local import sigv4
from local.aws import FAKE_CREDENTIALS
from local.lambda_runtime import FunctionError, InvocationError, LambdaRuntime
from local.template import API_TYPE, FUNCTION_TYPE, Template, TemplateError

log = logging.getLogger("local.websocket")

MAX_MESSAGE_BYTES = 128 * 1024
FRAME_BYTES = 32 * 1024
MAX_CONNECTION_SECONDS = 2 * 3600.0
IDLE_TIMEOUT_SECONDS = 10 * 60.0
# Routes API Gateway invokes only as a connection opens and closes: a message whose action
# names one is routed like any other unknown action, to $default.
LIFECYCLE = frozenset({"$connect", "$disconnect"})
# The access keys the management API accepts, with their secrets: the local stack's functions
# sign with these (local.aws sets them in the environment).
LOCAL_SECRETS = {FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]: FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
LATENCY_ENV = "SNIPER_WS_LATENCY_MS"
_Z99 = 2.3263  # the standard normal's 99th percentile


@dataclass(frozen=True, slots=True)
class ManagementLatency:
    """Latency added to each ``@connections`` call: lognormal with this median and 99th
    percentile (ms). Lognormal because a network service's latency is bounded below and
    skewed: most calls near the median, a long thin tail (queueing, a retransmission)."""

    median_ms: float = 6.0
    p99_ms: float = 40.0

    def sample_seconds(self, rng: random.Random | None = None) -> float:
        if self.median_ms <= 0:
            return 0.0
        sigma = math.log(max(self.p99_ms, self.median_ms) / self.median_ms) / _Z99
        return self.median_ms * math.exp((rng or random).gauss(0.0, sigma)) / 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ManagementLatency | None:
        """``SNIPER_WS_LATENCY_MS="median,p99"`` (ms); unset, empty or 0: none."""
        text = environ.get(LATENCY_ENV, "").strip()
        if not text or text in ("0", "off"):
            return None
        median, _, p99 = text.partition(",")
        return cls(float(median), float(p99 or median))


@dataclass(frozen=True, slots=True)
class WsRoute:
    route_key: str
    function_id: str | None
    authorizer_function: str | None
    identity_sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WebSocketApiSpec:
    logical_id: str
    api_id: str
    stage: str
    selection_expression: str
    routes: dict[str, WsRoute]


def _sub_names(value: Any) -> list[str]:
    text = value.get("Fn::Sub") if isinstance(value, dict) else value
    if isinstance(text, list):
        text = text[0]
    return re.findall(r"\$\{([A-Za-z0-9]+)(?:\.Arn)?\}", str(text or ""))


def _ref(value: Any) -> str | None:
    return str(value["Ref"]) if isinstance(value, dict) and "Ref" in value else None


def websocket_api(template: Template) -> WebSocketApiSpec | None:
    """The template's WebSocket API (routes -> integrations -> functions), or None."""
    apis = [
        logical_id
        for logical_id in template.resources(API_TYPE)
        if template.raw_properties(logical_id).get("ProtocolType") == "WEBSOCKET"
    ]
    if not apis:
        return None
    if len(apis) > 1:
        raise TemplateError(f"the local stack serves one WebSocket API, found {apis}")
    api = apis[0]
    functions = set(template.resources(FUNCTION_TYPE))

    def of_api(kind: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: template.raw_properties(logical_id)
            for logical_id in template.resources(kind)
            if _ref(template.raw_properties(logical_id).get("ApiId")) == api
        }

    def function_in(uri: Any) -> str | None:
        return next((name for name in _sub_names(uri) if name in functions), None)

    integrations = {
        logical_id: function_in(props.get("IntegrationUri"))
        for logical_id, props in of_api("AWS::ApiGatewayV2::Integration").items()
    }
    authorizers = of_api("AWS::ApiGatewayV2::Authorizer")
    routes: dict[str, WsRoute] = {}
    for props in of_api("AWS::ApiGatewayV2::Route").values():
        target = next((n for n in _sub_names(props.get("Target")) if n in integrations), None)
        authorizer = authorizers.get(_ref(props.get("AuthorizerId")) or "")
        routes[str(props["RouteKey"])] = WsRoute(
            route_key=str(props["RouteKey"]),
            function_id=integrations.get(target or ""),
            authorizer_function=function_in(authorizer.get("AuthorizerUri"))
            if authorizer
            else None,
            identity_sources=tuple(authorizer.get("IdentitySource", ())) if authorizer else (),
        )
    stages = [
        template.raw_properties(logical_id)
        for logical_id in template.resources("AWS::ApiGatewayV2::Stage")
        if _ref(template.raw_properties(logical_id).get("ApiId")) == api
    ]
    return WebSocketApiSpec(
        logical_id=api,
        api_id=template.refs[api],
        stage=str(template.resolve(stages[0]["StageName"])) if stages else "$default",
        selection_expression=str(
            template.raw_properties(api).get("RouteSelectionExpression", "$request.body.action")
        ),
        routes=routes,
    )


def new_connection_id() -> str:
    """Shaped like API Gateway's: 12 random bytes, base64 (16 characters ending in '=')."""
    return base64.b64encode(os.urandom(11)).decode()


def _request_time(epoch: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch))


@dataclass
class Connection:
    connection_id: str
    ws: web.WebSocketResponse
    connected_at: int  # epoch ms
    source_ip: str
    user_agent: str
    authorizer: dict[str, Any] | None
    last_active: float = field(default_factory=time.time)
    closed_by_server: tuple[int, str] | None = None


class WebSocketGateway:
    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        *,
        domain_name: str = "localhost",
        max_connection_seconds: float = MAX_CONNECTION_SECONDS,
        idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS,
        secrets: Mapping[str, str] = LOCAL_SECRETS,
        management_latency: ManagementLatency | None = None,
    ) -> None:
        spec = websocket_api(template)
        if spec is None:
            raise TemplateError("the template declares no WebSocket API")
        self.spec = spec
        self.template = template
        self.runtime = runtime
        self.domain_name = domain_name
        self.max_connection_seconds = max_connection_seconds
        self.idle_timeout_seconds = idle_timeout_seconds
        self.secrets = dict(secrets)
        self.management_latency = management_latency or ManagementLatency.from_env()
        self.management_stats = {"calls": 0, "refused": 0}
        self.connections: dict[str, Connection] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False  # stack shutdown: no $disconnect into a stopping runtime

    @property
    def stage(self) -> str:
        return self.spec.stage

    def routes(self) -> list[web.AbstractRouteDef]:
        base = f"/{self.stage}"
        return [
            web.get(base, self.handle_connect),
            web.post(base + "/@connections/{connection_id}", self.manage_post),
            web.get(base + "/@connections/{connection_id}", self.manage_get),
            web.delete(base + "/@connections/{connection_id}", self.manage_delete),
        ]

    # ---- events, in API Gateway's shapes

    def _context(
        self, conn_id: str, connected_at: int, route_key: str, event_type: str, **extra: Any
    ) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex[:16] + "=",
            "requestTime": _request_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": int(now * 1000),
            "requestId": uuid.uuid4().hex[:16] + "=",
            "domainName": self.domain_name,
            "connectionId": conn_id,
            "apiId": self.spec.api_id,
            **extra,
        }

    def _method_arn(self, route_key: str) -> str:
        t = self.template
        api = f"{self.spec.api_id}/{self.stage}/{route_key}"
        return f"arn:aws:execute-api:{t.region}:{t.account_id}:{api}"

    # ---- connect

    async def handle_connect(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("upgrade", "").lower() != "websocket":
            return web.json_response({"message": "Forbidden"}, status=403)
        conn_id = new_connection_id()
        connected_at = int(time.time() * 1000)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        source_ip = peer[0] if peer else "127.0.0.1"
        user_agent = request.headers.get("user-agent", "")
        identity = {"sourceIp": source_ip, "userAgent": user_agent}
        headers = {k: v for k, v in request.headers.items()}
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            multi_headers.setdefault(key, []).append(value)
        query = {k: v for k, v in request.query.items()} or None
        multi_query: dict[str, list[str]] | None = None
        if query:
            multi_query = {}
            for key, value in request.query.items():
                multi_query.setdefault(key, []).append(value)
        route = self.spec.routes.get("$connect")
        authorizer: dict[str, Any] | None = None
        if route is not None and route.authorizer_function:
            if not all(self._identity(source, request) for source in route.identity_sources):
                return web.json_response({"message": "Unauthorized"}, status=401)
            event = {
                "type": "REQUEST",
                "methodArn": self._method_arn("$connect"),
                "headers": headers,
                "multiValueHeaders": multi_headers,
                "queryStringParameters": query,
                "multiValueQueryStringParameters": multi_query,
                "stageVariables": None,
                "requestContext": self._context(
                    conn_id, connected_at, "$connect", "CONNECT", identity=identity
                ),
            }
            started = time.perf_counter()
            try:
                result = await self.runtime.invoke_async(route.authorizer_function, event)
            except FunctionError as exc:
                status = 401 if str(exc.error) == "Unauthorized" else 500
                return web.json_response(
                    {"message": "Unauthorized" if status == 401 else "Internal server error"},
                    status=status,
                )
            except InvocationError:
                return web.json_response({"message": "Internal server error"}, status=500)
            if not _allows(result):
                return web.json_response({"message": "Forbidden"}, status=403)
            authorizer = {
                **{k: v for k, v in (result.get("context") or {}).items()},
                "principalId": result.get("principalId"),
                "integrationLatency": int((time.perf_counter() - started) * 1000),
            }
        if route is not None and route.function_id:
            context = self._context(conn_id, connected_at, "$connect", "CONNECT", identity=identity)
            if authorizer is not None:
                context["authorizer"] = authorizer
            connect_event: dict[str, Any] = {
                "headers": headers,
                "multiValueHeaders": multi_headers,
                "queryStringParameters": query,
                "multiValueQueryStringParameters": multi_query,
                "requestContext": context,
                "isBase64Encoded": False,
            }
            try:
                result = await self.runtime.invoke_async(route.function_id, connect_event)
            except InvocationError:
                return web.json_response({"message": "Internal server error"}, status=500)
            status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
            if not 200 <= status < 300:
                return web.json_response({"message": "Forbidden"}, status=status)
        # API Gateway negotiates no permessage-deflate: frames go out as the functions post them
        # (deflating each one was also a sixth of the gateway's CPU per message).
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True, compress=False)
        await ws.prepare(request)
        conn = Connection(conn_id, ws, connected_at, source_ip, user_agent, authorizer)
        self.connections[conn_id] = conn
        log.info("websocket %s connected", conn_id)
        watchdog = asyncio.create_task(self._watch(conn))
        close_code, reason = 1005, ""
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    conn.last_active = time.time()
                    body = message.data if message.type == WSMsgType.TEXT else None
                    self._spawn(self._on_message(conn, body, message.data))
                elif message.type == WSMsgType.ERROR:
                    close_code, reason = 1009, "Message too big"
                    break
        finally:
            watchdog.cancel()
            self.connections.pop(conn_id, None)
            if conn.closed_by_server:
                close_code, reason = conn.closed_by_server
            elif ws.close_code is not None and close_code == 1005:
                close_code = ws.close_code
                reason = "Connection closed normally" if close_code == 1000 else ""
            if not ws.closed:
                await ws.close()
            self._spawn(self._on_disconnect(conn, close_code, reason))
        return ws

    @staticmethod
    def _identity(source: str, request: web.Request) -> str | None:
        if source.startswith("route.request.querystring."):
            return request.query.get(source.rsplit(".", 1)[1]) or None
        if source.startswith("route.request.header."):
            return request.headers.get(source.rsplit(".", 1)[1]) or None
        return "present"  # stage variables and context: not checked locally

    async def _watch(self, conn: Connection) -> None:
        deadline = conn.connected_at / 1000 + self.max_connection_seconds
        while not conn.ws.closed:
            now = time.time()
            if now >= deadline:
                await self._server_close(conn, WSCloseCode.GOING_AWAY, "Going away")
                return
            if now - conn.last_active >= self.idle_timeout_seconds:
                await self._server_close(conn, WSCloseCode.GOING_AWAY, "Going away")
                return
            # Sleep until the earliest the connection can expire, not a fixed tick: 1,000 idle
            # connections waking every second cost the fan-out benchmark ~8% of the stack's CPU.
            wake = min(deadline, conn.last_active + self.idle_timeout_seconds)
            await asyncio.sleep(max(0.01, wake - now))

    async def _server_close(self, conn: Connection, code: int, reason: str) -> None:
        conn.closed_by_server = (int(code), reason)
        await conn.ws.close(code=code, message=reason.encode())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- messages

    def _select(self, body: str | None) -> str:
        if body is not None and self.spec.selection_expression.startswith("$request.body."):
            path = self.spec.selection_expression[len("$request.body.") :].split(".")
            try:
                value: Any = json.loads(body)
                for part in path:
                    value = value[part]
            except (ValueError, KeyError, TypeError, IndexError):
                value = None
            if isinstance(value, str) and value in self.spec.routes and value not in LIFECYCLE:
                return value
        return "$default"

    async def _on_message(self, conn: Connection, body: str | None, raw: Any) -> None:
        route_key = self._select(body)
        route = self.spec.routes.get(route_key)
        context = self._context(
            conn.connection_id,
            conn.connected_at,
            route_key,
            "MESSAGE",
            messageId=uuid.uuid4().hex[:16] + "=",
            identity={"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
        )
        if conn.authorizer is not None:
            context["authorizer"] = conn.authorizer
        if route is None or route.function_id is None:
            await self._send_quietly(
                conn,
                json.dumps(
                    {
                        "message": "Forbidden",
                        "connectionId": conn.connection_id,
                        "requestId": context["requestId"],
                    }
                ),
            )
            return
        is_text = body is not None
        event = {
            "requestContext": context,
            "body": body if is_text else base64.b64encode(raw).decode(),
            "isBase64Encoded": not is_text,
        }
        try:
            await self.runtime.invoke_async(route.function_id, event)
        except InvocationError:
            await self._send_quietly(
                conn,
                json.dumps(
                    {
                        "message": "Internal server error",
                        "connectionId": conn.connection_id,
                        "requestId": context["requestId"],
                    }
                ),
            )

    async def _on_disconnect(self, conn: Connection, code: int, reason: str) -> None:
        route = self.spec.routes.get("$disconnect")
        if route is None or route.function_id is None or self.closing:
            return
        context = self._context(
            conn.connection_id,
            conn.connected_at,
            "$disconnect",
            "DISCONNECT",
            disconnectStatusCode=code,
            disconnectReason=reason,
            identity={"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
        )
        if conn.authorizer is not None:
            context["authorizer"] = conn.authorizer
        event = {
            "headers": {"Host": self.domain_name},
            "multiValueHeaders": {"Host": [self.domain_name]},
            "requestContext": context,
            "isBase64Encoded": False,
        }
        with contextlib.suppress(InvocationError, RuntimeError):
            await self.runtime.invoke_async(route.function_id, event)

    @staticmethod
    async def _send_quietly(conn: Connection, text: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(text)

    # ---- management API

    def _gone(self, connection_id: str) -> web.Response:
        return web.json_response(
            {"message": None},
            status=410,
            headers={"x-amzn-ErrorType": "GoneException"},
        )

    async def _admit(self, request: web.Request, body: bytes) -> web.Response | None:
        """What API Gateway does before acting on a management call: check its signature (a
        403 in AWS's shape when wrong), and take its time (``management_latency``)."""
        self.management_stats["calls"] += 1
        refusal = sigv4.check(
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            request.headers,
            body,
            secrets=self.secrets,
            region=self.template.region,
        )
        if self.management_latency is not None:
            await asyncio.sleep(self.management_latency.sample_seconds())
        if refusal is None:
            return None
        self.management_stats["refused"] += 1
        log.warning("@connections %s refused: %s", request.method, refusal.error_type)
        return web.json_response(
            {"message": refusal.message},
            status=refusal.status,
            headers={"x-amzn-ErrorType": refusal.error_type},
        )

    async def manage_post(self, request: web.Request) -> web.Response:
        data = await request.read()
        refused = await self._admit(request, data)
        if refused is not None:
            return refused
        conn = self.connections.get(request.match_info["connection_id"])
        if len(data) > MAX_MESSAGE_BYTES:
            return web.json_response(
                {"message": "Request entity too large"},
                status=413,
                headers={"x-amzn-ErrorType": "PayloadTooLargeException"},
            )
        if conn is None or conn.ws.closed:
            return self._gone(request.match_info["connection_id"])
        try:
            data.decode()
        except UnicodeDecodeError:
            await conn.ws.send_frame(data, WSMsgType.BINARY)
        else:
            await conn.ws.send_frame(data, WSMsgType.TEXT)  # UTF-8 already: no decode, encode
        return web.Response(status=200)

    async def manage_get(self, request: web.Request) -> web.Response:
        refused = await self._admit(request, await request.read())
        if refused is not None:
            return refused
        conn = self.connections.get(request.match_info["connection_id"])
        if conn is None:
            return self._gone(request.match_info["connection_id"])
        return web.json_response(
            {
                "ConnectedAt": _iso(conn.connected_at / 1000),
                "Identity": {"SourceIp": conn.source_ip, "UserAgent": conn.user_agent},
                "LastActiveAt": _iso(conn.last_active),
            }
        )

    async def manage_delete(self, request: web.Request) -> web.Response:
        refused = await self._admit(request, await request.read())
        if refused is not None:
            return refused
        conn = self.connections.get(request.match_info["connection_id"])
        if conn is None:
            return self._gone(request.match_info["connection_id"])
        await self._server_close(conn, WSCloseCode.OK, "Connection closed by the server")
        return web.Response(status=204)

    async def close_all(self, drain_seconds: float = 10.0) -> None:
        """Close every connection (stack shutdown): 1001 going away, no $disconnect. Invocations
        already under way get ``drain_seconds`` to finish first: a handler still running when
        the stack takes its environment away would fail reading its settings."""
        self.closing = True
        for conn in list(self.connections.values()):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._server_close(conn, WSCloseCode.GOING_AWAY, "Going away")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=drain_seconds)
        for task in list(self._tasks):
            task.cancel()


def _allows(result: Any) -> bool:
    if not isinstance(result, dict):
        return False
    statements = (result.get("policyDocument") or {}).get("Statement") or []
    effects = {str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict)}
    return "allow" in effects and "deny" not in effects


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def build_websocket_app(gateway: WebSocketGateway) -> web.Application:
    app = web.Application(client_max_size=MAX_MESSAGE_BYTES + 1024)
    app.add_routes(gateway.routes())
    return app
