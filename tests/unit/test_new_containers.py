"""The local stack, not the product, starts functions afresh for each stack in one process."""

from __future__ import annotations

import pytest

from local.lambda_runtime import new_containers
from rest.composition import history_ports


def test_a_new_stack_rebuilds_the_ports_from_its_own_environment(monkeypatch: pytest.MonkeyPatch):
    # Given the history function's ports built once for one stack's tables
    monkeypatch.setenv("BID_HISTORY_TABLE", "first-stack-history")
    monkeypatch.setenv("CURSOR_SECRET_NAME", "/first/cursor-key")
    new_containers()
    first = history_ports()
    assert history_ports() is first  # once per container
    # When another stack starts in this process with other tables
    monkeypatch.setenv("BID_HISTORY_TABLE", "second-stack-history")
    new_containers()
    # Then the function builds its ports and settings again, from the new environment
    assert history_ports() is not first
    assert history_ports().settings.bid_history_table == "second-stack-history"
    new_containers()
