"""Serialisation and error translation shared by the repositories."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.errors import ConflictError, DomainError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)


NO_ANSWER = "The database did not answer in time; try again"


@functools.cache
def default_client() -> DynamoDBClient:
    """One client per container, created on first use (never at import time)."""
    return boto3.client("dynamodb", config=aws.CONFIG)


def repository_client(client: DynamoDBClient | None = None) -> DynamoDBClient:
    """The client a repository calls DynamoDB through: ``client`` (the container's
    :func:`default_client` when None) behind :class:`RetryableWhenUnanswered`. Every repository
    takes its client through here, an injected one too, so no call of the data layer can let
    botocore's own error out, whether or not it is inside :func:`translate_errors`."""
    if isinstance(client, RetryableWhenUnanswered):
        return cast("DynamoDBClient", client)
    return cast("DynamoDBClient", RetryableWhenUnanswered(client or default_client()))


def unwrapped(client: DynamoDBClient) -> DynamoDBClient:
    """The boto3 client behind a :func:`repository_client` (for tests that hook botocore)."""
    return client.inner if isinstance(client, RetryableWhenUnanswered) else client


class RetryableWhenUnanswered:
    """A DynamoDB client whose calls raise RetryableError where botocore gave up without an
    answer (a read or connect timeout after its retries, a broken connection, a damaged
    answer: ``BotoCoreError``). An answer, ``ClientError`` included, is the caller's: each
    repository maps its own conditions (``translate_errors``, ``ConditionalWrite``,
    ``wrote_already``), and a call that timed out may have been applied, which the caller's
    retry settles as it does a retry of botocore's (``RETURN_OLD_ON_FAILURE``).

    It has the operations the repositories call; one it lacks is an AttributeError in
    tests/unit/test_data_errors.py, which walks every repository method. The AWS calls are
    counted where the repositories make them (``self.client.<op>(TableName=...)``, which
    tests/unit/static_calls.py follows to its table); the forwarding below holds its client
    under a name that analysis does not take for one, so it counts nothing twice."""

    def __init__(self, client: DynamoDBClient) -> None:
        self.inner = client

    @property
    def meta(self) -> Any:
        return self.inner.meta

    def get_item(self, **kwargs: Any) -> Any:
        with aws.retryable_when_unanswered(NO_ANSWER):
            return self.inner.get_item(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        with aws.retryable_when_unanswered(NO_ANSWER):
            return self.inner.put_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        with aws.retryable_when_unanswered(NO_ANSWER):
            return self.inner.update_item(**kwargs)

    def delete_item(self, **kwargs: Any) -> Any:
        with aws.retryable_when_unanswered(NO_ANSWER):
            return self.inner.delete_item(**kwargs)

    def query(self, **kwargs: Any) -> Any:
        with aws.retryable_when_unanswered(NO_ANSWER):
            return self.inner.query(**kwargs)

    def batch_get_item(self, **kwargs: Any) -> Any:
        with aws.retryable_when_unanswered(NO_ANSWER):
            return self.inner.batch_get_item(**kwargs)

    def batch_write_item(self, **kwargs: Any) -> Any:
        with aws.retryable_when_unanswered(NO_ANSWER):
            return self.inner.batch_write_item(**kwargs)

    def transact_write_items(self, **kwargs: Any) -> Any:
        with aws.retryable_when_unanswered(NO_ANSWER):
            return self.inner.transact_write_items(**kwargs)


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def to_value(value: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(_to_dynamo(value)))


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo(v) for v in value}
    return value


CONDITION_FAILED = "ConditionalCheckFailedException"  # a single write's condition failed
CANCELLED_ON_CONDITION = "ConditionalCheckFailed"  # a transaction item's condition failed
CHANGED = "The item changed or already exists"  # a ConflictError's message unless told


def cancellation_codes(exc: ClientError) -> list[str]:
    reasons = exc.response.get("CancellationReasons") or []
    return [str(r.get("Code", "None")) for r in reasons]


def cancelled_by(exc: ClientError, index: int | None = None) -> bool:
    """Whether ``exc`` cancelled a transaction on the condition of its item at ``index`` (of
    any of its items when ``index`` is None)."""
    codes = cancellation_codes(exc)
    if index is None:
        return CANCELLED_ON_CONDITION in codes
    return len(codes) > index and codes[index] == CANCELLED_ON_CONDITION


@contextmanager
def translate_errors(
    conflict_message: str = CHANGED,
) -> Iterator[None]:
    """Conditional failures become ConflictError; throttling, and a database that did not
    answer in time (botocore's timeouts and connection errors), become RetryableError."""
    try:
        yield
    except BotoCoreError as exc:
        raise RetryableError(NO_ANSWER) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == CONDITION_FAILED:
            raise ConflictError(conflict_message) from exc
        if code == "TransactionCanceledException":
            if cancelled_by(exc):
                raise ConflictError(conflict_message) from exc
            raise RetryableError("The database was busy; try again") from exc
        if code in THROTTLING_CODES:
            raise RetryableError("The database was busy; try again") from exc
        raise


