"""The chaos harness that bench/chaos.py and tests/integration/chaos/ share: the bid executor
killed at a chosen point, the stream pump crashed and restarted, a snipe workload under all of
it, and the audit of every snipe against the simulator's ground truth (bench/chaos_users.py for
the users racing the seal).

It drives a local stack (local.testing.running_stack) from the outside, as a test does; only the
executor kills reach into a function, through the stack's Lambda runtime (ExecutorKiller).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from bench.chaos_users import (
    ChangeSummary,
    InvariantAudit,
    RacedSnipe,
    RacePlan,
    Users,
    audit_invariants,
    summarize,
    timeline,
)
from local.stack import LocalCloud
from local.testing import START_TIMEOUT_SECONDS, RunningStack, link_ebay_account

KILL_POINTS = ("before-claim", "after-claim", "after-accept")
FINAL_STATUSES = frozenset({"WON", "LOST", "FAILED", "CANCELLED"})
EVERY_STATUS = "PENDING,ARMED,PLACED,WON,LOST,CANCELLED,FAILED"


class RunKilled(BaseException):
    """A run stopped dead where Lambda would have lost its container. A BaseException, so that
    nothing in the product (whose outermost edges catch Exception) stops it on its way out."""


class ExecutorKiller:
    """Kills a share of the bid executor runs that try to claim a snipe, at a point drawn from
    ``points``: just before the claim's conditional write, just after it, or just after eBay
    accepted the bid (before PLACED is recorded).

    Threads cannot be killed, so a chosen run's collaborators raise :class:`RunKilled` at its
    point. The draw is made when a run first tries to claim: runs that never do (a duplicate
    delivery finding the snipe claimed, a follow-up finding it finished) only read and leave,
    and are counted in ``runs`` but not drawn. A run drawn to die after eBay accepted lives if
    it never bids. With ``at_each_point`` the draw is made at every point a run reaches instead
    (so every point sees kills even in a small run). ``installed(running)`` has the stack's
    Lambda runtime run :meth:`handler` for the executor while it lasts.
    """

    def __init__(
        self,
        rate: float,
        seed: int = 0,
        points: tuple[str, ...] = KILL_POINTS,
        *,
        at_each_point: bool = False,
    ) -> None:
        self.rate = rate
        self.points = points
        self.at_each_point = at_each_point
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.runs = 0  # executor runs
        self.claiming_runs = 0  # runs that tried to claim (the ones drawn)
        self.planned: Counter[str] = Counter()
        self.killed: Counter[str] = Counter()
        # When runs first touched each snipe (by bidId): "woke", "claimed", "bid" (epoch s).
        self.trace: dict[str, dict[str, float]] = {}

    def note(self, bid_id: str, what: str, *, last: bool = False) -> None:
        """The first time ``what`` happened to the snipe (or the latest, with ``last``)."""
        with self._lock:
            times = self.trace.setdefault(bid_id, {})
            if last or what not in times:
                times[what] = time.time()

    @contextmanager
    def installed(self, running: RunningStack) -> Iterator[ExecutorKiller]:
        """The stack's BidExecutorFunction runs :meth:`handler` while the context lasts."""
        runtime = running.stack.runtime
        assert runtime is not None
        with runtime.handler_replaced("BidExecutorFunction", self.handler):
            yield self

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, str]:
        """The executor's handler, its engine built by the product's own wiring, with a
        repository and an eBay client that die at this run's drawn point."""
        from workers import bid_executor

        built = bid_executor.engine(context)
        with self._lock:
            self.runs += 1
        run = _Run(self)
        built.bids = cast(Any, _KillingBids(built.bids, run))
        built.ebay = _KillingEbay(built.ebay, run)
        result = built.run(str(event["userId"]), str(event["bidId"]))
        return {"bidId": str(event["bidId"]), "result": result}

    def draw(self) -> str | None:
        """A claiming run's fate: the point it dies at, or None."""
        with self._lock:
            self.claiming_runs += 1
            if self.at_each_point or self._rng.random() >= self.rate:
                return None
            point = self._rng.choice(self.points)
            self.planned[point] += 1
            return point

    def due_here(self, point: str) -> bool:
        """``at_each_point``: whether the run dies at this point."""
        with self._lock:
            due = point in self.points and self._rng.random() < self.rate
            self.planned[point] += due
            return due

    def kill(self, point: str) -> None:
        with self._lock:
            self.killed[point] += 1
        raise RunKilled(point)


