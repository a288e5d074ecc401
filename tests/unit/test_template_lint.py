"""The SAM template passes cfn-lint with nothing reported."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cfn_lint_reports_nothing():
    # Given cfn-lint from this environment (a dev dependency)
    executable = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    # When it lints the template
    result = subprocess.run(
        [executable, str(ROOT / "template.yaml")], capture_output=True, text=True, check=False
    )
    # Then it finds nothing at all: no errors, no warnings, no informational notes
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
