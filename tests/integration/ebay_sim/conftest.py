"""A running eBay simulator per test, with an HTTP client for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sim_http_helpers import SimEnv

from local.ebay_sim.testing import running_simulator


@pytest.fixture
def sim_env() -> Iterator[SimEnv]:
    """A fresh simulator (bots off) on a free port, with an HTTP client that never redirects."""
    with (
        running_simulator() as (sim, base_url),
        httpx.Client(base_url=base_url, follow_redirects=False, timeout=5) as client,
    ):
        yield SimEnv(sim, base_url, client)
