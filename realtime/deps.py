"""The realtime functions' adapters, made once per container on first use (never at import)."""

from __future__ import annotations

from common.container import per_container
from common.data.connections import ConnectionsRepository, pooled_client
from common.data.dynamo_http import DynamoDbHttp
from common.data.push import SignedPusher
from common.settings import get_settings
from common.wiring import bids_repo as bids_repo
from common.wiring import connections_repo as connections_repo
from common.wiring import users_repo as users_repo
from realtime.auth import TokenVerifier

# The broadcaster's send concurrency: its lanes' threads, and the connections each of its
# clients keeps, so no lane waits for (or reopens) a connection.
FANOUT_WORKERS = 32


@per_container
def pusher() -> SignedPusher:
    """Posts to sockets (the broadcaster's and the action handler's): signed HTTP/1.1 on kept-alive
    connections, about a tenth of boto3's client's CPU per post (common/data/push.py)."""
    return SignedPusher(get_settings().websocket_management_url, max_connections=FANOUT_WORKERS)


@per_container
def fanout_connections_repo() -> ConnectionsRepository:
    """The broadcaster's: each batch's one read of its users' sockets goes over DynamoDB's JSON
    protocol directly (common.data.dynamo_http), the rare deletes of gone sockets via boto3."""
    client = pooled_client(FANOUT_WORKERS)
    return ConnectionsRepository(
        get_settings().connections_table, client, batch_client=DynamoDbHttp.like(client)
    )


@per_container
def token_verifier() -> TokenVerifier:
    s = get_settings()
    jwks_url = s.cognito_jwks_url or f"{s.cognito_issuer}/.well-known/jwks.json"
    return TokenVerifier(s.cognito_issuer, s.cognito_client_id, jwks_url)
