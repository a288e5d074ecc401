"""Realtime fan-out on the local stack: DynamoDB write -> stream pump -> broadcaster -> sockets.

USERS users with CONNS WebSocket clients each; CHANGES snipe price changes written in BURSTS
(BatchWriteItem of 25, PAUSE seconds between bursts). What runs where, as on AWS where none of
these share a process with the broadcaster:

- this process: the stack (WebSocket gateway and its management API, stream pump at Lambda's 4
  polls/s, the runtime; not its scheduler: no scheduled function runs), and with
  ``--isolation thread`` the functions too;
- with ``--isolation process`` (the default) each function invocation runs in a Lambda
  container process of its own (``local.lambda_containers``);
- moto (DynamoDB and its stream, GetRecords through ``local.moto_streams``), the clients and
  the writer each in a process of their own.

Prints delivered/expected (and messages that reached a wrong user), the latency from the
DynamoDB write (taken just before each BatchWriteItem) to the client's receipt (p50, p99), the
broadcaster's figures (invocation time per record; messages delivered per second of the time at
least one of its invocations ran, so concurrent batches count once), and the CPU each process
spent per message delivered: CPU time does not depend on what else the machine runs, so it says
what the stack costs where wall-clock figures are noisy.

Two shapes of load:

- ``--mode burst`` (the default): CHANGES changes written in BURSTS (BatchWriteItem of 25,
  PAUSE seconds between bursts): throughput under a backlog.
- ``--mode steady``: RATE changes a second for SECONDS, written every 50 ms (a BatchWriteItem
  of RATE/20), spread over the users: write -> browser latency at a given rate. ``--heavy``
  adds a user with 10 sockets (the per-user cap) and 50 snipes who, every 2 s, edits
  HEAVY snipes at once; the other users' latency is printed apart, so a run with ``--heavy``
  beside one without shows what that user's load costs everyone else (fairness).

``--latency MEDIAN,P99`` (ms) makes the local gateway's management API take AWS-like time
(``local.websocket_gateway.ManagementLatency``: lognormal); ``off`` (the default) answers at once.
The management API checks every post's SigV4 signature either way; the bench prints how many
it refused (0 expected).

    .venv/bin/python bench/fanout.py [--users 500] [--conns 2] [--changes 10000] [--bursts 20]
    .venv/bin/python bench/fanout.py --mode steady [--rate 200] [--seconds 30] --latency 6,40
        [--heavy 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import multiprocessing
import os
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstat import cpu_seconds  # noqa: E402

# (bidId, price, receipt epoch seconds) of every price.changed a client received.
Receipt = tuple[str, int, float]
CORES = os.cpu_count() or 1


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else 0.0


def _token(issuer: str, audience: str, user: str, key: Any) -> str:
    import jwt

    claims = {
        "sub": user,
        "iss": issuer,
        "aud": audience,
        "token_use": "id",
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


def _descendants(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def _container_role(pid: int) -> str:
    """A Lambda container's (or zygote's) role by its function's handler: the broadcaster's
    apart from the others' (the stack's scheduled functions run during a bench too)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "other containers"
    if b"realtime.broadcaster.handler" in argv:
        return "broadcaster containers"
    return "other containers"


def _cpu_snapshot(roles: dict[str, int]) -> dict[int, tuple[str, float]]:
    """CPU seconds of this process, the given processes, and every other descendant of this
    process (the Lambda containers, by function), by pid."""
    named = {pid: role for role, pid in roles.items()}
    snapshot = {}
    for pid in [os.getpid(), *_descendants(os.getpid())]:
        seconds = cpu_seconds(pid)
        if seconds is not None:
            role = "stack" if pid == os.getpid() else named.get(pid) or _container_role(pid)
            snapshot[pid] = (role, seconds)
    return snapshot


