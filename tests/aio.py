"""Run a coroutine to completion from a synchronous test, whatever this thread is running.

A session-scoped Playwright (sync API) keeps an event loop registered on the main thread of
the xdist worker that ran the browser tests, and ``asyncio.run`` refuses to start beside it
("cannot be called from a running event loop"). A thread of its own has no loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(1, thread_name_prefix="test-asyncio") as pool:
        return pool.submit(asyncio.run, coroutine).result()
