"""Waiting for a condition another thread or process brings about: a bounded poll, never a wait
for time to pass (a test that needs time to pass moves a clock)."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_INTERVAL_SECONDS = 0.05


def eventually(
    check: Callable[[], object], seconds: float = 10.0, interval: float = POLL_INTERVAL_SECONDS
) -> bool:
    """Whether ``check()`` came true within ``seconds``, asked every ``interval`` seconds until
    it did."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)  # between two looks at the condition, not a wait for time
    return True
