"""Cold-start cost of every handler in template.yaml: its module's import time.

For each function the module is imported in a fresh interpreter (the Lambda init phase), several
times; the median is printed beside a bare `import boto3` measured in the same run, as a ratio.
Goal: every handler's init at most 2.5x a bare boto3 import.

    .venv/bin/python bench/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.template import load_yaml  # noqa: E402

GOAL_RATIO = 2.5
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def handler_modules() -> dict[str, str]:
    template = load_yaml(ROOT / "template.yaml")
    modules = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            handler = resource["Properties"]["Handler"]
            modules[logical_id] = handler.rsplit(".", 1)[0]
    return modules


def import_seconds(module: str, runs: int) -> float:
    env = {
        **os.environ,
        # What the template sets; import must not need more (no network at import time).
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        "PYTHONDONTWRITEBYTECODE": "0",
    }
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=env,
        ).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    baseline = import_seconds("boto3", args.runs)
    print(f"bare `import boto3`: {baseline * 1000:.1f} ms (median of {args.runs})")
    print(f"{'function':<28}{'module':<28}{'init ms':>9}{'ratio':>8}  goal <= {GOAL_RATIO}x")
    worst = 0.0
    for logical_id, module in sorted(handler_modules().items()):
        seconds = import_seconds(module, args.runs)
        ratio = seconds / baseline
        worst = max(worst, ratio)
        flag = "ok" if ratio <= GOAL_RATIO else "OVER"
        print(f"{logical_id:<28}{module:<28}{seconds * 1000:>9.1f}{ratio:>7.2f}x  {flag}")
    print(f"worst ratio: {worst:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
