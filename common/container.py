"""Per-container singletons: adapters and clients built once per Lambda container, on first use.

``per_container`` is ``functools.cache`` that also registers the factory, so a process hosting
several "containers" in turn (the local stack, the test suite) can start them afresh with
``reset()`` instead of keeping clients bound to another stack's tables and endpoints.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_FACTORIES: list[Any] = []


def per_container(factory: F) -> F:
    cached = functools.cache(factory)
    _FACTORIES.append(cached)
    return cached  # type: ignore[return-value]


def reset() -> None:
    """Forget every adapter built so far; the next use builds it from the current environment."""
    for cached in _FACTORIES:
        cached.cache_clear()