# A conditional write whose first attempt reached DynamoDB but whose answer timed out is sent
# again by botocore (common/aws.py: two attempts); the repeat then fails its own condition.
# Writes that must know they won ask for the item their condition saw
# (``**RETURN_OLD_ON_FAILURE``; per item in a transaction) and count "it is already what this
# very write produces" as written: :func:`wrote_already`, ``ConditionalWrite(already=...)``.
# TransactWriteItems are idempotent besides: botocore fills ClientRequestToken once per call
# and sends the same request on retry, and DynamoDB answers a repeated token with the first
# outcome (moto ignores the token, hence the item check there too). docs/sniping-engine.md,
# "A write that timed out".
RETURN_OLD_ON_FAILURE: dict[str, str] = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}


def seen_on_failure(exc: ClientError, index: int | None = None) -> dict[str, Any] | None:
    """The item as the failed condition saw it (deserialised), when the write asked for it:
    a single write's (``index`` None) or a transaction's item at ``index``. None if absent."""
    item: Any
    if index is None:
        item = exc.response.get("Item")
    else:
        reasons = exc.response.get("CancellationReasons") or []
        item = reasons[index].get("Item") if len(reasons) > index else None
    return from_item(item) if item else None


def wrote_already(exc: ClientError, written: dict[str, Any], index: int | None = None) -> bool:
    """Whether the write that failed with ``exc`` found its item exactly as it writes it
    (``written``, in DynamoDB's attribute values): its own earlier attempt landed, and it won."""
    if index is not None and not cancelled_by(exc, index):
        return False
    seen = seen_on_failure(exc, index)
    return seen is not None and seen == from_item(written)


class ConditionalWrite:
    """Around one conditional write (``with ConditionalWrite() as write: client.put_item(...)``):
    ``write.happened`` is False when its condition failed (someone else got there first) and
    True when it was written, and ``write.failure`` the ClientError that said so, for a caller
    that raises its own error from it; throttling becomes RetryableError, anything else passes.

    ``already``: given the item the failed condition saw (the write passes
    ``**RETURN_OLD_ON_FAILURE``; None if there was none), whether it is already in the state
    this very write produces (same execution id, version, token): then the failure was this
    write's own retry after an answer that timed out, and ``happened`` is True,
    ``write.retried`` too."""

    def __init__(self, already: Callable[[dict[str, Any] | None], bool] | None = None) -> None:
        self.happened = True
        self.retried = False
        self.failure: ClientError | None = None
        self._already = already

    def __enter__(self) -> ConditionalWrite:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool:
        if not isinstance(exc, ClientError):
            return False
        if exc.response.get("Error", {}).get("Code") == CONDITION_FAILED:
            if self._already is not None and self._already(seen_on_failure(exc)):
                self.retried = True
                return True
            self.happened = False
            self.failure = exc
            return True
        with translate_errors():
            raise exc
        return False  # unreachable: translate_errors raises what it is given


def in_filter(attribute: str, values: Sequence[str], prefix: str) -> tuple[str, dict[str, Any]]:
    """``attribute IN (:<prefix>0, ...)`` and the string values it names, in ``values``' order."""
    names = [f":{prefix}{i}" for i in range(len(values))]
    expression = f"{attribute} IN ({', '.join(names)})"
    return expression, {n: {"S": v} for n, v in zip(names, values, strict=True)}


def raise_if_cancelled_by(exc: ClientError, index: int, error: DomainError) -> None:
    """Raise ``error`` (caused by ``exc``) if ``exc`` cancelled a transaction on the condition
    of its item at ``index``; return otherwise, for the caller's own translation."""
    if cancelled_by(exc, index):
        raise error from exc


BATCH_WRITE_LIMIT = 25  # DynamoDB's most requests in one BatchWriteItem


def query_items(client: DynamoDBClient, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query returns, following LastEvaluatedKey page after page."""
    while True:
        with translate_errors():
            result = client.query(**kwargs)
        yield from result.get("Items", [])
        if not result.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]


def batch_delete(client: DynamoDBClient, table: str, keys: Sequence[dict[str, Any]]) -> None:
    """Delete items by key, 25 per BatchWriteItem, retrying what DynamoDB leaves unprocessed."""
    for start in range(0, len(keys), BATCH_WRITE_LIMIT):
        chunk = keys[start : start + BATCH_WRITE_LIMIT]
        pending: dict[str, Any] = {table: [{"DeleteRequest": {"Key": k}} for k in chunk]}
        for _attempt in range(8):
            if not pending.get(table):
                break
            with translate_errors():
                result = client.batch_write_item(RequestItems=pending)
            pending = dict(result.get("UnprocessedItems") or {})
        if pending.get(table):
            raise RetryableError("The database was busy; try again")
