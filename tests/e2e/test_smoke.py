"""`sniper smoke`: one whole snipe through the local stack, as it runs against a deployed one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.cli import main
from local.testing import RunningStack, running_stack


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    with running_stack(aws_endpoint_url=aws_endpoint) as stack:
        yield stack


def test_smoke_signs_in_links_snipes_and_reports_the_outcome(
    running: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack, its demo user not linked to eBay yet, and an auction the command
    # creates on the simulator ending 25 s later (real time: the executor fires on the clock)
    # When the smoke test runs against it
    code = main(["smoke", "--stack", running.base_url, "--ends-in", "25", "--timeout", "120"])
    out = capsys.readouterr().out
    # Then the snipe was placed before the end and its outcome came over the WebSocket
    assert code == 0, out
    assert "ms before the end" in out
    assert any(outcome in out for outcome in ("WON", "LOST"))
    for step in ("sign in", "eBay linked", "create snipe", "placed (after create)"):
        assert step in out


def test_smoke_without_a_stack_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", "--stack", "http://127.0.0.1:9", "--timeout", "5"])
    assert code == 4
    assert "sniper smoke:" in capsys.readouterr().err
