"""The in-memory repositories (tests/memory.py) have every method of the port they stand in
for, with the same parameters: tests are not type-checked, so this holds them to
common/data/ports.py as mypy holds the DynamoDB repositories. What the methods do is the
contract suite's (tests/integration/data/test_repository_contract.py)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from common import price_polls
from common.data import ports
from tests import memory

PAIRS = [
    (ports.BidStore, memory.MemoryBids),
    (ports.UserStore, memory.MemoryUsers),
    (ports.HistoryStore, memory.MemoryHistory),
    (ports.ConnectionStore, memory.MemoryConnections),
    (ports.GroupStore, memory.MemoryGroups),
    (ports.SlotLedger, memory.MemorySlots),
    (ports.EbayLinkStore, memory.MemoryEbayLinks),
    (ports.DeletionNoticeStore, memory.MemoryEbayDeletions),
    (price_polls.RefreshClaims, memory.MemoryRefreshClaims),
]


def _shape(function: Any) -> list[tuple[str, Any, bool]]:
    """Each parameter's name, kind and whether it has a default, ``self`` left out."""
    parameters = list(inspect.signature(function).parameters.values())[1:]
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in parameters]


def _members(port: type) -> list[str]:
    return sorted(
        name for name, value in vars(port).items() if callable(value) and not name.startswith("_")
    )


@pytest.mark.parametrize(("port", "fake"), PAIRS, ids=[p.__name__ for p, _ in PAIRS])
def test_each_in_memory_repository_has_its_ports_methods_with_the_same_parameters(port, fake):
    # Given a port and the in-memory repository standing in for it
    # When their methods are compared
    missing = [name for name in _members(port) if not hasattr(fake, name)]
    different = [
        name
        for name in _members(port)
        if hasattr(fake, name) and _shape(getattr(port, name)) != _shape(getattr(fake, name))
    ]
    # Then the fake has every one, each taking what the port takes
    assert missing == []
    assert different == []
    assert _members(port)  # a port without methods would make this test pass for nothing