def _cpu_spent(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    spent: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        spent[role] = spent.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return spent


# ---------------------------------------------------------------- the clients' process


def clients_process(url: str, tokens: list[tuple[str, str, int]], pipe: Connection) -> None:
    """Open every client, say "ready", collect until told the expected count is reached or
    the deadline passes, send back (receipts, wrong), then wait for the stack to close the
    sockets (a stack shutting down runs no $disconnect, so 1,000 of them do not outlive it)."""
    asyncio.run(_clients(url, tokens, pipe))


async def _clients(url: str, tokens: list[tuple[str, str, int]], pipe: Connection) -> None:
    import websockets

    receipts: list[Receipt] = []
    wrong = 0
    sockets: list[Any] = []

    async def read(user: str, ws: Any) -> None:
        nonlocal wrong
        prefix = user + "#"
        async for text in ws:
            now = time.time()
            message = json.loads(text)
            # A batch frame carries several events, each read as if it had come alone
            events = message["data"]["events"] if message["type"] == "batch" else [message]
            for event in events:
                if event["type"] != "price.changed":
                    continue
                if not event["bidId"].startswith(prefix):
                    wrong += 1
                    continue
                receipts.append((event["bidId"], event["data"]["currentPrice"], now))

    async def connect(token: str) -> Any:
        # A handshake the stack refused for a passing reason (its $connect timed out on a busy
        # machine) is tried again: the connect phase is not measured.
        for attempt in range(8):
            try:
                return await websockets.connect(
                    f"{url}?token={token}", max_size=2**20, open_timeout=120
                )
            except websockets.InvalidStatus as exc:
                if exc.response.status_code < 500 or attempt == 7:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    readers = []
    for start in range(0, len(tokens), 20):
        chunk = tokens[start : start + 20]
        opened = await asyncio.gather(
            *(connect(token) for _user, token, conns in chunk for _ in range(conns))
        )
        users = [user for user, _, conns in chunk for _ in range(conns)]
        for user, ws in zip(users, opened, strict=True):
            sockets.append(ws)
            readers.append(asyncio.create_task(read(user, ws)))
    pipe.send(len(sockets))
    loop = asyncio.get_running_loop()
    expected, deadline = await loop.run_in_executor(None, pipe.recv)
    while len(receipts) < expected and time.time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # anything late (or misdirected) still counts
    pipe.send((receipts, wrong))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 120)


# ---------------------------------------------------------------- moto's process


def moto_process(pipe: Connection) -> None:
    """moto's server (as ``sniper up`` starts it), in a process of its own: on AWS DynamoDB is
    not in the Lambda's process either. Its GetRecords answers at the cost of a json.dumps
    (``local.moto_streams``: the same JSON; moto's serializer was 80 % of its CPU here). Serves
    until the pipe closes."""
    from local import moto_streams
    from local.aws import start_moto

    moto_streams.install()
    handle = start_moto()
    pipe.send(handle.endpoint_url)
    with contextlib.suppress(EOFError):
        pipe.recv()


# ---------------------------------------------------------------- the writer's process


def _snipe_item(user: str, price: int, end: int, snipe: str = "b") -> dict[str, Any]:
    return {
        "userId": {"S": user},
        "bidId": {"S": f"{user}#{snipe}"},
        "ebayItemId": {"S": "123456789012"},
        "itemId": {"S": "v1|123456789012|0"},
        "maxBidAmount": {"N": "100000"},
        "currency": {"S": "USD"},
        "leadSeconds": {"N": "6"},
        "status": {"S": "PENDING"},
        "auctionEndTime": {"N": str(end)},
        "itemTitle": {"S": "bench"},
        "currentPrice": {"N": str(price)},
        "createdAt": {"N": "1"},
        "updatedAt": {"N": "1"},
    }


HEAVY_SNIPES = 50  # the heavy user's snipes (--heavy edits that many at once, at most)
HEAVY_EVERY_SECONDS = 2.0


