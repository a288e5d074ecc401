"""HTTP API: eBay's Marketplace Account Deletion/Closure notification endpoint.

``GET`` answers eBay's challenge when the endpoint is registered; ``POST`` takes eBay's
notices (rest/logic/marketplace_deletion.py). eBay calls it, not a user: the route has no JWT
authorizer (template.yaml) and proves nothing about a caller; a notice proves itself by its
signature. Its own function, so an unauthenticated route runs with none of the API's other
permissions (no KMS, no scheduler) and its throttling and errors are its own.
"""

from __future__ import annotations

import base64
import functools
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, SecretStr

from common import aws
from common.clock import Clock
from common.composition import bids_repo, ebay_client
from common.data.bids import BidsRepository
from common.data.ebay_deletions import EbayDeletions
from common.ebay.notifications import SIGNATURE_HEADER, PublicKeys
from common.handler import settings_validated
from common.notifier_client import LambdaNotifier, Notifier
from common.observability import logger, metrics
from common.settings import BidTables, EbayApi, HistoryTtl, NotifierName, load
from rest.app import ERROR_RESPONSES, ErrorBody, create_app, documented
from rest.logic import marketplace_deletion as logic

PATH = "/notifications/marketplace-account-deletion"
# eBay's rule for the verification token (developer.ebay.com/marketplace-account-deletion).
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,80}$")
# An unauthenticated route: the merged document marks it so (security: []).
PUBLIC: dict[str, Any] = {"security": []}
NOT_VERIFIED: OpenAPIResponse = {
    "description": "Not provably eBay's: no or a bad X-EBAY-SIGNATURE, an altered body, a key "
    "eBay does not know, or a notice older than 30 days",
    "content": {"application/json": {"model": ErrorBody}},
}
TOKEN_UNREADABLE: OpenAPIResponse = {
    "description": "The verification token cannot be read",
    "content": {"application/json": {"model": ErrorBody}},
}

router = APIGatewayHttpRouter()
clock: Clock = time.time


class ChallengeOut(BaseModel):
    challengeResponse: str


@dataclass(frozen=True)
class DeletionPorts:
    """What the function uses, built once per container (the first request reads the secret)."""

    verification_token: SecretStr
    endpoint_url: str  # '' = the URL eBay called
    keys: PublicKeys
    deletions: EbayDeletions
    bids: BidsRepository
    notifier: Notifier
    history_ttl_days: int


class DeletionSettings(BidTables, EbayApi, NotifierName, HistoryTtl):
    # The secret holding the verification token registered with eBay, and the endpoint URL
    # registered beside it ('' = the URL eBay called, which is the stack's own execute-api URL).
    ebay_verification_token_secret_name: str = Field(alias="EBAY_VERIFICATION_TOKEN_SECRET_NAME")
    account_deletion_endpoint_url: str = Field(alias="ACCOUNT_DELETION_ENDPOINT_URL")


@functools.cache
def ports() -> DeletionPorts:
    """The function's composition root."""
    s = load(DeletionSettings)
    token = aws.get_secret(s.ebay_verification_token_secret_name, max_age=86_400)
    text = token.decode() if isinstance(token, bytes) else token
    if not TOKEN_PATTERN.match(text):
        raise RuntimeError("the verification token is not 32-80 letters, digits, _ or -")
    client = ebay_client(s)
    return DeletionPorts(
        verification_token=SecretStr(text),
        endpoint_url=s.account_deletion_endpoint_url,
        keys=PublicKeys(lambda kid: client.get_public_key(kid, deadline=clock() + 5)),
        deletions=EbayDeletions(s.users_and_app_state_table),
        bids=bids_repo(s),
        notifier=LambdaNotifier(s.notifier_function_name),
        history_ttl_days=s.history_ttl_days,
    )


def _called_url() -> str:
    """The URL eBay called: the gateway's domain and the raw path (with a named stage in it)."""
    event = router.current_event
    return f"https://{event.request_context.domain_name}{event.raw_path}"


@router.get(
    PATH,
    tags=["ebay-notifications"],
    summary="eBay's endpoint challenge",
    description="hex(SHA-256(challenge_code + verification token + this endpoint's URL)), "
    "as eBay checks it when the endpoint is registered.",
    responses=documented({422: ERROR_RESPONSES[422], 500: TOKEN_UNREADABLE}),
    openapi_extensions=PUBLIC,
)
def challenge(challenge_code: Annotated[str, Query(min_length=1, max_length=256)]) -> ChallengeOut:
    p = ports()
    answer = logic.challenge(
        challenge_code, p.verification_token.get_secret_value(), p.endpoint_url or _called_url()
    )
    return ChallengeOut(challengeResponse=answer)


@router.post(
    PATH,
    tags=["ebay-notifications"],
    summary="eBay's Marketplace Account Deletion notice",
    description="A MARKETPLACE_ACCOUNT_DELETION notice signed by eBay (X-EBAY-SIGNATURE). "
    "Deletes the link, tokens and pending snipes of the user who linked that eBay account.",
    responses={
        # No body: a 2xx is all eBay reads.
        204: {"description": "Handled, or nothing held for that eBay account", "content": {}},
        412: NOT_VERIFIED,
        503: ERROR_RESPONSES[503],
    },
    openapi_extensions=PUBLIC,
)
def notice() -> Response[None]:
    event = router.current_event
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
    p = ports()
    outcome = logic.handle_notice(
        body,
        # API Gateway hands headers over with lower-case names.
        event.headers.get(SIGNATURE_HEADER.lower()),
        p.keys,
        p.deletions,
        p.bids,
        p.notifier,
        p.history_ttl_days,
        clock,
    )
    metrics.add_metric(
        name=f"EbayDeletionNotices{outcome.status.title().replace('_', '')}",
        unit=MetricUnit.Count,
        value=1,
    )
    return Response(status_code=204)


app = create_app()
app.include_router(router)


@settings_validated(DeletionSettings)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