class _Run:
    """One run's fate, drawn when it first tries to claim."""

    def __init__(self, killer: ExecutorKiller) -> None:
        self.killer = killer
        self.drawn = False
        self.point: str | None = None
        self.bid_id = ""

    def reached(self, point: str) -> None:
        if not self.drawn:
            self.drawn = True
            self.point = self.killer.draw()
        due = self.killer.due_here(point) if self.killer.at_each_point else self.point == point
        if due:
            self.killer.kill(point)


class _KillingBids:
    """The executor's repository, dying around the claim (the one write that arms a snipe)."""

    def __init__(self, inner: Any, run: _Run) -> None:
        self._inner, self._run = inner, run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get(self, user_id: str, bid_id: str) -> Any:
        if not self._run.bid_id:
            self._run.bid_id = bid_id
            self._run.killer.note(bid_id, "woke")
        return self._inner.get(user_id, bid_id)

    def replace(self, before: Any, after: Any, *args: Any, **kwargs: Any) -> Any:
        from workers.logic.snipe_engine import PHASE_ARMED

        claim = after.status.value == "ARMED" and after.countdownPhase == PHASE_ARMED
        if claim:
            self._run.reached("before-claim")
        result = self._inner.replace(before, after, *args, **kwargs)
        if claim:
            self._run.killer.note(after.bidId, "claimed")
            self._run.reached("after-claim")
        return result


