"""Schemathesis against the local stack's OpenAPI document with a large budget.

    .venv/bin/python bench/fuzz_api.py [--examples 300] [--seed 20260808]

Starts the local stack (its own moto), signs a user up, links a simulated eBay account, watches
two auctions and snipes them, then runs every operation of /openapi.json: schemathesis'
coverage phase (boundaries, undeclared methods and content types) and EXAMPLES schema-valid and
EXAMPLES schema-invalid requests each, every response judged by every check schemathesis has
(tests/integration/hostile/fuzzing.py). `make test` runs the same with 25 examples per mode
(tests/integration/hostile/test_fuzz_openapi.py). Prints the operations, the examples run, the
status codes seen and every distinct failure; exits 1 if there was one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.testing import link_ebay_account, running_stack  # noqa: E402
from tests.integration.hostile.fuzzing import SEED, all_checks, fuzz_all  # noqa: E402
from tests.integration.hostile.hostile_helpers import api, new_auction, sign_up  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=300, help="per operation and mode")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    logging.disable(logging.INFO)

    with running_stack() as running:
        user = sign_up(running, "bench-fuzz")
        ebay_user = f"benchfuzz_{user.sub[:8]}"
        auctions = [new_auction(running, watchedBy=[ebay_user], bots=False) for _ in range(2)]
        with api(running) as http:
            link_ebay_account(http, user.headers, ebay_user)
            bid_ids = [
                http.post(
                    "/bids",
                    headers=user.headers,
                    json={"ebayItemId": a["legacyItemId"], "maxBidAmount": 5000},
                ).json()["bidId"]
                for a in auctions
            ]
        known = {
            "bidId": bid_ids,
            "itemId": [a["legacyItemId"] for a in auctions] + [a["itemId"] for a in auctions],
        }
        report = fuzz_all(
            running.base_url,
            user.headers,
            max_examples=args.examples,
            seed=args.seed,
            known_path_values=known,
        )
        httpx.get(f"{running.base_url}/local/info", timeout=10).raise_for_status()

    print(f"schemathesis against /openapi.json, seed {args.seed}, {args.examples} per mode")
    print(f"{'operation':<34} {'examples':>8} {'failures':>8}  statuses")
    statuses: Counter[int] = Counter()
    for result in report.results:
        statuses.update(result.statuses)
        seen = " ".join(f"{code}x{n}" for code, n in sorted(result.statuses.items()))
        print(f"{result.label:<34} {result.examples:>8} {len(result.failures):>8}  {seen}")
    print(
        f"\nchecks {len(all_checks())} (all), operations {len(report.results)}, "
        f"examples {report.examples}, failures {report.failures}, 5xx {report.server_errors}, "
        f"valid but refused for what no schema states {report.unstatable}, "
        f"{report.seconds:.0f} s"
    )
    for result in report.results:
        for (mode, title), text in result.failures.items():
            print(f"\n=== {result.label} [{mode}] {title}\n{text}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
