"""Every repository call that DynamoDB does not answer is RetryableError, never botocore's own.

botocore gives up on a call with a ``BotoCoreError`` (``ReadTimeoutError`` after its read
timeout and retries, a connection that failed): raised out of a Lambda it ends the run, and in
REST it is a 500 that names nothing. The repositories get their client through
``common.data.dynamo.repository_client``, which turns it into RetryableError whether or not the
call sits inside ``translate_errors``. This walks every public method of every repository of
``common/data`` (found by looking, so a new one is walked too) against a real boto3 client whose
every request times out, handed in as a test hands one in.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ParamValidationError, ReadTimeoutError

import common.data
from common.data.budget import BROWSE, SNIPE_CREATION
from common.data.dynamo import RetryableWhenUnanswered, repository_client, unwrapped
from common.data.ebay_links import NewLink
from common.data.email_guards import Guard, GuardStatus
from common.data.groups import GroupRule
from common.data.reconcile import ReconcileMark
from common.errors import RetryableError
from common.history import history_entry
from common.models import (
    BidEntity,
    BidStatus,
    ConnectionEntity,
    HistoryAction,
    Preferences,
    UserEntity,
)

NOW_MS = 1_900_000_000_000
NOW = NOW_MS // 1000
END = NOW + 3600
USER = "user-1"


def _snipe(**changes: Any) -> BidEntity:
    fields: dict[str, Any] = {
        "userId": USER,
        "bidId": "b0001",
        "ebayItemId": "item-1",
        "itemId": "v1|item-1|0",
        "maxBidAmount": 5000,
        "currency": "USD",
        "leadSeconds": 5,
        "status": BidStatus.PENDING,
        "auctionEndTime": END,
        "itemTitle": "A lot",
        "createdAt": NOW_MS,
        "updatedAt": NOW_MS,
    }
    return BidEntity(**(fields | changes))


def _armed() -> BidEntity:
    return _snipe(status=BidStatus.ARMED, executionId="execution-1")


# A plausible argument for each parameter name a repository method takes (parameters with a
# default keep it). A method with a parameter not named here fails the walk until it is added.
ARGUMENTS: dict[str, Callable[[], Any]] = {
    "user_id": lambda: USER,
    "owner_id": lambda: USER,
    "bid_id": lambda: "b0001",
    "user_ids": lambda: [USER],
    "statuses": lambda: [BidStatus.PENDING],
    "allowed": lambda: [BidStatus.PENDING],
    "limit": lambda: 10,
    "start_key": lambda: None,
    "after": lambda: None,
    "start": lambda: NOW,
    "end": lambda: END,
    "ebay_item_id": lambda: "item-1",
    "idempotency_key": lambda: "create-1",
    "item_id": lambda: "item-1",
    "bid": _armed,
    "before": _snipe,
    "after_": lambda: _snipe(countdownPhase="armed"),
    "actions": lambda: None,
    "from_ms": lambda: None,
    "to_ms": lambda: None,
    "history": lambda: history_entry(_snipe(), HistoryAction.CREATE, NOW_MS, 30, {}),
    "execution_id": lambda: "execution-1",
    "now_ms": lambda: NOW_MS,
    "taken_ms": lambda: NOW_MS,
    "fire_at": lambda: NOW + 200,
    "token": lambda: "0123456789abcdef",
    "now": lambda: NOW,
    "share": lambda: SNIPE_CREATION,
    "api": lambda: BROWSE,
    "wanted": lambda: 1,
    "day": lambda: "2030-03-17",
    "connection": lambda: ConnectionEntity(
        connectionId="c1=", userId=USER, connectedAt=NOW_MS, ttl=END
    ),
    "connection_id": lambda: "c1=",
    "account_id": lambda: "ebay-a",
    "notification_id": lambda: "n-1",
    "expires_at": lambda: END,
    "state": lambda: "s-1",
    "new": lambda: NewLink("ebay-a", "env-2", NOW_MS, END, END + 86_400),
    "previous_account_id": lambda: "ebay-0",
    "expected_envelope": lambda: "env-1",
    "envelope": lambda: "env-2",
    "access_expires_at": lambda: END,
    "refresh_expires_at": lambda: END + 86_400,
    "refresh_before": lambda: END,
    "key": lambda: "NOTIFY#b0001#WON",
    "guard": lambda: Guard("NOTIFY#b0001#WON", GuardStatus.SENDING, NOW_MS),
    "status": lambda: GuardStatus.SENT,
    "group_id": lambda: "g",
    "group_ids": lambda: ["g"],
    "won": lambda: True,
    "contingency": lambda: False,
    "rule": lambda: GroupRule(),
    "found": lambda: None,
    "at": lambda: NOW,
    "cents": lambda: 1500,
    "currency": lambda: "USD",
    "auction_end": lambda: END,
    "kind": lambda: "outcome",
    "previous": lambda: None,
    "mark": lambda: ReconcileMark(attempts=1, invoked_at=NOW, next_at=NOW + 60),
    "interval_ms": lambda: 60_000,
    "minute": lambda: NOW // 60,
    "items": lambda: ["item-1"],
    "seconds": lambda: 60,
    "keep_seconds": lambda: 3600,
    "changes": lambda: {"currentPrice": 1500},
    "user": lambda: UserEntity(userId=USER, email="u@example.com", createdAt=1, updatedAt=1),
    "display_name": lambda: "U",
    "email": lambda: "v@example.com",
    "preferences": lambda: Preferences(),
    "keys": lambda: ["EMAIL#u@example.com"],
    "deleted_at": lambda: NOW_MS,
}
# Parameter names that mean something else in one method: (class, method, parameter) -> name
# in ARGUMENTS.
RENAMED = {
    ("BidsRepository", "replace", "after"): "after_",
    ("BidsRepository", "transition", "after"): "after_",
}


def _repositories() -> Iterator[type]:
    """Every class of common/data whose constructor takes a DynamoDB client."""
    for found in pkgutil.iter_modules(common.data.__path__):
        module = importlib.import_module(f"common.data.{found.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or cls is RetryableWhenUnanswered:
                continue
            client = inspect.signature(cls).parameters.get("client")
            if client is not None and "DynamoDBClient" in str(client.annotation):
                yield cls


def _methods() -> list[tuple[type, str]]:
    return [
        (cls, name)
        for cls in _repositories()
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    ]


METHODS = _methods()


@pytest.fixture(scope="module")
def unanswered() -> Iterator[Any]:
    """A boto3 DynamoDB client whose every request times out, once (no retry, so no backoff
    sleep) and never on the network."""
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://dynamodb.invalid",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    sent: list[str] = []

    def time_out(request: Any, **_: Any) -> None:
        sent.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register("before-send.dynamodb", time_out)
    client.sent = sent
    return client


def _construct(cls: type, client: Any) -> Any:
    arguments: dict[str, Any] = {"client": client}
    for name, parameter in inspect.signature(cls).parameters.items():
        if name == "client" or parameter.default is not inspect.Parameter.empty:
            continue
        arguments[name] = 100 if name.endswith("_budget") else f"{name}-table"
    return cls(**arguments)


def _call(repository: Any, cls: type, name: str) -> Any:
    method = getattr(repository, name)
    arguments = {}
    for parameter in inspect.signature(method).parameters.values():
        if parameter.default is not inspect.Parameter.empty:
            continue
        argument = RENAMED.get((cls.__name__, name, parameter.name), parameter.name)
        assert argument in ARGUMENTS, (
            f"{cls.__name__}.{name}: no plausible {parameter.name!r}; add one to ARGUMENTS"
        )
        arguments[parameter.name] = ARGUMENTS[argument]()
    result = method(**arguments)
    return list(result) if inspect.isgenerator(result) else result


def test_the_walk_finds_the_repositories():
    # Then the search sees the repositories it must (if it saw none, the walk would pass)
    found = {cls.__name__ for cls, _ in METHODS}
    assert {"BidsRepository", "UsersRepository", "EbayLinksRepository", "GroupSlots"} <= found
    assert ("EbayLinksRepository", "get") in {(cls.__name__, name) for cls, name in METHODS}


@pytest.mark.parametrize(
    ("cls", "name"),
    METHODS,
    ids=[f"{cls.__name__}.{name}" for cls, name in METHODS],
)
def test_a_call_dynamodb_does_not_answer_is_retryable(unanswered, cls, name):
    # Given the repository on a client whose requests all time out
    repository = _construct(cls, unanswered)
    before = len(unanswered.sent)
    # When the method is called, then it raises RetryableError (not botocore's error)
    with pytest.raises(RetryableError) as raised:
        _call(repository, cls, name)
    # And it did send a request, whose timeout is the cause
    assert len(unanswered.sent) > before
    assert isinstance(raised.value.__cause__, ReadTimeoutError)


def test_an_injected_client_is_wrapped_once_and_botocore_stays_reachable(unanswered):
    # Given a repository's client made from an injected one, and from that one again
    once = repository_client(unanswered)
    twice = repository_client(once)
    # Then it is wrapped once, and tests that hook botocore reach the client they gave
    assert twice is once
    assert unwrapped(once) is unanswered
    assert once.meta.events is unanswered.meta.events


def test_a_request_built_wrong_is_not_retryable(unanswered):
    # Given a request botocore refuses before sending it (the code's mistake, not the network's)
    client = repository_client(unanswered)
    # Then it is botocore's ParamValidationError: trying again cannot cure it
    with pytest.raises(ParamValidationError):
        client.get_item(TableName="t")