class _KillingEbay:
    """The executor's eBay client, dying once eBay has accepted the bid."""

    def __init__(self, inner: Any, run: _Run) -> None:
        self._inner, self._run = inner, run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def probe_clock(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._inner.probe_clock(*args, **kwargs)
        finally:
            self._run.killer.note(self._run.bid_id, "last probe back", last=True)

    def place_proxy_bid(self, *args: Any, **kwargs: Any) -> Any:
        self._run.killer.note(self._run.bid_id, "bid")
        result = self._inner.place_proxy_bid(*args, **kwargs)
        if self._run.drawn:
            self._run.reached("after-accept")
        return result


def restart_stream_pump(running: RunningStack, down_seconds: float = 1.0) -> dict[str, Any]:
    """Crash the stack's stream pump and start a new one ``down_seconds`` later, through the
    pump's public API; the new one resumes from the stack's checkpoints, as Lambda's event
    source mapping does after its poller fails. Returns the stopped pump's stats per function."""
    from local.stream_pump import StreamPump

    stack = running.stack

    async def restart() -> dict[str, Any]:
        old = stack.stream_pump
        assert old is not None
        assert stack.template is not None
        assert stack.runtime is not None
        await old.stop()
        await asyncio.sleep(down_seconds)
        new = StreamPump(
            stack.template,
            stack.runtime,
            stack.aws_endpoint_url,
            checkpoints=stack.stream_checkpoints,
        )
        await new.start()
        stack.stream_pump = new
        return {name: vars(stats) for name, stats in old.stats.items()}

    timeout = down_seconds + START_TIMEOUT_SECONDS
    return asyncio.run_coroutine_threadsafe(restart(), running.loop).result(timeout)


@dataclass
class SnipeAudit:
    """Every snipe against the simulator's ground truth."""

    snipes: int = 0
    placed_twice: int = 0
    no_final_state: int = 0
    disagreements: int = 0
    # Snipes meant to reach eBay: all but those their users cancelled and a group's.
    should_bid: int = 0
    placed_before_end: int = 0  # of those
    statuses: Counter[str] = field(default_factory=Counter)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # one line per snipe that is wrong

    @property
    def placed_share(self) -> float:
        return self.placed_before_end / self.should_bid if self.should_bid else 0.0


def audit_snipes(
    snipes: list[tuple[str, dict[str, Any]]], auctions: dict[str, dict[str, Any]]
) -> SnipeAudit:
    """``snipes``: (owner's eBay username, the snipe as ``GET /bids`` lists it); ``auctions``:
    the simulator's ``GET /_sim/auctions/{legacyItemId}`` by legacy id, after every end.

    A recorded state agrees with eBay when: WON and eBay's winner is the owner at eBay's final
    price; LOST and eBay holds the owner's bid, someone else won, at eBay's final price;
    FAILED or CANCELLED and eBay holds no bid of the owner. PENDING, ARMED or PLACED after the
    end is no final state. A snipe its user cancelled, or one of a group (whose rule lets only
    some bid), is not counted in the share placed before the end."""
    audit = SnipeAudit(snipes=len(snipes))
    for owner, snipe in snipes:
        state = auctions[snipe["ebayItemId"]]
        ours = [b for b in state["bids"] if b["bidder"] == owner and b["accepted"]]
        status = snipe["status"]
        audit.statuses[status] += 1
        if status == "FAILED":
            audit.failure_reasons[str(snipe.get("failureReason"))] += 1
        audit.placed_twice += len(ours) > 1
        if not snipe.get("groupId") and snipe.get("cancelReason") != "USER":
            audit.should_bid += 1
            audit.placed_before_end += bool(ours) and ours[0]["receivedAt"] < state["endTimeMs"]
        final_price = state.get("finalPrice", state.get("currentPrice"))
        if status not in FINAL_STATUSES:
            audit.no_final_state += 1
            wrong = f"no final state ({status})"
        elif status == "WON":
            ok = state.get("winner") == owner and snipe.get("finalPrice") == final_price
            wrong = "" if ok else "WON, but eBay says otherwise"
        elif status == "LOST":
            ok = bool(ours) and state.get("winner") != owner
            ok = ok and snipe.get("finalPrice") == final_price
            wrong = "" if ok else "LOST, but eBay says otherwise"
        else:
            wrong = f"{status}, but eBay holds the bid" if ours else ""
        if wrong:
            audit.disagreements += status in FINAL_STATUSES
            audit.problems.append(
                f"{snipe['bidId']} item {snipe['ebayItemId']}: {wrong}; recorded "
                f"{status} {snipe.get('finalPrice')}, eBay {state.get('status')} winner "
                f"{state.get('winner')} at {final_price}, our accepted bids {len(ours)}"
            )
    return audit


@dataclass
class ChaosPlan:
    """A snipe workload and the faults injected while it runs (defaults: bench/chaos.py's)."""

    snipes: int = 1000
    users: int = 5
    first_end_in: float = 480.0  # seconds from the start to the first auction's end
    spread: float = 300.0  # the ends spread evenly over this many seconds
    leads: tuple[int, ...] = (2, 3, 4, 5, 6)
    max_bid: int = 5000
    rival_maxima: tuple[int, ...] = (3000, 8000)  # one rival per auction: we win, or lose
    deliveries: int = 3
    duplicate_spread: float = 1.0
    retry_delays: tuple[float, ...] = (60.0, 120.0)  # Lambda's
    kill_rate: float = 0.1
    kill_at_each_point: bool = False  # the draw at every point reached, not once per run
    fault_rate: float = 0.2  # 500, 503, 429 and timeouts in equal shares
    hang_ms: int = 10_000
    pump_restarts: int = 2
    pump_down_seconds: float = 2.0
    settle: float = 200.0  # at most this long after the last end for final states
    poll_seconds: float = 10.0  # how often the snipes are listed after the last end
    create_threads: int = 8
    seed: int = 8
    # Users changing and cancelling their snipes up to and across the seal (bench.chaos_users).
    racing: RacePlan = field(default_factory=RacePlan)
    # Win-one groups (the default rule), each of one user's snipes on auctions ending
    # group_gap s apart, every rival below our maximum: only the rule keeps all from winning.
    # Counted among ``snipes``.
    groups: int = 0
    group_size: int = 3
    group_gap: int = 1


@dataclass
class ChaosReport:
    plan: ChaosPlan
    audit: SnipeAudit
    created: int = 0
    refused: list[str] = field(default_factory=list)
    create_seconds: float = 0.0
    run_seconds: float = 0.0
    scheduler: dict[str, int] = field(default_factory=dict)
    # Lambda's handling of failed asynchronous runs, scheduled or invoked at once (AsyncStats)
    lambda_async: dict[str, int] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    kills_planned: dict[str, int] = field(default_factory=dict)
    executor_runs: int = 0
    claiming_runs: int = 0
    pump_stats: list[dict[str, Any]] = field(default_factory=list)  # each pump's, in turn
    ebay_faults: dict[str, Any] = field(default_factory=dict)
    pump_restarts: int = 0
    pump_records: list[int] = field(default_factory=list)  # delivered by each pump in turn
    stream_records: int = 0  # in the Bids stream, from its first record
    stream_at_restarts: list[int] = field(default_factory=list)  # when each pump was stopped
    timeline: list[str] = field(default_factory=list)  # when runs woke, claimed, bid
    executor: dict[str, Any] = field(default_factory=dict)
    changes: ChangeSummary = field(default_factory=ChangeSummary)
    invariants: InvariantAudit = field(default_factory=InvariantAudit)

    def lines(self) -> list[str]:
        a, p = self.audit, self.plan
        faults = {k: v for k, v in self.ebay_faults.items() if k != "byEndpoint"}
        calls = int(faults.pop("calls", 0))
        failed = sum(int(v) for v in faults.values())
        return [
            f"snipes: {a.snipes} created of {p.snipes} ({p.users} users) in "
            f"{self.create_seconds:.0f} s; ends over {p.spread:.0f} s; "
            f"run {self.run_seconds:.0f} s",
            *(f"  refused at creation: {answer}" for answer in sorted(set(self.refused))),
            f"bids placed twice: {a.placed_twice} (must be 0)",
            f"snipes with no final state: {a.no_final_state} (must be 0)",
            f"recorded state disagrees with eBay: {a.disagreements} (must be 0)",
            f"placed before the end: {a.placed_before_end}/{a.should_bid} = "
            f"{100 * a.placed_share:.1f}% (goal >= 99%)"
            + (
                ""
                if a.should_bid == a.snipes
                else " (not counting snipes their users cancelled, nor groups')"
            ),
            f"statuses: {dict(sorted(a.statuses.items()))}",
            *(f"  FAILED {n}: {reason}" for reason, n in a.failure_reasons.most_common()),
            *(self.changes.lines() if self.changes.snipes else []),
            *self.invariants.lines(),
            "injected:",
            f"  schedules fired {self.scheduler.get('fired', 0)}, delivered "
            f"{self.scheduler.get('deliveries', 0)} times (duplicates "
            f"{self.scheduler.get('duplicates', 0)})",
            f"  executor runs {self.executor_runs}, {self.claiming_runs} of them tried to claim; "
            f"killed {sum(self.kills.values())}: "
            + ", ".join(f"{k} {self.kills.get(k, 0)}" for k in KILL_POINTS)
            + f" (drawn {sum(self.kills_planned.values())}; drawn to die after eBay accepted, a "
            "run that never bids lives)",
            f"  Lambda retries {self.lambda_async.get('async_retries', 0)} of "
            f"{self.lambda_async.get('function_errors', 0)} failed asynchronous runs (scheduled "
            f"or invoked at once), given up {self.lambda_async.get('async_given_up', 0)}",
            f"  eBay faults {failed} of {calls} calls "
            f"({100 * failed / calls if calls else 0:.1f}%): "
            + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())),
            f"  stream pump restarts {self.pump_restarts}; records delivered by each pump "
            f"{self.pump_records} of {self.stream_records} in the stream (not delivered: "
            f"{max(0, self.stream_records - sum(self.pump_records))}; in the stream when each "
            f"pump stopped: {self.stream_at_restarts})",
            f"  executor invocations {self.executor.get('invocations', 0)}, errors "
            f"{self.executor.get('errors', 0)}",
            *self.timeline,
            *(f"  problem: {line}" for line in a.problems[:20]),
        ]


