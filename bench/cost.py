"""What AWS would bill for a snipe workload, counted on the local stack.

    .venv/bin/python bench/cost.py [--users 10] [--snipes-per-user 5]

USERS users sign up, link eBay and each create SNIPES-PER-USER snipes on auctions ending
within a minute; the stack's scheduler, executors, broadcaster, notifier and price updater run
as they would on AWS. Counted while it runs: every Lambda invocation and its billed duration
(local/lambda_runtime.py), every AWS request the functions make (botocore's
before-parameter-build hook on the default session: DynamoDB items read and written,
Scheduler, Secrets Manager, KMS, Lambda
Invoke, @connections posts). Priced at the template's MemorySize and the unit prices below.

Three figures cannot come from a local run, and are modelled (each printed beside the result):
- the executor's wait: on AWS it is woken 150-210 s before the fire instant (a whole
  Scheduler minute ending >= 90 s early, docs/sniping-engine.md); here auctions end within a
  few minutes, so it is invoked at once and waits less. Billed as EXECUTOR_AWAKE_SECONDS
  (188 s: the mean wake-up lead, the default lead, the outcome);
- the dashboard: one WebSocket per user, open DASHBOARD_MINUTES_PER_DAY; every Bids write
  becomes one message to it (the broadcaster's fan-out);
- a Scheduler invocation and a Secrets Manager read per snipe (upper bounds: schedules are
  not needed for auctions this close, and Powertools' own boto3 session is not hooked);
- fixed monthly work: the price updater and the snipe reconciler every minute and token refresh
  every hour, shared by all users; measured durations, scaled to a month.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.models import DEFAULT_LEAD_SECONDS  # noqa: E402
from common.scheduling import wake_minute  # noqa: E402
from local.testing import link_ebay_account, running_stack  # noqa: E402

# us-east-1 list prices as I know them on 2024-06-01 (they cannot be fetched from here; check
# https://aws.amazon.com/pricing before relying on them). Free tiers are left out.
PRICES_DATE = "2024-06-01"
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write_request_unit": 1.25 / 1e6,  # on-demand
    "dynamodb_read_request_unit": 0.25 / 1e6,
    "dynamodb_stream_read": 0.0,  # GetRecords by a Lambda trigger is free
    "http_api_request": 1.00 / 1e6,
    "websocket_message": 1.00 / 1e6,  # per 32 KB
    "websocket_connection_minute": 0.25 / 1e6,
    "scheduler_invocation": 1.00 / 1e6,
    "secrets_manager_api_call": 0.05 / 1e4,
    "kms_request": 0.03 / 1e4,
    "sqs_request": 0.40 / 1e6,
    "cloudwatch_logs_gb_ingested": 0.50,
    "secrets_manager_secret_month": 0.40,
    "kms_key_month": 1.00,
}
# The executor's time awake on AWS: from its wake-up to the fire instant (common/scheduling.py's
# minute, averaged over fire times, Scheduler taken to invoke at the minute's start: it may invoke
# up to a minute later, so this is the longest case), then the default lead, then learning the
# outcome (1.5 s after the end, one getBidding).
WAKE_LEAD_SECONDS = statistics.fmean(
    f - wake_minute(f) for f in range(1_900_000_000, 1_900_000_060)
)
# workers.snipe_engine's OUTCOME_AFTER_END_SECONDS; importing it here would create the handlers'
# Powertools Metrics before the stack sets their namespace.
OUTCOME_AFTER_END_SECONDS = 1.5
EXECUTOR_AWAKE_SECONDS = WAKE_LEAD_SECONDS + DEFAULT_LEAD_SECONDS + OUTCOME_AFTER_END_SECONDS + 1
DASHBOARD_MINUTES_PER_DAY = 30
# The template's scheduled functions: fixed monthly work, not per snipe.
RUNS_PER_MONTH = {
    "PriceUpdaterFunction": 43_200,
    "SnipeReconcilerFunction": 43_200,
    "TokenRefreshFunction": 720,
}
SNIPES_PER_USER_MONTH = 10
LOG_BYTES_PER_INVOCATION = 1500  # ~4 structured lines (JSON) plus Lambda's START/END/REPORT
REST_FUNCTIONS = {"UsersFunction", "BidsFunction", "HistoryFunction", "EbayAuthFunction",
                  "WishlistFunction"}  # fmt: skip


class AwsRequests:
    """Counts the functions' AWS requests through botocore's before-parameter-build hook."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self.bids_writes = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        session = boto3._get_default_session()
        # API parameters (before-call would see the serialised HTTP request instead).
        session.events.register("before-parameter-build", self._before_call)

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        op = model.name
        with self._lock:
            self.calls[f"{service}:{op}"] += 1
            if service == "dynamodb":
                self._dynamodb(op, params)

    def _dynamodb(self, op: str, params: dict[str, Any]) -> None:
        # Items here are under 1 KB: one unit per item written, half per item read
        # (eventually consistent), a transaction twice that.
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            self.write_units += 1
            self.bids_writes += "bidstable" in str(params.get("TableName", "")).lower()
        elif op == "TransactWriteItems":
            items = params.get("TransactItems", [])
            self.write_units += 2 * len(items)
            self.bids_writes += sum(
                "bidstable" in str(next(iter(i.values())).get("TableName", "")).lower()
                for i in items
            )
        elif op == "BatchWriteItem":
            self.write_units += sum(len(v) for v in params.get("RequestItems", {}).values())
        elif op in ("GetItem", "Query"):
            self.read_units += 1.0 if params.get("ConsistentRead") else 0.5


