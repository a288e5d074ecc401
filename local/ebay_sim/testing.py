"""Run the simulator on a background thread for tests, and a clock that tests move.

``with running_simulator() as (sim, base_url): ...``; ``running_simulator(clock=clock.ms)`` runs
it on a :class:`SteppedClock`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from aiohttp import web

from local.ebay_sim.config import SimConfig
from local.ebay_sim.server import start_simulator
from local.ebay_sim.simulator import SimClock, Simulator

TEST_CONFIG = SimConfig(
    client_id="SimSnipe-Sniper-SBX-0a1b2c3d4-e5f6a7b8",
    client_secret="SBX-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b",
    ru_name="Sim_Sniper-SimSnipe-Sniper-abcdefgh",
    accept_url="http://127.0.0.1/ebay/accept",
    decline_url="http://127.0.0.1/ebay/decline",
    bots=False,
)

_START_TIMEOUT_SECONDS = 10


class SteppedClock:
    """Real time plus an offset that only the test moves forward, in epoch seconds like
    ``time.time``.

    One clock for the simulator (``ms``, its time source) and for the code under test (the
    instance itself, and ``sleep``): when the test moves it past an auction's end, eBay and the
    code see the auction ended at once, without anyone waiting for it. Real time still flows, so
    code that measures real durations (timeouts, round trips) keeps working.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def ms(self) -> int:
        return int(self() * 1000)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += max(0.0, seconds)

    def advance_to(self, instant: float) -> None:
        """Move to epoch second ``instant`` (never back)."""
        self.advance(instant - self())

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` for the code under test: time passes, nobody waits."""
        self.advance(seconds)


@contextmanager
def running_simulator(
    config: SimConfig | None = None, clock: SimClock | None = None
) -> Iterator[tuple[Simulator, str]]:
    """Start a simulator on a free port in its own thread and event loop; stop it on exit.

    Without a config it uses ``TEST_CONFIG`` (bots off, so auctions are deterministic); without
    a clock, real time.
    """
    sim = (
        Simulator(config or TEST_CONFIG)
        if clock is None
        else Simulator(config or TEST_CONFIG, clock)
    )
    loop = asyncio.new_event_loop()
    started: Future[tuple[web.AppRunner, str]] = Future()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            started.set_result(loop.run_until_complete(start_simulator(sim)))
        except Exception as exc:
            started.set_exception(exc)
            loop.close()
            return
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=serve, name="ebay-sim", daemon=True)
    thread.start()
    runner, base_url = started.result(timeout=_START_TIMEOUT_SECONDS)
    try:
        yield sim, base_url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
