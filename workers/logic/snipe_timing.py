"""When to send a bid so that it reaches eBay at a chosen instant of eBay's clock.

eBay's clock is only visible through the ``Date`` header of its answers, whole seconds. What the
executor needs is not the clock offset alone but the offset plus the time a request takes to
reach eBay: ``X = (eBay's clock when it handles our request) - (our clock when we sent it)``.
Send at ``target - X`` and the request is handled at ``target``.

A response sent at ``s`` (our ms) with ``Date: S`` says ``S*1000 <= s + X < (S+1)*1000``: two
thresholds on X, one below and one above. One sample pins X to a second; *edge sampling* aims the
next request so that, if the current estimate is right, eBay handles it exactly on a second
boundary: whether its Date is the second before or after tells whether X is below or above the
estimate. Request latency varies (jitter), so each answer is a noisy comparison; the estimate is
the value that contradicts the fewest answers, which converges on the mean of X, i.e. the mean
latency plus the offset. The fire instant is then ``target - X``.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common.ebay.models import ClockSample

SECOND_MS = 1000


@dataclass(frozen=True, slots=True)
class Observation:
    """``X >= threshold`` (above) or ``X < threshold`` (not above), from one answer."""

    threshold_ms: float
    above: bool


def observations(sample: ClockSample) -> tuple[Observation, Observation]:
    low = sample.server_date_seconds * SECOND_MS - sample.sent_ms
    return Observation(low, True), Observation(low + SECOND_MS, False)


def estimate_x(samples: Sequence[ClockSample]) -> float:
    """The send-to-eBay offset (ms) that contradicts the fewest samples; the middle of the
    best interval. Needs at least one sample."""
    if not samples:
        raise ValueError("no clock sample")
    obs = [o for s in samples for o in observations(s)]
    cuts = sorted({o.threshold_ms for o in obs})
    # Candidate intervals between consecutive thresholds; a point inside each decides them.
    bounds = [cuts[0] - SECOND_MS, *cuts, cuts[-1] + SECOND_MS]
    best_cost: int | None = None
    best: list[tuple[float, float]] = []
    for lower, upper in itertools.pairwise(bounds):
        point = (lower + upper) / 2
        cost = sum(1 for o in obs if (point >= o.threshold_ms) != o.above)
        if best_cost is None or cost < best_cost:
            best_cost, best = cost, [(lower, upper)]
        elif cost == best_cost:
            best.append((lower, upper))
    # Ties are contiguous in practice; take the middle of their span, within the hard bounds.
    lower = max(best[0][0], cuts[0] - SECOND_MS)
    upper = min(best[-1][1], cuts[-1] + SECOND_MS)
    return (lower + upper) / 2


def round_trip_ms(samples: Sequence[ClockSample]) -> float:
    return float(statistics.median(s.received_ms - s.sent_ms for s in samples))


def clock_offset_ms(samples: Sequence[ClockSample]) -> float:
    """eBay's clock minus ours, assuming eBay stamps an answer halfway through the round trip
    (for logs and docs: the bid timing uses :func:`estimate_x`, which needs no such guess)."""
    return estimate_x(samples) - round_trip_ms(samples) / 2


def next_edge_send_ms(x_ms: float, now_ms: float, min_ahead_ms: float = 150.0) -> float:
    """When to send so that, with ``X = x_ms``, eBay handles the request on a second boundary:
    the first boundary at least ``min_ahead_ms`` from now."""
    server_now = now_ms + x_ms + min_ahead_ms
    boundary = (server_now // SECOND_MS + 1) * SECOND_MS
    return boundary - x_ms


def wait_until(
    target_s: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Sleep until ``target_s`` (our clock, epoch s).

    No spin: on Linux ``sleep`` wakes within about 0.1 ms of its time (a high-resolution
    timer), and a spin only competes for the GIL. With 100 threads waking at one instant, as
    concurrent executors of the local stack do, a 20 ms spin made them wake 60 ms late on
    median; a plain sleep, 5 ms (docs/sniping-engine.md)."""
    for _ in range(3):  # a sleep may end early on a signal; a fake clock may not advance
        remaining = target_s - clock()
        if remaining <= 0:
            return
        sleep(remaining)


@dataclass(frozen=True, slots=True)
class ClockEstimate:
    x_ms: float  # send-to-eBay: offset + one-way latency
    offset_ms: float
    round_trip_ms: float
    samples: int

    def send_at_s(self, ebay_instant_ms: float) -> float:
        """Our epoch second at which to send a request eBay should handle at ``ebay_instant_ms``."""
        return (ebay_instant_ms - self.x_ms) / SECOND_MS

    def ebay_time_ms(self, sent_ms: float) -> float:
        """eBay's clock when it handled a request we sent at ``sent_ms``."""
        return sent_ms + self.x_ms


class ClockProbe:
    """Measures X by edge sampling through ``probe(n) -> samples`` (EbayClient.probe_clock)."""

    def __init__(
        self,
        probe: Callable[[int], Sequence[ClockSample]],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.probe = probe
        self.clock = clock
        self.sleep = sleep
        self.samples: list[ClockSample] = []

    def measure(self, edges: int, until_ebay_ms: float | None = None) -> ClockEstimate:
        """Two plain samples, then ``edges`` aimed ones (about one a second), stopping before
        eBay's clock reaches ``until_ebay_ms``. Keeps earlier samples: call again to refine."""
        if not self.samples:
            self.samples += self.probe(2)
        for _ in range(edges):
            x = estimate_x(self.samples)
            send_ms = next_edge_send_ms(x, self.clock() * SECOND_MS)
            if until_ebay_ms is not None and send_ms + x + 500 >= until_ebay_ms:
                break
            wait_until(send_ms / SECOND_MS, self.clock, self.sleep)
            self.samples += self.probe(1)
        return self.estimate()

    def estimate(self) -> ClockEstimate:
        x = estimate_x(self.samples)
        rtt = round_trip_ms(self.samples)
        return ClockEstimate(
            x_ms=x, offset_ms=x - rtt / 2, round_trip_ms=rtt, samples=len(self.samples)
        )