def run_chaos(
    running: RunningStack, plan: ChaosPlan, progress: Any = lambda line: None
) -> ChaosReport:
    """Create ``plan.snipes`` snipes through the REST API on simulator auctions, then, while
    they fire: every schedule delivered ``plan.deliveries`` times, ``plan.kill_rate`` of
    executor runs killed, eBay failing ``plan.fault_rate`` of calls, the stream pump restarted.
    Waits for every snipe's outcome (or ``plan.settle`` after the last end) and audits them."""
    stack = running.stack
    assert stack.scheduler is not None
    rng = random.Random(plan.seed)
    stack.scheduler.deliveries = plan.deliveries
    stack.scheduler.duplicate_spread_seconds = plan.duplicate_spread
    stack.scheduler.async_retry_delays = plan.retry_delays
    report = ChaosReport(plan=plan, audit=SnipeAudit())
    started = time.time()
    with (
        httpx.Client(base_url=running.base_url, timeout=60) as http,
        httpx.Client(base_url=running.sim_url, timeout=60) as admin,
    ):
        users = [_chaos_user(http, u) for u in range(plan.users)]
        now_s = int(admin.get("/_sim/clock").json()["nowMs"]) // 1000
        first_end = now_s + int(plan.first_end_in)
        regular = plan.snipes - plan.groups * plan.group_size
        # (end, group, owner's index)
        ends: list[tuple[int, str | None, int]] = [
            (first_end + int(i * plan.spread / regular), None, i % plan.users)
            for i in range(regular)
        ]
        for g in range(plan.groups):
            start = first_end + int(plan.spread * (g + 0.5) / plan.groups)
            ends += [
                (start + k * plan.group_gap, f"chaos-group-{g}", g % plan.users)
                for k in range(plan.group_size)
            ]
        lots: list[_Lot] = []
        for i, (end, group, owner) in enumerate(ends):
            created = admin.post(
                "/_sim/auctions",
                json={
                    "title": f"Chaos lot {i}",
                    "startPrice": 1000,
                    "endTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(end)),
                    "bots": False,  # one rival only: whether we win is known in advance
                },
            )
            created.raise_for_status()
            legacy = created.json()["legacyItemId"]
            # A group's rivals bid below our maximum: without the rule we would win them all.
            rival = rng.choice(plan.rival_maxima) if group is None else min(plan.rival_maxima)
            admin.post(
                f"/_sim/auctions/{legacy}/bids",
                json={"bidder": f"rival_{i % 7}", "maxAmount": rival},
            ).raise_for_status()
            lots.append(_Lot(users[owner], legacy, rng.choice(plan.leads), group))

        def snipe(lot: _Lot) -> tuple[bool, dict[str, Any] | None]:
            """Whether the snipe was created, and the 201's body (None if not, or unknown)."""
            body: dict[str, Any] = {
                "ebayItemId": lot.legacy,
                "maxBidAmount": plan.max_bid,
                "leadSeconds": lot.lead,
            }
            if lot.group:
                body["groupId"] = lot.group
            answer: httpx.Response | None = None
            retried = False
            for _ in range(3):
                answer = http.post("/bids", json=body, headers=lot.user[1])
                if answer.status_code < 500:
                    break
                retried = True
                time.sleep(1)
            assert answer is not None
            if answer.status_code == 409 and retried:
                # An earlier attempt timed out at the gateway but got through.
                return True, None
            if answer.status_code != 201:
                report.refused.append(f"{answer.status_code} {answer.text[:160]}")
                return False, None
            return True, answer.json()

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(plan.create_threads) as pool:
            made = list(pool.map(snipe, lots))
        report.created = sum(ok for ok, _ in made)
        choose = random.Random(plan.seed + 1)
        raced = [
            RacedSnipe(
                bid_id=str(created["bidId"]),
                ebay_item_id=lot.legacy,
                owner=lot.user[0],
                headers=lot.user[1],
                created_max=int(created["maxBidAmount"]),
                lead=int(created["leadSeconds"]),
                maximum=int(created["maxBidAmount"]),
                end_s=int(created["auctionEndTime"]),
                aims=plan.racing.aims(choose),
            )
            for lot, (_, created) in zip(lots, made, strict=True)
            if created is not None and choose.random() < plan.racing.share
        ]
        report.create_seconds = time.time() - started
        progress(f"{report.created}/{plan.snipes} snipes created in {report.create_seconds:.0f} s")
        from common import scheduling

        if report.create_seconds > plan.first_end_in - max(plan.leads) - (
            scheduling.INVOKE_NOW_WITHIN_SECONDS
        ):
            progress("(creation ran late: the last snipes were invoked at once, not scheduled)")

        admin.post(
            "/_sim/faults",
            json={
                "endpoint": "*",
                "errorRate": plan.fault_rate * 0.75,
                "statuses": [500, 503, 429],
                "timeoutRate": plan.fault_rate * 0.25,
                "hangMs": plan.hang_ms,
                "seed": plan.seed,
            },
        ).raise_for_status()
        killer = ExecutorKiller(
            plan.kill_rate, seed=plan.seed, at_each_point=plan.kill_at_each_point
        )
        last_end = max(end for end, _, _ in ends)
        racing = Users(raced, running.base_url, plan.racing, plan.leads, plan.seed)
        racing.start()
        restarts = [
            time.time() + (last_end - time.time()) * (k + 1) / (plan.pump_restarts + 1)
            for k in range(plan.pump_restarts)
        ]
        listing: list[tuple[str, dict[str, Any]]] = []
        with killer.installed(running):
            while True:
                now = time.time()
                if restarts and now >= restarts[0]:
                    restarts.pop(0)
                    report.stream_at_restarts.append(_stream_record_count(stack))
                    stopped = restart_stream_pump(running, plan.pump_down_seconds)
                    report.pump_restarts += 1
                    report.pump_records.append(sum(s["records"] for s in stopped.values()))
                    report.pump_stats.append(stopped)
                    progress(f"stream pump restarted ({report.pump_restarts}): {stopped}")
                if now >= last_end + 5:
                    listing = _chaos_listing(http, users)
                    waiting = sum(s["status"] not in FINAL_STATUSES for _, s in listing)
                    progress(
                        f"{waiting} snipes without a final state {now - last_end:.0f} s "
                        "after the last end"
                    )
                    if not waiting or now >= last_end + plan.settle:
                        break
                    time.sleep(plan.poll_seconds)
                else:
                    time.sleep(1)
            faults = admin.get("/_sim/faults").json()["faults"]
            admin.delete("/_sim/faults")
        racing.join(timeout=60)
        report.ebay_faults = faults[0]["counts"] if faults else {}
        if stack.stream_pump is not None:
            report.pump_records.append(sum(s.records for s in stack.stream_pump.stats.values()))
            report.pump_stats.append(
                {name: vars(stats) for name, stats in stack.stream_pump.stats.items()}
            )
        auctions = {
            str(a["legacyItemId"]): a for a in admin.get("/_sim/auctions").json()["auctions"]
        }
        _read_seals(stack, raced)
        report.changes = summarize(raced)
        by_id = {snipe.bid_id: snipe for snipe in raced}
        report.invariants = audit_invariants(listing, auctions, by_id, plan.max_bid)
        headers = dict(users)
        for ebay_user, listed in listing:
            if listed["bidId"] in report.invariants.violating:
                history = _history(http, listed["bidId"], headers[ebay_user])
                report.invariants.timelines += timeline(
                    listed, auctions[listed["ebayItemId"]], history, by_id.get(listed["bidId"])
                )
    report.audit = audit_snipes(listing, auctions)
    report.stream_records = _stream_record_count(stack)
    report.run_seconds = time.time() - started
    report.scheduler = dict(vars(stack.scheduler.stats))
    if stack.events is not None:
        report.lambda_async = dict(vars(stack.events.stats))
    report.kills = dict(killer.killed)
    report.kills_planned = dict(killer.planned)
    report.executor_runs = killer.runs
    report.claiming_runs = killer.claiming_runs
    report.timeline = _timeline(listing, killer.trace)
    if stack.runtime is not None:
        report.executor = dict(vars(stack.runtime.stats["BidExecutorFunction"]))
    return report


