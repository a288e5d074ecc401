"""HTTP API: /users/*."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.handler import settings_validated
from common.models import Preferences
from common.observability import logger, metrics
from rest import deps
from rest.app import caller, create_app, documented, sign_in_email
from rest.logic import users as logic
from rest.user_schemas import (
    AccountDeletedOut,
    DeletedCounts,
    PreferencesRequest,
    ProfileOut,
    ProfileUpdateRequest,
    profile_out,
)

router = APIGatewayHttpRouter()


@router.get("/users/profile", tags=["users"], responses=documented())
def get_profile() -> ProfileOut:
    who = caller(router)
    user = logic.get_or_create_profile(
        who.user_id, sign_in_email(who, deps.user_info()), deps.users_repo(), time.time
    )
    return profile_out(user)


@router.put("/users/profile", tags=["users"], responses=documented())
def put_profile(body: ProfileUpdateRequest) -> ProfileOut:
    who = caller(router)
    user = logic.update_profile(
        who.user_id,
        sign_in_email(who, deps.user_info()),
        body.displayName,
        body.email,
        deps.users_repo(),
        time.time,
    )
    return profile_out(user)


@router.put("/users/preferences", tags=["users"], responses=documented())
def put_preferences(body: PreferencesRequest) -> ProfileOut:
    who = caller(router)
    prefs = Preferences(**body.model_dump())
    email = sign_in_email(who, deps.user_info())
    user = logic.update_preferences(who.user_id, email, prefs, deps.users_repo(), time.time)
    return profile_out(user)


@router.delete("/users/account", tags=["users"], responses=documented())
def delete_account() -> AccountDeletedOut:
    who = caller(router)
    counts = logic.delete_account(
        who.user_id,
        deps.users_repo(),
        deps.bids_repo(),
        deps.history_repo(),
        deps.connections_repo(),
        deps.snipe_scheduler(),
        deps.socket_closer(),
        deps.cognito_identities(),
        groups=deps.groups_repo(),
        username=who.username,
    )
    logger.info("account deleted", bids=counts.bids, history=counts.history)
    return AccountDeletedOut(
        deleted=DeletedCounts(
            bids=counts.bids, history=counts.history, connections=counts.connections
        )
    )


app = create_app()
app.include_router(router)


@settings_validated
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
