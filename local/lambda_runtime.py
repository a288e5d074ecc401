"""Run the template's Lambda handlers the way the Lambda service would.

A handler is imported from its ``Handler`` (``rest.bids.handler``) on first use (a cold start)
and called with the event and a Lambda-like context whose remaining time counts down from the
function's ``Timeout``. Invocations run on a thread pool so the event loop stays free.

Two isolation modes:

``thread`` (the default): every handler runs in this process. Cheap, and tests can look inside.
The invocations of the functions behind HTTP API routes run one at a time, all of them
together, as in one warm container: such handlers (Powertools' resolvers) keep the current
event on a class attribute every resolver in the process shares (``BaseRouter.current_event``),
and two at once, of one function or of two, would answer each other's requests. The others
(scheduled, stream, asynchronous) run concurrently; a waiting bid executor must not hold up the
next one.
Environment variables are process-wide, so the union of every function's environment is put
into ``os.environ`` once; two functions wanting different values for one variable is an error.
A thread cannot be killed: a handler that exceeds its Timeout is *reported* as timed out (the
caller gets :class:`FunctionTimeoutError`, as from Lambda) while its thread runs on.
``handler_replaced`` runs other code for a function while it lasts, as deploying other code
would (the chaos harness's bid executor, which dies on cue): the product is never patched.

``process``: each invocation runs in an execution environment of its own, a worker process
(``local.lambda_containers``) that serves one invocation at a time and is reused while warm, as
Lambda's are: module state is per container, concurrent invocations do not share a GIL, the
event and the result cross as JSON (a result JSON cannot carry fails, as on Lambda), and a
handler past its Timeout is killed with its container.

:class:`EventInvoker` is Lambda's asynchronous (``Event``) invocation on top of a runtime: a run
that fails is retried with the same request id, up to the function's
``EventInvokeConfig.MaximumRetryAttempts`` (default 2) and within its
``MaximumEventAgeInSeconds``, then Lambda's invocation record goes to its
``DestinationConfig.OnFailure`` SQS queue. The Invoke API's ``Event`` type and the scheduler
both invoke through it.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from local.lambda_containers import ContainerPool
from local.template import SQS_QUEUE_TYPE, FunctionSpec, Template

log = logging.getLogger("local.lambda")

Handler = Callable[[Any, Any], Any]

# Variables the local runtime itself needs in the shared environment: X-Ray has no daemon here.
RUNTIME_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true"}
# Lambda's asynchronous retries: 1 minute before the first, 2 before the second.
LAMBDA_RETRY_DELAYS = (60.0, 120.0)
# Lambda's defaults when a function has no EventInvokeConfig.
DEFAULT_ASYNC_RETRIES = 2
DEFAULT_EVENT_AGE_SECONDS = 21_600


class InvocationError(Exception):
    """An invocation failed the way a Lambda invocation fails (FunctionError set)."""

    def __init__(self, function_id: str, request_id: str, message: str) -> None:
        super().__init__(message)
        self.function_id = function_id
        self.request_id = request_id


class FunctionError(InvocationError):
    """The handler raised (or could not be imported): Lambda's ``Unhandled`` error."""

    def __init__(self, function_id: str, request_id: str, error: BaseException) -> None:
        super().__init__(function_id, request_id, f"{type(error).__name__}: {error}")
        self.error = error


class FunctionTimeoutError(InvocationError):
    """The handler ran past the function's Timeout ("Task timed out after N seconds")."""


