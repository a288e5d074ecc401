"""Every benchmark starts: its imports resolve and it prints its usage.

The benches run by hand and in ``make bench``, not in ``make test``, so a module a bench imports
but git never tracked went unnoticed once (bench/procstat.py). ``--help`` imports the whole
bench and exits before any work.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Benches with a command line; the rest of bench/ is modules they import (procstat, chaos_*) or
# a process one of them starts (lambda_container, which reads invocations on stdin).
BENCHES = sorted(p for p in (ROOT / "bench").glob("*.py") if "argparse" in p.read_text())


def test_the_benches_are_found():
    assert len(BENCHES) >= 10


@pytest.mark.parametrize("bench", BENCHES, ids=lambda p: p.name)
def test_a_bench_starts_and_prints_its_usage(bench: Path):
    # Given a bench; When it is asked for its usage
    done = subprocess.run(
        [sys.executable, str(bench), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then it imported everything it needs and printed its usage
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
