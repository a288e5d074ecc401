"""How fresh the dashboard's prices are in auctions' last 10 minutes, on the local stack.

AUCTIONS auctions at the eBay simulator end SPACING seconds apart (86 s: 1,000 a day), each
sniped through the REST API by one of USERS users, each user with a WebSocket open that acts as
an open dashboard: while one of its user's auctions is in its last 10 minutes it sends
``refreshPrices`` as it does (dashboard/js/realtime.js): when the last answer's ``nextInMs``
says the next round may run (plus up to 0.3 s), REFRESH_EVERY seconds (10) after an unanswered
ask. At CHANGES random instants in each auction's last 10 minutes, a rival bids through the
simulator's admin API (``POST /_sim/auctions/{id}/bids``), which moves eBay's current price. The
price updater runs as the template schedules it (every minute, one round; it sets the pace of
the refreshes' rounds, common/price_polls.py). Measured: from each change (the bid's
``receivedAt`` at eBay) to the first ``price.changed`` on the owner's socket showing that price
or a later one.

Changes are drawn from the window [end - 600 s, freeze - 20 s]: from its freeze (end - lead -
5 s) a snipe belongs to the executor and the price updater writes nothing to it
(docs/data-model.md), so a change after it never becomes a price.changed; the last 20 s before
the freeze leave one round's time.

``--day-load N`` adds the rest of a day of N auctions a day, as the price updater's pace sees it:
its rounds cost one call per 20 items in their final minutes, so a day is the seconds covered by
final minutes and how many at once. N evenly spread auctions keep ceil(N * 589 / 86400 / 20) calls a
round busy all day (1,000: 7 at once, one call); the bench writes that many snipes (straight to the
Bids table, their auctions at the simulator) per 589 s, from after the measured auctions until
eBay's midnight (Pacific time, when its quotas start afresh): the same demand as N a day, without
hundreds of snipes in moto, whose Query of 750 answers in 1.2-1.5 s here (over the product's 1 s
read timeout; DynamoDB serves that page in a fraction of it). The updater then paces its rounds so
the final minutes' share of the day's 5,000 getItems calls (eBay's quota for that method, apart from
the other Browse methods' 5,000 that snipe creation spends) lasts through all of it
(``CallBudget.plan``); a refresh sooner than that pace after the last round polls nothing.

``--as-whole-day`` (with ``--day-load N``) measures a whole day at any hour. Without it the planner
(``CallBudget.plan``) finds the day's counters at zero, so it spreads the whole of getItems' 5,000
over what is left of the real eBay day (Pacific time): a pace no whole day allows (at 15:31 UTC,
while the budget still counted UTC days, it was 8.5 h). With it, before the run, the day's counters
are charged with what the hours already gone (eBay's midnight to the measured auctions' first final
minutes) would have spent at the same load and pace (``whole_day_charge``): N evenly spread
auctions' final minutes, each second of them costing one call per 20 at once
(``price_polls.final_demand``), polled in rounds at the pace the planner sets at midnight for that
whole day (``price_polls.pace`` over the final-minutes share's whole day: its reserve, the pool and
nothing spent), paid from ``final-polls``; and one snipe creation per auction ended, paid from
``snipe-creation`` on the other quota. They are written by ``CallBudget.reserve``, the product's own
conditional ADDs, so the counter items hold what those calls one at a time would have left:
``calls``, ``u_<key>``, ``r_<key>`` up to the share's reserve, then ``pool``. The planner's calls
left over the seconds left are then a whole day's pace. Not charged: the minute's runs' own
final-minutes calls (the planner does not count on them either), hour and far-off polls (this load's
ride in the final minutes' calls) and item look-ups (not part of the load).

The simulator and moto run in processes of their own, and each function invocation in a Lambda
container process (``--isolation process``). Prints p50/p95/p99 change -> WebSocket, the Browse
calls the simulator answered (per auction, and the day's counters by quota and share), and the
CPU each process spent: per call for the price updater's and the refreshes' containers
(WsActions), which says what the polling costs whatever else the shared machine runs; and the
refreshes sent, how many polled, and WsActionsFunction's mean duration.

    .venv/bin/python bench/price_freshness.py [--auctions 10] [--spacing 86] [--changes 3]
        [--users 2] [--day-load 0] [--as-whole-day]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import random
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Imported before the run: the product's modules may be edited while it goes on.
import boto3  # noqa: E402

from bench.procstat import cpu_seconds  # noqa: E402
from cli.ws import refresh_delay  # noqa: E402
from common.data.budget import (  # noqa: E402
    FINAL_POLLS,
    QUOTAS,
    SNIPE_CREATION,
    CallBudget,
    Limits,
    Quota,
    Share,
    budget_key,
    day_bounds,
    ebay_day,
)
from common.data.dynamo import to_item  # noqa: E402
from common.models import (  # noqa: E402
    DEFAULT_LEAD_SECONDS,
    FREEZE_WINDOW_SECONDS,
    BidEntity,
    BidStatus,
)
from common.price_polls import final_demand, pace  # noqa: E402
from local.testing import (  # noqa: E402
    MOTO_SERVER,
    link_ebay_account,
    running_stack,
    server_process,
)

PASSWORD = "Fresh-Prices-2024"
FINAL_SECONDS = 600
MARGIN_BEFORE_FREEZE = 20
START_CENTS = 1000
STEP_CENTS = 300  # each rival's maximum over the last: the price moves every time
REFRESH_EVERY = 10.0  # dashboard/js/realtime.js's REFRESH_PRICES_EVERY_MS
DAY_SECONDS = 86_400
# An auction's final minutes until its snipe's freeze (589 s at the default lead time).
WRITABLE_SECONDS = FINAL_SECONDS - DEFAULT_LEAD_SECONDS - FREEZE_WINDOW_SECONDS
ITEMS_PER_CALL = 20  # getItems; the simulator grants it unless --no-bulk-items


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else 0.0


def _union_seconds(windows: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(windows):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _descendants(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def _role(pid: int, named: dict[int, str]) -> str:
    if pid in named:
        return named[pid]
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    for handler, role in (
        ("workers.price_updater", "price updater"),
        ("realtime.broadcaster", "broadcaster"),
        ("realtime.actions", "refreshes (WsActions)"),
    ):
        if handler in command:
            return role
    return "other functions" if "local.lambda_containers" in command else "other"


def _cpu_snapshot(named: dict[int, str]) -> dict[int, tuple[str, float]]:
    snapshot = {}
    for pid in [os.getpid(), *_descendants(os.getpid())]:
        seconds = cpu_seconds(pid)
        if seconds is not None:
            role = "stack and bench" if pid == os.getpid() else _role(pid, named)
            snapshot[pid] = (role, seconds)
    return snapshot


def _cpu_spent(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    spent: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        spent[role] = spent.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return spent


# ---------------------------------------------------------------- the dashboards


class Sockets:
    """One WebSocket per user on a thread of its own, refreshing prices as an open dashboard
    does while one of its user's auctions (``ends``, epoch s) is in its last 10 minutes; every
    price.changed with its receipt, every pricesRefreshed."""

    def __init__(self, url: str, tokens: list[str], ends: list[list[float]]) -> None:
        self.url, self.tokens, self.ends = url, tokens, ends
        self.receipts: list[tuple[str, int, float]] = []  # (bidId, price, epoch seconds)
        self.refreshed: list[dict[str, Any]] = []  # pricesRefreshed's data
        self.answers: dict[int, tuple[asyncio.Event, list[float]]] = {}  # id(ws): the last ask's
        self.sockets: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sockets", daemon=True)

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(60):
            raise SystemExit("the WebSockets did not open within 60 s")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _close(self) -> None:
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.tasks.append(self.loop.create_task(self._main()))
        self.loop.run_forever()
        self.loop.close()

    async def _main(self) -> None:
        import websockets

        self.sockets = [await websockets.connect(f"{self.url}?token={t}") for t in self.tokens]
        for ws, ends in zip(self.sockets, self.ends, strict=True):
            await ws.send(json.dumps({"action": "sync"}))
            self.tasks.append(self.loop.create_task(self._read(ws)))
            self.tasks.append(self.loop.create_task(self._refresh(ws, ends)))
        self.ready.set()
        while True:  # API Gateway closes a socket after 10 idle minutes
            await asyncio.sleep(60)
            for ws in self.sockets:
                with contextlib.suppress(Exception):
                    await ws.send(json.dumps({"action": "ping"}))

    async def _refresh(self, ws: Any, ends: list[float]) -> None:
        """As the dashboard's timer: only while a snipe of its user is in its last 10 minutes
        (the dashboard's ``showsFinalMinutes``), one ask at a time, the next when its answer's
        ``nextInMs`` says (cli.ws.refresh_delay, the dashboard's rule), REFRESH_EVERY s after
        it without one."""
        await asyncio.sleep(random.uniform(0, REFRESH_EVERY))  # dashboards opened at random
        while True:
            now = time.time()
            delay = REFRESH_EVERY
            if any(0 < end - now <= FINAL_SECONDS for end in ends):
                answered, next_in, sent = asyncio.Event(), [0.0], False
                self.answers[id(ws)] = (answered, next_in)
                with contextlib.suppress(Exception):
                    await ws.send(json.dumps({"action": "refreshPrices"}))
                    sent = True
                    await asyncio.wait_for(answered.wait(), REFRESH_EVERY)
                    delay = refresh_delay(next_in[0]) if next_in[0] > 0 else REFRESH_EVERY
                if sent and not answered.is_set():
                    delay = 0.0  # unanswered: the ask is REFRESH_EVERY s old already
            await asyncio.sleep(delay)

    async def _read(self, ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for text in ws:
                at = time.time()
                message = json.loads(text)
                events = message["data"]["events"] if message.get("type") == "batch" else [message]
                for event in events:
                    if event.get("type") == "price.changed":
                        self.receipts.append((event["bidId"], event["data"]["currentPrice"], at))
                    elif event.get("type") == "pricesRefreshed":
                        self.refreshed.append(event["data"])
                        if (ask := self.answers.pop(id(ws), None)) is not None:
                            ask[1][0] = float(event["data"].get("nextInMs") or 0)
                            ask[0].set()


# ---------------------------------------------------------------- setup


def _sign_up(http: httpx.Client, n: int) -> tuple[str, dict[str, str]]:
    email = f"fresh{n}@example.com"
    http.post("/local/signup", json={"email": email, "password": PASSWORD}).raise_for_status()
    token = http.post("/local/login", json={"username": email, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['idToken']}"}
    link_ebay_account(http, headers, f"fresh_buyer_{n}")
    return token["idToken"], headers


def _auction(admin: httpx.Client, title: str, end: float) -> str:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(end))
    created = admin.post(
        "/_sim/auctions",
        json={"title": title, "startPrice": START_CENTS, "endTime": iso, "bots": False},
    )
    created.raise_for_status()
    legacy = str(created.json()["legacyItemId"])
    # A first rival at the start price: from now on every higher maximum moves the price.
    admin.post(
        f"/_sim/auctions/{legacy}/bids", json={"bidder": "rival0", "maxAmount": START_CENTS}
    ).raise_for_status()
    return legacy


def _day_load(admin: httpx.Client, endpoint: str, table: str, per_day: int, after: float) -> int:
    """Background snipes from ``after`` until eBay's midnight (Pacific time), as many in their
    final minutes at every instant as ``per_day`` evenly spread auctions need calls (module
    docstring)."""
    start, midnight = day_bounds(after)
    # per_day over the day's own length (23 or 25 hours on the days the clocks change), as
    # whole_day_charge spreads them
    per_window = math.ceil(per_day * WRITABLE_SECONDS / (midnight - start) / 20)
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    count = 0
    end = after + FINAL_SECONDS
    while end < midnight:
        for _ in range(per_window):
            legacy = _auction(admin, f"Day load {count}", end)
            bid = BidEntity(
                userId=f"day-load-{count % 50}",
                bidId=f"{int(end)}000{count:010x}",
                ebayItemId=legacy,
                itemId=f"v1|{legacy}|0",
                maxBidAmount=5_000_000,
                currency="USD",
                leadSeconds=DEFAULT_LEAD_SECONDS,
                status=BidStatus.PENDING,
                auctionEndTime=int(end),
                itemTitle=f"Day load {count}",
                createdAt=int(time.time() * 1000),
                updatedAt=int(time.time() * 1000),
            )
            dynamodb.put_item(TableName=table, Item=to_item(bid.to_item()))
            count += 1
        end += WRITABLE_SECONDS
    return count


def whole_day_charge(per_day: int, until: float, getitems_budget: int = 5000) -> dict[Share, int]:
    """Calls by share that eBay's day of ``until`` (Pacific time), from its midnight to
    ``until``, would have spent with ``per_day`` auctions evenly spread over the whole day (module
    docstring, ``--as-whole-day``): the final minutes' rounds at the whole day's pace, and one snipe
    creation per auction whose final minutes began."""
    midnight, next_midnight = day_bounds(until)
    length = next_midnight - midnight  # 23 or 25 hours on the days the clocks change
    gone = min(length, max(0.0, until - midnight))
    windows = day_windows(per_day, length)
    limits = Limits.of(FINAL_POLLS, getitems_budget)
    whole_day = min(limits.cap, limits.reserved + limits.pool)  # plan() at midnight
    every = pace(windows, whole_day, ITEMS_PER_CALL)
    demand_gone = final_demand([(start, min(end, gone)) for start, end in windows], ITEMS_PER_CALL)
    return {
        FINAL_POLLS: min(whole_day, round(demand_gone / every)),
        SNIPE_CREATION: sum(1 for start in _starts(per_day, length) if start < gone),
    }


def _starts(per_day: int, length: float) -> list[float]:
    """When the final minutes of ``per_day`` evenly spread auctions begin, from midnight."""
    return [n * length / per_day for n in range(per_day)]


def day_windows(per_day: int, length: float = DAY_SECONDS) -> list[tuple[float, float]]:
    """The final minutes (until the freeze) of ``per_day`` auctions evenly spread over a day of
    ``length`` seconds, those of yesterday's last auctions that run past midnight among them."""
    starts = _starts(per_day, length)
    return [
        (max(0.0, start), min(length, start + WRITABLE_SECONDS))
        for start in [s - length for s in starts if s + WRITABLE_SECONDS > length] + starts
    ]


def best_wait_bound(
    windows: list[tuple[float, float]],
    bulk_calls: int,
    single_calls: int,
    per_call: int = ITEMS_PER_CALL,
    share: float = 0.05,
) -> float:
    """The least wait ``x`` that *any* schedule of ``bulk_calls`` getItems calls (up to
    ``per_call`` items each) and ``single_calls`` getItem calls (one item each) can keep all but
    ``share`` of the changes under, a change being equally likely at any instant of an auction's
    ``windows`` and waiting for its item's next poll. p95 change -> WebSocket is at least this
    plus the write path.

    Why it is a bound: the bulk calls cut the seconds covered by final minutes into at most
    ``bulk_calls`` + (covered stretches) gaps, and in a gap of g seconds the first g - x wait
    longer than x, so at least ``covered - gaps * x`` seconds do whatever the spacing; the items
    in their final minutes then (m at that instant; a bulk call polls them all while m <=
    ``per_call``) each wait that long, and the best a schedule can do is put those seconds where
    m is least. A single-item call splits one item's gap, which takes at most x off that item's
    excess. So the changes waiting over x are at least (the m-weighted excess, least m first) -
    single_calls * x, out of sum(m) seconds of changes."""
    events = sorted(
        (t, d) for start, end in windows if end > start for t, d in ((start, 1), (end, -1))
    )
    seconds_at: dict[int, float] = {}  # m -> seconds with m items in their final minutes
    stretches, active, last = 0, 0, 0.0
    for at, change in events:
        if active:
            seconds_at[active] = seconds_at.get(active, 0.0) + at - last
        elif change > 0:
            stretches += 1
        active += change
        last = at
    if not seconds_at:
        return 0.0
    if max(seconds_at) > per_call:
        raise ValueError(
            "more items at once than one call polls: the bound assumes one call a round"
        )
    covered = sum(seconds_at.values())
    changes = sum(m * seconds for m, seconds in seconds_at.items())
    least_first = sorted(seconds_at.items())

    def waiting_longer(x: float) -> float:
        excess, weighted = max(0.0, covered - (bulk_calls + stretches) * x), 0.0
        for m, seconds in least_first:
            taken = min(excess, seconds)
            weighted, excess = weighted + m * taken, excess - taken
        return weighted - single_calls * x

    low, high = 0.0, covered
    while high - low > 0.001:
        middle = (low + high) / 2
        low, high = (low, middle) if waiting_longer(middle) <= share * changes else (middle, high)
    return high


def charge_whole_day(budget: CallBudget, charge: dict[Share, int], at: float) -> dict[Share, int]:
    """Write ``charge`` on the day's counters of ``at`` as the product's calls would have: its
    own conditional ADDs (``CallBudget.reserve``: the reserve first, then the pool). Returns
    what was granted."""
    return {share: budget.reserve(share, calls, int(at)) for share, calls in charge.items()}


def _budget_counters(endpoint: str, table: str, now: float, api: Quota) -> dict[str, int]:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    item = dynamodb.get_item(
        TableName=table, Key={"userId": {"S": budget_key(ebay_day(now), api)}}, ConsistentRead=True
    ).get("Item", {})
    return {k: int(v["N"]) for k, v in item.items() if "N" in v and k != "ttl"}


# ---------------------------------------------------------------- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auctions", type=int, default=10)
    parser.add_argument("--spacing", type=float, default=86.4, help="seconds between ends")
    parser.add_argument("--changes", type=int, default=3, help="rival bids per auction")
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--day-load", type=int, default=0, help="auctions a day around them")
    parser.add_argument(
        "--as-whole-day",
        action="store_true",
        help="charge the day's counters with what the hours gone would have spent at the "
        "--day-load's pace, so the planner paces a whole day, not what is left of it",
    )
    parser.add_argument("--lead-in", type=float, default=120, help="s before the first window")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--isolation", choices=("thread", "process"), default="process")
    args = parser.parse_args()
    if args.as_whole_day and not args.day_load:
        parser.error("--as-whole-day needs --day-load")
    rng = random.Random(args.seed)
    logging.disable(logging.WARNING)
    os.environ["BOTO_DISABLE_CRT"] = "true"  # sign as the deployed layer does
    # The functions' containers inherit these: no metric lines or Powertools' warning about
    # them among the figures.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"

    with ExitStack() as outside:
        sim_url, sim_pid = outside.enter_context(
            server_process(["-m", "local.ebay_sim", "--port", "0", "--no-bots"])
        )
        moto_url, moto_pid = outside.enter_context(server_process(["-c", MOTO_SERVER]))
        running = outside.enter_context(
            running_stack(
                demo=False,
                aws_endpoint_url=moto_url,
                ebay_api_base_url=sim_url,
                lambda_isolation=args.isolation,
            )
        )
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        stack = running.stack
        assert stack.provisioned is not None
        http = outside.enter_context(httpx.Client(base_url=running.base_url, timeout=60))
        admin = outside.enter_context(httpx.Client(base_url=sim_url, timeout=60))
        users = [_sign_up(http, n) for n in range(args.users)]
        assert stack.template is not None
        getitems_quota = int(stack.template.parameters["EbayDailyGetItemsBudget"])
        browse_quota = int(stack.template.parameters["EbayDailyCallBudget"])
        background = 0
        charged: dict[Share, int] = {}
        if args.as_whole_day:
            # The hours gone: until the measured auctions' first final minutes begin.
            until = time.time() + args.lead_in
            budget = CallBudget(
                stack.provisioned.tables["UsersTable"].name,
                browse_quota,
                getitems_quota,
                client=boto3.client(
                    "dynamodb",
                    endpoint_url=stack.provisioned.endpoint_url,
                    region_name="us-east-1",
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                ),
            )
            charged = charge_whole_day(
                budget,
                whole_day_charge(args.day_load, until, budget.daily_budgets["getitems"]),
                until,
            )
        if args.day_load:
            # Their final minutes start as the measured auctions' end.
            background = _day_load(
                admin,
                stack.provisioned.endpoint_url,
                stack.provisioned.tables["BidsTable"].name,
                args.day_load,
                time.time() + args.lead_in + FINAL_SECONDS + args.auctions * args.spacing,
            )

        first_end = time.time() + args.lead_in + FINAL_SECONDS
        ends = [first_end + i * args.spacing for i in range(args.auctions)]
        owner: dict[str, str] = {}  # bidId -> legacy id
        auctions: list[tuple[str, float]] = []
        calls_before_creation = admin.get("/_sim/calls").json()["calls"]
        for i, end in enumerate(ends):
            legacy = _auction(admin, f"Fresh lot {i}", end)
            _token, headers = users[i % len(users)]
            answer = http.post(
                "/bids", json={"ebayItemId": legacy, "maxBidAmount": 5_000_000}, headers=headers
            )
            answer.raise_for_status()
            owner[answer.json()["bidId"]] = legacy
            auctions.append((legacy, end))
        calls_at_start = admin.get("/_sim/calls").json()["calls"]
        creation_calls = sum(calls_at_start.values()) - sum(calls_before_creation.values())
        sockets = Sockets(
            stack.websocket_url.replace("localhost", "127.0.0.1"),
            [t for t, _ in users],
            [ends[n :: len(users)] for n in range(len(users))],
        )
        sockets.start()

        plan = []  # (instant, legacy)
        freeze_offset = DEFAULT_LEAD_SECONDS + FREEZE_WINDOW_SECONDS + MARGIN_BEFORE_FREEZE
        for legacy, end in auctions:
            for _ in range(args.changes):
                plan.append((rng.uniform(end - FINAL_SECONDS, end - freeze_offset), legacy))
        plan.sort()
        print(
            f"{args.auctions} auctions ending {args.spacing:.1f} s apart "
            f"({86400 / args.spacing:.0f} a day), {len(plan)} rival bids in their last 10 "
            f"minutes, {args.users} users with a socket each; {background} background snipes "
            f"(--day-load {args.day_load}); "
            f"functions in {args.isolation} isolation; started "
            f"{time.strftime('%H:%M', time.gmtime())} UTC, load average "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}",
            flush=True,
        )
        if charged:
            print(
                "--as-whole-day: the hours gone today charged as a whole day of "
                f"{args.day_load} auctions would have spent them: "
                + ", ".join(f"{share.name} {calls}" for share, calls in charged.items()),
                flush=True,
            )
        named = {sim_pid: "eBay simulator", moto_pid: "moto"}
        cpu_before = _cpu_snapshot(named)
        started = time.time()
        changes: list[tuple[str, int, float]] = []  # (legacy, price, epoch seconds at eBay)
        maxima = dict.fromkeys(owner.values(), START_CENTS)
        for instant, legacy in plan:
            time.sleep(max(0.0, instant - time.time()))
            maxima[legacy] += STEP_CENTS
            answer = admin.post(
                f"/_sim/auctions/{legacy}/bids",
                json={"bidder": f"rival{maxima[legacy]}", "maxAmount": maxima[legacy]},
            )
            answer.raise_for_status()
            body = answer.json()
            changes.append((legacy, body["auction"]["currentPrice"], body["receivedAt"] / 1000))
        time.sleep(max(0.0, ends[-1] - time.time()) + 15)  # the last rounds' messages
        elapsed = time.time() - started
        cpu_after = _cpu_snapshot(named)
        calls_at_end = admin.get("/_sim/calls").json()["calls"]
        counters = {
            api: _budget_counters(
                stack.provisioned.endpoint_url,
                stack.provisioned.tables["UsersTable"].name,
                started,
                api,
            )
            for api in QUOTAS
        }
        runtime = stack.runtime
        updater = runtime.stats.get("PriceUpdaterFunction") if runtime else None
        invocations = updater.invocations if updater else 0
        actions = runtime.stats.get("WsActionsFunction") if runtime else None
        actions_ms = (
            actions.billed_duration_ms / actions.invocations
            if actions and actions.invocations
            else 0.0
        )
        sockets.stop()

    receipts = sorted(sockets.receipts, key=lambda r: r[2])
    latencies: list[float] = []
    missed = 0
    for legacy, price, at in changes:
        seen = [
            r_at
            for bid, r_price, r_at in receipts
            if owner.get(bid) == legacy and r_price >= price and r_at >= at
        ]
        if seen:
            latencies.append(seen[0] - at)
        else:
            missed += 1
    print(
        f"change -> WebSocket: {len(latencies)}/{len(changes)} delivered; p50 "
        f"{_pct(latencies, 50):.1f} s, p95 {_pct(latencies, 95):.1f} s, p99 "
        f"{_pct(latencies, 99):.1f} s, max {max(latencies or [0]):.1f} s"
    )
    during = {k: calls_at_end.get(k, 0) - calls_at_start.get(k, 0) for k in calls_at_end}
    polls = during.get("getItems", 0) + during.get("getItem", 0)
    print(
        f"Browse calls in the {elapsed / 60:.1f} min measured: {during}; "
        f"{polls / args.auctions:.1f} polling calls per auction; snipe creation "
        f"{creation_calls / args.auctions:.1f} per auction (before)"
    )
    for api, found in counters.items():
        shares = {k: v for k, v in found.items() if k.startswith("u_")}
        print(
            f"the day's {api} counters: calls {found.get('calls', 0)}, by share {shares}"
            + (" (with the hours gone charged)" if charged else "")
        )
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    spent = _cpu_spent(cpu_before, cpu_after)
    parts = ", ".join(f"{role} {seconds:.1f} s" for role, seconds in sorted(spent.items()))
    print(f"CPU over the run: {parts}")
    updater_cpu = spent.get("price updater", 0.0) + spent.get("refreshes (WsActions)", 0.0)
    final_calls = counters["getitems"].get("u_final", 0) - charged.get(FINAL_POLLS, 0)
    refreshed = sockets.refreshed
    print(
        f"refreshes: {len(refreshed)} answered ({len(refreshed) / args.auctions:.1f} per "
        f"auction), {sum(1 for r in refreshed if r['polled'])} polled, "
        f"{sum(1 for r in refreshed if r['throttled'])} throttled, the rest left to a round "
        f"less than the pace ago; WsActionsFunction {actions_ms:.0f} ms billed per message"
    )
    if polls:
        print(
            f"price updater and refreshes: {invocations} runs, {1000 * updater_cpu / polls:.1f} "
            f"ms of CPU per Browse call ({1000 * updater_cpu / max(1, final_calls):.1f} per "
            f"final-minutes call), {1000 * updater_cpu / max(1, elapsed):.1f} ms of CPU per "
            f"second of the run"
        )
    covered = _union_seconds(
        [(end - FINAL_SECONDS, end - DEFAULT_LEAD_SECONDS - FREEZE_WINDOW_SECONDS) for end in ends]
    )
    if final_calls:
        every = covered / final_calls
        print(
            f"the measured auctions' final minutes covered {covered:.0f} s: one final-minutes "
            f"call every {every:.1f} s; a day covered end to end at this pace would take "
            f"{86400 / every:.0f} calls"
        )
    if args.day_load:
        windows = day_windows(args.day_load)
        planned = pace(windows, getitems_quota, ITEMS_PER_CALL)
        spare = max(0, browse_quota - args.day_load)  # one look-up per snipe created
        print(
            f"a whole day of {args.day_load} evenly spread: rounds at the planned pace "
            f"({planned:.1f} s) leave 5 % of changes waiting over {0.95 * planned:.1f} s; "
            f"no schedule within the quotas (getItems {getitems_quota}; getItem {spare} "
            f"spare, none left for look-ups) keeps them under "
            f"{best_wait_bound(windows, getitems_quota, spare):.1f} s, "
            f"{best_wait_bound(windows, getitems_quota, 0):.1f} s with getItems alone "
            "(p95 change -> WebSocket: that, plus the write path)"
        )
    p95 = _pct(latencies, 95)
    goal = bool(latencies) and p95 <= 15 and missed == 0
    print("goal (p95 <= 15 s, every change delivered):", "met" if goal else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
