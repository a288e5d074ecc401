"""eBay's push notifications as the simulator plays them: Marketplace Account Deletion.

What eBay does (developer.ebay.com/marketplace-account-deletion, and the verification in its
SDKs, github.com/eBay/event-notification-nodejs-sdk and -java-sdk):

- registering an endpoint and verification token, eBay first calls ``GET
  <endpoint>?challenge_code=<code>`` and expects 200 ``{"challengeResponse":
  hex(SHA-256(code + token + endpoint))}``; only then is the endpoint subscribed;
- a notice is ``POST <endpoint>`` with a compact JSON body (AsyncAPI contract
  ``marketplace_account_deletion.yaml``) and ``X-EBAY-SIGNATURE``: base64 of ``{"alg":
  "ecdsa", "kid", "signature", "digest": "SHA1"}``, the signature ECDSA with SHA-1 over the
  body, DER, base64;
- the Notification API's getPublicKey (``GET /commerce/notification/v1/public_key/{kid}``, an
  application token) answers ``{"algorithm": "ECDSA", "digest": "SHA1", "key": "-----BEGIN
  PUBLIC KEY-----<base64 DER>-----END PUBLIC KEY-----"}`` (no line breaks, as eBay sends it),
  404 with errorId 195001 for an unknown key id.

The simulator's signing key is an ECDSA P-256 key made when it starts. It delivers a notice
once and reports what the endpoint answered; eBay's retries are the caller's to make (resend
the body and header it returns). Nothing here imports the product.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import aiohttp
from aiohttp import web

from local.ebay_sim.http_common import authenticate, error_response, sim_of
from local.ebay_sim.notification_center import (
    SIGNATURE_HEADER,
    Delivery,
    Destination,
    challenge_response,
    deletion_notice,
    delivery_json,
)

routes = web.RouteTableDef()
DELIVERY_TIMEOUT_SECONDS = 30

# ---------------------------------------------------------------------- the Notification API


@routes.get("/commerce/notification/v1/public_key/{public_key_id}")
async def get_public_key(request: web.Request) -> web.Response:
    caller = authenticate(request)
    if isinstance(caller, web.Response):
        return caller
    if caller.username is not None:
        # getPublicKey takes an application token (client credentials grant) only.
        return error_response(
            403,
            1100,
            "ACCESS",
            "REQUEST",
            "Access denied",
            long_message="Insufficient permissions to fulfill the request.",
        )
    key = sim_of(request).notifications.public_key_json(request.match_info["public_key_id"])
    if key is None:
        return error_response(
            404, 195001, "API_NOTIFICATION", "REQUEST", "The specified key id is invalid."
        )
    return web.json_response(key)


# ---------------------------------------------------------------------- the admin API


async def _admin_json(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "the body must be a JSON object"}),
            content_type="application/json",
        )
    return body


def _problem(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


@routes.post("/_sim/notifications/destination")
async def subscribe(request: web.Request) -> web.Response:
    """Register the endpoint and verification token, as eBay's developer portal does: the
    challenge is sent first and the destination kept only if it is answered right."""
    body = await _admin_json(request)
    endpoint, token = body.get("endpoint"), body.get("verificationToken")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        return _problem(400, "endpoint must be an http(s) URL")
    if not isinstance(token, str) or not 32 <= len(token) <= 80:
        return _problem(400, "verificationToken must be 32 to 80 characters")
    if not all(c.isascii() and (c.isalnum() or c in "_-") for c in token):
        return _problem(400, "verificationToken may hold letters, digits, _ and - only")
    code = secrets.token_hex(16)
    expected = challenge_response(code, token, endpoint)
    timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(endpoint, params={"challenge_code": code}) as answer,
        ):
            status, text = answer.status, await answer.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _problem(409, f"the endpoint could not be reached: {exc!r}")
    try:
        received = json.loads(text).get("challengeResponse")
    except (ValueError, AttributeError):
        received = None
    if status != 200 or received != expected:
        return _problem(409, "the challenge was not answered right", answered=status, body=text)
    sim_of(request).notifications.subscribe(Destination(endpoint, token))
    return web.json_response({"endpoint": endpoint, "verified": True})


@routes.get("/_sim/notifications/destination")
async def destination(request: web.Request) -> web.Response:
    found = sim_of(request).notifications.destination
    return web.json_response({"endpoint": found.endpoint if found else None})


@routes.post("/_sim/notifications/account_deletion")
async def send_account_deletion(request: web.Request) -> web.Response:
    """eBay tells the subscribed endpoint that ``username``'s account was deleted: one signed
    delivery; the answer says what the endpoint answered and carries the body and header sent."""
    sim = sim_of(request)
    body = await _admin_json(request)
    username = body.get("username")
    if not isinstance(username, str) or not username.strip():
        return _problem(400, "username is required")
    center = sim.notifications
    target = center.destination
    if target is None:
        return _problem(409, "no endpoint is subscribed (POST /_sim/notifications/destination)")
    account = sim.ensure_account(username.strip())
    notice = deletion_notice(account, sim.now_ms())
    signature = center.sign(notice)
    notification_id = json.loads(notice)["notification"]["notificationId"]
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(target.endpoint, data=notice, headers=headers) as answer,
        ):
            status: int | None = answer.status
            text = await answer.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        status, text = None, repr(exc)
    delivery = Delivery(notification_id, notice, signature, status, text)
    center.record(delivery)
    return web.json_response({**delivery_json(delivery), "endpoint": target.endpoint})


@routes.get("/_sim/notifications/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    return web.json_response({"deliveries": sim_of(request).notifications.deliveries_json()})
