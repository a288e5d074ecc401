"""Time and identifiers. Injected as plain callables so tests control them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

Clock = Callable[[], float]


def now_ms(clock: Clock = time.time) -> int:
    return int(clock() * 1000)


def new_id(clock: Clock = time.time) -> str:
    """A time-sortable id: 13-digit epoch milliseconds, then 10 random hex digits."""
    return f"{now_ms(clock):013d}{secrets.token_hex(5)}"
