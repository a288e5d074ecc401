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
from rest.app import caller, create_app, documented, sign_in_email
from rest.composition import UsersSettings, users_ports
from rest.logic import users as logic
from rest.schemas.users import (
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
    p = users_ports()
    user = logic.get_or_create_profile(
        who.user_id, sign_in_email(who, p.user_info), p.users, time.time
    )
    return profile_out(user)


@router.put("/users/profile", tags=["users"], responses=documented())
def put_profile(body: ProfileUpdateRequest) -> ProfileOut:
    who = caller(router)
    p = users_ports()
    user = logic.update_profile(
        who.user_id,
        sign_in_email(who, p.user_info),
        body.displayName,
        body.email,
        p.users,
        time.time,
    )
    return profile_out(user)


@router.put("/users/preferences", tags=["users"], responses=documented())
def put_preferences(body: PreferencesRequest) -> ProfileOut:
    who = caller(router)
    p = users_ports()
    prefs = Preferences(**body.model_dump())
    email = sign_in_email(who, p.user_info)
    user = logic.update_preferences(who.user_id, email, prefs, p.users, time.time)
    return profile_out(user)


@router.delete("/users/account", tags=["users"], responses=documented())
def delete_account() -> AccountDeletedOut:
    who = caller(router)
    p = users_ports()
    counts = logic.delete_account(who.user_id, p, username=who.username)
    logger.info("account deleted", bids=counts.bids, history=counts.history)
    return AccountDeletedOut(
        deleted=DeletedCounts(
            bids=counts.bids, history=counts.history, connections=counts.connections
        )
    )


app = create_app()
app.include_router(router)


@settings_validated(UsersSettings)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
