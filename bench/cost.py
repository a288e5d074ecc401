"""What AWS would bill for a stack and a snipe workload: the template priced, the work counted.

    .venv/bin/python bench/cost.py [--users 10] [--snipes-per-user 5]
    .venv/bin/python bench/cost.py --fixed-only      # the template and idle scheduled runs only

Fixed per stack and month, for each ``Profile`` of template.yaml (personal, production), read
from the template so it cannot drift: every resource the profile's conditions keep is priced by
its type in ``RESOURCE_PRICES`` (alarms by the metrics they read, dashboards, KMS keys, secrets,
the dashboard's S3 storage; types that bill only per use, or never, say so there; a type missing
from the table fails ``tests/unit/test_cost_model.py``), plus what the scheduled functions
(``Schedule`` events, their rates read from the template) cost when nothing is happening: each
is invoked idle on the local stack and its billed duration, DynamoDB reads, custom metrics
(EMF, $0.30 a month for every metric published every hour) and log lines are counted, then
scaled to a month. EventBridge's scheduled rules themselves are free.

Per 1,000 snipes: USERS users sign up, link eBay and each create SNIPES-PER-USER snipes on
auctions ending within a minute; the stack's scheduler, executors, broadcaster, notifier and
price updater run as they would on AWS. Counted while it runs: every Lambda invocation and its
billed duration (local/lambda_runtime.py), every AWS request the functions make (botocore's
before-parameter-build hook on the default session: DynamoDB items read and written, Scheduler,
SSM, KMS, Lambda Invoke, @connections posts), and every token sealed or opened. Priced at the
template's MemorySize and the unit prices below; the production profile adds what the local
stack (personal) does not do: a KMS request per token sealed or opened, an X-Ray trace per
invocation of each function the production template traces (``Tracing: Active``).

Figures a local run cannot give, modelled (each printed beside the result):
- the executor's wait: on AWS it is woken 150-210 s before the fire instant (a whole
  Scheduler minute ending >= 90 s early, docs/sniping-engine.md); here auctions end within a
  few minutes, so it is invoked at once and waits less. Billed as EXECUTOR_AWAKE_SECONDS
  (188 s: the mean wake-up lead, the default lead, the outcome);
- the dashboard: one WebSocket per user, open DASHBOARD_MINUTES_PER_DAY; every Bids write
  becomes one message to it (the broadcaster's fan-out);
- a Scheduler invocation per snipe (an upper bound: schedules are not needed for auctions this
  close);
- log bytes: LOG_BYTES_PER_INVOCATION per invocation, ACCESS_LOG_BYTES per API request;
- the dashboard's price refreshes: while an open dashboard shows a snipe in its last
  FINAL_SECONDS (10 minutes) it sends ``refreshPrices`` until the snipe freezes, once per round
  of the final minutes: when the last answer's ``nextInMs`` says the next may run (the pace the
  minute's run sets from the day's budget, 5 s (MIN_INTERVAL) to 60 s, but not before the
  user's own 5 s window), plus 0-0.3 s of jitter (cli/ws.py's ``refresh_delay``, the
  dashboard's rule). Priced at the pace ``common.price_polls.pace`` sets for a quiet day (the
  snipe's final minutes alone against the final minutes' calls of a fresh day,
  ``CallBudget.plan``'s reserve plus pool: 5 s, so a refresh every 5.15 s, ~114 per snipe),
  the most a watched snipe costs; printed beside it, a busy day (BUSY_DAY_AUCTIONS evenly
  spread: the day's getItems calls spread over its final minutes, a pace of ~17 s, ~34
  refreshes per snipe). Each refresh is one WebSocket message in and
  one answer out, one short WsActionsFunction run (its billed duration measured here: the
  owner's socket refreshes while the workload's snipes are in their last minutes) and the
  DynamoDB units its code spends (REFRESH_WRITE_UNITS, REFRESH_READ_UNITS: the user's claim,
  the round's claim, the day's Browse counter; the pace and the snipes in their last minutes);
  its getItems calls cost nothing at AWS (they come from eBay's daily quota). Priced for a
  snipe whose last minutes nobody else's share (the usual case for one user), and as the
  month's ceiling (a dashboard always showing a snipe in its last minutes). The price updater
  no longer stays awake for them: its runs are one round (priced idle with the scheduled runs).
"""

from __future__ import annotations

import argparse
import logging
import re
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

