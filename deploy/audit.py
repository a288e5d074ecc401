"""Audit every locked dependency, run time and dev, for known vulnerabilities (make lint).

    .venv/bin/python deploy/audit.py [--require]

pip-audit looks each pinned version of uv.lock up in PyPI's JSON API, which carries the PyPA
advisory database's records (and through them OSV's); any known vulnerability fails the audit.
Where that API cannot be reached, no dependency can be looked up: this says so, loudly, and
exits 0 (2 with --require) instead of reporting "no known vulnerabilities" for packages it never
looked up; pip-audit's --strict fails a lookup that fails for one package.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What pip-audit asks for each dependency: one version's record (a project's latest-release
# record, https://pypi.org/pypi/<name>/json, is not enough).
PROBE = "https://pypi.org/pypi/pip/24.0/json"


def advisories_reachable() -> str | None:
    """None when PyPI's JSON API answers, else why not."""
    try:
        with urllib.request.urlopen(PROBE, timeout=15) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError) as exc:
        return str(getattr(exc, "reason", exc))


def main() -> int:
    require = "--require" in sys.argv[1:]
    why = advisories_reachable()
    if why is not None:
        print(
            f"NOT AUDITED: PyPI's vulnerability API ({PROBE}) cannot be reached from here ({why}); "
            "no dependency was looked up",
            file=sys.stderr,
        )
        return 2 if require else 0
    with tempfile.TemporaryDirectory() as scratch:
        pinned = Path(scratch) / "requirements.txt"
        subprocess.run(  # noqa: S603 (our own argv)
            [str(BIN / "uv"), "export", "--frozen", "--all-extras", "--no-emit-project",
             "--output-file", str(pinned)],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        return subprocess.run(  # noqa: S603 (our own argv)
            [str(BIN / "pip-audit"), "--strict", "--require-hashes", "--disable-pip",
             "--progress-spinner", "off", "--requirement", str(pinned)],
            cwd=ROOT, check=False,
        ).returncode  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
