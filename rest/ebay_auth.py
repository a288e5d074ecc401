"""HTTP API: /ebay/auth/* (linking the user's eBay account through OAuth)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.clock import Clock
from common.handler import settings_validated
from common.observability import logger, metrics
from rest.app import (
    EBAY_RATE_LIMITED_RESPONSE,
    ERROR_RESPONSES,
    caller,
    create_app,
    documented,
    sign_in_email,
)
from rest.composition import EbayAuthSettings, ebay_auth_ports
from rest.logic import ebay_auth as logic
from rest.schemas.ebay import AuthCallbackRequest, AuthUrlOut, LinkStatusOut, UnlinkOut

router = APIGatewayHttpRouter()
# Module-level so tests can move time (an expired state) without patching the time module.
clock: Clock = time.time


def _status_out(status: logic.LinkStatus) -> LinkStatusOut:
    return LinkStatusOut(
        isLinked=status.is_linked,
        accountId=status.account_id,
        linkedAt=status.linked_at,
        tokenExpiresAt=status.token_expires_at,
    )


@router.get("/ebay/auth/url", tags=["ebay"], responses=documented())
def auth_url() -> AuthUrlOut:
    who = caller(router)
    p = ebay_auth_ports()
    start = logic.start_linking(who.user_id, p.users, p.links, p.ebay, clock)
    return AuthUrlOut(authUrl=start.auth_url, state=start.state, expiresAt=start.expires_at)


@router.post(
    "/ebay/auth/callback",
    tags=["ebay"],
    responses=documented({**ERROR_RESPONSES, 403: EBAY_RATE_LIMITED_RESPONSE}),
)
def auth_callback(body: AuthCallbackRequest) -> LinkStatusOut:
    who = caller(router)
    p = ebay_auth_ports()
    status = logic.complete_linking(
        who.user_id,
        sign_in_email(who, p.user_info),
        body.code.get_secret_value(),
        body.state,
        p.users,
        p.links,
        p.cipher,
        p.ebay,
        clock,
    )
    return _status_out(status)


@router.get("/ebay/auth/status", tags=["ebay"], responses=documented())
def auth_status() -> LinkStatusOut:
    who = caller(router)
    return _status_out(logic.link_status(who.user_id, ebay_auth_ports().links))


@router.delete("/ebay/auth/unlink", tags=["ebay"], responses=documented())
def auth_unlink() -> UnlinkOut:
    who = caller(router)
    p = ebay_auth_ports()
    result = logic.unlink(who.user_id, p.links, p.bids)
    return UnlinkOut(unlinked=result.unlinked, pendingSnipes=result.pending_snipes)


app = create_app()
app.include_router(router)


@settings_validated(EbayAuthSettings)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
