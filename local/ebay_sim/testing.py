"""Run the simulator on a background thread for tests.

``with running_simulator() as (sim, base_url): ...``
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from aiohttp import web

from local.ebay_sim.config import SimConfig
from local.ebay_sim.server import start_simulator
from local.ebay_sim.simulator import Simulator

TEST_CONFIG = SimConfig(
    client_id="SimSnipe-Sniper-SBX-0a1b2c3d4-e5f6a7b8",
    client_secret="SBX-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b",
    ru_name="Sim_Sniper-SimSnipe-Sniper-abcdefgh",
    accept_url="http://127.0.0.1/ebay/accept",
    decline_url="http://127.0.0.1/ebay/decline",
    bots=False,
)

_START_TIMEOUT_SECONDS = 10


@contextmanager
def running_simulator(config: SimConfig | None = None) -> Iterator[tuple[Simulator, str]]:
    """Start a simulator on a free port in its own thread and event loop; stop it on exit.

    Without a config it uses ``TEST_CONFIG`` (bots off, so auctions are deterministic).
    """
    sim = Simulator(config or TEST_CONFIG)
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