@dataclass
class LambdaContext:
    """The attributes and method of the context object the Python Lambda runtime passes."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class FunctionStats:
    """What the Lambda service would bill and report per function."""

    invocations: int = 0
    cold_starts: int = 0
    errors: int = 0
    timeouts: int = 0
    total_duration_ms: float = 0.0
    max_duration_ms: float = 0.0
    billed_duration_ms: int = 0
    memory_mb: int = 0

    @property
    def gb_seconds(self) -> float:
        """The unit Lambda compute is priced in."""
        return self.billed_duration_ms / 1000 * self.memory_mb / 1024


class LambdaRuntime:
    """In-process Lambda service for the template's functions.

    ``invoke`` blocks (call it from any thread but the event loop's); ``invoke_async`` awaits on
    the loop. Both raise :class:`FunctionError` or :class:`FunctionTimeoutError`.
    """

    def __init__(
        self,
        template: Template,
        *,
        max_workers: int = 16,
        environ: MutableMapping[str, str] | None = None,
        isolation: str = "thread",
    ) -> None:
        if isolation not in ("thread", "process"):
            raise ValueError(f"isolation must be 'thread' or 'process', not {isolation!r}")
        self.isolation = isolation
        self.template = template
        self.functions: dict[str, FunctionSpec] = template.functions
        self.stats: dict[str, FunctionStats] = {
            logical_id: FunctionStats(memory_mb=spec.memory_size)
            for logical_id, spec in self.functions.items()
        }
        self._environ = os.environ if environ is None else environ
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lambda")
        self._containers: dict[str, ContainerPool] = {}
        # One lock for every function behind the HTTP API, not one each: Powertools keeps the
        # request's event on a class attribute every resolver in the process shares
        # (BaseRouter.current_event), so two functions at once answered each other's requests,
        # another user's identity included.
        api_lock = threading.Lock()
        self._one_at_a_time: dict[str, threading.Lock] = {
            route.function_id: api_lock for route in template.http_routes
        }

    # ---- environment

    def environment(self) -> dict[str, str]:
        """The variables this runtime puts into the process environment."""
        return {**self.template.environment_union(), **RUNTIME_ENVIRONMENT}

    def apply_environment(self) -> dict[str, str]:
        """Put every function's environment into the process; fail loudly on a conflict."""
        variables = self.environment()
        self._environ.update(variables)
        return variables

    # ---- invocation

    def handler(self, logical_id: str) -> Handler:
        """The function's handler, imported on first use (that invocation is a cold start)."""
        with self._import_lock:
            if logical_id not in self._handlers:
                module_name, _, attribute = self.functions[logical_id].handler.rpartition(".")
                module = importlib.import_module(module_name)
                handler = getattr(module, attribute)
                if not callable(handler):
                    raise TypeError(f"{self.functions[logical_id].handler} is not callable")
                self._handlers[logical_id] = handler
                self.stats[logical_id].cold_starts += 1
            return self._handlers[logical_id]

    @contextmanager
    def handler_replaced(self, logical_id: str, handler: Handler) -> Iterator[None]:
        """Invocations of the function that start while this lasts run ``handler`` (``thread``
        isolation: a container process could not run an object of this one); then its own."""
        if self.isolation != "thread":
            raise ValueError("a handler can be replaced with thread isolation only")
        if logical_id not in self.functions:
            raise KeyError(f"no function {logical_id} in the template")
        own = self.handler(logical_id)
        with self._import_lock:
            self._handlers[logical_id] = handler
        try:
            yield
        finally:
            with self._import_lock:
                self._handlers[logical_id] = own

    def context(self, logical_id: str, request_id: str | None = None) -> LambdaContext:
        spec = self.functions[logical_id]
        now = datetime.now(UTC)
        return LambdaContext(
            function_name=spec.physical_name,
            memory_limit_in_mb=spec.memory_size,
            invoked_function_arn=self.template.attributes[(logical_id, "Arn")],
            aws_request_id=request_id or str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{spec.physical_name}",
            log_stream_name=f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            timeout_seconds=spec.timeout,
        )

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Invoke synchronously (RequestResponse) and return the handler's result."""
        context = self._new_context(logical_id)
        future = self._pool.submit(self._runner, logical_id, event, context)
        try:
            return future.result(timeout=self._wait_seconds(context))
        except FutureTimeoutError:
            raise self._timed_out(logical_id, context) from None

    async def invoke_async(self, logical_id: str, event: Any) -> Any:
        """Invoke from the event loop without blocking it."""
        context = self._new_context(logical_id)
        future: Future[Any] = self._pool.submit(self._runner, logical_id, event, context)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self._wait_seconds(context))
        except TimeoutError:
            raise self._timed_out(logical_id, context) from None

    def submit(self, logical_id: str, event: Any, *, request_id: str | None = None) -> Future[Any]:
        """Queue one run and return its future (errors are logged, and raised by the future);
        ``request_id``: a retry's, which keeps the first run's. Lambda's retries of an
        ``Event`` invocation are :class:`EventInvoker`'s."""
        context = self._new_context(logical_id, request_id)
        return self._pool.submit(self._runner, logical_id, event, context)

    def containers(self, logical_id: str) -> int:
        """How many execution environments (worker processes) the function has now."""
        pool = self._containers.get(logical_id)
        return pool.size if pool else 0

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for pool in self._containers.values():
            pool.shutdown()

    @property
    def _runner(self) -> Callable[[str, Any, LambdaContext], Any]:
        return self._run_in_container if self.isolation == "process" else self._run

    def _wait_seconds(self, context: LambdaContext) -> float | None:
        # A container enforces the Timeout itself, from the moment its handler starts (a queued
        # invocation has not started), and kills the process: the caller waits for it. A thread
        # cannot be stopped: the caller stops waiting.
        return None if self.isolation == "process" else context.timeout_seconds

    def _container_pool(self, logical_id: str) -> ContainerPool:
        with self._import_lock:
            if logical_id not in self._containers:
                self._containers[logical_id] = ContainerPool(
                    logical_id, self.functions[logical_id].handler
                )
            return self._containers[logical_id]

    def _run_in_container(self, logical_id: str, event: Any, context: LambdaContext) -> Any:
        started = time.perf_counter()
        context._deadline = time.monotonic() + context.timeout_seconds  # the run starts now
        failed = True
        try:
            outcome = self._container_pool(logical_id).invoke(
                event,
                {
                    "function_name": context.function_name,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "invoked_function_arn": context.invoked_function_arn,
                    "aws_request_id": context.aws_request_id,
                    "log_group_name": context.log_group_name,
                    "log_stream_name": context.log_stream_name,
                    "timeout_seconds": context.timeout_seconds,
                },
                remaining_ms=context.get_remaining_time_in_millis(),
            )
            if outcome.cold:
                with self._stats_lock:
                    self.stats[logical_id].cold_starts += 1
            if outcome.timed_out:
                failed = False  # counted by _timed_out
                raise self._timed_out(logical_id, context)
            if outcome.error is not None:
                log.error(
                    "%s failed (request %s): %s",
                    context.function_name,
                    context.aws_request_id,
                    outcome.error,
                )
                raise FunctionError(logical_id, context.aws_request_id, outcome.error)
            failed = False
            return outcome.result
        finally:
            self._record(logical_id, (time.perf_counter() - started) * 1000, failed)

    def _new_context(self, logical_id: str, request_id: str | None = None) -> LambdaContext:
        if logical_id not in self.functions:
            raise KeyError(f"no function {logical_id} in the template")
        return self.context(logical_id, request_id)

    def _run(self, logical_id: str, event: Any, context: LambdaContext) -> Any:
        lock = self._one_at_a_time.get(logical_id)
        if lock is None:
            return self._run_in_thread(logical_id, event, context)
        with lock:
            return self._run_in_thread(logical_id, event, context)

    def _run_in_thread(self, logical_id: str, event: Any, context: LambdaContext) -> Any:
        started = time.perf_counter()
        context._deadline = time.monotonic() + context.timeout_seconds  # the run starts now
        failed = False
        try:
            handler = self.handler(logical_id)
            return handler(event, context)
        except BaseException as exc:
            failed = True
            log.exception("%s failed (request %s)", context.function_name, context.aws_request_id)
            raise FunctionError(logical_id, context.aws_request_id, exc) from exc
        finally:
            self._record(logical_id, (time.perf_counter() - started) * 1000, failed)

    def _record(self, logical_id: str, duration_ms: float, failed: bool) -> None:
        with self._stats_lock:
            stats = self.stats[logical_id]
            stats.invocations += 1
            stats.errors += int(failed)
            stats.total_duration_ms += duration_ms
            stats.max_duration_ms = max(stats.max_duration_ms, duration_ms)
            stats.billed_duration_ms += max(1, int(duration_ms + 0.999))

    def _timed_out(self, logical_id: str, context: LambdaContext) -> FunctionTimeoutError:
        with self._stats_lock:
            self.stats[logical_id].timeouts += 1
            self.stats[logical_id].errors += 1
        message = f"Task timed out after {context.timeout_seconds:.2f} seconds"
        log.error("%s %s (request %s)", context.function_name, message, context.aws_request_id)
        return FunctionTimeoutError(logical_id, context.aws_request_id, message)