def writer_process(
    endpoint: str, table: str, users: list[str], heavy: str | None, pipe: Connection
) -> None:
    """The writes, as the product's other functions make them on AWS (not in the broadcaster's
    process). "prime" writes each snipe once (its INSERT gives bid.created; the cold starts of
    the broadcaster's containers fall outside the measurement); ("go", size, bursts, pause)
    writes the bursts, ("steady", rate, seconds, heavy_edits) the steady load; both send back
    when each change was written. They go over DynamoDB's JSON protocol directly
    (``common.data.dynamo_http``, as the broadcaster reads): through boto3 the writer spent ~0.18
    ms of CPU per message delivered, a tenth of the run's CPU, on two cores the pipeline shares
    with it, where on AWS the writers run on hardware of their own."""
    from botocore.credentials import Credentials

    from common.data.dynamo_http import DynamoDbHttp
    from common.http1 import KeepAliveClient
    from local.aws import FAKE_CREDENTIALS
    from local.template import REGION

    dynamodb = DynamoDbHttp(
        endpoint,
        Credentials(
            FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        ),
        REGION,
        http=KeepAliveClient(endpoint, connect_timeout=60, read_timeout=60),
        attempts=1,
    )
    end = int(time.time()) + 7200
    heavy_snipes = [f"s{k:02d}" for k in range(HEAVY_SNIPES)]

    def write(items: list[dict[str, Any]], written: dict[tuple[str, int], float]) -> None:
        for start in range(0, len(items), 25):
            chunk = items[start : start + 25]
            now = time.time()
            for i in chunk:
                written[(i["bidId"]["S"], int(i["currentPrice"]["N"]))] = now
            dynamodb.call(
                "BatchWriteItem",
                {"RequestItems": {table: [{"PutRequest": {"Item": i}} for i in chunk]}},
            )

    while True:
        try:
            command = pipe.recv()
        except EOFError:
            return
        written: dict[tuple[str, int], float] = {}
        if command == "prime":  # in chunks of 25 too, so every batch lane starts its container
            items = [_snipe_item(u, 999, end) for u in users]
            if heavy:
                items += [_snipe_item(heavy, 999, end, snipe) for snipe in heavy_snipes]
            write(items, written)
            pipe.send("primed")
            continue
        price = 1000
        if command[0] == "go":
            _go, size, bursts, pause = command
            for burst in range(bursts):
                items = []
                for n in range(size):
                    user = users[(burst * size + n) % len(users)]
                    items.append(_snipe_item(user, price, end))
                    price += 1
                write(items, written)
                time.sleep(pause)
        else:  # steady: every 50 ms, rate/20 changes; the heavy user's edits every 2 s
            _steady, rate, seconds, heavy_edits = command
            tick, per_tick, n = 0.05, max(1, round(rate * 0.05)), 0
            started = time.time()
            next_heavy = started + HEAVY_EVERY_SECONDS / 2
            for step in range(int(seconds / tick)):
                items = []
                for _ in range(per_tick):
                    items.append(_snipe_item(users[n % len(users)], price, end))
                    n, price = n + 1, price + 1
                if heavy and heavy_edits and time.time() >= next_heavy:
                    next_heavy += HEAVY_EVERY_SECONDS
                    for k in range(heavy_edits):
                        snipe = heavy_snipes[k % len(heavy_snipes)]
                        items.append(_snipe_item(heavy, price, end, snipe))
                        price += 1
                write(items, written)
                time.sleep(max(0.0, started + (step + 1) * tick - time.time()))
        pipe.send(written)


# ---------------------------------------------------------------- the stack's process


def _set_parallelization_factor(running: Any, factor: int) -> None:
    """Replace the stack's stream pump by one whose mappings have ``factor`` (not the
    template's), before anything is written."""
    from dataclasses import replace

    from local.stream_pump import StreamPump

    stack = running.stack

    async def swap() -> None:
        old = stack.stream_pump
        await old.stop()
        mappings = [replace(m, parallelization_factor=factor) for m in old.mappings]
        new = StreamPump(stack.template, stack.runtime, stack.aws_endpoint_url, mappings=mappings)
        await new.start()
        stack.stream_pump = new

    asyncio.run_coroutine_threadsafe(swap(), running.loop).result(30)


