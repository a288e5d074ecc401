"""Realtime fan-out on the local stack: DynamoDB write -> stream pump -> broadcaster -> sockets.

USERS users with CONNS WebSocket clients each; CHANGES snipe price changes written in BURSTS
(BatchWriteItem of 25, PAUSE seconds between bursts). What runs where, as on AWS where none of
these share a process with the broadcaster:

- this process: the stack (WebSocket gateway and its management API, stream pump at Lambda's 4
  polls/s, the runtime), and with ``--isolation thread`` the functions too;
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

    .venv/bin/python bench/fanout.py [--users 500] [--conns 2] [--changes 10000] [--bursts 20]
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


# ---------------------------------------------------------------- CPU time per process (Linux)


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def _cpu_snapshot(roles: dict[str, int]) -> dict[int, tuple[str, float]]:
    """CPU seconds of this process, the given processes, and every other descendant of this
    process (the Lambda containers), by pid."""
    named = {pid: role for role, pid in roles.items()}
    snapshot = {}
    for pid in [os.getpid(), *_descendants(os.getpid())]:
        seconds = _cpu_seconds(pid)
        if seconds is not None:
            role = "stack" if pid == os.getpid() else named.get(pid, "lambda containers")
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


def clients_process(url: str, tokens: list[tuple[str, str]], conns: int, pipe: Connection) -> None:
    """Open every client, say "ready", collect until told the expected count is reached or
    the deadline passes, send back (receipts, wrong), then wait for the stack to close the
    sockets (a stack shutting down runs no $disconnect, so 1,000 of them do not outlive it)."""
    asyncio.run(_clients(url, tokens, conns, pipe))


async def _clients(url: str, tokens: list[tuple[str, str]], conns: int, pipe: Connection) -> None:
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
            if message["type"] != "price.changed":
                continue
            if not message["bidId"].startswith(prefix):
                wrong += 1
                continue
            receipts.append((message["bidId"], message["data"]["currentPrice"], now))

    readers = []
    for start in range(0, len(tokens), 50):
        opened = await asyncio.gather(
            *(
                websockets.connect(f"{url}?token={token}", max_size=2**20, open_timeout=120)
                for user, token in tokens[start : start + 50]
                for _ in range(conns)
            )
        )
        users = [user for user, _ in tokens[start : start + 50] for _ in range(conns)]
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


def _snipe_item(user: str, price: int, end: int) -> dict[str, Any]:
    return {
        "userId": {"S": user},
        "bidId": {"S": f"{user}#b"},
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


def writer_process(endpoint: str, table: str, users: list[str], pipe: Connection) -> None:
    """The writes, as the product's other functions make them on AWS (not in the broadcaster's
    process). "prime" writes each user's snipe once (its INSERT gives bid.created; the cold
    starts of the broadcaster's containers fall outside the measurement); ("go", size, bursts,
    pause) writes the bursts and sends back when each change was written."""
    from local.aws import client

    dynamodb = client("dynamodb", endpoint)
    end = int(time.time()) + 7200
    while True:
        try:
            command = pipe.recv()
        except EOFError:
            return
        if command == "prime":  # in chunks of 25 too, so every batch lane starts its container
            for start in range(0, len(users), 25):
                chunk = [
                    {"PutRequest": {"Item": _snipe_item(u, 999, end)}}
                    for u in users[start : start + 25]
                ]
                dynamodb.batch_write_item(RequestItems={table: chunk})
            pipe.send("primed")
            continue
        _go, size, bursts, pause = command
        written: dict[tuple[str, int], float] = {}
        for burst in range(bursts):
            requests = []
            for n in range(size):
                user = users[(burst * size + n) % len(users)]
                item = _snipe_item(user, 1000 + burst * size + n, end)
                requests.append({"PutRequest": {"Item": item}})
            for start in range(0, len(requests), 25):
                chunk = requests[start : start + 25]
                now = time.time()
                for r in chunk:
                    i = r["PutRequest"]["Item"]
                    written[(i["bidId"]["S"], int(i["currentPrice"]["N"]))] = now
                dynamodb.batch_write_item(RequestItems={table: chunk})
            time.sleep(pause)
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
        f"moto (GetRecords by local.moto_streams), {args.users * args.conns} clients and the "
        f"writer each in their own",
        flush=True,
    )
    with running_stack(
        demo=False, aws_endpoint_url=endpoint, lambda_isolation=args.isolation
    ) as running:
        stack = running.stack
        assert stack.provisioned is not None
        assert stack.runtime is not None
        assert stack.stream_pump is not None
        if args.parallelization_factor:
            _set_parallelization_factor(running, args.parallelization_factor)
        assert stack.stream_pump is not None
        factor = stack.stream_pump.mappings[0].parallelization_factor
        print(f"stream mapping: ParallelizationFactor {factor}", flush=True)
        # The template's LogLevel (INFO) for the functions to come, in the stack's process or
        # their containers: one line per connect would bury the figures.
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        url = stack.websocket_url.replace("localhost", "127.0.0.1")
        issuer, audience = stack.provisioned.issuer, stack.provisioned.user_pool_client_id
        users = [f"user-{i:04d}" for i in range(args.users)]
        tokens = [(u, _token(issuer, audience, u, key)) for u in users]
        table = stack.provisioned.tables["BidsTable"].name

        pipe, child_pipe = context.Pipe()
        clients = context.Process(
            target=clients_process, args=(url, tokens, args.conns, child_pipe), daemon=True
        )
        clients.start()
        if not pipe.poll(180):
            raise SystemExit("the clients did not connect within 180 s")
        print(f"{pipe.recv()} clients connected ({args.users} users x {args.conns})", flush=True)

        writer_pipe, writer_child_pipe = context.Pipe()
        writer = context.Process(
            target=writer_process,
            args=(stack.provisioned.endpoint_url, table, users, writer_child_pipe),
            daemon=True,
        )
        writer.start()
        writer_pipe.send("prime")  # the first write of each snipe is an INSERT (bid.created)
        writer_pipe.recv()
        time.sleep(3)
        stats = stack.runtime.stats["BroadcasterFunction"]
        pump = stack.stream_pump.stats["BroadcasterFunction"]
        base_ms, base_records, base_batches = stats.total_duration_ms, pump.records, pump.batches
        base_invocations, base_busy = stats.invocations, pump.busy_seconds
        roles = {"moto": moto_server.pid or 0, "clients": clients.pid or 0}
        roles["writer"] = writer.pid or 0
        cpu_before = _cpu_snapshot(roles)
        size = args.changes // args.bursts
        expected = size * args.bursts * args.conns
        started = time.time()
        pipe.send((expected, started + args.timeout))
        writer_pipe.send(("go", size, args.bursts, args.pause))
        if not pipe.poll(args.timeout + 60):
            raise SystemExit("the clients never reported back")
        cpu_after = _cpu_snapshot(roles)
        receipts, wrong = pipe.recv()
        written = writer_pipe.recv()
        writer_pipe.close()
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
    latencies = [
        (at - written[(bid, price)]) * 1000
        for bid, price, at in receipts
        if (bid, price) in written
    ]
    last = max((at for _, _, at in receipts), default=started)
    print(
        f"delivered {received}/{expected} ({100 * received / expected:.2f}%), "
        f"wrong user: {wrong}, last receipt {last - started:.1f} s after the first write"
    )
    print(
        f"write -> receipt latency: p50 {_pct(latencies, 50):.0f} ms, "
        f"p99 {_pct(latencies, 99):.0f} ms, max {max(latencies or [0]):.0f} ms, "
        f"stdev {statistics.pstdev(latencies or [0]):.0f} ms"
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
        broadcaster_cpu = spent.get("lambda containers", 0.0)
        if args.isolation == "process" and broadcaster_cpu:
            print(
                f"broadcaster's containers: {received / broadcaster_cpu:.0f} messages/s per "
                f"second of their CPU (what one idle core would sustain)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--conns", type=int, default=2)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--bursts", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between bursts")
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