from common.models import DEFAULT_LEAD_SECONDS, FREEZE_WINDOW_SECONDS  # noqa: E402
from common.scheduling import wake_minute  # noqa: E402
from local.template import TEMPLATE_PATH, Template, secure_parameters  # noqa: E402

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
    "ssm_standard_parameter_call": 0.0,  # standard throughput; higher throughput is $0.05/10k
    "kms_request": 0.03 / 1e4,
    "sqs_request": 0.40 / 1e6,
    "cloudwatch_logs_gb_ingested": 0.50,
    "cloudwatch_logs_gb_month_stored": 0.03,
    "xray_trace_recorded": 5.00 / 1e6,
    "custom_metric_month": 0.30,  # first 10,000 metrics; prorated by the hours it is published
    "alarm_metric_month": 0.10,  # a standard-resolution alarm, per metric it reads
    "composite_alarm_month": 0.50,
    "dashboard_month": 3.00,  # beyond an account's first three
    "secrets_manager_secret_month": 0.40,
    "kms_key_month": 1.00,
    "s3_gb_month": 0.023,
}
# How every resource type the template may declare is billed: a fixed monthly price (a number,
# or a function of the resource's properties), or None with the reason it bills only per use
# (priced in the workload) or never. tests/unit/test_cost_model.py fails on a type not listed.
PerUse = str
RESOURCE_PRICES: dict[str, Any] = {
    "AWS::CloudWatch::Alarm": lambda props: PRICES["alarm_metric_month"] * _alarm_metrics(props),
    "AWS::CloudWatch::CompositeAlarm": PRICES["composite_alarm_month"],
    "AWS::CloudWatch::Dashboard": PRICES["dashboard_month"],
    "AWS::KMS::Key": PRICES["kms_key_month"],
    "AWS::SecretsManager::Secret": PRICES["secrets_manager_secret_month"],
    # The dashboard's files (dashboard/), stored once; requests are per use.
    "AWS::S3::Bucket": lambda props: PRICES["s3_gb_month"] * _dashboard_bytes() / 1e9,
    "AWS::S3::BucketPolicy": "free",
    "AWS::CloudFront::Distribution": "per request and GB served (a dashboard's page loads)",
    "AWS::CloudFront::Function": "per invocation ($0.10 per million page requests)",
    "AWS::CloudFront::OriginAccessControl": "free",
    "AWS::CloudFront::ResponseHeadersPolicy": "free",
    # The template as SAM expands it (what CloudFormation deploys).
    "AWS::Lambda::Function": "per request and GB-second; Schedule events: the idle runs",
    "AWS::Lambda::LayerVersion": "free (code storage)",
    "AWS::Lambda::EventSourceMapping": "free (its function's invocations per use)",
    "AWS::Lambda::EventInvokeConfig": "free",
    "AWS::Events::Rule": "free (scheduled rules; their function's runs per use)",
    "AWS::Lambda::Permission": "free",
    "AWS::Logs::LogGroup": "per GB ingested and stored (retention bounds the storage)",
    "AWS::DynamoDB::Table": "per request; storage and PITR $0.45/GB-month (MBs here)",
    "AWS::SQS::Queue": "per request; an empty queue costs nothing",
    "AWS::SNS::Topic": "per email sent (the first 1,000 a month free)",
    "AWS::SNS::Subscription": "free",
    "AWS::IAM::Role": "free",
    "AWS::Scheduler::ScheduleGroup": "free; each schedule's invocation per use",
    "AWS::Cognito::UserPool": "per monthly active user beyond 10,000 (Essentials' free tier)",
    "AWS::Cognito::UserPoolClient": "free",
    "AWS::Cognito::UserPoolDomain": "free (the Hosted UI's prefix domain)",
    "AWS::ApiGatewayV2::Api": "per message and connection minute",
    "AWS::ApiGatewayV2::Authorizer": "free (its function's invocations per use)",
    "AWS::ApiGatewayV2::Integration": "free",
    "AWS::ApiGatewayV2::Route": "free",
    "AWS::ApiGatewayV2::Stage": "free (its access logs per GB)",
}
# SSM Parameter Store SecureStrings (template Metadata): the standard tier is free.
SECURE_PARAMETER_MONTH = 0.0
PROFILES = ("personal", "production")
RATE_RUNS_PER_MONTH = {"minute": 43_200, "minutes": 43_200, "hour": 720, "hours": 720, "day": 30}
IDLE_RUNS = 5  # each scheduled function invoked this many times idle, for its fixed cost
FULL_VCPU_MB = 1769  # Lambda gives a whole vCPU at this MemorySize, a share below it
# The executor's time awake on AWS: from its wake-up to the fire instant (common/scheduling.py's
# minute, averaged over fire times, Scheduler taken to invoke at the minute's start: it may invoke
# up to a minute later, so this is the longest case), then the default lead, then learning the
# outcome (1.5 s after the end, one getBidding).
WAKE_LEAD_SECONDS = statistics.fmean(
    f - wake_minute(f) for f in range(1_900_000_000, 1_900_000_060)
)
# workers.logic.snipe_engine's OUTCOME_AFTER_END_SECONDS; importing it here would create the
# handlers' Powertools Metrics before the stack sets their namespace.
OUTCOME_AFTER_END_SECONDS = 1.5
EXECUTOR_AWAKE_SECONDS = WAKE_LEAD_SECONDS + DEFAULT_LEAD_SECONDS + OUTCOME_AFTER_END_SECONDS + 1
# common/price_polls.py's FINAL_SECONDS (tests/unit/test_cost_model.py checks it). The
# refreshes' pace and period come from the code (refresh_period, rounds_pace), imported when
# priced: common/price_polls.py would create the handlers' Powertools Metrics.
FINAL_SECONDS = 600
# A busy day for the refreshes' pace: this many auctions evenly spread over the day (the
# price-freshness goal's load, bench/price_freshness.py --day-load 1000 --as-whole-day).
BUSY_DAY_AUCTIONS = 1000
# A refresh's DynamoDB units (common/price_polls.py's refresh): UpdateItem on the user's claim,
# on the round's claim and on the day's Browse counter; GetItem of the pace and a Query of the
# snipes in their last minutes (eventually consistent, under 4 KB). Price writes are not its:
# they happen when a price changes, as they did before.
REFRESH_WRITE_UNITS = 3
REFRESH_READ_UNITS = 1.0
REFRESH_MESSAGES = 2  # refreshPrices in, pricesRefreshed out
DASHBOARD_MINUTES_PER_DAY = 30
SNIPES_PER_USER_MONTH = 10
LOG_BYTES_PER_INVOCATION = 1500  # ~4 structured lines (JSON) plus Lambda's START/END/REPORT
ACCESS_LOG_BYTES = 300  # one HTTP API access log line (template.yaml's HttpApi format)
REST_FUNCTIONS = {"UsersFunction", "BidsFunction", "HistoryFunction", "EbayAuthFunction",
                  "WishlistFunction"}  # fmt: skip


