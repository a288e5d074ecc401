"""Realtime fan-out on the local stack: DynamoDB write -> stream pump -> broadcaster -> sockets.

USERS users with CONNS WebSocket clients each; CHANGES snipe price changes written in BURSTS.
The stack (moto, stream pump at Lambda's 4 polls/s, broadcaster posting through boto3's
``apigatewaymanagementapi`` client, WebSocket gateway) runs in this process; the clients run
in a separate process, as browsers would, so they do not compete with the stack for its GIL.

Prints delivered/expected (and messages that reached a wrong user), the latency from the
DynamoDB write (taken just before each BatchWriteItem of 25) to the client's receipt (p50,
p99), and the broadcaster's own figures: processing time per record and messages delivered per
second of broadcaster wall time (the summed duration of its invocations, which run one at a
time: ParallelizationFactor 1), next to the end-to-end rate from first write to last receipt.

    .venv/bin/python bench/fanout.py [--users 500] [--conns 2] [--changes 10000] [--bursts 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import logging
import multiprocessing
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


# ---------------------------------------------------------------- the clients' process


def clients_process(url: str, tokens: list[tuple[str, str]], conns: int, pipe: Connection) -> None:
    """Open every client, say "ready", collect until told the expected count is reached or
    the deadline passes, then send back (receipts, wrong)."""
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
                websockets.connect(f"{url}?token={token}", max_size=2**20)
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
    for ws in sockets:
        await ws.close()
    for task in readers:
        task.cancel()
    pipe.send((receipts, wrong))


# ---------------------------------------------------------------- moto's process


def moto_process(pipe: Connection) -> None:
    """moto's server (as ``sniper up`` starts it), in a process of its own: on AWS DynamoDB is
    not in the Lambda's process either. Serves until the pipe closes."""
    from local.aws import start_moto

    handle = start_moto()
    pipe.send(handle.endpoint_url)
    with contextlib.suppress(EOFError):
        pipe.recv()


# ---------------------------------------------------------------- the stack's process


def main(args: argparse.Namespace) -> None:
    import jwt
    import moto

    from local.aws import client
    from local.testing import running_stack

    key_path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    key = jwt.PyJWK(json.loads(gzip.decompress(key_path.read_bytes()))).key
    context = multiprocessing.get_context("spawn")  # never fork a process with threads
    moto_pipe, moto_child_pipe = context.Pipe()
    moto_server = context.Process(target=moto_process, args=(moto_child_pipe,), daemon=True)
    moto_server.start()
    if not moto_pipe.poll(60):
        raise SystemExit("moto did not start within 60 s")
    endpoint = moto_pipe.recv()
    with running_stack(demo=False, aws_endpoint_url=endpoint) as running:
        # The handlers' INFO lines (one per connect and disconnect, none per message) would
        # bury the figures; they fall outside the measured bursts either way.
        logging.getLogger("ebay-sniper").setLevel(logging.WARNING)
        stack = running.stack
        assert stack.provisioned is not None
        assert stack.runtime is not None
        assert stack.stream_pump is not None
        url = stack.websocket_url.replace("localhost", "127.0.0.1")
        issuer, audience = stack.provisioned.issuer, stack.provisioned.user_pool_client_id
        users = [f"user-{i:04d}" for i in range(args.users)]
        tokens = [(u, _token(issuer, audience, u, key)) for u in users]

        pipe, child_pipe = context.Pipe()
        clients = context.Process(
            target=clients_process, args=(url, tokens, args.conns, child_pipe), daemon=True
        )
        clients.start()
        if not pipe.poll(120):
            raise SystemExit("the clients did not connect within 120 s")
        print(f"{pipe.recv()} clients connected ({args.users} users x {args.conns})", flush=True)

        dynamodb = client("dynamodb", stack.provisioned.endpoint_url)
        table = stack.provisioned.tables["BidsTable"].name
        end = int(time.time()) + 7200
        written: dict[tuple[str, int], float] = {}

        def item(user: str, price: int) -> dict[str, Any]:
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

        def write_burst(burst: int, size: int) -> None:
            requests = []
            for n in range(size):
                user = users[(burst * size + n) % len(users)]
                price = 1000 + burst * size + n
                requests.append({"PutRequest": {"Item": item(user, price)}})
            for start in range(0, len(requests), 25):
                chunk = requests[start : start + 25]
                now = time.time()
                for r in chunk:
                    i = r["PutRequest"]["Item"]
                    written[(i["bidId"]["S"], int(i["currentPrice"]["N"]))] = now
                dynamodb.batch_write_item(RequestItems={table: chunk})

        # The first write of each user's snipe is an INSERT (bid.created); prime them.
        for u in users:
            dynamodb.put_item(TableName=table, Item=item(u, 999))
        time.sleep(3)
        stats = stack.runtime.stats["BroadcasterFunction"]
        pump = stack.stream_pump.stats["BroadcasterFunction"]
        base_ms, base_records, base_batches = stats.total_duration_ms, pump.records, pump.batches
        base_invocations = stats.invocations
        size = args.changes // args.bursts
        expected = size * args.bursts * args.conns
        started = time.time()
        pipe.send((expected, started + args.timeout))
        for burst in range(args.bursts):
            write_burst(burst, size)
            time.sleep(args.pause)
        if not pipe.poll(args.timeout + 60):
            raise SystemExit("the clients never reported back")
        receipts, wrong = pipe.recv()
        clients.join(10)
        records = pump.records - base_records
        batches = pump.batches - base_batches
        busy_ms = stats.total_duration_ms - base_ms
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
    if records and busy_ms:
        print(
            f"broadcaster: {records} records in {stats.invocations - base_invocations} "
            f"invocations (mean batch {records / max(1, batches):.0f}), "
            f"{busy_ms:.0f} ms of invocation wall time = {busy_ms / records:.2f} ms/record, "
            f"{received / (busy_ms / 1000):.0f} messages/s delivered per second of "
            f"broadcaster wall time"
        )
    print(f"end to end: {received / max(0.001, last - started):.0f} messages/s delivered")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--conns", type=int, default=2)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--bursts", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between bursts")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for all")
    main(parser.parse_args())
