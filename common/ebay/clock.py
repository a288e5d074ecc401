"""eBay's clock: samples of its ``Date`` header with our send/receive instants. Every response
leaves one (``Transport.recent_clock_samples``); :func:`probe_clock` asks for more."""

from __future__ import annotations

import httpx
from aws_lambda_powertools import Logger

from common.ebay.browse import BROWSE_PATH
from common.ebay.errors import EbayUnavailable
from common.ebay.models import ClockSample
from common.ebay.transport import Request, Transport

logger = Logger(child=True)


def probe_clock(
    transport: Transport, n: int = 5, *, interval_s: float = 0.0, deadline: float | None = None
) -> list[ClockSample]:
    """Sample eBay's clock ``n`` times with a cheap, token-less Browse request.

    eBay answers 401 at its gateway without counting a call; only the ``Date`` matters.
    Spread the samples (``interval_s``) to catch a second boundary for a finer estimate.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    request = Request(
        operation="probe_clock",
        method="GET",
        url=f"{transport.config.api_base_url}{BROWSE_PATH}/get_item_by_legacy_id",
        headers={"X-EBAY-C-MARKETPLACE-ID": transport.config.marketplace_id},
        params={"legacy_item_id": "0"},
    )
    samples: list[ClockSample] = []
    failures = 0
    for index in range(n):
        if index and interval_s > 0:
            if deadline is not None and transport.clock() + interval_s >= deadline:
                break
            transport.sleep(interval_s)
        if deadline is not None and transport.clock() >= deadline:
            break
        try:
            exchange = transport.attempt(request, transport.timeout(None, deadline))
        except httpx.TransportError as exc:
            failures += 1
            logger.warning("ebay clock probe failed", reason=type(exc).__name__)
            continue
        if exchange.sample is not None:
            samples.append(exchange.sample)
    if not samples:
        raise EbayUnavailable(
            f"no clock sample from eBay ({failures} failed probes)", maybe_processed=False
        )
    return samples
