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
  Lambda retries
  the failed asynchronous run after 60 s with its request id, once (the executor's
  EventInvokeConfig), as the local scheduler now does;
- eBay answers 20% of calls with 500, 503, 429 or no answer (5% each; a hang past the client's
  timeout);
- the stream pump crashes and restarts (stopped, and a new one started 2 s later).

It prints bids placed twice (must be 0), snipes with no final state (must be 0), snipes whose
recorded state disagrees with the simulator's ground truth (must be 0), the share placed before
the end (goal >= 99%), and what was injected. The simulator and moto run in processes of their
own (as in bench/snipe_timing.py), so the stack's process holds only what runs in Lambda.

    .venv/bin/python bench/chaos.py [-n 1000] [--users 5] [--spread 600] [--seed 8]

About 20 minutes at the default size: creation (~20 s), the first end 9 minutes after the
start, the ends over 10 minutes, up to a minute for the last outcomes. Its moto checks a
transaction's conditions before writing instead of deep-copying the tables (see
``fast_transactions``): with moto's own transactions the 1,000-snipe run did not survive.
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

from local.testing import (  # noqa: E402
    ChaosPlan,
    RunKilled,
    run_chaos,
    running_stack,
    server_process,
)

_MOTO = "import sys; sys.path.insert(0, 'bench'); import chaos; chaos.serve_moto()"


def serve_moto() -> None:
    """moto's server for this bench, in its own process, with transactions that cost what they
    touch (``fast_transactions``); prints its URL and serves until killed."""
    from local.aws import start_moto

    fast_transactions()
    print(start_moto(0).endpoint_url, flush=True)
    threading.Event().wait()


def fast_transactions() -> None:
    """moto's TransactWriteItems deep-copies every table it touches, stream records included,
    before writing, and on a cancelled transaction puts the copies in the tables' place. At
    1,000 snipes that is ~0.4 s per transaction and growing, the moto process reached 15 GB
    (killed by the kernel), and a stream reader holding an iterator keeps reading the replaced
    table's stream, which no longer receives records.

    Here the conditions are checked first, against the state before the transaction (as
    DynamoDB does; the items are distinct, moto checks that too): if one fails, the transaction
    is cancelled with moto's reasons and nothing was written, so nothing needs undoing; if all
    hold, moto's own code writes without the copies. Anything unusual (more than 100 items, one
    item twice, an expression moto rejects) takes moto's own path unchanged. What a client sees
    is what moto answers, less the copies (local/moto_speedups.py is where this belongs).
    """
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import ConditionalCheckFailed, TransactionCanceledException
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    if getattr(original, "fast", False):
        return
    writing = threading.local()

    class _Copy:
        """``copy`` as moto's models module sees it: a table is not copied while a checked
        transaction writes."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if getattr(writing, "on", False) and isinstance(value, Table):
                return value
            return copy.deepcopy(value, memo)

    models.copy = _Copy()  # type: ignore[assignment]

    def reasons(self: Any, items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]] | None:
        """moto's cancellation reasons, or None to leave the transaction to moto."""
        if len(items) > 100:
            return None
        seen: set[tuple[str, str]] = set()
        found: list[tuple[Any, Any, Any]] = []
        for item in items:
            if len(item) != 1:
                return None
            kind, op = next(iter(item.items()))
            if kind not in {"ConditionCheck", "Put", "Delete", "Update"}:
                return None
            table_name = op["TableName"]
            if kind == "Put":
                table = self.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in seen:
                return None
            seen.add(unique)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is None or get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current):
                found.append((None, None, None))
                continue
            old = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old = current.to_json()["Attributes"]
            found.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
        return found

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            found = reasons(self, transact_items)
        except Exception:  # moto's own path raises it as moto does
            found = None
        if found is None:
            return original(self, transact_items)
        if any(code is not None for code, _, _ in found):
            raise TransactionCanceledException(found)
        writing.on = True
        try:
            return original(self, transact_items)
        finally:
            writing.on = False

    transact_write_items.fast = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _cpu_seconds(pid: int | str) -> float:
    """User + system CPU of a process so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--seed", type=int, default=8)
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
        seed=args.seed,
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
            moto_url, pids["moto"] = outside.enter_context(server_process(["-c", _MOTO]))
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
        cpu = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print()
    print(
        f"chaos: {args.n} snipes, {args.users} users, first end in {first_end_in:.0f} s, ends "
        f"over {args.spread:.0f} s; deliveries {args.deliveries}, kill rate {args.kill_rate}, "
        f"eBay fault rate {args.fault_rate}, pump restarts {args.pump_restarts}, seed {args.seed}"
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
    )
    print(
        "goals (none twice, none unfinished, none wrong, >= 99% placed):",
        "met" if met else "NOT met",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