def _alarm_metrics(props: dict[str, Any]) -> int:
    """An alarm is billed per metric it reads: one, or each MetricStat of its metric math."""
    if "Metrics" in props:
        return sum("MetricStat" in m for m in props["Metrics"])
    return 1


def _dashboard_bytes() -> int:
    return sum(f.stat().st_size for f in (ROOT / "dashboard").rglob("*") if f.is_file())


def load_profile(profile: str, path: Path = TEMPLATE_PATH) -> Template:
    return Template.load(path, {"Profile": profile})


def scheduled_runs(template: Template) -> dict[str, int]:
    """Runs a month of each function with Schedule events (``rate(N unit)``), from the template."""
    runs: dict[str, int] = {}
    for schedule in template.schedules:
        logical_id = schedule.function_id
        rate = re.fullmatch(r"rate\((\d+) (\w+)\)", schedule.expression)
        if rate is None:
            raise ValueError(f"{logical_id}: only rate() schedules are priced")
        count, unit = int(rate.group(1)), rate.group(2)
        runs[logical_id] = runs.get(logical_id, 0) + RATE_RUNS_PER_MONTH[unit] // count
    return runs


def resource_fixed_costs(template: Template) -> list[tuple[str, str, float]]:
    """(logical id, type, $ a month) of every resource with a fixed monthly price; a type not in
    RESOURCE_PRICES raises KeyError."""
    lines = []
    for logical_id, resource in template.resources().items():
        price = RESOURCE_PRICES[resource["Type"]]
        if isinstance(price, str):
            continue
        dollars = price(resource.get("Properties", {})) if callable(price) else float(price)
        lines.append((logical_id, resource["Type"], dollars))
    for parameter in secure_parameters(template.raw):
        lines.append((parameter.suffix, "SSM SecureString", SECURE_PARAMETER_MONTH))
    return lines


def log_retention_days(template: Template) -> float:
    """The functions' log groups' retention under this template's parameters (mean, days)."""
    days = [
        float(template.resolve(r["Properties"]["RetentionInDays"]))
        for r in template.resources("AWS::Logs::LogGroup").values()
        if "RetentionInDays" in r.get("Properties", {})
    ]
    return statistics.fmean(days) if days else 30.0


