"""How every boto3 client of the product talks to AWS: its timeouts and retries, in one place.

botocore's defaults are a 60 s connect timeout, a 60 s read timeout and (legacy mode) up to 5
attempts, 10 for DynamoDB: one hung connection outlives any of our functions, and Lambda then
kills the run mid-request instead of the code handling a ``BotoCoreError``. Here every client
gives up, retries included, well inside the shortest ``Timeout`` of the functions that use it
(template.yaml; ``tests/unit/test_aws_clients.py`` checks every client-creating call site and
every function):

    worst case = attempts x (connect + read) + the backoff before each retry

With :data:`CONFIG`: 2 x (0.5 s + 1 s) + at most 1 s = 4 s, inside the WebSocket authorizer's
5 s (it reads DynamoDB) and the API functions' 10 s. A call to AWS from inside its region
connects in milliseconds and answers in tens of them; a second attempt covers a lost packet or
a throttle. ``read_timeout`` bounds each wait for bytes, not a whole response that keeps
trickling in; AWS's answers here are small. The ``x-amz-retry-after`` hint a service may send
(botocore honours at most 5 s more) is not counted: none of the services used sends it.

Clients that need more (a connection pool for threads, no retries) pass overrides through
:func:`config`, which keeps the rest. Powertools' parameter reads go through a client made here
too (:func:`get_secret`): its default provider would make one with botocore's defaults.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ParamValidationError

from common.errors import RetryableError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

CONNECT_TIMEOUT_SECONDS = 0.5
READ_TIMEOUT_SECONDS = 1.0
TOTAL_ATTEMPTS = 2
# botocore's standard mode: a retry waits rand(0, 1) x min(2 ** (retry - 1), 20) s at most
# (throttling scale; other errors wait less).
MAX_BACKOFF_SECONDS = 20.0

CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
)


def config(**overrides: Any) -> Config:
    """:data:`CONFIG` with ``overrides`` (botocore ``Config`` arguments) taking precedence."""
    return CONFIG.merge(Config(**overrides)) if overrides else CONFIG


def attempts(of: Config) -> int:
    """How many times a call is sent at most: botocore's ``max_attempts`` counts retries only."""
    settings: Any = of  # botocore sets Config's attributes dynamically
    retries = settings.retries or {}
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    if "max_attempts" in retries:
        return int(retries["max_attempts"]) + 1
    return 5 if retries.get("mode") == "legacy" else 3


def worst_case_seconds(of: Config) -> float:
    """The longest one call can take before botocore gives up on it (module docstring)."""
    settings: Any = of
    n = attempts(of)
    connect = float(60 if settings.connect_timeout is None else settings.connect_timeout)
    read = float(60 if settings.read_timeout is None else settings.read_timeout)
    backoff = sum(min(2.0 ** (retry - 1), MAX_BACKOFF_SECONDS) for retry in range(1, n))
    return n * (connect + read) + backoff


@contextmanager
def retryable_when_unanswered(message: str) -> Iterator[None]:
    """Around a call: botocore giving up on it without an answer (a read or connect timeout
    after its attempts, a broken connection, a damaged answer: ``BotoCoreError``) becomes
    RetryableError(``message``), so it ends no Lambda run untyped and reaches no REST client as
    a 500. An answer, ``ClientError``, is the caller's to read; a request the code built wrong
    (``ParamValidationError``) passes as it is, since no retry can cure it."""
    try:
        yield
    except ParamValidationError:
        raise
    except BotoCoreError as exc:
        raise RetryableError(message) from exc


@functools.cache
def secrets_provider() -> SSMProvider:
    """Powertools' SSM Parameter Store provider (it caches values per ``max_age``) on our client.

    The stack's secrets are SecureString parameters (template.yaml, ``Metadata``), free where
    Secrets Manager charges $0.40 a secret a month; GetParameter at the standard throughput is
    free too.
    """
    from aws_lambda_powertools.utilities import parameters

    return parameters.SSMProvider(boto3_client=boto3.client("ssm", config=CONFIG))


@overload
def get_secret(name: str, *, max_age: int, transform: None = None) -> str | bytes: ...


@overload
def get_secret(name: str, *, max_age: int, transform: Literal["json"]) -> dict[str, Any]: ...


def get_secret(
    name: str, *, max_age: int, transform: Literal["json"] | None = None
) -> str | bytes | dict[str, Any]:
    """A SecureString parameter's value, decrypted (parsed JSON with ``transform="json"``),
    cached for ``max_age`` s. RetryableError when Parameter Store did not answer in time."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = secrets_provider().get(name, max_age=max_age, transform=transform, decrypt=True)
    except GetParameterError as exc:
        # Powertools wraps whatever the read raised (as the exception's context): botocore
        # giving up without an answer is RetryableError, as for every other client here.
        unanswered = exc.__context__
        if isinstance(unanswered, BotoCoreError) and not isinstance(
            unanswered, ParamValidationError
        ):
            raise RetryableError("The parameter store did not answer in time; try again") from exc
        raise
    if value is None:
        raise LookupError(f"secret {name} has no value")
    return value