def _timeline(
    listing: list[tuple[str, dict[str, Any]]], trace: dict[str, dict[str, float]]
) -> list[str]:
    """When the first run of each snipe woke, claimed it and sent its bid, against its fire
    time (seconds; negative is before): for all snipes, and for those that missed the end."""

    def spread(values: list[float]) -> str:
        if not values:
            return "none"
        ordered = sorted(values)
        pick = [
            ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] for q in (0, 0.5, 0.99)
        ]
        return f"min {pick[0]:+.1f}, p50 {pick[1]:+.1f}, p99 {pick[2]:+.1f}, max {ordered[-1]:+.1f}"

    lines = [
        "when a snipe's first run woke / claimed it, its runs' last clock probe came back, its "
        "first bid left, s from the fire time:"
    ]
    missed = {s["bidId"] for _, s in listing if s["status"] == "FAILED"}
    for label, chosen in (("all", None), ("FAILED", missed)):
        for what in ("woke", "claimed", "last probe back", "bid"):
            values = [
                trace[s["bidId"]][what] - s["fireAt"]
                for _, s in listing
                if what in trace.get(s["bidId"], {}) and (chosen is None or s["bidId"] in chosen)
            ]
            lines.append(f"  {label} {what} ({len(values)}): {spread(values)}")
    return lines


