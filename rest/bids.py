"""HTTP API: /bids (snipes), and /groups (rest/groups.py), which run in the same function."""

from __future__ import annotations

import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.data.budget import SNIPE_CREATION
from common.handler import settings_validated
from common.observability import logger, metrics
from rest import groups
from rest.app import (
    EBAY_RATE_LIMITED_RESPONSE,
    ERROR_RESPONSES,
    RATE_LIMITED_RESPONSE,
    caller,
    create_app,
    documented,
)
from rest.composition import BidsSettings, bids_ports
from rest.logic import bids as logic
from rest.presenters import bid_out
from rest.schemas.bids import (
    BidDetailOut,
    BidOut,
    BidPageOut,
    CreateBidRequest,
    CreatedBidOut,
    IdempotencyKeyHeader,
    StatusFilter,
    UpdateBidRequest,
)
from rest.schemas.shared import BidIdParam, Cursor, Limit

router = APIGatewayHttpRouter()
CREATED = documented(
    {**ERROR_RESPONSES, 403: EBAY_RATE_LIMITED_RESPONSE, 429: RATE_LIMITED_RESPONSE},
    status=201,
    description="The snipe was scheduled",
)


@router.post("/bids", tags=["bids"], responses=CREATED)
def create_bid(
    body: CreateBidRequest, idempotency_key: IdempotencyKeyHeader = None
) -> tuple[CreatedBidOut, int]:
    who = caller(router)
    p = bids_ports()
    bid, warnings = logic.create_snipe(
        who.user_id,
        logic.NewSnipe(
            body.ebayItemId,
            body.maxBidAmount,
            body.currency,
            body.leadSeconds,
            body.groupId,
            idempotency_key,
        ),
        p,
        p.items.for_user(SNIPE_CREATION, who.user_id, time.time),
        time.time,
        p.settings.history_ttl_days,
    )
    logger.info("snipe created", bid_id=bid.bidId, ebay_item_id=bid.ebayItemId)
    return CreatedBidOut(**bid_out(bid).model_dump(), warnings=warnings), 201


LIST_DESCRIPTION = (
    "The caller's snipes, newest first (bidId is time-sortable), a page at a time: without"
    " `status` the active ones (PENDING, ARMED, PLACED), read through the set of active snipes;"
    " with `status` those in it (finished statuses: the record, a bounded read of at most 300"
    " snipes per page, so a page may be short or empty and still carry `nextCursor`). Follow"
    " `nextCursor` as `cursor` until it is null; a cursor is valid only for its user and for the"
    " same kind of listing (active-only or not): another is 400 naming `cursor`."
)


@router.get("/bids", tags=["bids"], responses=documented(), description=LIST_DESCRIPTION)
def list_bids(
    status: Annotated[
        StatusFilter | None,
        Query(description="comma-separated statuses; absent: PENDING,ARMED,PLACED"),
    ] = None,
    limit: Annotated[Limit, Query(description="at most this many snipes (1-100)")] = 20,
    cursor: Annotated[
        Cursor | None, Query(description="the previous page's nextCursor, as it came")
    ] = None,
) -> BidPageOut:
    who = caller(router)
    p = bids_ports()
    page, next_cursor = logic.list_snipes(
        who.user_id,
        logic.parse_statuses(status),
        limit,
        cursor,
        p.bids,
        p.cursors(),
    )
    return BidPageOut(items=[bid_out(b) for b in page], nextCursor=next_cursor)


@router.get("/bids/<bidId>", tags=["bids"], responses=documented())
def get_bid(bidId: Annotated[BidIdParam, Path()]) -> BidDetailOut:
    who = caller(router)
    p = bids_ports()
    bid, prices = logic.snipe_with_prices(who.user_id, bidId, p.bids, p.prices)
    return BidDetailOut(**bid_out(bid).model_dump(), priceHistory=prices)


@router.put("/bids/<bidId>", tags=["bids"], responses=documented())
def update_bid(bidId: Annotated[BidIdParam, Path()], body: UpdateBidRequest) -> BidOut:
    who = caller(router)
    p = bids_ports()
    bid = logic.update_snipe(
        who.user_id,
        bidId,
        body.maxBidAmount,
        body.leadSeconds,
        p.bids,
        time.time,
        p.settings.history_ttl_days,
        p.scheduler,
    )
    return bid_out(bid)


@router.delete("/bids/<bidId>", tags=["bids"], responses=documented())
def cancel_bid(bidId: Annotated[BidIdParam, Path()]) -> BidOut:
    who = caller(router)
    p = bids_ports()
    bid = logic.cancel_snipe(
        who.user_id,
        bidId,
        p.bids,
        time.time,
        p.settings.history_ttl_days,
        p.scheduler,
    )
    logger.info("snipe cancelled", bid_id=bid.bidId)
    return bid_out(bid)


app = create_app()
app.include_router(router)
app.include_router(groups.router)


@settings_validated(BidsSettings)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
