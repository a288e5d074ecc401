"""Faults (issue #8): N snipes on the local stack while everything that can go wrong does.

N snipes (default 1,000, several users) are created through the REST API on simulator auctions
ending over a few minutes (far enough out that every snipe gets its EventBridge schedule; one
rival per auction, bidding below or above our maximum, so the winner is known). Then, while they
fire:

- every schedule is delivered three times, the copies up to 1 s apart (some concurrent), as
  at-least-once delivery may (the local scheduler's ``deliveries``), anywhere in its minute;
- a tenth of the executor runs that try to claim a snipe are killed at a random point: just
  before the claim, just after it, or just after eBay accepted the bid (before PLACED is
  recorded); the duplicates that find the snipe claimed only read and leave. A thread cannot
  be killed, so the run's collaborators raise a BaseException nothing in the product catches;
  Lambda retries the failed asynchronous run after 60 s with its request id, once (the
  executor's EventInvokeConfig), as the local stack does for scheduled runs and Event
  invocations alike;
- eBay answers 20% of calls with 500, 503, 429 or no answer (5% each; a hang past the client's
  timeout);
- the stream pump crashes and restarts (stopped, and a new one started 2 s later);
- users change and cancel their snipes up to and across the seal (issue 13 item 8,
  ``bench/chaos_users.py``): for a share of the snipes (``--racing``, 30% by default), their user
  sends ``PUT /bids/{id}`` (a new maximum, lead time or both) and ``DELETE /bids/{id}`` through
  the API, 1-4 times, at instants from a minute before the snipe's freeze instant (where the
  executor seals it) to a second after it, most within a second of it; some win-one groups
  (``--groups``) of three auctions ending a second apart, each winnable alone.

It prints bids placed twice (must be 0), snipes with no final state (must be 0), snipes whose
recorded state disagrees with the simulator's ground truth (must be 0), the share placed before
the end (goal >= 99%, of the snipes neither their users cancelled nor in a group), the users'
changes (sent, answered 2xx, raced the seal: answered 409 SNIPE_SEALED or sent within a second
of it), the violations of each money-path invariant I1-I5 (each must be 0, with the timeline of
any violating snipe), and what was injected. The simulator and moto run in processes of their
own (as in bench/snipe_timing.py), so the stack's process holds only what runs in Lambda.

    .venv/bin/python bench/chaos.py [-n 1000] [--users 5] [--spread 600] [--seed 8]
        [--racing 0.3] [--groups 5]

About 20 minutes at the default size: creation (~20 s), the first end 9 minutes after the
start, the ends over 10 minutes, up to a minute for the last outcomes. Its moto is the local
stack's (``local.testing.MOTO_SERVER``), whose transactions check their conditions before
writing instead of deep-copying the tables (``local/moto_speedups.py``): with moto's own
transactions the 1,000-snipe run did not survive.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chaos_harness import ChaosPlan, RunKilled, run_chaos  # noqa: E402
from bench.chaos_users import RacePlan  # noqa: E402
from bench.procstat import cpu_seconds  # noqa: E402
from local.testing import MOTO_SERVER, running_stack, server_process  # noqa: E402


class Sampler:
    """Every 10 s: the load average, and how long moto takes to answer a DynamoDB call (it
    serves one at a time, so this is the queue an executor's write waits in)."""

    def __init__(self, aws_endpoint_url: str) -> None:
        from local.aws import client

        self._dynamodb = client("dynamodb", aws_endpoint_url)
        self.load: list[float] = []
        self.dynamodb_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(10):
            self.load.append(float(Path("/proc/loadavg").read_text().split()[0]))
            started = time.perf_counter()
            try:
                self._dynamodb.list_tables(Limit=1)
            except Exception:  # a sample lost is a sample lost
                continue
            self.dynamodb_ms.append((time.perf_counter() - started) * 1000)

    def stop(self) -> str:
        self._stop.set()
        ms = sorted(self.dynamodb_ms) or [0.0]
        return (
            f"1-min load average max {max(self.load, default=0):.1f} (2 cores); moto DynamoDB "
            f"answer p50 {ms[len(ms) // 2]:.0f} ms, max {ms[-1]:.0f} ms ({len(ms)} samples)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="snipes")
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--first-end-in", type=float, help="seconds to the first end")
    parser.add_argument("--spread", type=float, default=600, help="ends spread over (s)")
    parser.add_argument("--deliveries", type=int, default=3)
    parser.add_argument("--kill-rate", type=float, default=0.1)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--pump-restarts", type=int, default=2)
    parser.add_argument(
        "--settle", type=float, default=200, help="at most this long after the last end (s)"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--racing", type=float, default=0.3, help="share of snipes their users change (0: none)"
    )
    parser.add_argument("--changes", type=int, default=4, help="at most, per such snipe")
    parser.add_argument("--cancel-rate", type=float, default=0.3)
    parser.add_argument(
        "--change-from", type=float, default=60, help="earliest change, s before the freeze"
    )
    parser.add_argument("--groups", type=int, default=5, help="win-one groups of 3 snipes")
    parser.add_argument(
        "--in-process", action="store_true", help="simulator and moto inside the stack"
    )
    args = parser.parse_args()
    # Creation must end while every fire time is still > 240 s away (a schedule, not an
    # immediate invoke): 4 minutes plus the creation, which slows as moto's tables grow.
    first_end_in = args.first_end_in or 300 + args.n / 4
    plan = ChaosPlan(
        snipes=args.n,
        users=args.users,
        first_end_in=first_end_in,
        spread=args.spread,
        deliveries=args.deliveries,
        kill_rate=args.kill_rate,
        fault_rate=args.fault_rate,
        pump_restarts=args.pump_restarts,
        settle=args.settle,
        seed=args.seed,
        racing=RacePlan(
            share=args.racing,
            per_snipe=(1, args.changes),
            cancel_rate=args.cancel_rate,
            earliest=args.change_from,
        ),
        groups=args.groups,
    )
    logging.disable(logging.WARNING)
    # The runs killed on purpose fail with a traceback each: not news.
    logging.getLogger("local.lambda").addFilter(
        lambda record: not (record.exc_info and isinstance(record.exc_info[1], RunKilled))
    )
    # The functions' metric lines (EMF on stdout) would bury the figures.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    started = time.time()
    with ExitStack() as outside:
        options: dict[str, Any] = {}
        pids: dict[str, int] = {}
        if not args.in_process:
            sim_url, pids["simulator"] = outside.enter_context(
                server_process(["-m", "local.ebay_sim", "--port", "0", "--no-bots"])
            )
            moto_url, pids["moto"] = outside.enter_context(server_process(["-c", MOTO_SERVER]))
            options.update(ebay_api_base_url=sim_url, aws_endpoint_url=moto_url)
        running = outside.enter_context(
            running_stack(
                demo=False,
                lambda_concurrency=2 * args.n + 100,
                scheduler_jitter=True,
                **options,
            )
        )
        sampler = Sampler(running.stack.aws_endpoint_url)
        report = run_chaos(running, plan, progress=lambda line: print(line, flush=True))
        load = sampler.stop()
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print()
    print(
        f"chaos: {args.n} snipes, {args.users} users, first end in {first_end_in:.0f} s, ends "
        f"over {args.spread:.0f} s; deliveries {args.deliveries}, kill rate {args.kill_rate}, "
        f"eBay fault rate {args.fault_rate}, pump restarts {args.pump_restarts}, seed {args.seed}; "
        f"users change {args.racing:.0%} of the snipes (1-{args.changes} changes, cancel rate "
        f"{args.cancel_rate}, from {args.change_from:.0f} s before the freeze), {args.groups} "
        "win-one groups"
    )
    for line in report.lines():
        print(line)
    print(
        f"stack process: {usage.ru_utime + usage.ru_stime:.0f} s CPU in "
        f"{time.time() - started:.0f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB; "
        + ", ".join(f"{name} {seconds:.0f} s CPU" for name, seconds in cpu.items())
    )
    print(load)
    audit = report.audit
    met = (
        audit.placed_twice == 0
        and audit.no_final_state == 0
        and audit.disagreements == 0
        and audit.placed_share >= 0.99
        and report.created == args.n
        and report.invariants.total == 0
        and report.changes.ok_after_seal == 0
    )
    print(
        "goals (none twice, none unfinished, none wrong, >= 99% placed, no invariant broken):",
        "met" if met else "NOT met",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