def traced_functions(template: Template) -> set[str]:
    """The functions whose Tracing is Active under this template's parameters (SAM's Globals
    or the function's own, as SAM expanded them)."""
    return {
        name
        for name, function in template.resources("AWS::Lambda::Function").items()
        if template.resolve(function.get("Properties", {}).get("TracingConfig", {})).get("Mode")
        == "Active"
    }


def final_windows(snipes: list[tuple[float, int]]) -> list[tuple[float, float]]:
    """Each snipe's (auction end in epoch s, lead s) last FINAL_SECONDS until its freeze."""
    return [(end - FINAL_SECONDS, end - lead - FREEZE_WINDOW_SECONDS) for end, lead in snipes]


def final_minutes_seconds(snipes: list[tuple[float, int]]) -> float:
    """Seconds during which at least one of the snipes, (auction end in epoch s, lead s), is in
    its last FINAL_SECONDS and not frozen yet: the union of their windows."""
    total, reach = 0.0, float("-inf")
    for start, stop in sorted(final_windows(snipes)):
        start = max(start, reach)
        if stop > start:
            total += stop - start
            reach = stop
    return total


def getitems_per_day(template: Template) -> int:
    """The app's getItems calls a day (EbayDailyGetItemsBudget's default)."""
    return int(template.raw["Parameters"]["EbayDailyGetItemsBudget"]["Default"])


def rounds_pace(snipes: list[tuple[float, int]], calls_a_day: int) -> float:
    """Seconds between the rounds of the final minutes (``price_polls.pace``, as the minute's run
    sets it) on a fresh day whose final minutes are these snipes': the final minutes' share
    counts on its reserve and its quota's whole pool (``CallBudget.plan`` with nothing spent)."""
    from common import price_polls
    from common.data.budget import FINAL_POLLS, Limits
    from common.ebay.browse import MAX_ITEMS_PER_CALL

    limits = Limits.of(FINAL_POLLS, calls_a_day)
    calls = min(limits.cap, limits.reserved + limits.pool)
    return price_polls.pace(final_windows(snipes), calls, MAX_ITEMS_PER_CALL)


def busy_day(auctions: int = BUSY_DAY_AUCTIONS) -> list[tuple[float, int]]:
    """``auctions`` snipes (default lead) ending evenly spread over a day."""
    return [(FINAL_SECONDS + n * 86400 / auctions, DEFAULT_LEAD_SECONDS) for n in range(auctions)]


def refresh_period(pace_seconds: float) -> float:
    """Seconds between a dashboard's ``refreshPrices`` while it alone watches a snipe in its last
    minutes, the rounds paced ``pace_seconds``: each answer's ``nextInMs`` is the pace (its own
    round just ran), not less than the user's window (price_polls.REFRESH_SECONDS), and the
    dashboard asks then plus its jitter, on average half of it, within its bounds (cli/ws.py's
    ``refresh_delay``, dashboard/js/realtime.js)."""
    from cli import ws
    from common import price_polls

    next_in = max(pace_seconds, price_polls.REFRESH_SECONDS)
    wanted = next_in + ws.REFRESH_JITTER_SECONDS / 2
    return min(ws.REFRESH_MAX_SECONDS, max(ws.REFRESH_MIN_SECONDS, wanted))


def refresh_dollars(billed_ms: float, memory_mb: int) -> dict[str, float]:
    """One dashboard refresh, item by item."""
    return {
        "websocket_message": REFRESH_MESSAGES * PRICES["websocket_message"],
        "lambda_request": PRICES["lambda_request"],
        "lambda_gb_second_arm64": billed_ms
        / 1000
        * memory_mb
        / 1024
        * PRICES["lambda_gb_second_arm64"],
        "dynamodb_write_request_unit": REFRESH_WRITE_UNITS * PRICES["dynamodb_write_request_unit"],
        "dynamodb_read_request_unit": REFRESH_READ_UNITS * PRICES["dynamodb_read_request_unit"],
        "cloudwatch_logs_gb_ingested": LOG_BYTES_PER_INVOCATION
        / 1e9
        * PRICES["cloudwatch_logs_gb_ingested"],
    }


