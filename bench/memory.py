"""Peak memory of every function in template.yaml, per invocation, measured on the local stack.

    .venv/bin/python bench/memory.py [--users 2] [--snipes-per-user 2]

The local stack runs as ``sniper up`` does (moto, the eBay simulator, the gateways, the stream
pump, the scheduler), except that every invocation is handed to a *container*: a fresh
interpreter (bench/lambda_container.py) that imported that one function's handler and serves
one invocation at a time, a new one started whenever all of a function's containers are busy,
as Lambda does. So each figure is one function's process alone, with only what its handler
imports and does, against the same moto and simulator.

The workload is a user's life: sign up, link eBay, open the dashboard (WebSocket connect, ping,
sync), read the watch list, snipe auctions ending half a minute later (a competitor outbids
half of them), read and change snipes and their history, cancel a far-off snipe (a schedule
made and deleted); the executors fire, learn WON or LOST and invoke the notifier; the
broadcaster fans every Bids change out; the price updater and token refresh run; the
dashboards close; one user deletes the account.

Two passes: one whose containers report peak RSS (VmHWM, the high-water mark ``ru_maxrss``
gives without what Linux carries over from the forking parent; what Lambda's "Max Memory Used"
reports), one whose containers trace Python allocations (tracemalloc's peak per
invocation; tracing inflates RSS, so the two are never taken from one process). Printed beside
the template's MemorySize with the headroom, and the bid executor's CPU time per snipe.
About 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.lambda_runtime import FunctionError, LambdaContext, LambdaRuntime  # noqa: E402
from local.scheduler import scheduled_event  # noqa: E402
from local.testing import RunningStack, link_ebay_account, running_stack  # noqa: E402

CONTAINER = ROOT / "bench" / "lambda_container.py"
PASSWORD = "Memory-Bench-2024x"
# Lambda gives a function one vCPU at 1,769 MB, in proportion below that.
MB_PER_VCPU = 1769
# What Lambda's "Max Memory Used" adds to a bare interpreter's RSS (its runtime client, the
# sandbox's share): an allowance, not a measurement; check it against a deployed REPORT line.
RUNTIME_ALLOWANCE_MB = 30
BARE = "import re; print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])"


# ---------------------------------------------------------------- containers


class Container:
    """One fresh interpreter serving one function's invocations, one at a time."""

    def __init__(self, handler: str, trace: bool, log: IO[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, str(CONTAINER), handler, *(["trace"] if trace else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.init = self._read()

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"container exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class FunctionFigures:
    containers: list[Container] = field(default_factory=list)
    idle: list[Container] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)


class Containers:
    """Takes over a LambdaRuntime's invocations: each goes to an idle container of its
    function, or a new one."""

    def __init__(self, runtime: LambdaRuntime, trace: bool, log_dir: Path) -> None:
        self.runtime = runtime
        self.trace = trace
        self.log_dir = log_dir
        self.functions: dict[str, FunctionFigures] = defaultdict(FunctionFigures)
        self._lock = threading.Lock()
        runtime._run = self._run  # type: ignore[method-assign]

    def _acquire(self, logical_id: str) -> Container:
        figures = self.functions[logical_id]
        with self._lock:
            if figures.idle:
                return figures.idle.pop()
            n = len(figures.containers)
            figures.containers.append(placeholder := _Placeholder())  # type: ignore[arg-type]
        log = (self.log_dir / f"{logical_id}-{n}{'-trace' if self.trace else ''}.log").open("w")
        container = Container(self.runtime.functions[logical_id].handler, self.trace, log)
        with self._lock:
            figures.containers[figures.containers.index(placeholder)] = container
        return container

    def _run(self, logical_id: str, event: Any, context: LambdaContext) -> Any:
        started = time.perf_counter()
        failed = True
        container = self._acquire(logical_id)
        try:
            answer = container.invoke(
                {
                    "event": event,
                    "requestId": context.aws_request_id,
                    "remainingMs": context.get_remaining_time_in_millis(),
                    "functionName": context.function_name,
                    "memoryMb": context.memory_limit_in_mb,
                }
            )
            with self._lock:
                self.functions[logical_id].answers.append(answer)
            if answer["error"]:
                raise FunctionError(
                    logical_id, context.aws_request_id, RuntimeError(answer["error"])
                )
            failed = False
            return answer["result"]
        finally:
            with self._lock:
                self.functions[logical_id].idle.append(container)
            self.runtime._record(logical_id, (time.perf_counter() - started) * 1000, failed)

    def prewarm(self, counts: dict[str, int]) -> None:
        """Start containers before the workload, side by side: Lambda's Timeout does not count
        the init phase, while the local runtime's would count a container's start."""
        started: list[tuple[str, Container]] = []

        def start(logical_id: str) -> None:
            started.append((logical_id, self._acquire(logical_id)))

        threads = [
            threading.Thread(target=start, args=(name,))
            for name, n in counts.items()
            for _ in range(n)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for logical_id, container in started:
            self.functions[logical_id].idle.append(container)

    def stop(self) -> None:
        for figures in list(self.functions.values()):
            for container in figures.containers:
                if isinstance(container, Container):
                    container.stop()


class _Placeholder:
    """Holds a container's place while it starts (outside the lock)."""


# ---------------------------------------------------------------- workload


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def workload(running: RunningStack, users: int, per_user: int, ends_in: int) -> int:
    """Returns how many snipes were created."""
    with ExitStack() as dashboards:
        return _workload(running, users, per_user, ends_in, dashboards)


def _workload(
    running: RunningStack, users: int, per_user: int, ends_in: int, dashboards: ExitStack
) -> int:
    http = httpx.Client(base_url=running.base_url, timeout=60)
    sim = httpx.Client(base_url=running.sim_url, timeout=10)
    tag = uuid.uuid4().hex[:6]
    people = []
    for i in range(users):
        email, ebay_user = f"mem{i}-{tag}@example.com", f"mem_bidder_{i}_{tag}"
        _ok(http.post("/local/signup", json={"email": email, "password": PASSWORD}))
        login = _ok(http.post("/local/login", json={"username": email, "password": PASSWORD}))
        token = login["idToken"]
        headers = {"Authorization": f"Bearer {token}"}
        _ok(http.get("/users/profile", headers=headers))
        link_ebay_account(http, headers, ebay_user)
        _ok(http.get("/ebay/auth/status", headers=headers))
        _ok(http.put("/users/preferences", json={"timezone": "Europe/Berlin"}, headers=headers))
        people.append((headers, token, ebay_user))

    sockets = []
    for _, token, _ in people:
        url = f"{running.stack.websocket_url}?token={token}"
        socket = dashboards.enter_context(ws_connect(url, open_timeout=30))
        socket.send(json.dumps({"action": "ping"}))
        socket.send(json.dumps({"action": "sync"}))
        sockets.append(socket)
    stop_reading = threading.Event()

    def drain(socket: Any) -> None:
        while not stop_reading.is_set():
            try:
                socket.recv(timeout=0.5)
            except TimeoutError:
                continue
            except Exception:  # closed
                return

    readers = [threading.Thread(target=drain, args=(s,), daemon=True) for s in sockets]
    for reader in readers:
        reader.start()

    snipes: list[tuple[dict[str, str], str]] = []
    for u, (headers, _, ebay_user) in enumerate(people):
        items = []
        for s in range(per_user):
            lot = _ok(
                sim.post(
                    "/_sim/auctions",
                    json={
                        "title": f"Memory lot {u}-{s}",
                        "startPrice": 1000,
                        "endsInSeconds": ends_in,
                        "watchedBy": [ebay_user],
                    },
                )
            )
            items.append(lot["legacyItemId"])
            if s % 2:  # outbid: this snipe is LOST
                sim.post(
                    f"/_sim/auctions/{lot['legacyItemId']}/bids",
                    json={"bidder": f"rival_{tag}", "maxAmount": 9000},
                )
        _ok(http.get("/wishlist/items", headers=headers))
        _ok(http.get(f"/wishlist/items/{items[0]}", headers=headers))
        for item in items:
            created = _ok(
                http.post(
                    "/bids",
                    json={"ebayItemId": item, "maxBidAmount": 5000, "leadSeconds": 2},
                    headers=headers,
                )
            )
            snipes.append((headers, created["bidId"]))
    ends_at = time.monotonic() + ends_in

    for headers, bid_id in snipes:
        _ok(http.get("/bids", headers=headers))
        _ok(http.get(f"/bids/{bid_id}", headers=headers))
        _ok(http.put(f"/bids/{bid_id}", json={"maxBidAmount": 5500}, headers=headers))
        _ok(http.get("/bid-history", headers=headers))
        _ok(http.get(f"/bid-history/{bid_id}", headers=headers))
    # A far-off snipe gets a schedule; cancelling it deletes the schedule.
    headers = people[0][0]
    far = _ok(
        sim.post(
            "/_sim/auctions",
            json={"title": "Memory far lot", "startPrice": 1000, "endsInSeconds": 900},
        )
    )
    far_bid = _ok(
        http.post(
            "/bids", json={"ebayItemId": far["legacyItemId"], "maxBidAmount": 3000}, headers=headers
        )
    )
    _ok(http.delete(f"/bids/{far_bid['bidId']}", headers=headers))

    assert running.stack.runtime is not None
    assert running.stack.template is not None
    for name in ("PriceUpdaterFunction", "TokenRefreshFunction"):
        running.stack.runtime.invoke(name, scheduled_event(name, running.stack.template))

    # The executors fire at end - 2 s, then learn the outcome from 1.5 s after the end.
    while time.monotonic() < ends_at + 12:
        for socket in sockets:
            socket.send(json.dumps({"action": "ping"}))
        time.sleep(3)
    running.stack.runtime.invoke(
        "PriceUpdaterFunction", scheduled_event("PriceUpdaterFunction", running.stack.template)
    )
    for headers, _, _ in people:
        _ok(http.get("/bids", headers=headers))
    stop_reading.set()
    for socket in sockets:
        socket.close()
    _ok(http.delete("/users/account", headers=people[-1][0]))
    time.sleep(3)  # the stream pump's last batches, the last notifier runs
    return len(snipes)


def measure(users: int, per_user: int, ends_in: int, trace: bool, log_dir: Path) -> Containers:
    with running_stack(demo=False, lambda_concurrency=64) as running:
        assert running.stack.runtime is not None
        containers = Containers(running.stack.runtime, trace, log_dir)
        # As many as the workload keeps busy at once (a dashboard each, an executor a snipe).
        counts = dict.fromkeys(running.stack.runtime.functions, 1)
        counts["BidExecutorFunction"] = users * per_user
        counts["NotifierFunction"] = per_user
        for name in ("WsConnectFunction", "WsDisconnectFunction", "WsActionsFunction"):
            counts[name] = users
        containers.prewarm(counts)
        try:
            workload(running, users, per_user, ends_in)
        finally:
            containers.stop()
        # Invocations still in flight are waited for by the container's stop.
        return containers


# ---------------------------------------------------------------- report


def _mb(kb: float) -> float:
    return kb / 1024


def bare_interpreter_mb() -> float:
    out = subprocess.run(
        [sys.executable, "-c", BARE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return _mb(int(out))


def report(
    rss: Containers, heap: Containers, memory: dict[str, int], timeout: dict[str, int]
) -> None:
    print(
        f"{'function':<22} {'MB':>4} {'s':>4} {'inv':>4} {'ctr':>4} {'max s':>6} "
        f"{'RSS init':>8} {'RSS peak':>8} {'heap/inv':>8} {'Lambda~':>7} {'headroom':>8}"
    )
    for name in sorted(memory):
        r, h = rss.functions.get(name), heap.functions.get(name)
        if r is None or not r.answers:
            print(f"{name:<22} {memory[name]:>4} {timeout[name]:>4}  (not invoked)")
            continue
        started = [c for c in r.containers if isinstance(c, Container)]
        init_rss = max(_mb(c.init["rssKb"]) for c in started)
        peak = max(_mb(a["rssKb"]) for a in r.answers)
        longest = max(a["wallS"] for a in r.answers)
        heap_inv = float("nan")
        if h is not None and h.answers:
            heap_inv = max(a["heapPeak"] - a["heapBefore"] for a in h.answers) / 2**20
        on_lambda = peak + RUNTIME_ALLOWANCE_MB
        print(
            f"{name:<22} {memory[name]:>4} {timeout[name]:>4} {len(r.answers):>4} "
            f"{len(started):>4} {longest:>6.2f} {init_rss:>8.1f} {peak:>8.1f} "
            f"{heap_inv:>8.2f} {on_lambda:>7.0f} {memory[name] / on_lambda:>7.2f}x"
        )
    print(
        "MB, s: the template's MemorySize and Timeout; inv: invocations; ctr: containers; max s: "
        "the longest invocation; RSS (MB) after init and the peak over all invocations; heap/inv "
        "(MB): the largest tracemalloc peak of one invocation; Lambda~: RSS peak + "
        f"{RUNTIME_ALLOWANCE_MB} MB runtime allowance; headroom: MemorySize / Lambda~"
    )

    executor = rss.functions.get("BidExecutorFunction")
    if executor and executor.answers:
        fired = [a["fireCpuS"] for a in executor.answers if a["fireCpuS"] is not None]
        cpu = sorted(a["cpuS"] for a in executor.answers)
        wall = sorted(a["wallS"] for a in executor.answers)
        size = memory["BidExecutorFunction"]
        share = max(a["cpuS"] / a["wallS"] for a in executor.answers if a["wallS"] > 0)
        print(
            f"\nbid executor, {len(executor.answers)} runs: CPU {cpu[0]:.3f}-{cpu[-1]:.3f} s "
            f"over {wall[0]:.1f}-{wall[-1]:.1f} s awake (at most {share:.1%} of a core; Lambda "
            f"gives it {size / MB_PER_VCPU:.1%} of a vCPU at its {size} MB)"
        )
        if fired:

            def span(key: str) -> str:
                ms = sorted(f[key] * 1000 for f in fired)
                return f"{ms[0]:.2f}-{ms[-1]:.2f} ms"

            print(
                f"fire path CPU, {len(fired)} runs: 'firing' (before the fine wait) to the bid's "
                f"request {span('toBid')}, the request {span('bid')}, to 'snipe placed' (after "
                f"the PLACED write) {span('toPlaced')}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--snipes-per-user", type=int, default=2)
    parser.add_argument("--ends-in", type=int, default=25, help="seconds to the auctions' end")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    log_dir = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    started = time.monotonic()
    rss = measure(args.users, args.snipes_per_user, args.ends_in, False, log_dir)
    heap = measure(args.users, args.snipes_per_user, args.ends_in, True, log_dir)
    assert rss.runtime.template is not None
    functions = rss.runtime.functions
    print(
        f"{args.users} users, {args.snipes_per_user} snipes each, on the local stack; each "
        f"function in containers of its own ({time.monotonic() - started:.0f} s; container "
        f"logs in {log_dir})"
    )
    print(f"bare interpreter: {bare_interpreter_mb():.1f} MB RSS\n")
    report(
        rss,
        heap,
        {n: f.memory_size for n, f in functions.items()},
        {n: f.timeout for n, f in functions.items()},
    )
    errors: dict[str, int] = defaultdict(int)
    for c in (rss, heap):
        for n, f in c.functions.items():
            errors[n] += sum(bool(a["error"]) for a in f.answers)
    if any(errors.values()):
        print(f"\ninvocations that failed: { {n: e for n, e in errors.items() if e} }")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
