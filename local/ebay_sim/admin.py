"""The simulator's own API for tests and the local stack: auctions, competitor bids, clock, faults.

Amounts are integer cents; ``receivedAt`` is epoch milliseconds by the simulator clock.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from local.ebay_sim import views
from local.ebay_sim.engine import BidRejected
from local.ebay_sim.faults import FaultConfig, FaultSpecError
from local.ebay_sim.http_common import sim_of
from local.ebay_sim.simulator import AdminError, ItemNotFound

routes = web.RouteTableDef()


class BadRequest(ValueError):
    pass


def _problem(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _cents(body: dict[str, Any], key: str, *, required: bool = False) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{key} is required (integer cents)")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadRequest(f"{key} must be a positive integer number of cents")
    return value


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{key} must be a non-empty string")
    return value.strip()


@web.middleware
async def admin_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn the admin API's validation and lookup failures into JSON answers."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except BadRequest as exc:
        return _problem(400, str(exc))
    except (AdminError, FaultSpecError) as exc:
        return _problem(409 if isinstance(exc, AdminError) else 400, str(exc))
    except ItemNotFound as exc:
        return _problem(404, f"no auction {exc}")


@routes.post("/_sim/auctions")
async def create_auction(request: web.Request) -> web.Response:
    sim = sim_of(request)
    body = await _json_body(request)
    title = _text(body, "title", required=True)
    start = _cents(body, "startPrice", required=True)
    assert title is not None
    assert start is not None
    if "endTime" in body:
        end_text = _text(body, "endTime", required=True)
        try:
            end_ms = views.parse_ebay_time(end_text or "")
        except ValueError as exc:
            raise BadRequest(
                "endTime must be an ISO 8601 time like 2026-11-22T00:10:00.000Z"
            ) from exc
    else:
        seconds = body.get("endsInSeconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise BadRequest("endsInSeconds (a positive number) or endTime is required")
        end_ms = sim.now_ms() + int(seconds * 1000)
    watched_by = body.get("watchedBy") or []
    if not isinstance(watched_by, list) or not all(isinstance(u, str) and u for u in watched_by):
        raise BadRequest("watchedBy must be a list of eBay usernames")
    currency = _text(body, "currency")
    bots = body.get("bots")
    if bots is not None and not isinstance(bots, bool):
        raise BadRequest("bots must be a boolean")
    auction = sim.create_auction(
        title,
        start,
        end_ms,
        reserve_price=_cents(body, "reservePrice"),
        buy_it_now_price=_cents(body, "buyItNowPrice"),
        currency=currency.upper() if currency else None,
        seller=_text(body, "seller"),
        image_url=_text(body, "imageUrl"),
        adult_only=body.get("adultOnly") is True,
        condition=_text(body, "condition") or "Used",
        watched_by=watched_by,
        bots=bots,
    )
    return web.json_response(
        {
            "legacyItemId": auction.legacy_id,
            "itemId": auction.item_id,
            "endTime": views.ebay_time(auction.end_ms),
            "endTimeMs": auction.end_ms,
        },
        status=201,
    )


@routes.get("/_sim/auctions")
async def list_auctions(request: web.Request) -> web.Response:
    return web.json_response({"auctions": sim_of(request).auctions_json()})


@routes.get("/_sim/auctions/{legacy_id}")
async def get_auction(request: web.Request) -> web.Response:
    return web.json_response(sim_of(request).auction_json(request.match_info["legacy_id"]))


@routes.post("/_sim/auctions/{legacy_id}/bids")
async def competitor_bid(request: web.Request) -> web.Response:
    sim = sim_of(request)
    body = await _json_body(request)
    bidder = _text(body, "bidder", required=True)
    max_amount = _cents(body, "maxAmount", required=True)
    assert bidder is not None
    assert max_amount is not None
    legacy_id = request.match_info["legacy_id"]
    try:
        record = sim.place_bid(legacy_id, bidder, max_amount)
    except BidRejected as exc:
        return web.json_response(
            {"accepted": False, "errorId": exc.error_id, "message": exc.message, **exc.amounts},
            status=409,
        )
    return web.json_response(
        {
            "accepted": True,
            "proxyBidId": record.proxy_bid_id,
            "receivedAt": record.received_at,
            "auction": sim.auction_json(legacy_id),
        },
        status=201,
    )


@routes.post("/_sim/auctions/{legacy_id}/buy_it_now")
async def buy_it_now(request: web.Request) -> web.Response:
    sim = sim_of(request)
    body = await _json_body(request)
    buyer = _text(body, "buyer", required=True)
    assert buyer is not None
    legacy_id = request.match_info["legacy_id"]
    sim.buy_it_now(legacy_id, buyer)
    return web.json_response(sim.auction_json(legacy_id))


@routes.post("/_sim/clock")
async def set_clock(request: web.Request) -> web.Response:
    sim = sim_of(request)
    body = await _json_body(request)
    skew = body.get("skewMs")
    if isinstance(skew, bool) or not isinstance(skew, int):
        raise BadRequest("skewMs must be an integer number of milliseconds")
    sim.set_skew(skew)
    return web.json_response({"skewMs": skew, "nowMs": sim.now_ms()})


@routes.get("/_sim/clock")
async def get_clock(request: web.Request) -> web.Response:
    sim = sim_of(request)
    return web.json_response({"skewMs": sim.skew_ms, "nowMs": sim.now_ms()})


@routes.post("/_sim/faults")
async def set_fault(request: web.Request) -> web.Response:
    sim = sim_of(request)
    fault = FaultConfig.from_json(await _json_body(request))
    sim.set_fault(fault)
    return web.json_response({"faults": sim.faults_json()})


@routes.get("/_sim/faults")
async def list_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": sim_of(request).faults_json()})


@routes.delete("/_sim/faults")
async def clear_faults(request: web.Request) -> web.Response:
    sim_of(request).clear_faults()
    return web.json_response({"faults": []})


@routes.get("/_sim/calls")
async def calls(request: web.Request) -> web.Response:
    """The eBay calls answered so far, by operation (``getItem``, ``getItems``...): what eBay's
    daily quota would have counted."""
    return web.json_response({"calls": sim_of(request).calls_json()})


@routes.get("/_sim/accounts")
async def accounts(request: web.Request) -> web.Response:
    return web.json_response({"accounts": sim_of(request).accounts_json()})


@routes.post("/_sim/users/{username}/watchlist")
async def watch(request: web.Request) -> web.Response:
    sim = sim_of(request)
    body = await _json_body(request)
    legacy_id = body.get("legacyItemId")
    if not isinstance(legacy_id, str | int) or isinstance(legacy_id, bool):
        raise BadRequest("legacyItemId is required")
    username = request.match_info["username"]
    sim.add_to_watchlist(username, str(legacy_id))
    account = next(a for a in sim.accounts_json() if a["username"] == username)
    return web.json_response(account, status=201)


@routes.post("/_sim/demo")
async def demo(request: web.Request) -> web.Response:
    sim = sim_of(request)
    body = await _json_body(request)
    watcher = _text(body, "watcher", required=True)
    assert watcher is not None
    created = sim.seed_demo(watcher)
    return web.json_response({"legacyItemIds": [a.legacy_id for a in created]}, status=201)
