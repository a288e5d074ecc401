"""In-memory stand-ins for the reconciler's ports (workers/logic/reconcile.py).

``FakeActiveSnipes`` and ``FakeMarks`` implement the interfaces of
``common.data.reconcile.ActiveSnipePages`` and ``ReconcileMarks``;
``tests/integration/workers/test_reconcile_contract.py`` runs one contract against both, so
the fakes cannot drift from DynamoDB's behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.data.reconcile import ReconcileMark
from common.errors import RetryableError
from common.models import BidEntity, BidStatus

NOW = 1_900_000_000


def snipe(bid_id: str = "b1", **fields: Any) -> BidEntity:
    data: dict[str, Any] = {
        "userId": "u1",
        "bidId": bid_id,
        "ebayItemId": "110000000001",
        "itemId": "v1|110000000001|0",
        "maxBidAmount": 5000,
        "currency": "USD",
        "leadSeconds": 6,
        "status": BidStatus.PENDING,
        "auctionEndTime": NOW + 3600,
        "itemTitle": "Leica M3",
        "createdAt": 1,
        "updatedAt": 1,
    }
    data.update(fields)
    return BidEntity(**data)


@dataclass
class FakeActiveSnipes:
    """The ActiveByEndTime index: active snipes only, by auction end, pages of ``limit``."""

    bids: list[BidEntity] = field(default_factory=list)
    queries: list[tuple[int, int]] = field(default_factory=list)

    def ending_between(
        self, start: int, end: int, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[BidEntity], dict[str, Any] | None]:
        self.queries.append((start, end))
        found = sorted(
            (b for b in self.bids if b.status.is_active and start <= b.auctionEndTime <= end),
            key=lambda b: (b.auctionEndTime, b.bidId),
        )
        offset = int(start_key["offset"]) if start_key else 0
        page = found[offset : offset + limit]
        # As DynamoDB: a full page carries a key to go on from, even if nothing follows.
        more = len(page) == limit
        return page, ({"offset": offset + limit} if more else None)


@dataclass
class FakeMarks:
    """The reconciler's marks, with the same condition: stored only over what was read."""

    marks: dict[tuple[str, str], ReconcileMark] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    # Called once, inside the next get(), before it answers: lets a test make runs meet.
    on_next_get: Callable[[], None] | None = None

    def get(self, bid_id: str, kind: str) -> ReconcileMark | None:
        found = self.marks.get((bid_id, kind))
        if self.on_next_get is not None:
            hook, self.on_next_get = self.on_next_get, None
            hook()
        return found

    def record(
        self,
        bid: BidEntity,
        kind: str,
        previous: ReconcileMark | None,
        mark: ReconcileMark,
        expires_at: int,
    ) -> bool:
        stored = self.marks.get((bid.bidId, kind))
        if (stored is None) != (previous is None):
            return False
        if stored is not None and previous is not None and stored.attempts != previous.attempts:
            return False
        self.marks[(bid.bidId, kind)] = mark
        self.owners[(bid.bidId, kind)] = bid.userId
        return True


@dataclass
class FakeExecutor:
    woken: list[tuple[str, str]] = field(default_factory=list)
    failing: bool = False

    def wake(self, user_id: str, bid_id: str) -> None:
        if self.failing:
            raise RetryableError("Lambda could not be reached")
        self.woken.append((user_id, bid_id))


@dataclass
class FakeClock:
    """Time as a test sets it; ``step`` seconds pass on every reading."""

    now: float = NOW
    step: float = 0.0

    def __call__(self) -> float:
        current = self.now
        self.now += self.step
        return current
