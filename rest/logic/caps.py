"""The per-user cap on active snipes (MAX_ACTIVE_SNIPES_PER_USER), as POST /bids applies it.

Exact: the count is a set of bid ids written in the same transaction as the snipe, on the
condition that it holds fewer than the cap (common/data/active_snipes.py). The check before the
eBay look-up only spares a refused request its Browse call; the transaction decides.

A refusal answers 429 with Retry-After: the seconds until the soonest of the user's active
snipes ends and its outcome is recorded, when a slot frees by itself (cancelling one frees a
slot at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from common.clock import Clock
from common.errors import FieldIssue, TooManyActiveSnipes
from common.models import BidEntity, HistoryEntity

# From an auction's end until its snipe has left the active statuses: the executor learns the
# outcome a few seconds after the end, or asks again a minute later.
OUTCOME_SECONDS = 60
# When the soonest end has passed and its outcome is still unknown, ask again after this.
MIN_RETRY_AFTER = 30
UNKNOWN_RETRY_AFTER = 3600


class ActiveCount(Protocol):
    """common.data.active_snipes.ActiveSnipes."""

    def count(self, user_id: str) -> int: ...

    def soonest_end(self, user_id: str, now: int) -> int | None: ...


class SnipeStore(Protocol):
    """common.data.bids.BidsRepository."""

    def create(
        self,
        bid: BidEntity,
        history: HistoryEntity,
        max_active: int | None = None,
        *,
        replaces: str | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class ActiveSnipeCap:
    counter: ActiveCount
    max_active: int


def check_room(user_id: str, cap: ActiveSnipeCap, clock: Clock) -> None:
    """TooManyActiveSnipes (with its Retry-After) if the user is at the cap already."""
    if cap.counter.count(user_id) >= cap.max_active:
        raise at_cap(user_id, cap, clock)


def at_cap(user_id: str, cap: ActiveSnipeCap, clock: Clock) -> TooManyActiveSnipes:
    now = int(clock())
    soonest = cap.counter.soonest_end(user_id, now)
    retry_after = UNKNOWN_RETRY_AFTER if soonest is None else soonest + OUTCOME_SECONDS - now
    return TooManyActiveSnipes(
        f"You have {cap.max_active} active snipes, the most one account may have; cancel one "
        "or wait until one of their auctions ends",
        [FieldIssue("ebayItemId", f"at most {cap.max_active} active snipes")],
        retry_after=max(MIN_RETRY_AFTER, retry_after),
    )


def create_counted(
    bids: SnipeStore,
    bid: BidEntity,
    history: HistoryEntity,
    cap: ActiveSnipeCap,
    clock: Clock,
    replaces: str | None = None,
) -> None:
    """Store ``bid``, counted among its owner's active snipes: at most ``cap.max_active``, or
    TooManyActiveSnipes with its Retry-After. ``replaces``: the withdrawn snipe whose
    Idempotency-Key this one takes over (common.data.bids.BidsRepository.create)."""
    try:
        bids.create(bid, history, max_active=cap.max_active, replaces=replaces)
    except TooManyActiveSnipes as exc:
        raise at_cap(bid.userId, cap, clock) from exc