@dataclass(frozen=True)
class _Lot:
    """An auction of the run and the snipe to be made on it."""

    user: tuple[str, dict[str, str]]  # eBay username, auth headers
    legacy: str
    lead: int
    group: str | None


def _read_seals(stack: LocalCloud, snipes: list[RacedSnipe]) -> None:
    """Each raced snipe's ``sealedAt``, which the API does not show: from the Bids table."""
    from local.aws import client

    assert stack.runtime is not None
    table = stack.runtime.environment()["BIDS_TABLE"]
    dynamodb = client("dynamodb", stack.aws_endpoint_url)
    for snipe in snipes:
        items = dynamodb.query(
            TableName=table,
            IndexName="ByEbayItemId",
            KeyConditionExpression="ebayItemId = :item",
            ExpressionAttributeValues={":item": {"S": snipe.ebay_item_id}},
        )["Items"]
        for item in items:
            sealed = item.get("sealedAt", {}).get("N")
            if item["bidId"]["S"] == snipe.bid_id and sealed is not None:
                snipe.sealed_ms = int(sealed)


def _history(http: httpx.Client, bid_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """A snipe's BidHistory entries, as its owner reads them."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        answer = http.get(f"/bid-history/{bid_id}", params=params, headers=headers)
        answer.raise_for_status()
        page = answer.json()
        found += page["items"]
        if not page.get("nextCursor"):
            return found
        params["cursor"] = page["nextCursor"]


def _stream_record_count(stack: LocalCloud) -> int:
    """Every record in the stack's streams (the Bids stream), read from the trim horizon."""
    from local.aws import client
    from local.stream_pump import stream_mappings

    assert stack.template is not None
    streams = client("dynamodbstreams", stack.aws_endpoint_url)
    count = 0
    for mapping in stream_mappings(stack.template):
        shards = streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]
        for shard in shards["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=mapping.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                count += len(page["Records"])
                iterator = page.get("NextShardIterator") if page["Records"] else None
    return count


def _chaos_user(http: httpx.Client, index: int) -> tuple[str, dict[str, str]]:
    """A signed-up user with a linked simulated eBay account: (eBay username, auth headers)."""
    email, password, ebay_user = f"chaos{index}@example.com", "Chaos-Sniper-2024", f"chaos_{index}"
    http.post("/local/signup", json={"email": email, "password": password}).raise_for_status()
    tokens = http.post("/local/login", json={"username": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {tokens['idToken']}"}
    link_ebay_account(http, headers, ebay_user)
    return ebay_user, headers


def _chaos_listing(
    http: httpx.Client, users: list[tuple[str, dict[str, str]]]
) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for ebay_user, headers in users:
        # Every status: GET /bids lists only the active snipes unless asked for the record.
        params: dict[str, Any] = {"limit": 100, "status": EVERY_STATUS}
        while True:
            answer = http.get("/bids", params=params, headers=headers)
            if answer.status_code != 200:
                time.sleep(1)
                continue
            page = answer.json()
            found += [(ebay_user, item) for item in page["items"]]
            if not page.get("nextCursor"):
                break
            params["cursor"] = page["nextCursor"]
    return found