def refreshes_over(seconds_in_final_minutes: float, pace_seconds: float) -> float:
    """Refreshes an open dashboard sends over that many seconds of last minutes, the rounds
    paced ``pace_seconds`` apart."""
    return seconds_in_final_minutes / refresh_period(pace_seconds)


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
        self.metrics: Counter[str] = Counter()  # EMF metric names published
        self.tokens: Counter[str] = Counter()  # envelopes sealed and opened
        self._count_emf()
        self._count_tokens()

    def _count_emf(self) -> None:
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
            AmazonCloudWatchEMFProvider as Provider,
        )

        original = Provider.serialize_metric_set
        outer = self

        def serialize(self: Any, metrics: Any = None, *args: Any, **kwargs: Any) -> Any:
            with outer._lock:
                outer.metrics.update((metrics if metrics is not None else self.metric_set).keys())
            return original(self, metrics, *args, **kwargs)

        Provider.serialize_metric_set = serialize  # type: ignore[method-assign]

    def _count_tokens(self) -> None:
        from common.token_crypto import TokenCipher

        outer = self
        for name in ("encrypt", "decrypt"):
            original = getattr(TokenCipher, name)

            def counted(self: Any, *args: Any, _name: str = name, _f: Any = original) -> Any:
                with outer._lock:
                    outer.tokens[_name] += 1
                return _f(self, *args)

            setattr(TokenCipher, name, counted)

    def snapshot(self) -> tuple[float, float, Counter[str]]:
        with self._lock:
            return self.read_units, self.write_units, Counter(self.metrics)

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


def measure_idle(running: Any, scheduled: dict[str, int], requests: AwsRequests) -> dict[str, Any]:
    """Each scheduled function invoked IDLE_RUNS times on an empty stack: per run, its billed
    milliseconds, DynamoDB read units, and the custom metrics it published."""
    runtime = running.stack.runtime
    idle: dict[str, Any] = {}
    for name in scheduled:
        before = runtime.stats[name].billed_duration_ms
        reads, _, metrics = requests.snapshot()
        for _ in range(IDLE_RUNS):
            runtime.invoke(name, {"source": "aws.events", "detail-type": "Scheduled Event"})
        after_reads, _, after_metrics = requests.snapshot()
        idle[name] = {
            "ms": (runtime.stats[name].billed_duration_ms - before) / IDLE_RUNS,
            "read_units": (after_reads - reads) / IDLE_RUNS,
            "metrics": sorted(after_metrics - metrics),
        }
    return idle


def run_workload(
    users: int, per_user: int, requests: AwsRequests, scheduled: dict[str, int]
) -> dict[str, Any]:
    from local.scheduler import scheduled_event
    from local.testing import link_ebay_account, running_stack

    with running_stack(demo=False, lambda_concurrency=users * per_user + 64) as running:
        idle = measure_idle(running, scheduled, requests)
        if not users:
            assert running.stack.runtime is not None
            memory = {n: s.memory_size for n, s in running.stack.runtime.functions.items()}
            return {"snipes": 0, "stats": {}, "memory": memory, "idle": idle}
        for stats in running.stack.runtime.stats.values():
            stats.invocations = stats.billed_duration_ms = 0
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
        # A price updater run while the snipes are in their last minutes, delivered as
        # EventBridge delivers it (its minute in "time"): one round, however many are in their
        # last minutes. Then the last user's dashboard, open on their snipes in their last
        # minutes, refreshes prices as dashboard/js/realtime.js does (here every 6 s, for more
        # samples before the freeze): WsActionsFunction's billed time per refresh is measured.
        updater: dict[str, Any] = {}
        owner_token = token.json()["idToken"]  # the last user's: they own snipes too

        def updater_runs() -> None:
            import json as _json

            from websockets.sync.client import connect

            assert running.stack.template is not None
            assert running.stack.runtime is not None
            event = scheduled_event("PriceUpdaterFunction", running.stack.template)
            started = time.time()
            event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
            running.stack.runtime.invoke("PriceUpdaterFunction", event)
            updater["run"] = time.time() - started
            frozen = end_ms / 1000 - 2 - FREEZE_WINDOW_SECONDS
            answers: list[dict[str, Any]] = []
            url = f"{running.stack.websocket_url}?token={owner_token}"
            with connect(url, open_timeout=10) as dashboard:
                while time.time() < frozen - 3:
                    dashboard.send(_json.dumps({"action": "refreshPrices"}))
                    while True:
                        message = _json.loads(dashboard.recv(timeout=10))
                        if message["type"] == "pricesRefreshed":
                            answers.append(message["data"])
                            break
                    time.sleep(6)
            updater["refreshes"] = answers

        updater_thread = threading.Thread(target=updater_runs, name="price-updater-runs")
        updater_thread.start()
        # Each user looks at the dashboard's lists once after creating.
        for h in headers:
            http.get("/bids", headers=h).raise_for_status()
            http.get("/bid-history", headers=h).raise_for_status()
        time.sleep(max(0.0, (end_ms - now_ms) / 1000 + 20))
        updater_thread.join()
        assert running.stack.runtime is not None
        stats = {name: s for name, s in running.stack.runtime.stats.items()}
        memory = {name: spec.memory_size for name, spec in running.stack.runtime.functions.items()}
    ends = [(end_ms / 1000, 2)] * created_ok  # (auction end, lead) of each snipe
    return {
        "snipes": created_ok,
        "stats": stats,
        "memory": memory,
        "idle": idle,
        "ends": ends,
        "updater": updater,
    }


