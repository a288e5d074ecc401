"""HTTP API: /bid-history."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from common.handler import settings_validated
from common.observability import logger, metrics
from rest.app import caller, create_app, documented
from rest.composition import HistorySettings, history_ports
from rest.logic import history as logic
from rest.presenters import history_out
from rest.schemas.history import ActionFilter, HistoryPageOut
from rest.schemas.shared import BidIdParam, Cursor, Limit

router = APIGatewayHttpRouter()
EpochMsQuery = Annotated[int, Field(ge=0, le=9_999_999_999_999)]


@router.get("/bid-history", tags=["history"], responses=documented())
def list_history(
    action: Annotated[ActionFilter | None, Query()] = None,
    from_: Annotated[EpochMsQuery | None, Query(alias="from")] = None,
    to: Annotated[EpochMsQuery | None, Query()] = None,
    limit: Annotated[Limit, Query()] = 20,
    cursor: Annotated[Cursor | None, Query()] = None,
) -> HistoryPageOut:
    who = caller(router)
    p = history_ports()
    page, next_cursor = logic.list_history(
        who.user_id,
        logic.parse_actions(action),
        from_,
        to,
        limit,
        cursor,
        p.history,
        p.cursors(),
    )
    return HistoryPageOut(items=[history_out(e) for e in page], nextCursor=next_cursor)


@router.get("/bid-history/<bidId>", tags=["history"], responses=documented())
def bid_history(
    bidId: Annotated[BidIdParam, Path()],
    limit: Annotated[Limit, Query()] = 20,
    cursor: Annotated[Cursor | None, Query()] = None,
) -> HistoryPageOut:
    who = caller(router)
    p = history_ports()
    page, next_cursor = logic.snipe_history(
        who.user_id, bidId, limit, cursor, p.history, p.cursors()
    )
    return HistoryPageOut(items=[history_out(e) for e in page], nextCursor=next_cursor)


app = create_app()
app.include_router(router)


@settings_validated(HistorySettings)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
