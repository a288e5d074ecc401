"""rest/logic/groups.py on the in-memory repositories: a group's rule beside what its active
snipes add up to and what its slot ledger says has finished."""

from __future__ import annotations

from common.data.groups import GroupMode, GroupRule
from rest.logic.groups import CurrencyTotal, list_groups, set_rule
from tests.memory import MemoryStores, add_snipe

NOW = 1_900_000_000.0
END = int(NOW) + 600
CREATED = int(NOW * 1000)
USER = "u1"


def test_groups_show_their_rule_active_snipes_totals_and_wins():
    # Given a group with two active snipes and a won one, and a rule stored for an empty group
    stores = MemoryStores()
    for bid_id in ("b1", "b2"):
        add_snipe(stores, bid_id, end=END, group="cams", created_at=CREATED)
    stores.slots.take(USER, "cams", "b0", 2, contingency=False)
    stores.slots.settle(USER, "cams", "b0", won=True)
    contingent = GroupRule(mode=GroupMode.CONTINGENCY, limit=3)
    set_rule(USER, "lenses", contingent, stores.groups, stores.bids, stores.slots, lambda: NOW)
    # When the user's groups are listed
    cams, lenses = list_groups(USER, stores.groups, stores.bids, stores.slots)
    # Then the snipes' group has the default rule, two active of three, one won, and its
    # maxima added up by currency; the other shows its stored rule and nothing else
    assert (cams.group_id, cams.rule, cams.stored) == ("cams", GroupRule(), None)
    assert (cams.snipes, cams.active, cams.won) == (3, 2, 1)
    assert cams.totals == (CurrencyTotal("USD", 0, 10_000),)
    assert (lenses.group_id, lenses.rule, lenses.snipes, lenses.totals) == (
        "lenses",
        contingent,
        0,
        (),
    )
