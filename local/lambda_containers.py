"""Lambda execution environments as worker processes, for the runtime's ``process`` isolation.

Each function gets a *zygote*: a fresh interpreter (``python -m local.lambda_containers``)
started with the environment the stack has at the function's first invocation, which imports
the function's handler module once (Lambda's init phase). Every container is then an
``os.fork()`` of the zygote: it starts in milliseconds with the code loaded, and everything the
handler builds on first use (clients, caches: the composition roots) is its own, as in a new
Lambda execution environment. A container serves invocations one at a time over a socket: the
event in and the result out as JSON, as Lambda's runtime API carries them. A pool keeps the idle
containers of one function warm and forks one more whenever all are busy, so concurrency is
bounded only by the runtime's thread pool, as Lambda's by the account's concurrency.

A handler that raises reports its error type and message; the container lives on (Lambda keeps
an environment after a handler error). A handler past its Timeout, or a container that dies,
is killed and dropped; the next invocation gets a fresh one. The first invocation of each
container counts as a cold start.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any


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


def _serve(conn: Connection, handler: Any) -> None:
    """A container's main loop: one invocation at a time until the socket closes."""
    cold = True
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        try:
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
            cold = False
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                return
            continue
        try:
            answer = json.dumps({"result": result, "cold": cold}).encode()
        except (TypeError, ValueError) as exc:
            answer = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", cold)
        conn.send_bytes(answer)
        cold = False


def _error(error_type: str, message: str, cold: bool) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message, "cold": cold}).encode()


class Container:
    """One execution environment: a process forked by the zygote, and the socket to it."""

    def __init__(self, pid: int, conn: Connection) -> None:
        self.pid = pid
        self.conn = conn
        self._dead = False

    def invoke(self, event: Any, fields: dict[str, Any], remaining_ms: int) -> Outcome:
        request = {"event": event, "context": fields, "remainingMs": remaining_ms}
        try:
            self.conn.send_bytes(json.dumps(request).encode())
            if not self.conn.poll(remaining_ms / 1000):
                self.kill()
                return Outcome(timed_out=True)
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
        if not self._dead:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self._dead = True
        return not self._dead

    def kill(self) -> None:
        self._dead = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.conn.close()

    def stop(self) -> None:
        """Close the socket: the container's loop ends and it exits."""
        self._dead = True
        self.conn.close()


class Zygote:
    """The process that imported a function's handler and forks its containers."""

    def __init__(self, handler_path: str) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
            [
                sys.executable,
                "-m",
                "local.lambda_containers",
                handler_path,
                "--fd",
                str(theirs.fileno()),
                "--log-disable",
                str(logging.root.manager.disable),
            ],
            pass_fds=[theirs.fileno()],
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.control = ours
        self._lock = threading.Lock()
        ready = self.control.recv(64)
        if ready != b"ready":
            self.stop()
            raise RuntimeError(f"{handler_path}: the function's init failed ({ready!r})")

    def fork(self) -> Container:
        with self._lock:
            self.control.sendall(b"F")
            message, fds, _flags, _address = socket.recv_fds(self.control, 64, 1)
        if not fds:
            raise RuntimeError("the zygote did not fork a container")
        return Container(int(message), Connection(fds[0]))

    def stop(self) -> None:
        self.control.close()  # its loop ends on EOF
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class ContainerPool:
    """The warm containers of one function; a new one whenever every one is busy."""

    def __init__(self, logical_id: str, handler_path: str) -> None:
        self.logical_id = logical_id
        self.handler_path = handler_path
        self._zygote: Zygote | None = None
        self._idle: list[Container] = []
        self._all: list[Container] = []
        self._lock = threading.Lock()
        self._zygote_lock = threading.Lock()
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
            container.kill()
        with self._zygote_lock:
            if self._zygote is not None:
                self._zygote.stop()
                self._zygote = None

    def _acquire(self) -> Container:
        with self._lock:
            if self._closed:
                raise RuntimeError("the Lambda runtime is shut down")
            while self._idle:
                container = self._idle.pop()
                if container.alive:
                    return container
                self._all.remove(container)
        with self._zygote_lock:
            if self._zygote is None:
                self._zygote = Zygote(self.handler_path)
            container = self._zygote.fork()
        with self._lock:
            self._all.append(container)
        return container

    def _release(self, container: Container) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(container)
                return
        container.stop()

    def _drop(self, container: Container) -> None:
        with self._lock:
            if container in self._all:
                self._all.remove(container)


# The AWS services the template's functions call: their botocore models are loaded once in the
# zygote (as in an init snapshot), not once per container. Each container still builds its own
# clients (its composition root's), from its own copy of the session. httpx too is imported here:
# the product imports it on first use (``common.ebay.transport``), and in a dev install it drags
# in its command line's rich and click, ~0.1 s a container.
WARM_SERVICES = ("dynamodb", "lambda", "scheduler", "kms", "ssm", "sqs")


def _warm_sdk() -> None:
    try:
        import boto3
        import httpx  # noqa: F401

        for service in WARM_SERVICES:
            boto3.client(service)  # type: ignore[call-overload]
    except Exception:  # a warm-up only: each container builds what it needs anyway
        logging.getLogger("local.lambda").debug("SDK warm-up skipped", exc_info=True)


def _zygote_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.lambda_containers")
    parser.add_argument("handler")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--log-disable", type=int, default=0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the stack's to handle
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # containers are reaped as they exit
    if args.log_disable:
        logging.disable(args.log_disable)
    control = socket.socket(fileno=args.fd)
    module_name, _, attribute = args.handler.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except BaseException as exc:
        traceback.print_exc()
        control.sendall(f"init failed: {type(exc).__name__}".encode()[:64])
        return
    _warm_sdk()
    # What the zygote built stays shared with its containers: the collector would otherwise
    # write to every object's header on its first pass in each container, copying the pages.
    gc.freeze()
    control.sendall(b"ready")
    while control.recv(1) == b"F":
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the container
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            control.close()
            ours.close()
            try:
                _serve(Connection(theirs.detach()), handler)
            finally:
                os._exit(0)
        theirs.close()
        socket.send_fds(control, [str(pid).encode()], [ours.fileno()])
        ours.close()


if __name__ == "__main__":
    _zygote_main()
