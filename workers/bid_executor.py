"""The bid executor Lambda: invoked by a snipe's one-time schedule (or at once, for a snipe
created close to its end) with ``{"userId", "bidId", "purpose"}``. The logic is
``workers.logic.snipe_engine.SnipeEngine``; this module wires its adapters.

The eBay client is per thread: on AWS a container runs one invocation at a time, so this is the
"one client per container" rule; in the local stack, where concurrent invocations are threads of
one process, each keeps its own warm connection as separate containers would.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import SecretStr

from common.container import per_container
from common.data.bids import BidsRepository
from common.data.ebay_links import EbayLinksRepository
from common.data.group_slots import GroupSlots
from common.data.groups import GroupsRepository
from common.data.users import UsersRepository
from common.handler import settings_validated
from common.observability import logger, metrics
from common.scheduling import UnlessOwnerDeleted, default_lambda_client, invoke_event
from common.settings import get_settings
from common.wiring import snipe_scheduler
from workers.logic.snipe_engine import SnipeEngine

if TYPE_CHECKING:
    from common.ebay.client import EbayClient
    from common.token_crypto import TokenCipher

_local = threading.local()


# Keyed by configuration: constant on AWS, but a test process runs several local stacks.
def bids_repo() -> BidsRepository:
    s = get_settings()
    return _bids_repo(s.bids_table, s.users_table, s.bid_history_table)


@per_container
def _bids_repo(bids: str, users: str, history: str) -> BidsRepository:
    return BidsRepository(bids, users, history)


def links_repo() -> EbayLinksRepository:
    return _links_repo(get_settings().users_table)


@per_container
def _links_repo(users: str) -> EbayLinksRepository:
    return EbayLinksRepository(users)


@per_container
def token_cipher() -> TokenCipher:
    from common.token_crypto import cipher_for

    return cipher_for(get_settings())


def scheduler() -> UnlessOwnerDeleted:
    """The snipe's schedules; one made while its owner's account is being deleted is taken
    back (the run then ends: common.scheduling.UnlessOwnerDeleted)."""
    return snipe_scheduler(_users_repo(get_settings().users_table))


def groups_repo() -> GroupsRepository:
    return _groups_repo(get_settings().users_table)


@per_container
def _groups_repo(users: str) -> GroupsRepository:
    return GroupsRepository(users)


def group_slots() -> GroupSlots:
    return _group_slots(get_settings().users_table)


@per_container
def _group_slots(users: str) -> GroupSlots:
    return GroupSlots(users)


@per_container
def _users_repo(users: str) -> UsersRepository:
    return UsersRepository(users)


def ebay_client() -> EbayClient:
    s = get_settings()
    key = (s.ebay_api_base_url, s.ebay_app_secret_name)
    cached: tuple[tuple[str, str], EbayClient] | None = getattr(_local, "ebay", None)
    client = cached[1] if cached is not None and cached[0] == key else None
    if client is None:
        import httpx

        from common.ebay.client import EbayClient
        from common.ebay.config import EbayConfig, Timeouts
        from common.ebay.credentials import secret_credentials

        config = EbayConfig.for_environment(
            s.ebay_environment,
            api_base_url=s.ebay_api_base_url,
            auth_base_url=s.ebay_auth_url,
            marketplace_id=s.ebay_marketplace_id,
            app_secret_name=s.ebay_app_secret_name,
        )
        t = Timeouts()
        http = httpx.Client(
            timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
            limits=httpx.Limits(
                max_connections=4, max_keepalive_connections=2, keepalive_expiry=60
            ),
            follow_redirects=False,
            headers={"User-Agent": "ebay-sniper/1.0"},
        )
        client = EbayClient(config, secret_credentials(s.ebay_app_secret_name), http=http)
        _local.ebay = (key, client)
    return client


def user_token(user_id: str, valid_until: int, force_refresh: bool = False) -> SecretStr:
    """The user's token, refreshed first if it would expire before ``valid_until``."""
    from common.ebay_tokens import valid_access_token

    now = int(time.time())
    return valid_access_token(
        user_id,
        links_repo(),
        token_cipher(),
        ebay_client(),
        margin=max(valid_until - now, 60),
        force_refresh=force_refresh,
    )


def notify(kind: str, user_id: str, bid_id: str) -> None:
    name = get_settings().notifier_function_name
    if not name:
        logger.info("no notifier configured; outcome not emailed", kind=kind, bid_id=bid_id)
        return
    invoke_event(default_lambda_client(), name, {"kind": kind, "userId": user_id, "bidId": bid_id})


def engine(context: LambdaContext) -> SnipeEngine:
    return SnipeEngine(
        bids=bids_repo(),
        ebay=ebay_client(),
        tokens=user_token,
        scheduler=scheduler(),
        notify=notify,
        history_ttl_days=get_settings().history_ttl_days,
        groups=groups_repo(),
        slots=group_slots(),
        remaining_ms=context.get_remaining_time_in_millis,
        execution_id=context.aws_request_id,
    )


@settings_validated
@logger.inject_lambda_context(correlation_id_path="bidId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    result = engine(context).run(str(event["userId"]), str(event["bidId"]))
    logger.info("bid executor done", bid_id=event["bidId"], result=result)
    # Emitted on every run, 0 or 1, so the SnipesFailedAlarm has data to judge (template.yaml).
    metrics.add_metric(name="SnipesFailed", unit=MetricUnit.Count, value=int(result == "failed"))
    return {"bidId": str(event["bidId"]), "result": result}
