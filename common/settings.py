"""Configuration from environment variables, validated once per container (cold start)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.container import per_container


class Settings(BaseModel):
    """Every variable a function may read. The template sets them; see README 'Configuration'.

    A plain pydantic model validated from os.environ: pydantic-settings would add 15 ms to every
    cold start for features (dotenv files, nested sources) Lambda has no use for.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: str = Field(default="dev", alias="STAGE")
    users_table: str = Field(alias="USERS_TABLE")
    bids_table: str = Field(alias="BIDS_TABLE")
    bid_history_table: str = Field(alias="BID_HISTORY_TABLE")
    connections_table: str = Field(alias="CONNECTIONS_TABLE")
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
    ebay_app_secret_name: str = Field(default="", alias="EBAY_APP_SECRET_NAME")
    # Users' eBay tokens: KMS key (production profile) and the SSM parameter holding the key of
    # the personal profile (common/token_crypto.py).
    token_kms_key_id: str = Field(default="", alias="TOKEN_KMS_KEY_ID")
    token_key_parameter: str = Field(default="", alias="TOKEN_KEY_PARAMETER")
    cursor_secret_name: str = Field(default="", alias="CURSOR_SECRET_NAME")
    dashboard_url: str = Field(default="http://localhost:8000", alias="DASHBOARD_URL")
    history_ttl_days: int = Field(default=730, ge=1, alias="HISTORY_TTL_DAYS")
    token_expiry_threshold_days: int = Field(default=7, ge=1, alias="TOKEN_EXPIRY_THRESHOLD")
    # The sniping engine: where snipes' one-time schedules live and what they invoke.
    schedule_group_name: str = Field(default="default", alias="SCHEDULE_GROUP_NAME")
    bid_executor_arn: str = Field(default="", alias="BID_EXECUTOR_ARN")
    scheduler_role_arn: str = Field(default="", alias="SCHEDULER_ROLE_ARN")
    snipe_dlq_arn: str = Field(default="", alias="SNIPE_DLQ_ARN")
    # Empty until the notifier exists: outcomes are then recorded without an email.
    notifier_function_name: str = Field(default="", alias="NOTIFIER_FUNCTION_NAME")
    # Realtime: the WebSocket API's management endpoint and the $connect authorizer's Cognito.
    websocket_management_url: str = Field(default="", alias="WEBSOCKET_MANAGEMENT_URL")
    cognito_issuer: str = Field(default="", alias="COGNITO_ISSUER")
    cognito_jwks_url: str = Field(default="", alias="COGNITO_JWKS_URL")
    cognito_client_id: str = Field(default="", alias="COGNITO_CLIENT_ID")
    # The Hosted UI's userInfo endpoint: an access token's user's email (rest.app.sign_in_email).
    cognito_userinfo_url: str = Field(default="", alias="COGNITO_USERINFO_URL")
    # The pool whose users an account deletion deletes (the users function only).
    cognito_user_pool_id: str = Field(default="", alias="COGNITO_USER_POOL_ID")
    # eBay's Marketplace Account Deletion notifications (the account deletion function): the
    # secret holding the verification token registered with eBay, and the endpoint URL
    # registered beside it ('' = the URL eBay called, which is the stack's own execute-api URL).
    ebay_verification_token_secret_name: str = Field(
        default="", alias="EBAY_VERIFICATION_TOKEN_SECRET_NAME"
    )
    account_deletion_endpoint_url: str = Field(default="", alias="ACCOUNT_DELETION_ENDPOINT_URL")
    # Email (the notifier).
    postmark_api_url: str = Field(default="https://api.postmarkapp.com", alias="POSTMARK_API_URL")
    postmark_secret_name: str = Field(default="", alias="POSTMARK_SECRET_NAME")
    email_from: str = Field(default="eBay Sniper <sniper@example.com>", alias="EMAIL_FROM")
    # The app's eBay Browse calls per UTC day, in shares: the price updater's polls and the REST
    # item look-ups (common/data/budget.py).
    ebay_daily_call_budget: int = Field(default=5000, ge=0, alias="EBAY_DAILY_CALL_BUDGET")
    # Per-user caps: active snipes (POST /bids answers 429 beyond) and open WebSockets ($connect
    # refuses the handshake with 429 beyond).
    max_active_snipes_per_user: int = Field(default=200, ge=1, alias="MAX_ACTIVE_SNIPES_PER_USER")
    max_connections_per_user: int = Field(default=10, ge=1, alias="MAX_CONNECTIONS_PER_USER")
    # How many of those calls a price updater run makes at once. At most the eBay client's 20
    # pooled connections: a worker waiting for a connection would time out at the pool.
    price_updater_concurrency: int = Field(
        default=8, ge=1, le=20, alias="PRICE_UPDATER_CONCURRENCY"
    )


@per_container
def get_settings() -> Settings:
    """Read the environment once per container (``common.container.reset()`` forgets it)."""
    return Settings.model_validate(dict(os.environ))