def run_workload(users: int, per_user: int, requests: AwsRequests) -> dict[str, Any]:
    with running_stack(demo=False, lambda_concurrency=users * per_user + 64) as running:
        sim = running.sim_url
        http = httpx.Client(base_url=running.base_url, timeout=30)
        headers = []
        for i in range(users):
            email, password = f"cost{i}@example.com", "Cost-Bench-2024x"
            http.post("/local/signup", json={"email": email, "password": password})
            token = http.post("/local/login", json={"username": email, "password": password})
            headers.append({"Authorization": f"Bearer {token.json()['idToken']}"})
            link_ebay_account(http, headers[-1], f"cost_bidder_{i}")
        now_ms = int(httpx.get(f"{sim}/_sim/clock").json().get("nowMs", 0)) or int(
            time.time() * 1000
        )
        # Every snipe must be created before its auction's freeze window (about 0.1 s each).
        end_ms = (now_ms // 1000 + 45 + users * per_user // 8) * 1000
        iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(end_ms / 1000))
        jobs = []
        for u in range(users):
            for s in range(per_user):
                created = httpx.post(
                    f"{sim}/_sim/auctions",
                    json={"title": f"Cost lot {u}-{s}", "startPrice": 1000, "endTime": iso},
                )
                created.raise_for_status()
                jobs.append((headers[u], created.json()["legacyItemId"]))

        def snipe(job: tuple[dict[str, str], str]) -> int:
            answer = http.post(
                "/bids",
                json={"ebayItemId": job[1], "maxBidAmount": 5000, "leadSeconds": 2},
                headers=job[0],
            )
            return answer.status_code

        with ThreadPoolExecutor(4) as pool:  # moto's DynamoDB dislikes many transactions
            created_ok = sum(status == 201 for status in pool.map(snipe, jobs))
        # Each user looks at the dashboard's lists once after creating.
        for h in headers:
            http.get("/bids", headers=h).raise_for_status()
            http.get("/bid-history", headers=h).raise_for_status()
        time.sleep(max(0.0, (end_ms - now_ms) / 1000 + 20))
        assert running.stack.runtime is not None
        stats = {name: s for name, s in running.stack.runtime.stats.items()}
        memory = {name: spec.memory_size for name, spec in running.stack.runtime.functions.items()}
    return {"snipes": created_ok, "stats": stats, "memory": memory}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--snipes-per-user", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    requests = AwsRequests()
    requests.install()
    result = run_workload(args.users, args.snipes_per_user, requests)
    snipes = result["snipes"]
    memory: dict[str, int] = result["memory"]
    if not snipes:
        print("no snipe was created")
        return 1

    per_snipe: dict[str, float] = {}
    lines = []
    print(f"{snipes} snipes by {args.users} users on the local stack; prices {PRICES_DATE}")
    print(f"{'function':<22} {'invocations':>11} {'avg ms':>8} {'MB':>5} {'GB-s/snipe':>11}")
    fixed_month_gbs = 0.0
    for name, stats in sorted(result["stats"].items()):
        mb = memory[name]
        avg = stats.billed_duration_ms / stats.invocations if stats.invocations else 0.0
        if name in RUNS_PER_MONTH:
            per_month = RUNS_PER_MONTH[name]
            fixed_month_gbs += per_month * avg / 1000 * mb / 1024
            lines.append(f"{name:<22} {stats.invocations:>11} {avg:>8.0f} {mb:>5} {'(fixed)':>11}")
            continue
        billed_ms = stats.billed_duration_ms
        if name == "BidExecutorFunction":
            billed_ms = max(billed_ms, stats.invocations * EXECUTOR_AWAKE_SECONDS * 1000)
        gbs = billed_ms / 1000 * mb / 1024 / snipes
        per_snipe["lambda_gb_second_arm64"] = per_snipe.get("lambda_gb_second_arm64", 0) + gbs
        per_snipe["lambda_request"] = per_snipe.get("lambda_request", 0) + (
            stats.invocations / snipes
        )
        lines.append(f"{name:<22} {stats.invocations:>11} {avg:>8.0f} {mb:>5} {gbs:>11.3f}")
    print("\n".join(lines))
    rest_requests = sum(result["stats"][n].invocations for n in REST_FUNCTIONS)
    per_snipe["http_api_request"] = rest_requests / snipes
    per_snipe["dynamodb_write_request_unit"] = requests.write_units / snipes
    per_snipe["dynamodb_read_request_unit"] = requests.read_units / snipes
    per_snipe["websocket_message"] = requests.bids_writes / snipes  # one dashboard per user
    # At least the wake-up schedule per snipe on AWS (here the snipes end too soon for one).
    per_snipe["scheduler_invocation"] = max(
        1.0, requests.calls["scheduler:CreateSchedule"] / snipes
    )
    # Powertools reads secrets through its own session (not counted) and caches them 5 min per
    # container: at most one read per snipe, if every executor ran in a fresh container.
    per_snipe["secrets_manager_api_call"] = 1.0
    per_snipe["kms_request"] = (
        requests.calls["kms:Decrypt"] + requests.calls["kms:GenerateDataKey"]
    ) / snipes
    invocations = sum(s.invocations for s in result["stats"].values())
    per_snipe["cloudwatch_logs_gb_ingested"] = invocations * LOG_BYTES_PER_INVOCATION / 1e9 / snipes

    print(f"\n{'per snipe':<30} {'quantity':>10} {'$ per 1,000 snipes':>20}")
    total = 0.0
    for item, quantity in per_snipe.items():
        dollars = quantity * PRICES[item] * 1000
        total += dollars
        print(f"{item:<30} {quantity:>10.4f} {dollars:>20.4f}")
    print(f"{'total per 1,000 snipes':<30} {'':>10} {total:>20.4f}")
    executor_mb = memory["BidExecutorFunction"]
    executor = EXECUTOR_AWAKE_SECONDS * executor_mb / 1024 * PRICES["lambda_gb_second_arm64"] * 1000
    print(
        f"of which the executor's wait ({EXECUTOR_AWAKE_SECONDS:.0f} s at {executor_mb} MB): "
        f"${executor:.4f}; at 128 MB it would be ${executor * 128 / executor_mb:.4f}"
    )

    users_month_snipe = SNIPES_PER_USER_MONTH * total / 1000
    connection = DASHBOARD_MINUTES_PER_DAY * 30 * PRICES["websocket_connection_minute"]
    print(
        f"\nper active user and month ({SNIPES_PER_USER_MONTH} snipes, dashboard "
        f"{DASHBOARD_MINUTES_PER_DAY} min/day): ${users_month_snipe + connection:.4f} "
        f"(snipes ${users_month_snipe:.4f}, WebSocket minutes ${connection:.4f})"
    )
    fixed = (
        fixed_month_gbs * PRICES["lambda_gb_second_arm64"]
        + 43_920 * PRICES["lambda_request"]
        + 43_920 * PRICES["scheduler_invocation"]
        + 3 * PRICES["secrets_manager_secret_month"]
        + PRICES["kms_key_month"]
    )
    print(
        f"fixed per stack and month (price updater every minute, token refresh hourly, "
        f"3 secrets, 1 KMS key): ${fixed:.2f}"
    )
    print(f"AWS calls counted: {dict(sorted(requests.calls.items()))}")
    goal = total <= 0.50
    print("goal (<= $0.50 per 1,000 snipes, all-in):", "met" if goal else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
