"""Load on the local stack: USERS users calling the REST API while CLIENTS WebSockets listen.

Each user is a loop with a think time between calls, doing what a dashboard user does: list,
read, create, change and cancel snipes, read their history, the watch list and an item, the
profile, the link status, change preferences. Every user has an eBay account linked and
``--auctions`` simulator auctions on its watch list (no competing bidders: the figures are the
sniper's, not eBay's), from which it creates its snipes. The users' WebSockets (CLIENTS spread
over the users, several per user as several tabs) are open before the load starts.

Every change a user makes to a snipe must reach each of that user's connections: a create as
``bid.created``, a change as ``bid.updated``, a cancel as ``bid.cancelled``. The expected
messages are counted from the writes that succeeded; what a connection lacks is lost. Messages
are deduplicated by eventId (delivery is at least once) and a message about another user's
snipe (by the Bids table) counts as misdirected; one about the user's own snipe that no
acknowledged change explains (a write that timed out after it committed) as unexpected.

Processes: moto and the simulator each in their own (as DynamoDB and eBay are elsewhere), the
stack (gateway, Lambda runtime, stream pump, broadcaster, WebSocket gateway) in this one, the
WebSocket clients in one and the REST users in another (as browsers are).

The Lambda runtime runs each invocation in a container process of its own (``--isolation
process``), as Lambda does. ``--isolation thread`` runs the handlers in this process instead,
where two concurrent invocations of one function share Powertools' resolver and its
``current_event``: under load a request can be answered as another user's (a 404 for one's own
snipe, a snipe created for someone else). Users arrive over ``--ramp`` seconds, and at most
``--lambda-concurrency`` invocations run at once (16, as a reserved concurrency would): on two
cores, 64 containers starting at once ran into the functions' 10 s timeouts and never caught up.

Prints requests per second, p50/p99/max latency per route, errors (must be 0), WebSocket
messages expected/received/lost (lost must be 0) and the write-to-receipt latency. Never fails
on a timing.

    .venv/bin/python bench/load.py [--users 200] [--clients 1000] [--seconds 60] [--think 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import multiprocessing
import os
import random
import sys
import time
import warnings
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The messages a user's own change causes, by the kind of change.
CAUSED = {"POST": "bid.created", "PUT": "bid.updated", "DELETE": "bid.cancelled"}
COUNTED_TYPES = frozenset(CAUSED.values())

# (user index, bidId, message type, eventId, receipt epoch s) as a client saw it.
Receipt = tuple[int, str, str, str, float]
# (method, route, status, started epoch s, latency ms)
Call = tuple[str, str, int, float, float]
# (user index, bidId, message type, write started epoch s)
Write = tuple[int, str, str, float]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else 0.0


@dataclass(frozen=True)
class Account:
    index: int
    user_id: str
    email: str
    token: str
    ebay_user: str
    items: tuple[str, ...]  # legacy ids of the auctions on its watch list


# ---------------------------------------------------------------- the WebSocket clients


def clients_process(url: str, accounts: list[tuple[int, str]], per_user: list[int], pipe: Any):
    asyncio.run(_clients(url, accounts, per_user, pipe))


async def _clients(
    url: str, accounts: list[tuple[int, str]], per_user: list[int], pipe: Connection
) -> None:
    import aiohttp

    receipts: list[list[Receipt]] = []
    seen: list[set[str]] = []
    duplicates = 0
    owners: list[int] = []
    sockets: list[Any] = []
    # No connection limit: aiohttp's default of 100 would hold the 101st socket back forever.
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
    )

    async def read(slot: int, ws: Any) -> None:
        nonlocal duplicates
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.time()
            message = json.loads(frame.data)
            if message.get("type") not in COUNTED_TYPES:
                continue
            if message["eventId"] in seen[slot]:
                duplicates += 1
                continue
            seen[slot].add(message["eventId"])
            receipts[slot].append(
                (owners[slot], message["bidId"], message["type"], message["eventId"], now)
            )

    failed = 0
    plan = [account for account, n in zip(accounts, per_user, strict=True) for _ in range(n)]
    readers = []
    for start in range(0, len(plan), 50):
        batch = plan[start : start + 50]
        opened = await asyncio.gather(
            *(
                asyncio.wait_for(session.ws_connect(f"{url}?token={token}"), 60)
                for _, token in batch
            ),
            return_exceptions=True,
        )
        for (index, _), ws in zip(batch, opened, strict=True):
            if isinstance(ws, BaseException):
                failed += 1
                continue
            slot = len(sockets)
            sockets.append(ws)
            owners.append(index)
            receipts.append([])
            seen.append(set())
            readers.append(asyncio.create_task(read(slot, ws)))
    pipe.send((len(sockets), failed, owners))
    loop = asyncio.get_running_loop()
    expected, deadline = await loop.run_in_executor(None, pipe.recv)
    # expected: user index -> Counter of (bidId, type) its writes caused
    while time.time() < deadline:
        if all(
            len(receipts[slot]) >= sum(expected.get(owners[slot], {}).values())
            for slot in range(len(sockets))
        ):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # anything late, duplicated or misdirected still counts
    for ws in sockets:
        await ws.close()
    for task in readers:
        task.cancel()
    await session.close()
    pipe.send((receipts, duplicates))


# ---------------------------------------------------------------- the REST users


def users_process(base_url: str, accounts: list[Account], args: dict[str, Any], pipe: Any):
    calls, writes = asyncio.run(_users(base_url, accounts, args))
    pipe.send((calls, writes))


@dataclass
class Snipe:
    bid_id: str
    item: str
    max_bid: int
    lead: int


@dataclass
class UserState:
    account: Account
    rng: random.Random
    active: dict[str, Snipe] = field(default_factory=dict)  # bidId -> snipe
    any_bids: list[str] = field(default_factory=list)


# The mix: weight of each kind of call.
MIX = {
    "list": 18,
    "read": 8,
    "create": 12,
    "update": 12,
    "cancel": 6,
    "history": 9,
    "bid history": 4,
    "watch list": 10,
    "item": 5,
    "profile": 8,
    "preferences": 3,
    "link status": 5,
}


async def _users(
    base_url: str, accounts: list[Account], args: dict[str, Any]
) -> tuple[list[Call], list[Write]]:
    import aiohttp

    calls: list[Call] = []
    writes: list[Write] = []
    errors: list[tuple[str, str, int, str]] = []
    connector = aiohttp.TCPConnector(limit=len(accounts) + 10)
    timeout = aiohttp.ClientTimeout(total=args["timeout"])
    session = aiohttp.ClientSession(base_url, connector=connector, timeout=timeout)
    start = time.time()
    deadline = start + args["seconds"]
    think = args["think"]

    async def request(
        state: UserState, method: str, route: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {state.account.token}"}
        began = time.time()
        try:
            async with session.request(method, path, json=body, headers=headers) as answer:
                status = answer.status
                payload = await answer.json(content_type=None) if status != 204 else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, payload = 0, {"error": type(exc).__name__}
        calls.append((method, route, status, began, (time.time() - began) * 1000))
        if status >= 300 or status == 0:
            errors.append((method, path, status, json.dumps(payload)[:300]))
        return status, payload

    async def step(state: UserState) -> None:
        rng = state.rng
        free = [i for i in state.account.items if i not in {s.item for s in state.active.values()}]
        kinds = [k for k in MIX if _possible(k, state, free)]
        kind = rng.choices(kinds, weights=[MIX[k] for k in kinds])[0]
        if kind == "list":
            status = rng.choice([None, "PENDING", "PENDING,ARMED", "CANCELLED"])
            query = f"?limit=20&status={status}" if status else "?limit=20"
            await request(state, "GET", "/bids", "/bids" + query)
        elif kind == "read":
            bid = rng.choice(state.any_bids)
            await request(state, "GET", "/bids/{bidId}", f"/bids/{bid}")
        elif kind == "create":
            item = rng.choice(free)
            body = {"ebayItemId": item, "maxBidAmount": rng.randrange(2000, 90000, 100)}
            if rng.random() < 0.5:
                body["leadSeconds"] = rng.randint(1, 30)
            began = time.time()
            status, answer = await request(state, "POST", "/bids", "/bids", body)
            if status == 201:
                snipe = Snipe(answer["bidId"], item, answer["maxBidAmount"], answer["leadSeconds"])
                state.active[snipe.bid_id] = snipe
                state.any_bids.append(snipe.bid_id)
                writes.append((state.account.index, snipe.bid_id, CAUSED["POST"], began))
        elif kind == "update":
            snipe = rng.choice(list(state.active.values()))
            body = {}
            if rng.random() < 0.7:  # always a real change: an unchanged snipe sends nothing
                body["maxBidAmount"] = _other(rng, snipe.max_bid, 2000, 90000, 100)
            else:
                body["leadSeconds"] = _other(rng, snipe.lead, 1, 30, 1)
            began = time.time()
            status, answer = await request(
                state, "PUT", "/bids/{bidId}", f"/bids/{snipe.bid_id}", body
            )
            if status == 200:
                snipe.max_bid, snipe.lead = answer["maxBidAmount"], answer["leadSeconds"]
                writes.append((state.account.index, snipe.bid_id, CAUSED["PUT"], began))
        elif kind == "cancel":
            snipe = rng.choice(list(state.active.values()))
            began = time.time()
            status, _ = await request(state, "DELETE", "/bids/{bidId}", f"/bids/{snipe.bid_id}")
            if status == 200:
                del state.active[snipe.bid_id]
                writes.append((state.account.index, snipe.bid_id, CAUSED["DELETE"], began))
        elif kind == "history":
            action = rng.choice([None, "CREATE", "UPDATE,CANCEL"])
            query = f"?limit=20&action={action}" if action else "?limit=20"
            await request(state, "GET", "/bid-history", "/bid-history" + query)
        elif kind == "bid history":
            bid = rng.choice(state.any_bids)
            await request(state, "GET", "/bid-history/{bidId}", f"/bid-history/{bid}")
        elif kind == "watch list":
            await request(state, "GET", "/wishlist/items", "/wishlist/items?limit=20")
        elif kind == "item":
            item = rng.choice(state.account.items)
            await request(state, "GET", "/wishlist/items/{itemId}", f"/wishlist/items/{item}")
        elif kind == "profile":
            await request(state, "GET", "/users/profile", "/users/profile")
        elif kind == "preferences":
            body = {
                "timezone": rng.choice(["UTC", "Europe/Berlin", "America/New_York"]),
                "defaultLeadSeconds": rng.randint(1, 30),
            }
            await request(state, "PUT", "/users/preferences", "/users/preferences", body)
        elif kind == "link status":
            await request(state, "GET", "/ebay/auth/status", "/ebay/auth/status")

    async def user(state: UserState) -> None:
        # Users arrive over the ramp: a burst of cold starts on two cores would time out.
        await asyncio.sleep(state.rng.uniform(0, max(think, args["ramp"])))
        while time.time() < deadline:
            await step(state)
            await asyncio.sleep(state.rng.expovariate(1 / think) if think > 0 else 0)

    states = [UserState(a, random.Random(args["seed"] * 100_003 + a.index)) for a in accounts]
    await asyncio.gather(*(user(s) for s in states))
    await session.close()
    for method, path, status, text in errors[:20]:
        print(f"  error: {method} {path} -> {status} {text}", flush=True)
    return calls, writes


def _possible(kind: str, state: UserState, free: list[str]) -> bool:
    if kind == "create":
        return bool(free)
    if kind in ("update", "cancel"):
        return bool(state.active)
    if kind in ("read", "bid history"):
        return bool(state.any_bids)
    return True


def _other(rng: random.Random, current: int, low: int, high: int, step: int) -> int:
    while True:
        value = rng.randrange(low, high + 1, step)
        if value != current:
            return value


# ---------------------------------------------------------------- servers of their own


def _signing_key() -> Any:
    import jwt
    import moto

    path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    return jwt.PyJWK(json.loads(gzip.decompress(path.read_bytes()))).key


def _id_token(issuer: str, audience: str, user_id: str, email: str, key: Any) -> str:
    """An ID token as the user pool issues it (signed with moto's pool key)."""
    import jwt

    claims = {
        "sub": user_id,
        "email": email,
        "iss": issuer,
        "aud": audience,
        "token_use": "id",
        "exp": int(time.time()) + 4 * 3600,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


# ---------------------------------------------------------------- the stack's process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--clients", type=int, default=1000, help="WebSockets, over the users")
    parser.add_argument("--seconds", type=float, default=60, help="how long the load lasts")
    parser.add_argument("--think", type=float, default=5.0, help="mean think time, seconds")
    parser.add_argument("--ramp", type=float, default=30, help="seconds over which users arrive")
    parser.add_argument("--auctions", type=int, default=5, help="watched auctions per user")
    parser.add_argument("--timeout", type=float, default=30, help="per request, seconds")
    parser.add_argument("--drain", type=float, default=60, help="seconds to wait for messages")
    parser.add_argument(
        "--lambda-concurrency",
        type=int,
        default=16,
        help="invocations at once (containers); more only adds cold starts on two cores",
    )
    parser.add_argument(
        "--isolation", choices=("thread", "process"), default="process", help="Lambda runtime's"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.clients < args.users:
        parser.error("--clients must be at least --users (every user has a connection)")
    logging.disable(logging.WARNING)
    # Figures of this benchmark only: no metric lines (EMF on stdout) nor metric warnings, from
    # this process or from the Lambda containers, which inherit the environment.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    warnings.filterwarnings("ignore", "No application metrics to publish")

    import httpx

    from local.testing import MOTO_SERVER, link_ebay_account, running_stack, server_process

    context = multiprocessing.get_context("spawn")  # never fork a process with threads
    with ExitStack() as outside:
        sim = outside.enter_context(server_process(["-m", "local.ebay_sim", "--port", "0"]))[0]
        moto = outside.enter_context(server_process(["-c", MOTO_SERVER]))[0]
        running = outside.enter_context(
            running_stack(
                demo=False,
                aws_endpoint_url=moto,
                ebay_api_base_url=sim,
                lambda_concurrency=args.lambda_concurrency,
                lambda_isolation=args.isolation,
            )
        )
        stack = running.stack
        assert stack.provisioned is not None
        assert stack.runtime is not None
        setup_started = time.time()
        admin = outside.enter_context(httpx.Client(base_url=sim, timeout=30))
        key = _signing_key()
        issuer, audience = stack.provisioned.issuer, stack.provisioned.user_pool_client_id
        run = f"{int(time.time()) % 100000:05d}"

        def account(index: int) -> Account:
            ebay_user = f"load_{run}_{index:04d}"
            items = []
            for n in range(args.auctions):
                created = admin.post(
                    "/_sim/auctions",
                    json={
                        "title": f"Load lot {index}-{n}",
                        "startPrice": 1000,
                        "endsInSeconds": 3 * 3600 + index * 7 + n,
                        "watchedBy": [ebay_user],
                        "bots": False,
                    },
                )
                created.raise_for_status()
                items.append(str(created.json()["legacyItemId"]))
            user_id = f"load-user-{run}-{index:04d}"
            email = f"load-{run}-{index:04d}@example.com"
            token = _id_token(issuer, audience, user_id, email, key)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=running.base_url, timeout=60) as http:
                http.get("/users/profile", headers=headers).raise_for_status()
                link_ebay_account(http, headers, ebay_user)
            return Account(index, user_id, email, token, ebay_user, tuple(items))

        with ThreadPoolExecutor(8) as pool:
            accounts = list(pool.map(account, range(args.users)))
        per_user = [args.clients // args.users] * args.users
        for i in range(args.clients % args.users):
            per_user[i] += 1
        url = stack.websocket_url.replace("localhost", "127.0.0.1")
        ws_pipe, ws_child = context.Pipe()
        clients = context.Process(
            target=clients_process,
            args=(url, [(a.index, a.token) for a in accounts], per_user, ws_child),
            daemon=True,
        )
        clients.start()
        if not ws_pipe.poll(300):
            raise SystemExit("the WebSocket clients did not connect within 300 s")
        connected, failed, owners = ws_pipe.recv()
        print(
            f"setup: {args.users} users with linked eBay accounts and {args.auctions} watched "
            f"auctions each, {connected} WebSockets open ({failed} refused) in "
            f"{time.time() - setup_started:.0f} s",
            flush=True,
        )

        pump = stack.stream_pump.stats["BroadcasterFunction"] if stack.stream_pump else None
        base_records = pump.records if pump else 0
        invocations_before = {
            name: (s.invocations, s.errors) for name, s in stack.runtime.stats.items()
        }
        users_pipe, users_child = context.Pipe()
        users = context.Process(
            target=users_process,
            args=(running.base_url, accounts, vars(args), users_child),
            daemon=True,
        )
        users.start()
        if not users_pipe.poll(args.seconds + args.timeout + 120):
            raise SystemExit("the users never reported back")
        calls, writes = users_pipe.recv()
        load_ended = time.time()
        users.join(10)

        expected: dict[int, Counter[tuple[str, str]]] = defaultdict(Counter)
        for user_index, bid_id, kind, _ in writes:
            expected[user_index][(bid_id, kind)] += 1
        ws_pipe.send((dict(expected), time.time() + args.drain))
        if not ws_pipe.poll(args.drain + 60):
            raise SystemExit("the WebSocket clients never reported back")
        receipts, duplicates = ws_pipe.recv()
        clients.join(10)
        records = (pump.records - base_records) if pump else 0
        in_stream = _stream_records(stack.provisioned, {w[1] for w in writes})
        index_of = {a.user_id: a.index for a in accounts}
        owner_of = {
            bid_id: index_of.get(user_id, -1)
            for bid_id, user_id in _snipe_owners(stack.provisioned).items()
        }
        function_stats = {
            name: (
                s.invocations - invocations_before[name][0],
                s.errors - invocations_before[name][1],
            )
            for name, s in stack.runtime.stats.items()
        }

    _report(args, calls, writes, expected, receipts, owners, owner_of, duplicates, load_ended)
    print(
        f"stream: {len(writes)} acknowledged snipe changes; the Bids table's stream holds "
        f"{sum(in_stream.values())} records of those snipes "
        f"({', '.join(f'{n} {k}' for k, n in sorted(in_stream.items()))}); "
        f"the pump handed {records} records to the broadcaster"
    )
    busy = {n: v for n, v in function_stats.items() if v[0]}
    print(
        "invocations (errors) during the run: "
        + ", ".join(f"{n.removesuffix('Function')} {i} ({e})" for n, (i, e) in sorted(busy.items()))
    )
    return 0


def _stream_records(provisioned: Any, bid_ids: set[str]) -> Counter[str]:
    """The Bids stream's records (by event name) about the given snipes, from its start."""
    from local.aws import client

    table = provisioned.tables["BidsTable"].name
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    streams = client("dynamodbstreams", provisioned.endpoint_url)
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    found: Counter[str] = Counter()
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in page["Records"]:
                keys = record["dynamodb"]["Keys"]
                if keys.get("bidId", {}).get("S") in bid_ids:
                    found[record["eventName"]] += 1
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return found


def _snipe_owners(provisioned: Any) -> dict[str, str]:
    """bidId -> userId of every snipe in the Bids table."""
    from local.aws import client

    dynamodb = client("dynamodb", provisioned.endpoint_url)
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=provisioned.tables["BidsTable"].name, ProjectionExpression="userId, bidId"
    )
    return {i["bidId"]["S"]: i["userId"]["S"] for page in pages for i in page["Items"]}


def _report(
    args: argparse.Namespace,
    calls: list[Call],
    writes: list[Write],
    expected: dict[int, Counter[tuple[str, str]]],
    receipts: list[list[Receipt]],
    owners: list[int],
    owner_of: dict[str, int],
    duplicates: int,
    load_ended: float,
) -> None:
    started = min((c[3] for c in calls), default=load_ended)
    span = max((c[3] + c[4] / 1000 for c in calls), default=load_ended) - started
    errors = [c for c in calls if c[2] == 0 or c[2] >= 300]
    print(
        f"\nload: {args.users} users, think {args.think} s, {span:.0f} s: {len(calls)} requests "
        f"= {len(calls) / max(span, 0.001):.0f} requests/s; errors: {len(errors)}"
    )
    by_status = Counter((c[0], c[1], c[2]) for c in errors)
    for (method, route, status), n in sorted(by_status.items()):
        print(f"  {n} x {method} {route} -> {status or 'no answer'}")
    by_route: dict[str, list[float]] = defaultdict(list)
    for method, route, _, _, ms in calls:
        by_route[f"{method} {route}"].append(ms)
    print(f"  {'route':<30} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for route, values in sorted(by_route.items(), key=lambda kv: -len(kv[1])):
        print(
            f"  {route:<30} {len(values):>6} {_pct(values, 50):>8.0f} {_pct(values, 99):>8.0f} "
            f"{max(values):>8.0f}"
        )
    all_ms = [c[4] for c in calls]
    print(f"  {'all':<30} {len(all_ms):>6} {_pct(all_ms, 50):>8.0f} {_pct(all_ms, 99):>8.0f}")

    # Every write's message on each of its user's connections.
    written_at: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _, bid_id, kind, at in writes:
        written_at[(bid_id, kind)].append(at)
    want = got = lost = extra = misdirected = 0
    latencies: list[float] = []
    last = load_ended
    for slot, user_index in enumerate(owners):
        wanted = expected.get(user_index, Counter())
        seen: Counter[tuple[str, str]] = Counter()
        order: dict[tuple[str, str], list[float]] = defaultdict(list)
        for owner, bid_id, kind, _, at in receipts[slot]:
            if owner_of.get(bid_id) != owner:  # another user's snipe
                misdirected += 1
                continue
            seen[(bid_id, kind)] += 1
            order[(bid_id, kind)].append(at)
            last = max(last, at)
        want += sum(wanted.values())
        got += sum(seen.values())
        lost += sum((wanted - seen).values())
        extra += sum((seen - wanted).values())
        for key, times in order.items():
            # Messages about one snipe arrive in write order: the k-th receipt is the k-th write.
            for wrote, received in zip(sorted(written_at[key]), sorted(times), strict=False):
                latencies.append((received - wrote) * 1000)
    kinds = Counter(kind for _, _, kind, _ in writes)
    print(
        f"\nwebsocket: {len(owners)} connections; {len(writes)} snipe changes "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}) -> {want} messages "
        f"expected on their users' connections, {got} received, lost: {lost}, "
        f"unexpected: {extra}, misdirected: {misdirected}, duplicates dropped: {duplicates}"
    )
    print(
        f"  request start -> receipt: p50 {_pct(latencies, 50):.0f} ms, "
        f"p99 {_pct(latencies, 99):.0f} ms, max {max(latencies or [0]):.0f} ms; "
        f"last message {max(0.0, last - load_ended):.1f} s after the load ended"
    )


if __name__ == "__main__":
    raise SystemExit(main())
