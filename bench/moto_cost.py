"""What a DynamoDB request costs the local moto server: CPU per request, by operation, and the
latency many clients see at once.

The local stack's DynamoDB is moto in a process of its own (one core at most: Python's GIL).
When many executors fire together (bench/snipe_timing.py at N=200) it is the stack's narrowest
point, so its CPU per request decides how many snipes can end in the same seconds locally.

Each phase runs one operation from ``--clients`` processes at once (each with a boto3 client as
the functions build them, kept-alive connection included) against a table shaped like the Bids
table (stream on, snipe-sized items), and prints moto's CPU time per request (from /proc, the
figure that does not move with the machine's load), requests per second, and the clients'
latency p50/p99.

    .venv/bin/python bench/moto_cost.py [--clients 20] [--requests 300]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstat import cpu_seconds  # noqa: E402
from local.testing import MOTO_SERVER, server_process  # noqa: E402

TABLE = "BenchBids"
ITEMS = 400


def _client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(read_timeout=30, retries={"max_attempts": 1}),
    )


def _snipe(i: int, version: int = 1) -> dict[str, Any]:
    """An item the size and shape of a snipe (about 25 attributes)."""
    item: dict[str, Any] = {
        "PK": {"S": f"USER#u{i % 4}"},
        "SK": {"S": f"BID#{i:08d}"},
        "version": {"N": str(version)},
        "status": {"S": "ARMED"},
        "maxBidAmount": {"N": "5000"},
        "currency": {"S": "USD"},
        "ebayItemId": {"S": f"v1|{110000000 + i}|0"},
        "auctionEndTime": {"N": "1796297463"},
        "leadSeconds": {"N": "6"},
        "executionId": {"S": "a" * 36},
        "countdownPhase": {"S": "ARMED"},
        "title": {"S": f"Bench lot {i} " + "x" * 60},
        "currentPrice": {"N": "1000"},
        "updatedAt": {"N": "1796297400000"},
        "createdAt": {"N": "1796297300000"},
    }
    for k in range(10):
        item[f"extra{k}"] = {"S": "value-" * 3}
    return item


def _get(client: Any, i: int, n: int) -> None:
    client.get_item(
        TableName=TABLE, Key={"PK": {"S": f"USER#u{i % 4}"}, "SK": {"S": f"BID#{i:08d}"}}
    )


def _update(client: Any, i: int, n: int) -> None:
    client.update_item(
        TableName=TABLE,
        Key={"PK": {"S": f"USER#u{i % 4}"}, "SK": {"S": f"BID#{i:08d}"}},
        UpdateExpression="SET countdownPhase = :p, version = version + :one",
        ConditionExpression="attribute_exists(PK) AND #s = :armed",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":p": {"S": f"P{n}"},
            ":one": {"N": "1"},
            ":armed": {"S": "ARMED"},
        },
    )


def _transact(client: Any, i: int, n: int) -> None:
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"PK": {"S": f"USER#u{i % 4}"}, "SK": {"S": f"BID#{i:08d}"}},
                    "UpdateExpression": "SET sealedAt = :t, version = version + :one",
                    "ConditionExpression": "#s = :armed",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":t": {"N": str(n)},
                        ":one": {"N": "1"},
                        ":armed": {"S": "ARMED"},
                    },
                }
            },
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {
                        "PK": {"S": f"HIST#{i}"},
                        "SK": {"S": f"{n:08d}"},
                        "action": {"S": "PLACE"},
                    },
                }
            },
        ]
    )


def _batch_write(client: Any, i: int, n: int) -> None:
    """Ten snipes written again with a new price, as the fan-out bench's writer does."""
    items = []
    for k in range(10):
        item = _snipe((i * 10 + k) % ITEMS, version=n + 1)
        item["currentPrice"] = {"N": str(1000 + n)}
        items.append({"PutRequest": {"Item": item}})
    client.batch_write_item(RequestItems={TABLE: items})


def _batch_get(client: Any, i: int, n: int) -> None:
    """Five items in one call, as the broadcaster reads a batch's users' sockets."""
    keys = [
        {"PK": {"S": f"USER#u{j % 4}"}, "SK": {"S": f"BID#{j:08d}"}}
        for j in ((i * 5 + k) % ITEMS for k in range(5))
    ]
    client.batch_get_item(RequestItems={TABLE: {"Keys": keys}})


OPERATIONS: dict[str, Callable[[Any, int, int], None]] = {
    "GetItem": _get,
    "UpdateItem": _update,
    "TransactWriteItems": _transact,
    "BatchWriteItem": _batch_write,
    "BatchGetItem": _batch_get,
}


def _worker(url: str, op: str, first: int, count: int, start: Any, out: Any) -> None:
    client = _client(url)
    call = OPERATIONS[op]
    call(client, first, 0)  # the connection, opened before the clock starts
    start.wait()
    latencies = []
    for n in range(count):
        t = time.perf_counter()
        call(client, first + (n * 7) % 50, n + 1)
        latencies.append((time.perf_counter() - t) * 1000)
    out.put(latencies)


def _phase(url: str, pid: int, op: str, clients: int, requests: int) -> None:
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    out = ctx.Queue()
    per = max(1, requests // clients)
    procs = [
        ctx.Process(target=_worker, args=(url, op, (c * 50) % ITEMS, per, start, out))
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0)  # every client connected and waiting
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    start.set()
    latencies: list[float] = []
    for _ in procs:
        latencies += out.get()
    wall = time.perf_counter() - t0
    cpu1 = cpu_seconds(pid)
    if cpu0 is None or cpu1 is None:
        raise RuntimeError("moto's process has gone")
    cpu = cpu1 - cpu0
    for p in procs:
        p.join()
    n = len(latencies)
    latencies.sort()
    print(
        f"{op:20s} {n:5d} requests, {clients:3d} clients: moto CPU {cpu / n * 1000:5.2f} ms "
        f"per request, {n / wall:6.0f} requests/s, latency p50 "
        f"{statistics.median(latencies):6.1f} ms, p99 {latencies[int(0.99 * (n - 1))]:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=600, help="per operation, all clients")
    parser.add_argument("--ops", default=",".join(OPERATIONS))
    args = parser.parse_args()
    with server_process(["-c", MOTO_SERVER]) as (url, pid):
        client = _client(url)
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for i in range(ITEMS):
            client.put_item(TableName=TABLE, Item=_snipe(i))
        for op in args.ops.split(","):
            _phase(url, pid, op, args.clients, args.requests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