# ------------------------------------------------------------------ asynchronous invocation


@dataclass
class AsyncStats:
    """What Lambda did with asynchronous runs that failed."""

    function_errors: int = 0  # runs that failed, retries included
    async_retries: int = 0  # Lambda's retries of those (same request id)
    async_given_up: int = 0  # failed after the last retry (to the OnFailure queue, if any)


@dataclass
class _Event:
    """One asynchronous event: its retries keep the request id, as Lambda's do."""

    logical_id: str
    event: Any
    first_at: float
    counts: tuple[AsyncStats, ...]
    request_id: str | None = None  # the runtime draws it for the first run
    attempt: int = 0


class Timers:
    """Actions run ``delay`` seconds later on daemon threads; ``cancel()`` drops the pending."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()

    def later(self, delay: float, action: Callable[[], None]) -> None:
        if delay <= 0:
            action()
            return

        def run() -> None:
            try:
                action()
            except Exception:  # a timer thread has no caller to report to
                log.exception("delayed action failed")
            finally:
                # Only now: an action that sets another timer leaves no moment with none pending.
                with self._lock:
                    self._timers.discard(timer)

        timer = threading.Timer(delay, run)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    @property
    def pending(self) -> int:
        """Actions set and not yet finished."""
        with self._lock:
            return len(self._timers)

    def cancel(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()


class EventInvoker:
    """Lambda's ``Event`` invocation of the runtime's functions, with Lambda's retries.

    ``invoke`` queues the run and returns (it raises only if the runtime cannot take it). A run
    that fails is retried with its request id after ``retry_delays`` (the last one repeats;
    Lambda waits 1 then 2 minutes, tests shorten them), at most the function's
    ``EventInvokeConfig.MaximumRetryAttempts`` times and not past its
    ``MaximumEventAgeInSeconds``; then the invocation record goes to its
    ``DestinationConfig.OnFailure`` queue through ``sqs_client``. ``stats`` counts every
    event's failures; ``invoke(stats=...)`` counts an event's in a caller's stats as well.
    """

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        sqs_client: Any = None,
        *,
        retry_delays: tuple[float, ...] = LAMBDA_RETRY_DELAYS,
    ) -> None:
        self.template = template
        self.runtime = runtime
        self.sqs = sqs_client
        self.retry_delays = retry_delays
        self.stats = AsyncStats()
        self._lock = threading.Lock()
        self._timers = Timers()
        self._running = 0  # runs submitted whose outcome (retry, destination) is not yet handled

    def invoke(self, logical_id: str, event: Any, *, stats: AsyncStats | None = None) -> None:
        counts = (self.stats,) if stats is None else (self.stats, stats)
        self._run(_Event(logical_id, event, time.time(), counts))

    def shutdown(self) -> None:
        """Drop the retries not yet made."""
        self._timers.cancel()

    def idle(self) -> bool:
        """Nothing running, no retry waiting: until the next ``invoke`` nothing more will run or
        reach a destination, so a test can tell that a run that must not come did not."""
        with self._lock:
            running = self._running
        return running == 0 and self._timers.pending == 0

    def _run(self, event: _Event) -> None:
        with self._lock:
            self._running += 1
        try:
            if event.request_id is None:
                future: Any = self.runtime.submit(event.logical_id, event.event)
            else:
                future = self.runtime.submit(
                    event.logical_id, event.event, request_id=event.request_id
                )
        except BaseException:
            self._ran()
            raise
        if isinstance(future, Future):
            future.add_done_callback(lambda done: self._settled(event, done))
        else:
            self._ran()

    def _ran(self) -> None:
        with self._lock:
            self._running -= 1

    def _count(self, event: _Event, name: str) -> None:
        with self._lock:
            for stats in event.counts:
                setattr(stats, name, getattr(stats, name) + 1)

    def _settled(self, event: _Event, done: Future[Any]) -> None:
        try:
            self._after(event, done)
        finally:
            self._ran()

    def _after(self, event: _Event, done: Future[Any]) -> None:
        """What Lambda does once a run ended: nothing, a retry later, or the destination."""
        error = None if done.cancelled() else done.exception()
        if not isinstance(error, InvocationError):
            return
        self._count(event, "function_errors")
        event.request_id = error.request_id
        config = self.template.event_invoke_config(event.logical_id)
        retries = int(config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES))
        max_age = int(config.get("MaximumEventAgeInSeconds", DEFAULT_EVENT_AGE_SECONDS))
        delays = self.retry_delays or LAMBDA_RETRY_DELAYS
        delay = delays[min(event.attempt, len(delays) - 1)]
        too_old = time.time() + delay - event.first_at > max_age
        if event.attempt < retries and not too_old:
            self._count(event, "async_retries")
            event.attempt += 1
            log.info(
                "%s failed (request %s); retry %d in %.0f s",
                event.logical_id,
                event.request_id,
                event.attempt,
                delay,
            )
            self._timers.later(delay, lambda: self._run(event))
            return
        log.warning(
            "%s failed after %d attempt(s) (request %s)",
            event.logical_id,
            event.attempt + 1,
            event.request_id,
        )
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        if destination:
            condition = "EventAgeExceeded" if event.attempt < retries else "RetriesExhausted"
            record = self._failure_record(event, error, condition)
            send_to_queue(self.template, self.sqs, destination, json.dumps(record))
        self._count(event, "async_given_up")  # once it is in the queue: a reader may look

    def _failure_record(
        self, event: _Event, error: InvocationError, condition: str
    ) -> dict[str, Any]:
        """Lambda's invocation record for an asynchronous invocation given up."""
        return {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": self.template.attributes[(event.logical_id, "Arn")],
                "condition": condition,
                "approximateInvokeCount": event.attempt + 1,
            },
            "requestPayload": event.event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__},
        }


