"""Tiny Lambda handlers for the gateway tests: they show what the gateway hands a function."""

from __future__ import annotations

import base64
import time
from typing import Any


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-seen": "yes"},
        "cookies": ["a=1; Path=/", "b=2; Path=/"],
        "body": __import__("json").dumps(
            {
                "event": event,
                "context": {
                    "function_name": context.function_name,
                    "function_version": context.function_version,
                    "invoked_function_arn": context.invoked_function_arn,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "aws_request_id": context.aws_request_id,
                    "log_group_name": context.log_group_name,
                    "remaining": context.get_remaining_time_in_millis(),
                },
            }
        ),
    }


def plain(event: dict[str, Any], context: Any) -> Any:
    return {"hello": "world"}


def binary(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/octet-stream"},
        "isBase64Encoded": True,
        "body": base64.b64encode(b"\x00\x01\x02").decode(),
    }


def boom(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("secret internals that must not leak")


def slow(event: dict[str, Any], context: Any) -> Any:
    # Real time, on purpose: it must outlast its 1 s Timeout, which the runtime enforces on the
    # wall clock as Lambda does.
    time.sleep(1.5)
    return {"statusCode": 200, "body": "late"}


_served = 0


def whoami(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Which container served this (process id) and how many it has served: module state."""
    global _served
    _served += 1
    # Real time, on purpose: a busy container makes the runtime start another for a concurrent call.
    time.sleep(float(event.get("sleep", 0)))
    return {"pid": __import__("os").getpid(), "served": _served}


def unmarshalable(event: dict[str, Any], context: Any) -> Any:
    return {"a", "set"}


_in_flight = 0
_most_in_flight = 0


def counted(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """How many invocations of this function were running at once, at most."""
    global _in_flight, _most_in_flight
    _in_flight += 1
    _most_in_flight = max(_most_in_flight, _in_flight)
    time.sleep(0.2)  # real time, on purpose: a run long enough for concurrent ones to overlap it
    _in_flight -= 1
    return {"statusCode": 200, "body": str(_most_in_flight)}
