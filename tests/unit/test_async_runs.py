"""Synchronous tests run coroutines through tests/aio.py, never asyncio.run itself: in the xdist
worker that ran the browser tests, Playwright's sync API keeps an event loop on the main thread
and asyncio.run fails there, so such a test passes or fails by which worker it lands on."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_calls_asyncio_run_directly():
    # Given every test module but the helper / When we look for asyncio.run( / Then none has it
    offenders = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path.name != "aio.py"
        and path != Path(__file__).resolve()
        and "asyncio.run(" in path.read_text()
    ]
    assert offenders == []
