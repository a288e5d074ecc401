"""A Lambda handler that fails on request: ``{"key", "fail": "never" | "once" | "always"}``.

Every run is recorded (key, request id), so a test sees each delivery and retry."""

from __future__ import annotations

import threading
from typing import Any

runs: list[tuple[str, str]] = []
_lock = threading.Lock()


class Failed(Exception):
    pass


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    key = str(event["key"])
    with _lock:
        earlier = [r for r in runs if r == (key, context.aws_request_id)]
        runs.append((key, context.aws_request_id))
    if event.get("fail") == "always" or (event.get("fail") == "once" and not earlier):
        raise Failed(f"run of {key} failed on purpose")
    return {"key": key}


def runs_of(key: str) -> list[str]:
    """The request ids of ``key``'s runs, in order."""
    with _lock:
        return [request for k, request in runs if k == key]
