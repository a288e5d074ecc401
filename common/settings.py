"""Configuration from environment variables, validated once per container (cold start).

Each function has a settings model of its own (beside its composition root:
``rest/composition.py``, ``workers/composition.py``, ``realtime/composition.py``) listing exactly
the variables it reads. The models are put together from the groups below; a variable without a
default is required, so a function started without it fails its cold start with the variable's
name (``tests/unit/test_function_settings.py`` builds every function's model from the
environment template.yaml gives it). A variable whose empty value means something (no KMS key
in the personal profile, the URL eBay called) is still required: the template always sets it.

Plain pydantic models validated from ``os.environ``: pydantic-settings would add 15 ms to every
cold start for features (dotenv files, nested sources) Lambda has no use for.
"""

from __future__ import annotations

import functools
import os
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Environment(BaseModel):
    """Variables read from the environment; others there (other functions') are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


E = TypeVar("E", bound=Environment)


@functools.cache
def load(model: type[E]) -> E:
    """``model`` read from the environment, once per container."""
    return model.model_validate(dict(os.environ))


class UsersAndAppStateTable(Environment):
    """USERS_TABLE (the template's UsersTable): the users' profiles and the guards, groups, slot
    counts and eBay links keyed beside them, and the app's state that is no user's: the listings'
    price history and item cache, the day's eBay call budget, OAuth states, eBay's deletion
    notices (docs/data-model.md). The name says all of that, not only users."""

    users_and_app_state_table: str = Field(alias="USERS_TABLE")


class BidsTable(Environment):
    bids_table: str = Field(alias="BIDS_TABLE")


class HistoryTable(Environment):
    bid_history_table: str = Field(alias="BID_HISTORY_TABLE")


class ConnectionsTable(Environment):
    connections_table: str = Field(alias="CONNECTIONS_TABLE")


class BidTables(UsersAndAppStateTable, BidsTable, HistoryTable):
    """The bids repository's: a snipe, its owner's rows and its history."""


class EbayApi(Environment):
    ebay_environment: Literal["sandbox", "production", "local"] = Field(
        default="sandbox", alias="EBAY_ENVIRONMENT"
    )
    ebay_api_base_url: str = Field(
        default="https://api.sandbox.ebay.com", alias="EBAY_API_BASE_URL"
    )
    ebay_auth_url: str = Field(
        default="https://auth.sandbox.ebay.com/oauth2/authorize", alias="EBAY_AUTH_URL"
    )
    ebay_marketplace_id: str = Field(default="EBAY_US", alias="EBAY_MARKETPLACE_ID")
    ebay_app_secret_name: str = Field(alias="EBAY_APP_SECRET_NAME")


class TokenKey(Environment):
    """Users' eBay tokens: the KMS key ('' outside the production profile) and the SSM parameter
    holding the personal profile's key (common/token_crypto.py)."""

    token_kms_key_id: str = Field(alias="TOKEN_KMS_KEY_ID")
    token_key_parameter: str = Field(alias="TOKEN_KEY_PARAMETER")


class CursorKey(Environment):
    cursor_secret_name: str = Field(alias="CURSOR_SECRET_NAME")


class HistoryTtl(Environment):
    history_ttl_days: int = Field(default=730, ge=1, alias="HISTORY_TTL_DAYS")


class SnipeSchedules(UsersAndAppStateTable):
    """Where snipes' one-time schedules live and what they invoke; the Users table to take back
    a schedule made for an account whose deletion began meanwhile."""

    schedule_group_name: str = Field(default="default", alias="SCHEDULE_GROUP_NAME")
    bid_executor_arn: str = Field(alias="BID_EXECUTOR_ARN")
    scheduler_role_arn: str = Field(alias="SCHEDULER_ROLE_ARN")
    snipe_dlq_arn: str = Field(alias="SNIPE_DLQ_ARN")


class NotifierName(Environment):
    # '' = outcomes are recorded without an email.
    notifier_function_name: str = Field(alias="NOTIFIER_FUNCTION_NAME")


class CallBudget(UsersAndAppStateTable):
    # The app's eBay Browse calls per eBay day (Pacific time), eBay's two quotas, each in shares
    # (common/data/budget.py): every method but getItems (the REST item look-ups), and getItems
    # (the price updater's polls and the dashboards' refreshes).
    ebay_daily_call_budget: int = Field(default=5000, ge=0, alias="EBAY_DAILY_CALL_BUDGET")
    ebay_daily_getitems_budget: int = Field(default=5000, ge=0, alias="EBAY_DAILY_GETITEMS_BUDGET")


class WebSocketApi(Environment):
    """The WebSocket API's management endpoint (posts to sockets, closes them)."""

    websocket_management_url: str = Field(alias="WEBSOCKET_MANAGEMENT_URL")


class UserInfo(Environment):
    # The Hosted UI's userInfo endpoint: an access token's user's email (rest.app.sign_in_email).
    cognito_userinfo_url: str = Field(alias="COGNITO_USERINFO_URL")


class CognitoTokens(Environment):
    """How the $connect authorizer verifies Cognito tokens ('' JWKS URL: the issuer's)."""

    cognito_issuer: str = Field(alias="COGNITO_ISSUER")
    cognito_jwks_url: str = Field(alias="COGNITO_JWKS_URL")
    cognito_client_id: str = Field(alias="COGNITO_CLIENT_ID")