def main(args: argparse.Namespace) -> None:
    import jwt
    import moto

    from local.testing import running_stack

    key_path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    key = jwt.PyJWK(json.loads(gzip.decompress(key_path.read_bytes()))).key
    # The deployed layer has no awscrt (deploy/layer/requirements.txt): sign as the functions
    # do on Lambda, with botocore's own SigV4, not the CRT this environment may have.
    os.environ["BOTO_DISABLE_CRT"] = "true"
    context = multiprocessing.get_context("spawn")  # never fork a process with threads
    moto_pipe, moto_child_pipe = context.Pipe()
    moto_server = context.Process(target=moto_process, args=(moto_child_pipe,), daemon=True)
    moto_server.start()
    if not moto_pipe.poll(60):
        raise SystemExit("moto did not start within 60 s")
    endpoint = moto_pipe.recv()
    print(
        f"processes: stack (gateway, stream pump, runtime); functions in "
        f"{'Lambda container processes' if args.isolation == 'process' else 'the stack'}; "
        f"moto (GetRecords by local.moto_streams), the clients and the writer each in their "
        f"own; load average {os.getloadavg()[0]:.1f} on {CORES} cores",
        flush=True,
    )
    with running_stack(
        demo=False, aws_endpoint_url=endpoint, lambda_isolation=args.isolation
    ) as running:
        stack = running.stack
        assert stack.provisioned is not None
        assert stack.runtime is not None
        assert stack.stream_pump is not None
        if stack.scheduler is not None:
            # The stack's schedules (the price updater's and reconciler's runs every minute,
            # its polls of moto's schedules) are not the fan-out: their reads of the bench's
            # snipes would count as its CPU (~0.1 ms a message in their containers alone).
            asyncio.run_coroutine_threadsafe(stack.scheduler.stop(), running.loop).result(30)
            stack.scheduler = None
        if args.parallelization_factor:
            _set_parallelization_factor(running, args.parallelization_factor)
        assert stack.stream_pump is not None
        factor = stack.stream_pump.mappings[0].parallelization_factor
        print(f"stream mapping: ParallelizationFactor {factor}", flush=True)
        gateway = stack.websocket
        assert gateway is not None
        gateway.management_latency = _latency(args.latency)
        print(
            "management API latency: "
            + (
                f"lognormal, median {gateway.management_latency.median_ms:g} ms, "
                f"p99 {gateway.management_latency.p99_ms:g} ms"
                if gateway.management_latency
                else "none"
            ),
            flush=True,
        )
        # The template's LogLevel (INFO) for the functions to come, in the stack's process or
        # their containers: one line per connect would bury the figures.
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        url = stack.websocket_url.replace("localhost", "127.0.0.1")
        issuer, audience = stack.provisioned.issuer, stack.provisioned.user_pool_client_id
        users = [f"user-{i:04d}" for i in range(args.users)]
        heavy = HEAVY_USER if args.heavy else None
        sockets = {u: args.conns for u in users}
        if heavy:
            sockets[heavy] = HEAVY_SOCKETS
        tokens = [(u, _token(issuer, audience, u, key), n) for u, n in sockets.items()]
        table = stack.provisioned.tables["BidsTable"].name

        pipe, child_pipe = context.Pipe()
        clients = context.Process(
            target=clients_process, args=(url, tokens, child_pipe), daemon=True
        )
        clients.start()
        if not pipe.poll(180):
            raise SystemExit("the clients did not connect within 180 s")
        print(
            f"{pipe.recv()} clients connected ({args.users} users x {args.conns}"
            + (f", and {heavy} x {HEAVY_SOCKETS})" if heavy else ")"),
            flush=True,
        )

        writer_pipe, writer_child_pipe = context.Pipe()
        writer = context.Process(
            target=writer_process,
            args=(stack.provisioned.endpoint_url, table, users, heavy, writer_child_pipe),
            daemon=True,
        )
        writer.start()
        stats = stack.runtime.stats["BroadcasterFunction"]
        pump = stack.stream_pump.stats["BroadcasterFunction"]
        primes = len(users) + (HEAVY_SNIPES if heavy else 0)
        before_prime = pump.records
        writer_pipe.send("prime")  # the first write of each snipe is an INSERT (bid.created)
        writer_pipe.recv()
        # The priming records' fan-out is over before measuring (on a busy machine it can take
        # longer than any fixed pause): its CPU and posts are not the measurement's.
        deadline = time.time() + 120
        while (pump.records - before_prime < primes or pump.in_flight) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        base_ms, base_records, base_batches = stats.total_duration_ms, pump.records, pump.batches
        base_invocations, base_busy = stats.invocations, pump.busy_seconds
        roles = {"moto": moto_server.pid or 0, "clients": clients.pid or 0}
        roles["writer"] = writer.pid or 0
        base_calls, base_refused = (gateway.management_stats[k] for k in ("calls", "refused"))
        cpu_before = _cpu_snapshot(roles)
        started = time.time()
        if args.mode == "burst":
            writer_pipe.send(("go", args.changes // args.bursts, args.bursts, args.pause))
        else:
            writer_pipe.send(("steady", args.rate, args.seconds, args.heavy))
        written = writer_pipe.recv()  # the clients collect meanwhile
        expected = sum(sockets[bid.split("#", 1)[0]] for bid, _price in written)
        pipe.send((expected, started + args.timeout))
        if not pipe.poll(args.timeout + 60):
            raise SystemExit("the clients never reported back")
        cpu_after = _cpu_snapshot(roles)
        receipts, wrong = pipe.recv()
        writer_pipe.close()
        calls = gateway.management_stats["calls"] - base_calls
        refused = gateway.management_stats["refused"] - base_refused
        records = pump.records - base_records
        batches = pump.batches - base_batches
        invocations = stats.invocations - base_invocations
        busy_ms = stats.total_duration_ms - base_ms
        busy_seconds = pump.busy_seconds - base_busy
        peak = pump.peak_concurrency
        writer.join(10)
    clients.join(30)  # the stack closed its sockets on the way out
    moto_pipe.send("stop")
    moto_server.join(10)

    received = len(receipts)
    latencies: dict[bool, list[float]] = {True: [], False: []}  # by "the heavy user's"
    for bid, price, at in receipts:
        if (bid, price) in written:
            latencies[bid.startswith(f"{HEAVY_USER}#")].append((at - written[(bid, price)]) * 1000)
    if args.samples:
        with open(args.samples, "w") as out:
            for bid, price, at in receipts:
                if (bid, price) in written:
                    out.write(json.dumps([bid, written[(bid, price)] - started, at - started]))
                    out.write("\n")
    last = max((at for _, _, at in receipts), default=started)
    print(
        f"delivered {received}/{expected} ({100 * received / max(1, expected):.2f}%), "
        f"wrong user: {wrong}, last receipt {last - started:.1f} s after the first write"
    )
    print(f"@connections calls: {calls}, refused (403): {refused}")
    everyone = latencies[False] + latencies[True]
    for label, values in (
        ("write -> receipt latency", everyone),
        ("  other users' messages", latencies[False] if args.heavy else []),
        (f"  {HEAVY_USER}'s messages", latencies[True]),
    ):
        if values:
            print(
                f"{label}: p50 {_pct(values, 50):.0f} ms, p99 {_pct(values, 99):.0f} ms, "
                f"max {max(values):.0f} ms, stdev {statistics.pstdev(values):.0f} ms "
                f"({len(values)} messages)"
            )
    if records and busy_ms and busy_seconds:
        print(
            f"broadcaster: {records} records in {invocations} invocations (mean batch "
            f"{records / max(1, batches):.0f}, up to {peak} at once), {busy_ms / records:.2f} ms "
            f"of invocation time per record; {received / busy_seconds:.0f} messages/s "
            f"delivered per second during which an invocation ran ({busy_seconds:.1f} s)"
        )
    print(f"end to end: {received / max(0.001, last - started):.0f} messages/s delivered")
    spent = _cpu_spent(cpu_before, cpu_after)
    if received and spent:
        total = sum(spent.values())
        parts = ", ".join(f"{role} {1000 * s / received:.2f}" for role, s in sorted(spent.items()))
        print(
            f"CPU per message delivered (ms): {parts}; all {1000 * total / received:.2f}, "
            f"i.e. at most {received * CORES / total:.0f} messages/s on {CORES} idle cores"
        )
        broadcaster_cpu = spent.get("broadcaster containers", 0.0)
        if args.isolation == "process" and broadcaster_cpu:
            print(
                f"broadcaster's containers: {received / broadcaster_cpu:.0f} messages/s per "
                f"second of their CPU (what one idle core would sustain)"
            )


HEAVY_USER = "user-heavy"
HEAVY_SOCKETS = 10  # MaxConnectionsPerUser


def _latency(text: str) -> Any:
    from local.websocket_gateway import ManagementLatency

    if text in ("", "0", "off"):
        return None
    median, _, p99 = text.partition(",")
    return ManagementLatency(float(median), float(p99 or median))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("burst", "steady"), default="burst")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--conns", type=int, default=2)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--bursts", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between bursts")
    parser.add_argument("--rate", type=float, default=200, help="steady: changes a second")
    parser.add_argument("--seconds", type=float, default=30, help="steady: how long")
    parser.add_argument(
        "--heavy",
        type=int,
        default=0,
        help="steady: a user with 10 sockets who edits this many snipes at once every 2 s",
    )
    parser.add_argument(
        "--samples", help="write each receipt (bidId, written, received: s from the start) here"
    )
    parser.add_argument(
        "--latency",
        default="off",
        help="the management API's added latency: MEDIAN,P99 in ms (e.g. 6,40), or off",
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for all")
    parser.add_argument(
        "--parallelization-factor",
        type=int,
        default=0,
        help="the stream mapping's ParallelizationFactor (default: template.yaml's)",
    )
    parser.add_argument(
        "--isolation",
        choices=("thread", "process"),
        default="process",
        help="run the functions in the stack's process or in Lambda container processes",
    )
    main(parser.parse_args())
