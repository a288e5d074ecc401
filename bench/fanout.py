"""Realtime fan-out on the local stack: DynamoDB write -> stream pump -> broadcaster -> sockets.

USERS users with CONNS WebSocket clients each; CHANGES snipe price changes written in BURSTS.
Prints delivered/expected (and messages that reached a wrong user), the latency from the
DynamoDB write to the client's receipt (p50, p99), and the broadcaster's processing time per
record and its message rate. Clients run in this process's event loop, beside the stack.

    .venv/bin/python bench/fanout.py [--users 500] [--conns 2] [--changes 10000] [--bursts 20]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jwt  # noqa: E402
import moto  # noqa: E402
import websockets  # noqa: E402

from local.aws import client  # noqa: E402
from local.testing import running_stack  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else 0.0


def _token(issuer: str, audience: str, user: str, key: Any) -> str:
    claims = {
        "sub": user,
        "iss": issuer,
        "aud": audience,
        "token_use": "id",
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


async def main(args: argparse.Namespace) -> None:
    key_path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    key = jwt.PyJWK(json.loads(gzip.decompress(key_path.read_bytes()))).key
    with running_stack(demo=False) as running:
        stack = running.stack
        assert stack.provisioned is not None
        assert stack.runtime is not None
        url = stack.websocket_url.replace("localhost", "127.0.0.1")
        issuer, audience = stack.provisioned.issuer, stack.provisioned.user_pool_client_id
        users = [f"user-{i:04d}" for i in range(args.users)]
        written: dict[tuple[str, int], float] = {}
        latencies: list[float] = []
        wrong = 0
        received = 0

        async def client_loop(user: str, ready: asyncio.Event, done: asyncio.Event) -> Any:
            nonlocal wrong, received
            ws = await websockets.connect(
                f"{url}?token={_token(issuer, audience, user, key)}", max_size=2**20
            )
            ready.set()

            async def reader() -> None:
                nonlocal wrong, received
                async for text in ws:
                    now = time.time()
                    message = json.loads(text)
                    if message["type"] != "price.changed":
                        continue
                    bid = message["bidId"]
                    if not bid.startswith(user + "#"):
                        wrong += 1
                        continue
                    received += 1
                    sent = written.get((bid, message["data"]["currentPrice"]))
                    if sent is not None:
                        latencies.append((now - sent) * 1000)

            task = asyncio.create_task(reader())
            await done.wait()
            await ws.close()
            task.cancel()

        done = asyncio.Event()
        readies = []
        tasks = []
        for user in users:
            for _ in range(args.conns):
                ready = asyncio.Event()
                readies.append(ready)
                tasks.append(asyncio.create_task(client_loop(user, ready, done)))
                if len(tasks) % 50 == 0:
                    await asyncio.gather(*(r.wait() for r in readies))
        await asyncio.gather(*(r.wait() for r in readies))
        print(f"{len(tasks)} clients connected ({args.users} users x {args.conns})")

        dynamodb = client("dynamodb", stack.provisioned.endpoint_url)
        table = stack.provisioned.tables["BidsTable"].name
        end = int(time.time()) + 7200

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
        await asyncio.to_thread(
            lambda: [dynamodb.put_item(TableName=table, Item=item(u, 999)) for u in users]
        )
        await asyncio.sleep(3)
        stats = stack.runtime.stats["BroadcasterFunction"]
        pump = stack.stream_pump.stats["BroadcasterFunction"] if stack.stream_pump else None
        base_ms, base_records = stats.total_duration_ms, pump.records if pump else 0
        size = args.changes // args.bursts
        started = time.time()
        for burst in range(args.bursts):
            await asyncio.to_thread(write_burst, burst, size)
            await asyncio.sleep(args.pause)
        expected = size * args.bursts * args.conns
        deadline = time.time() + 60
        while received < expected and time.time() < deadline:
            await asyncio.sleep(0.2)
        elapsed = time.time() - started
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        records = (pump.records if pump else 0) - base_records
        busy_ms = stats.total_duration_ms - base_ms
        print(
            f"delivered {received}/{expected} ({100 * received / expected:.2f}%), "
            f"wrong user: {wrong}, in {elapsed:.1f} s"
        )
        print(
            f"write -> receipt latency: p50 {_pct(latencies, 50):.0f} ms, "
            f"p99 {_pct(latencies, 99):.0f} ms, max {max(latencies or [0]):.0f} ms"
        )
        if records:
            print(
                f"broadcaster: {records} records in {busy_ms:.0f} ms of invocations = "
                f"{busy_ms / records:.2f} ms/record, {received / (busy_ms / 1000):.0f} messages/s "
                f"while running ({stats.invocations} invocations, median batch "
                f"{records / max(1, pump.batches if pump else 1):.0f})"
            )
        print(f"latency stdev {statistics.pstdev(latencies or [0]):.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--conns", type=int, default=2)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--bursts", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between bursts")
    asyncio.run(main(parser.parse_args()))
