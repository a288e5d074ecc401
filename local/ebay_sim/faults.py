"""Fault injection: latency, error statuses and hangs per endpoint, from a seeded generator.

A config counts what it drew (requests seen, each status answered, timeouts), so a chaos run can
report what it injected (``GET /_sim/faults``).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("place_proxy_bid", "get_bidding", "browse", "token", "trading", "identity", "*")
ALLOWED_STATUSES = (429, 500, 502, 503, 504)


class FaultSpecError(ValueError):
    """The admin API was sent a fault description it cannot use."""


@dataclass
class Outcome:
    delay_ms: int
    status: int | None = None
    hang_ms: int | None = None


@dataclass
class FaultConfig:
    endpoint: str
    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0
    statuses: tuple[int, ...] = (500,)
    timeout_rate: float = 0.0
    hang_ms: int = 30_000
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    # What was drawn so far, per endpoint: "calls", each status as text ("500"), "timeout".
    counts: dict[str, Counter[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultConfig:
        endpoint = body.get("endpoint", "*")
        if endpoint not in ENDPOINTS:
            raise FaultSpecError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
        statuses = tuple(body.get("statuses") or (500,))
        if not all(isinstance(s, int) and s in ALLOWED_STATUSES for s in statuses):
            raise FaultSpecError(f"statuses must be among {list(ALLOWED_STATUSES)}")
        config = cls(
            endpoint=endpoint,
            latency_ms=_int(body, "latencyMs", 0),
            jitter_ms=_int(body, "jitterMs", 0),
            error_rate=_rate(body, "errorRate"),
            statuses=statuses,
            timeout_rate=_rate(body, "timeoutRate"),
            hang_ms=_int(body, "hangMs", 30_000),
            seed=_int(body, "seed", 0),
        )
        config.rng = random.Random(config.seed)
        return config

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "latencyMs": self.latency_ms,
            "jitterMs": self.jitter_ms,
            "errorRate": self.error_rate,
            "statuses": list(self.statuses),
            "timeoutRate": self.timeout_rate,
            "hangMs": self.hang_ms,
            "seed": self.seed,
            "counts": self.counts_json(),
        }

    def counts_json(self) -> dict[str, Any]:
        """``{"calls", "500", ..., "timeout", "byEndpoint": {endpoint: {...}}}``."""
        total: Counter[str] = Counter()
        for counted in self.counts.values():
            total.update(counted)
        return {**total, "byEndpoint": {e: dict(c) for e, c in self.counts.items()}}

    def draw(self, endpoint: str | None = None) -> Outcome:
        """What happens to the next request (to ``endpoint``, for the counts); the caller
        holds the simulator's lock."""
        counted = self.counts.setdefault(endpoint or self.endpoint, Counter())
        delay = self.latency_ms + (self.rng.randint(0, self.jitter_ms) if self.jitter_ms else 0)
        roll = self.rng.random()
        counted["calls"] += 1
        if roll < self.timeout_rate:
            counted["timeout"] += 1
            return Outcome(delay, hang_ms=self.hang_ms)
        if roll < self.timeout_rate + self.error_rate:
            status = self.rng.choice(self.statuses)
            counted[str(status)] += 1
            return Outcome(delay, status=status)
        return Outcome(delay)


def _int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultSpecError(f"{key} must be a non-negative integer")
    return value


def _rate(body: dict[str, Any], key: str) -> float:
    value = body.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultSpecError(f"{key} must be a number between 0 and 1")
    return float(value)
