"""Lambda execution environments as worker processes, for the runtime's ``process`` isolation.

A container is a process forked from multiprocessing's fork server (which has the heavy
libraries imported once, so a new container costs a fork, not an interpreter start). It takes
the environment the stack has when the container is created, imports its handler on its first
invocation (the cold start), then serves invocations one at a time over a pipe: the event in
and the result out as JSON, as Lambda's runtime API carries them. A pool keeps the idle
containers of one function warm and creates one more whenever all are busy, so concurrency is
bounded only by the runtime's thread pool, as Lambda's by the account's concurrency.

A handler that raises reports its error type and message; the container lives on (Lambda keeps
an environment after a handler error). A handler past its Timeout, or a container that dies,
is killed and dropped; the next invocation gets a fresh one (a cold start).
"""

from __future__ import annotations

import importlib
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("local.lambda")

# Imported once in the fork server, shared copy-on-write by every container.
PRELOAD = [
    "boto3",
    "botocore.session",
    "botocore.client",
    "pydantic",
    "httpx",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.event_handler",
]

_context_lock = threading.Lock()
_context: Any = None


def _mp_context() -> Any:
    """The fork server context, set up once per process (the server starts on first use)."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


class HandlerError(Exception):
    """What a handler in a container raised, by type name and message (as Lambda reports it:
    ``errorType``, ``errorMessage``)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}" if message else error_type)
        self.error_type = error_type
        self.error_message = message


@dataclass
class Outcome:
    result: Any = None
    error: HandlerError | None = None
    cold: bool = False
    timed_out: bool = False


class _RemoteContext:
    """The context object a handler gets inside the container."""

    def __init__(self, fields: dict[str, Any], remaining_ms: int) -> None:
        self.function_name = fields["function_name"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = fields["memory_limit_in_mb"]
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = fields["log_group_name"]
        self.log_stream_name = fields["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _serve(conn: Connection, handler_path: str, environ: dict[str, str], log_disable: int) -> None:
    """A container's main loop: one invocation at a time until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the stack's to handle
    os.environ.clear()
    os.environ.update(environ)
    if log_disable:
        logging.disable(log_disable)
    handler = None
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        cold = handler is None
        try:
            if handler is None:
                module_name, _, attribute = handler_path.rpartition(".")
                handler = getattr(importlib.import_module(module_name), attribute)
            context = _RemoteContext(request["context"], request["remainingMs"])
            result = handler(request["event"], context)
        except BaseException as exc:
            logging.getLogger("local.lambda").error(
                "%s failed (request %s)\n%s",
                request["context"]["function_name"],
                request["context"]["aws_request_id"],
                traceback.format_exc(),
            )
            conn.send_bytes(_error(type(exc).__name__, str(exc), cold))
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                return
            continue
        try:
            answer = json.dumps({"result": result, "cold": cold}).encode()
        except (TypeError, ValueError) as exc:
            answer = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", cold)
        conn.send_bytes(answer)


def _error(error_type: str, message: str, cold: bool) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message, "cold": cold}).encode()


class Container:
    """One execution environment: a worker process and the pipe to it."""

    def __init__(self, handler_path: str) -> None:
        context = _mp_context()
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(child, handler_path, dict(os.environ), logging.root.manager.disable),
            daemon=True,
        )
        self.process.start()
        child.close()

    def invoke(self, event: Any, fields: dict[str, Any], remaining_ms: int) -> Outcome:
        request = {"event": event, "context": fields, "remainingMs": remaining_ms}
        self.conn.send_bytes(json.dumps(request).encode())
        if not self.conn.poll(remaining_ms / 1000):
            self.kill()
            return Outcome(timed_out=True)
        try:
            answer = json.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            self.kill()
            return Outcome(error=HandlerError("Runtime.ExitError", "the container exited"))
        if "errorType" in answer:
            return Outcome(
                error=HandlerError(answer["errorType"], answer["errorMessage"]),
                cold=answer["cold"],
            )
        return Outcome(result=answer["result"], cold=answer["cold"])

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        self.conn.close()  # the container's recv ends: it returns
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


class ContainerPool:
    """The warm containers of one function; a new one whenever every one is busy."""

    def __init__(self, logical_id: str, handler_path: str) -> None:
        self.logical_id = logical_id
        self.handler_path = handler_path
        self._idle: list[Container] = []
        self._all: list[Container] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._all)

    def invoke(self, event: Any, fields: dict[str, Any], remaining_ms: int) -> Outcome:
        container = self._acquire()
        try:
            outcome = container.invoke(event, fields, remaining_ms)
        except BaseException:
            container.kill()
            self._drop(container)
            raise
        if container.alive and not outcome.timed_out:
            self._release(container)
        else:
            container.kill()
            self._drop(container)
        return outcome

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            containers, self._all, self._idle = self._all, [], []
        for container in containers:
            container.stop()

    def _acquire(self) -> Container:
        with self._lock:
            if self._closed:
                raise RuntimeError("the Lambda runtime is shut down")
            while self._idle:
                container = self._idle.pop()
                if container.alive:
                    return container
                self._all.remove(container)
        container = Container(self.handler_path)  # outside the lock: a fork takes a while
        with self._lock:
            self._all.append(container)
        return container

    def _release(self, container: Container) -> None:
        with self._lock:
            if self._closed:
                stop = True
            else:
                self._idle.append(container)
                stop = False
        if stop:
            container.stop()

    def _drop(self, container: Container) -> None:
        with self._lock:
            if container in self._all:
                self._all.remove(container)
