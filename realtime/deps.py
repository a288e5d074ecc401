"""The realtime functions' adapters, made once per container on first use (never at import)."""

from __future__ import annotations

from common.container import per_container
from common.data.push import ConnectionPusher, management_client
from common.settings import get_settings
from common.wiring import bids_repo as bids_repo
from common.wiring import connections_repo as connections_repo
from realtime.auth import TokenVerifier


@per_container
def pusher() -> ConnectionPusher:
    return ConnectionPusher(management_client(get_settings().websocket_management_url))


@per_container
def token_verifier() -> TokenVerifier:
    s = get_settings()
    jwks_url = s.cognito_jwks_url or f"{s.cognito_issuer}/.well-known/jwks.json"
    return TokenVerifier(s.cognito_issuer, s.cognito_client_id, jwks_url)