def send_to_queue(
    template: Template,
    sqs_client: Any,
    queue_arn: str,
    body: str,
    attributes: dict[str, str] | None = None,
) -> None:
    """Send to the template's SQS queue with this ARN (a destination or dead-letter queue)."""
    queues = {
        template.attributes.get((q, "Arn")): template.refs.get(q)
        for q in template.resources(SQS_QUEUE_TYPE)
    }
    url = queues.get(queue_arn)
    if not url or sqs_client is None:
        why = "no SQS client" if url else "no such queue in the template"
        log.warning("message for %s dropped: %s", queue_arn, why)
        return
    sqs_client.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()
        },
    )


# The product's packages: what a Lambda function's code is.
PRODUCT_PACKAGES = frozenset({"common", "rest", "workers", "realtime"})


def new_containers() -> None:
    """Start every function in this process afresh, as new Lambda containers would.

    The product keeps what it builds once per container (its composition roots, settings and
    default clients) in module-level ``functools.cache`` functions, and does not know that a
    process may host several stacks in turn (the tests, one stack after another): this forgets
    every one of them, so nothing bound to another stack's tables or endpoints survives.
    (``--isolation process`` needs none of this: each container is a process of its own.)
    """
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] not in PRODUCT_PACKAGES:
            continue
        seen = _CACHES.get(name)
        if seen is None or seen[0] is not module:  # new (or imported afresh) since last time
            seen = _CACHES[name] = (module, _caches_defined_in(name, module))
        for cache in seen[1]:
            cache.cache_clear()


_CACHED_FUNCTION = type(functools.cache(len))
# Per product module, the caches it defines: a module's are fixed once it is imported.
_CACHES: dict[str, tuple[ModuleType, list[Any]]] = {}


def _caches_defined_in(name: str, module: ModuleType) -> list[Any]:
    # Each cache once: in the module that defines it, not in those that import it.
    return [
        value
        for value in list(vars(module).values())
        if isinstance(value, _CACHED_FUNCTION) and value.__module__ == name
    ]