def fixed_month(
    template: Template, idle: dict[str, Any], memory: dict[str, int]
) -> list[tuple[str, float]]:
    """What a profile's stack costs a month with nothing happening, item by item."""
    traced = traced_functions(template)
    items: list[tuple[str, float]] = []
    by_type: dict[str, float] = {}
    for _, kind, dollars in resource_fixed_costs(template):
        by_type[kind] = by_type.get(kind, 0.0) + dollars
    for kind, dollars in sorted(by_type.items()):
        count = sum(1 for _, k, _ in resource_fixed_costs(template) if k == kind)
        items.append((f"{kind} x{count}", dollars))
    runs = scheduled_runs(template)
    retention = log_retention_days(template)
    for name, per_month in sorted(runs.items()):
        measured = idle[name]
        # Measured here at a whole core; on Lambda the run gets MemorySize / 1,769 of a vCPU.
        # Billed as if it were all CPU (an upper bound: part of it is waiting on moto).
        lambda_ms = measured["ms"] * max(1.0, FULL_VCPU_MB / memory[name])
        gbs = per_month * lambda_ms / 1000 * memory[name] / 1024
        log_gb = per_month * LOG_BYTES_PER_INVOCATION / 1e9
        parts = {
            "duration": gbs * PRICES["lambda_gb_second_arm64"],
            "requests": per_month * PRICES["lambda_request"],
            "DynamoDB reads": per_month
            * measured["read_units"]
            * PRICES["dynamodb_read_request_unit"],
            "logs": log_gb * PRICES["cloudwatch_logs_gb_ingested"]
            + log_gb * retention / 30 * PRICES["cloudwatch_logs_gb_month_stored"],
            # a metric published in every run is published every hour
            "custom metrics": len(measured["metrics"]) * PRICES["custom_metric_month"],
            "X-Ray": per_month * PRICES["xray_trace_recorded"] if name in traced else 0.0,
        }
        detail = ", ".join(f"{k} ${v:.3f}" for k, v in parts.items() if v)
        items.append(
            (
                f"{name} {per_month:,}/month, {measured['ms']:.0f} ms idle here, "
                f"{lambda_ms:.0f} ms on Lambda ({detail})",
                sum(parts.values()),
            )
        )
    return items


def per_snipe_quantities(result: dict[str, Any], requests: AwsRequests) -> dict[str, float]:
    snipes = result["snipes"]
    memory: dict[str, int] = result["memory"]
    # Fixed monthly work (measured idle), and the dashboard's refreshes (priced apart).
    scheduled = set(result["idle"]) | {"WsActionsFunction"}
    refreshes = len(result["updater"].get("refreshes", []))
    per_snipe: dict[str, float] = {"lambda_gb_second_arm64": 0.0, "lambda_request": 0.0}
    for name, stats in result["stats"].items():
        if name in scheduled:
            continue  # fixed monthly work: measured idle above
        billed_ms = stats.billed_duration_ms
        if name == "BidExecutorFunction":
            billed_ms = max(billed_ms, stats.invocations * EXECUTOR_AWAKE_SECONDS * 1000)
        per_snipe["lambda_gb_second_arm64"] += billed_ms / 1000 * memory[name] / 1024 / snipes
        per_snipe["lambda_request"] += stats.invocations / snipes
    rest_requests = sum(result["stats"][n].invocations for n in REST_FUNCTIONS)
    per_snipe["http_api_request"] = rest_requests / snipes
    per_snipe["dynamodb_write_request_unit"] = (
        requests.write_units - refreshes * REFRESH_WRITE_UNITS
    ) / snipes
    per_snipe["dynamodb_read_request_unit"] = (
        requests.read_units - refreshes * REFRESH_READ_UNITS
    ) / snipes
    per_snipe["websocket_message"] = requests.bids_writes / snipes  # one dashboard per user
    # At least the wake-up schedule per snipe on AWS (here the snipes end too soon for one).
    per_snipe["scheduler_invocation"] = max(
        1.0, requests.calls["scheduler:CreateSchedule"] / snipes
    )
    per_snipe["ssm_standard_parameter_call"] = requests.calls["ssm:GetParameter"] / snipes
    invocations = sum(s.invocations for n, s in result["stats"].items() if n not in scheduled)
    per_snipe["cloudwatch_logs_gb_ingested"] = (
        (invocations * LOG_BYTES_PER_INVOCATION + rest_requests * ACCESS_LOG_BYTES) / 1e9 / snipes
    )
    return per_snipe


