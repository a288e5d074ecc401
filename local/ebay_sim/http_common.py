"""What every handler shares: the app key for the simulator, eBay's error envelope, auth."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from local.ebay_sim.config import OFFER_SCOPE
from local.ebay_sim.simulator import AccessToken, Simulator

SIM_KEY = web.AppKey("simulator", Simulator)

SUPPORTED_MARKETPLACES = ("EBAY_US", "EBAY_GB", "EBAY_DE", "EBAY_AU", "EBAY_CA")


def sim_of(request: web.Request) -> Simulator:
    return request.app[SIM_KEY]


# When a request reached "eBay" (simulator clock, ms): the moment its bytes reached the
# simulator (server.ArrivalStampingServer), plus the latency injected for it. eBay's fleet
# handles requests as they come; this one process handles them one after another, and its own
# queue is not eBay's time (docs: README).
ARRIVED = web.RequestKey("sim_arrived_ms", int)


def arrival_ms(request: web.Request) -> int:
    arrived = request.get(ARRIVED)
    return int(arrived) if arrived is not None else sim_of(request).now_ms()


def origin_of(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def error_response(
    status: int,
    error_id: int,
    domain: str,
    category: str,
    message: str,
    *,
    long_message: str | None = None,
    parameters: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """eBay's REST error envelope: ``{"errors": [{"errorId", "domain", "category", ...}]}``."""
    error: dict[str, Any] = {
        "errorId": error_id,
        "domain": domain,
        "category": category,
        "message": message,
    }
    if long_message:
        error["longMessage"] = long_message
    if parameters:
        error["parameters"] = parameters
    return web.json_response({"errors": [error]}, status=status, headers=headers)


def invalid_token() -> web.Response:
    return error_response(
        401,
        1001,
        "OAuth",
        "REQUEST",
        "Invalid access token",
        long_message=(
            "Invalid access token. Check the value of the Authorization HTTP request header."
        ),
    )


def access_denied() -> web.Response:
    return error_response(
        403,
        1100,
        "ACCESS",
        "REQUEST",
        "Access denied",
        long_message="Insufficient permissions to fulfill the request.",
    )


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request: web.Request) -> AccessToken | web.Response:
    """Any live token (application or user), as the Browse API accepts; else eBay's 401."""
    token = bearer_token(request)
    found = sim_of(request).authenticate(token) if token else None
    return found if found is not None else invalid_token()


def authenticate_bidder(request: web.Request) -> AccessToken | web.Response:
    """A live user token carrying the buy.offer.auction scope, as the Offer API demands."""
    found = authenticate(request)
    if isinstance(found, web.Response):
        return found
    if found.username is None or OFFER_SCOPE not in found.scopes:
        return access_denied()
    return found
