"""The aiohttp application: routes, the Date header from the simulator clock, faults, bots."""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import formatdate

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from local.ebay_sim import admin, buy_api, identity, notifications, oauth, trading, views
from local.ebay_sim.faults import Outcome
from local.ebay_sim.http_common import ARRIVED, SIM_KEY, arrival_ms, error_response, sim_of
from local.ebay_sim.simulator import ItemNotFound, Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BOT_TICK_SECONDS = 0.1
RETRY_AFTER_SECONDS = 1
_INTERNAL_ERRORS = {
    "place_proxy_bid": (120000, "API_OFFER"),
    "get_bidding": (120000, "API_OFFER"),
    "browse": (11000, "API_BROWSE"),
    "identity": (50000, "API_IDENTITY"),
    "notification": (195000, "API_NOTIFICATION"),
}


def _date_header(request: web.Request) -> str:
    return formatdate(arrival_ms(request) / 1000, usegmt=True)


class _StampingRequestHandler(RequestHandler):
    """aiohttp's connection, noting when (time.time_ns) its latest bytes arrived."""

    __slots__ = ("bytes_at_ns",)

    def data_received(self, data: bytes) -> None:
        self.bytes_at_ns = time.time_ns()
        super().data_received(data)


class ArrivalStampingServer(web.Server):
    """aiohttp's server, whose connections note when their bytes arrive.

    When many requests arrive at once (a hundred snipes firing in the same millisecond), the
    event loop first reads every ready socket (``data_received``), then runs the handlers one
    after another. The moment the bytes were read is when the request reached "eBay"; the
    moment its handler starts also counts the handlers queued before it, which eBay's fleet,
    handling requests in parallel, does not have."""

    def __call__(self) -> RequestHandler:
        return _StampingRequestHandler(self, loop=self._loop, **self._kwargs)