def production_extras(
    result: dict[str, Any], requests: AwsRequests, traced: set[str]
) -> dict[str, float]:
    """Per snipe, what the production profile adds: KMS per token sealed or opened (the local
    stack runs the personal profile, which seals with the SSM-held key), X-Ray per invocation
    of the functions it traces (``traced``)."""
    snipes = result["snipes"]
    scheduled = set(result["idle"]) | {"WsActionsFunction"}  # refreshes: priced apart
    invocations = sum(
        s.invocations for n, s in result["stats"].items() if n not in scheduled and n in traced
    )
    return {
        "kms_request": sum(requests.tokens.values()) / snipes,
        "xray_trace_recorded": invocations / snipes,
    }


def _print_fixed(
    templates: dict[str, Template], idle: dict[str, Any], memory: dict[str, int]
) -> dict[str, float]:
    totals = {}
    for profile, template in templates.items():
        items = fixed_month(template, idle, memory)
        totals[profile] = sum(d for _, d in items)
        print(f"\nfixed per stack and month, Profile={profile}: ${totals[profile]:.2f}")
        for label, dollars in items:
            print(f"  {dollars:>7.3f}  {label}")
    return totals


def _print_refreshes(
    result: dict[str, Any], traced: set[str], calls_a_day: int
) -> tuple[float, float]:
    """The dashboard's price refreshes; returns $ per 1,000 snipes whose last minutes no other
    snipe shares, watched throughout on the dashboard on a quiet day (the rounds at their
    fastest pace), personal and production (which adds an X-Ray trace per refresh when it traces
    WsActionsFunction, ``traced``)."""
    stats = result["stats"].get("WsActionsFunction")
    memory_mb = result["memory"]["WsActionsFunction"]
    answers = result["updater"].get("refreshes", [])
    billed = stats.billed_duration_ms / stats.invocations if stats and stats.invocations else 0.0
    one = refresh_dollars(billed, memory_mb)
    per_refresh = sum(one.values())
    snipe = [(0.0, DEFAULT_LEAD_SECONDS)]
    quiet, busy = rounds_pace(snipe, calls_a_day), rounds_pace(busy_day(), calls_a_day)
    last_minutes = final_minutes_seconds(snipe)
    alone = refreshes_over(last_minutes, quiet)
    on_busy = refreshes_over(last_minutes, busy)
    month = refreshes_over(30 * 86400, quiet)
    print(
        f"\ndashboard price refreshes (either profile): while a dashboard shows a snipe in its "
        f"last {FINAL_SECONDS // 60} minutes it sends refreshPrices once per round of the "
        f"final minutes, when nextInMs says (the pace, 5-60 s, plus jitter): on a quiet day "
        f"(one snipe's {last_minutes:.0f} s against {calls_a_day:,} getItems calls) the pace is "
        f"{quiet:.2f} s, a refresh every {refresh_period(quiet):.2f} s; the price updater's run "
        f"is one round ({result['updater'].get('run', 0):.1f} s measured here, with every snipe "
        f"in its last minutes)"
    )
    print(
        f"  refreshes measured here: {len(answers)}, WsActionsFunction {billed:.0f} ms billed "
        f"each at {memory_mb} MB; items polled per refresh "
        f"{[a.get('polled') for a in answers]}"
    )
    for item, dollars in one.items():
        print(f"  {item:<56} ${dollars * 1e6:8.4f} per million refreshes")
    print(f"  {'one refresh':<56} ${per_refresh:.8f}")
    print(f"  {'per 1,000 snipes whose last minutes nobody watches':<58} $  0.0000")
    print(
        f"  {'per 1,000 snipes watched, no two sharing their last minutes':<58} "
        f"${alone * per_refresh * 1000:8.4f} ({alone:.1f} refreshes each, a quiet day)"
    )
    xray = PRICES["xray_trace_recorded"] if "WsActionsFunction" in traced else 0.0
    print(
        f"  {'+ X-Ray trace per refresh (production)':<56} ${xray * 1e6:8.4f} per million "
        f"refreshes: ${alone * (per_refresh + xray) * 1000:.4f} per 1,000 snipes watched"
    )
    print(
        f"  on a busy day ({BUSY_DAY_AUCTIONS:,} auctions evenly spread: pace {busy:.2f} s, a "
        f"refresh every {refresh_period(busy):.2f} s): {on_busy:.1f} refreshes each, "
        f"${on_busy * per_refresh * 1000:.4f} per 1,000 snipes watched "
        f"(${on_busy * (per_refresh + xray) * 1000:.4f} production)"
    )
    print(
        f"  ceiling: a dashboard always showing a snipe in its last minutes on a quiet day: "
        f"${month * per_refresh:.2f} a month"
    )
    return alone * per_refresh * 1000, alone * (per_refresh + xray) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--snipes-per-user", type=int, default=5)
    parser.add_argument(
        "--fixed-only", action="store_true", help="the template and idle scheduled runs only"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    templates = {profile: load_profile(profile) for profile in PROFILES}
    scheduled = scheduled_runs(templates["personal"])
    requests = AwsRequests()
    requests.install()
    users = 0 if args.fixed_only else args.users
    result = run_workload(users, args.snipes_per_user, requests, scheduled)
    print(f"prices {PRICES_DATE} (us-east-1, free tiers left out)")
    fixed = _print_fixed(templates, result["idle"], result["memory"])
    print(
        "\ngoal (personal <= $0.50 a month fixed):",
        "met" if fixed["personal"] <= 0.50 else "NOT met",
    )
    if args.fixed_only:
        return 0
    snipes = result["snipes"]
    if not snipes:
        print("no snipe was created")
        return 1
    memory: dict[str, int] = result["memory"]
    print(f"\n{snipes} snipes by {args.users} users on the local stack (Profile=personal)")
    print(f"{'function':<24} {'invocations':>11} {'avg ms':>8} {'MB':>5}")
    for name, stats in sorted(result["stats"].items()):
        avg = stats.billed_duration_ms / stats.invocations if stats.invocations else 0.0
        print(f"{name:<24} {stats.invocations:>11} {avg:>8.0f} {memory[name]:>5}")
    per_snipe = per_snipe_quantities(result, requests)
    extras = production_extras(result, requests, traced_functions(templates["production"]))
    print(f"\n{'per snipe':<30} {'quantity':>10} {'$ per 1,000 snipes':>20}")
    total = 0.0
    for item, quantity in per_snipe.items():
        dollars = quantity * PRICES[item] * 1000
        total += dollars
        print(f"{item:<30} {quantity:>10.4f} {dollars:>20.4f}")
    print(f"{'total per 1,000 snipes, personal':<41} {total:>20.4f}")
    extra = 0.0
    for item, quantity in extras.items():
        dollars = quantity * PRICES[item] * 1000
        extra += dollars
        print(f"{'+ ' + item + ' (production)':<30} {quantity:>10.4f} {dollars:>20.4f}")
    print(f"{'total per 1,000 snipes, production':<41} {total + extra:>20.4f}")
    executor_mb = memory["BidExecutorFunction"]
    executor = EXECUTOR_AWAKE_SECONDS * executor_mb / 1024 * PRICES["lambda_gb_second_arm64"] * 1000
    print(
        f"of which the executor's wait ({EXECUTOR_AWAKE_SECONDS:.0f} s at {executor_mb} MB): "
        f"${executor:.4f}"
    )
    awake, awake_production = _print_refreshes(
        result, traced_functions(templates["production"]), getitems_per_day(templates["personal"])
    )
    users_month_snipe = SNIPES_PER_USER_MONTH * (total + awake) / 1000
    connection = DASHBOARD_MINUTES_PER_DAY * 30 * PRICES["websocket_connection_minute"]
    print(
        f"\nper active user and month ({SNIPES_PER_USER_MONTH} snipes, dashboard "
        f"{DASHBOARD_MINUTES_PER_DAY} min/day, each snipe's last minutes watched): "
        f"${users_month_snipe + connection:.4f}"
    )
    print(f"AWS calls counted: {dict(sorted(requests.calls.items()))}")
    print(
        f"tokens sealed/opened: {dict(requests.tokens)}; custom metrics: {dict(requests.metrics)}"
    )
    print(
        "goal (<= $0.50 per 1,000 snipes), last minutes not watched:",
        "met" if total + extra <= 0.50 else "NOT met",
        f"(production ${total + extra:.4f}); every snipe's watched, none sharing them:",
        "met" if total + extra + awake_production <= 0.50 else "NOT met",
        f"(personal ${total + awake:.4f}, production ${total + extra + awake_production:.4f})",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
