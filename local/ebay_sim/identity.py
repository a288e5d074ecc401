"""eBay's Commerce Identity API, getUser: which eBay account a user token belongs to."""

from __future__ import annotations

from aiohttp import web

from local.ebay_sim.config import IDENTITY_SCOPE
from local.ebay_sim.http_common import access_denied, authenticate, sim_of

routes = web.RouteTableDef()


@routes.get("/commerce/identity/v1/user/")
@routes.get("/commerce/identity/v1/user")
async def get_user(request: web.Request) -> web.Response:
    caller = authenticate(request)
    if isinstance(caller, web.Response):
        return caller
    if caller.username is None or IDENTITY_SCOPE not in caller.scopes:
        return access_denied()
    account = sim_of(request).ensure_account(caller.username)
    return web.json_response(
        {
            "userId": account.user_id,
            "username": account.username,
            "accountType": "INDIVIDUAL",
            "registrationMarketplaceId": "EBAY_US",
            "status": "CONFIRMED",
        }
    )