def _taken_up_ms(request: web.Request) -> int:
    """The simulator clock when the request's bytes arrived (now, if unknown)."""
    now = sim_of(request).now_ms()
    bytes_at = getattr(request.protocol, "bytes_at_ns", None)
    if bytes_at is None:
        return now
    return now - max(0, (time.time_ns() - bytes_at) // 1_000_000)


@web.middleware
async def clock_date(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer carries a ``Date`` from the simulator clock, as eBay's carry eBay's time:
    the request's arrival (``http_common.arrival_ms``), as if handling it took no time."""
    request[ARRIVED] = _taken_up_ms(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["Date"] = _date_header(request)
        raise
    response.headers["Date"] = _date_header(request)
    return response


def fault_endpoint(request: web.Request) -> str | None:
    path = request.path
    if path.startswith("/buy/offer/"):
        return "place_proxy_bid" if path.endswith("/place_proxy_bid") else "get_bidding"
    if path.startswith("/buy/browse/"):
        return "browse"
    if path == "/identity/v1/oauth2/token":
        return "token"
    if path == "/ws/api.dll":
        return "trading"
    if path.startswith("/commerce/identity/"):
        return "identity"
    if path.startswith("/commerce/notification/"):
        return "notification"
    return None


def _injected_error(request: web.Request, endpoint: str, status: int) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else None
    sim = sim_of(request)
    if endpoint == "token":
        error = "temporarily_unavailable" if status in (429, 503) else "server_error"
        response = web.json_response(
            {"error": error, "error_description": "simulated fault"}, status=status
        )
    elif endpoint == "trading":
        failure = (
            trading.TradingFailure(
                518,
                "Call usage limit has been reached.",
                "Your application has exceeded usage limit on this call.",
                "RequestError",
            )
            if status == 429
            else trading.TradingFailure(
                10007,
                "Internal error to the application.",
                "Internal error to the application.",
                "SystemError",
            )
        )
        response = trading.failure_response(
            sim, request.headers.get("X-EBAY-API-CALL-NAME") or "GetMyeBayBuying", failure, status
        )
    elif status == 429:
        response = error_response(
            429,
            2001,
            "ACCESS",
            "REQUEST",
            "Too many requests. The request limit has been reached for the resource.",
        )
    else:
        error_id, domain = _INTERNAL_ERRORS[endpoint]
        response = error_response(
            status,
            error_id,
            domain,
            "APPLICATION",
            "There was a problem with an eBay internal system or process. Contact eBay developer"
            " support for assistance.",
        )
    if headers:
        response.headers.update(headers)
    return response


async def _hang(request: web.Request, outcome: Outcome) -> web.Response:
    """Hold the request past any sane client timeout, then drop the connection unanswered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (outcome.hang_ms or 0) / 1000
    transport = request.transport
    while loop.time() < deadline and transport is not None and not transport.is_closing():
        await asyncio.sleep(0.05)
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    endpoint = fault_endpoint(request)
    outcome = sim_of(request).draw_fault(endpoint) if endpoint else None
    if endpoint is None or outcome is None:
        return await handler(request)
    if outcome.delay_ms:
        # The request reaches "eBay" that much later: its arrival moves with it.
        request[ARRIVED] = arrival_ms(request) + outcome.delay_ms
        await asyncio.sleep(outcome.delay_ms / 1000)
    if outcome.hang_ms is not None:
        return await _hang(request, outcome)
    if outcome.status is not None:
        return _injected_error(request, endpoint, outcome.status)
    return await handler(request)


async def _item_page(request: web.Request) -> web.Response:
    """A bare listing page, the simulator's stand-in for ``www.ebay.com/itm/<id>``."""
    sim = sim_of(request)
    try:
        state = sim.auction_json(request.match_info["legacy_id"])
    except ItemNotFound as exc:
        raise web.HTTPNotFound(text="no such item") from exc
    title = html.escape(state["title"])
    body = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<p>Item {state['legacyItemId']} - {state['status']} - ends {state['endTime']}</p>"
        f"<p>Current price: {state['currentPrice'] / 100:.2f} {state['currency']},"
        f" {state['bidCount']} bids</p></body></html>"
    )
    return web.Response(text=body, content_type="text/html")


async def _image(request: web.Request) -> web.Response:
    sim = sim_of(request)
    try:
        svg = sim.locked(
            lambda: views.placeholder_svg(sim.auction(request.match_info["legacy_id"]))
        )
    except ItemNotFound as exc:
        raise web.HTTPNotFound(text="no such image") from exc
    return web.Response(text=svg, content_type="image/svg+xml")


async def _run_bots(app: web.Application) -> AsyncIterator[None]:
    """Fire due bot bids in the background for as long as the server runs."""
    sim = app[SIM_KEY]

    async def loop() -> None:
        while True:
            sim.run_bots()
            await asyncio.sleep(BOT_TICK_SECONDS)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(sim: Simulator) -> web.Application:
    app = web.Application(middlewares=[clock_date, inject_faults, admin.admin_errors])
    app[SIM_KEY] = sim
    app.add_routes(oauth.routes)
    app.add_routes(buy_api.routes)
    app.add_routes(identity.routes)
    app.add_routes(trading.routes)
    app.add_routes(admin.routes)
    app.add_routes(notifications.routes)
    app.router.add_get("/itm/{legacy_id}", _item_page)
    app.router.add_get("/images/{legacy_id}.svg", _image)
    app.cleanup_ctx.append(_run_bots)
    return app


async def start_simulator(
    sim: Simulator, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Serve the simulator on the running loop; port 0 picks a free port. Returns the runner
    (``await runner.cleanup()`` to stop) and the base URL."""
    runner = web.AppRunner(create_app(sim), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    # aiohttp has no hook on a connection's reads; its Server makes the connections.
    assert runner.server is not None
    runner.server.__class__ = ArrivalStampingServer
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    return runner, f"http://{host}:{bound_port}"
