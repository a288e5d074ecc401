"""A process's CPU time, read from /proc (Linux): the figure the benchmarks report per unit of
work, since it does not move with what else the machine runs."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int | str) -> float | None:
    """User + system CPU of process ``pid`` so far; None once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
