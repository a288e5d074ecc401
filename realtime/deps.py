"""The realtime functions' adapters, made once per container on first use (never at import)."""

from __future__ import annotations

from functools import cache

from common.data.bids import BidsRepository
from common.data.connections import ConnectionsRepository
from common.data.push import ConnectionPusher, management_client
from common.settings import get_settings
from realtime.auth import TokenVerifier


@cache
def connections_repo() -> ConnectionsRepository:
    return ConnectionsRepository(get_settings().connections_table)


@cache
def bids_repo() -> BidsRepository:
    s = get_settings()
    return BidsRepository(s.bids_table, s.users_table, s.bid_history_table)


@cache
def pusher() -> ConnectionPusher:
    return ConnectionPusher(management_client(get_settings().websocket_management_url))


@cache
def token_verifier() -> TokenVerifier:
    s = get_settings()
    jwks_url = s.cognito_jwks_url or f"{s.cognito_issuer}/.well-known/jwks.json"
    return TokenVerifier(s.cognito_issuer, s.cognito_client_id, jwks_url)


def reset() -> None:
    """Forget every adapter (tests that change the environment)."""
    for factory in (connections_repo, bids_repo, pusher, token_verifier):
        factory.cache_clear()
