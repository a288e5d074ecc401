"""Snipe groups: each group's rule beside what its snipes add up to.

Reads follow what is active, not the user's history: the active snipes through the set of
their ids (``BidsRepository.active_snipes``), and each shown group's slot ledger
(common/data/group_slots.py), which counts what finished snipes the group needs: its wins (the
executor settles every group bid there) and the snipes that bid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from common.clock import Clock, now_ms
from common.data.group_slots import EMPTY_LEDGER, Ledger
from common.data.groups import GroupRule, GroupRuleEntity
from common.models import BidEntity


class GroupRules(Protocol):
    def rules(self, user_id: str) -> Mapping[str, GroupRuleEntity]: ...

    def put_rule(
        self, user_id: str, group_id: str, rule: GroupRule, now: int
    ) -> GroupRuleEntity: ...


class UserSnipes(Protocol):
    def active_snipes(self, user_id: str) -> list[BidEntity]: ...


class GroupLedgers(Protocol):
    def read_many(self, user_id: str, group_ids: Iterable[str]) -> Mapping[str, Ledger]: ...


@dataclass(frozen=True)
class CurrencyTotal:
    """What a group's active snipes in one currency add up to, in cents."""

    currency: str
    current_price: int
    max_bid: int


@dataclass(frozen=True)
class GroupSummary:
    group_id: str
    rule: GroupRule
    stored: GroupRuleEntity | None  # None: no rule stored, the default applies
    snipes: int  # active, or bid (took a slot)
    active: int
    won: int
    totals: tuple[CurrencyTotal, ...]  # by currency, over the active snipes


def list_groups(
    user_id: str, groups: GroupRules, snipes: UserSnipes, ledgers: GroupLedgers
) -> list[GroupSummary]:
    """The caller's groups that have an active snipe or a stored rule, by group id."""
    stored = groups.rules(user_id)
    members = _by_group(snipes.active_snipes(user_id))
    shown = sorted(set(stored) | set(members))
    books = ledgers.read_many(user_id, shown)
    return [
        _summary(g, stored.get(g), members.get(g, []), books.get(g, EMPTY_LEDGER)) for g in shown
    ]


def set_rule(
    user_id: str,
    group_id: str,
    rule: GroupRule,
    groups: GroupRules,
    snipes: UserSnipes,
    ledgers: GroupLedgers,
    clock: Clock,
) -> GroupSummary:
    """Store a group's rule (a group may have its rule before its first snipe) and return the
    group. The bid executor reads the rule when a snipe of the group takes its slot, so it
    applies to every bid not yet placed."""
    stored = groups.put_rule(user_id, group_id, rule, now_ms(clock))
    members = [bid for bid in snipes.active_snipes(user_id) if bid.groupId == group_id]
    ledger = ledgers.read_many(user_id, [group_id]).get(group_id, EMPTY_LEDGER)
    return _summary(group_id, stored, members, ledger)


def _by_group(bids: Iterable[BidEntity]) -> dict[str, list[BidEntity]]:
    found: dict[str, list[BidEntity]] = defaultdict(list)
    for bid in bids:
        if bid.groupId:
            found[bid.groupId].append(bid)
    return found


def _summary(
    group_id: str, stored: GroupRuleEntity | None, active: list[BidEntity], ledger: Ledger
) -> GroupSummary:
    """``active``: the group's active snipes; ``ledger``: its slots, for what has finished."""
    prices: dict[str, int] = defaultdict(int)
    maxima: dict[str, int] = defaultdict(int)
    for bid in active:
        # A snipe whose price is not known yet adds nothing to the prices.
        prices[bid.currency] += bid.currentPrice or 0
        maxima[bid.currency] += bid.maxBidAmount
    return GroupSummary(
        group_id=group_id,
        rule=stored.rule if stored else GroupRule(),
        stored=stored,
        snipes=len({bid.bidId for bid in active} | ledger.holders),
        active=len(active),
        won=ledger.won,
        totals=tuple(CurrencyTotal(c, prices[c], maxima[c]) for c in sorted(maxima)),
    )
