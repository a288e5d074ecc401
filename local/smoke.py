"""``sniper smoke``: one whole snipe against a stack, timed, its outcome reported.

    sniper smoke --stack http://localhost:8000                 # the local stack (make run)
    sniper smoke --stack https://d123.cloudfront.net --token "$ID_TOKEN" --item 1234567890 \\
        --max 1.50                                             # a deployed stack, eBay sandbox

Signs in, links eBay if the account is not linked yet, snipes the auction, watches the
WebSocket until the snipe's outcome and prints: when it was placed (ms before the end, by
eBay's clock), the outcome, and how long each step took. Exit status 0 when the snipe was
placed and its outcome known (WON or LOST: either proves the path), 1 when it failed or timed
out, 4 when the stack cannot be reached.

Against the local stack (``/local/info`` answers) everything is automatic: the demo user (or
``--login``), the simulator's consent page, and an auction created on the simulator ending
``--ends-in`` seconds later unless ``--item`` names one. Against a deployed stack ``--stack`` is
the dashboard's URL (its ``config.js`` names the API and the WebSocket), ``--token`` an ID token
(sign in on the dashboard; the app client allows no password flow), ``--item`` a sandbox auction
ending within the hour (create one with a second sandbox user), and linking, if needed, prints
eBay's consent URL and waits for you to finish it in a browser.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

EXIT_FAILED = 1
EXIT_UNREACHABLE = 4
FINAL = {"WON", "LOST", "FAILED", "CANCELLED"}


def register(subparsers: Any) -> None:
    smoke = subparsers.add_parser(
        "smoke",
        help="one whole snipe against a stack (local or deployed), timed",
        description="Sign in, link eBay, snipe one auction, watch the WebSocket, report.",
    )
    smoke.add_argument("--stack", default="http://localhost:8000", help="stack or dashboard URL")
    smoke.add_argument("--token", help="Cognito ID token (a deployed stack)")
    smoke.add_argument("--login", help="local stack: sign in as this user (default: the demo user)")
    smoke.add_argument("--password", help="local stack: the --login user's password")
    smoke.add_argument("--item", help="the eBay item to snipe (local: one is created)")
    smoke.add_argument("--max", type=float, default=25.0, help="maximum bid (default 25.00)")
    smoke.add_argument("--lead", type=int, default=3, help="seconds before the end (default 3)")
    smoke.add_argument("--ends-in", type=int, default=40, help="local: the auction's seconds left")
    smoke.add_argument("--ebay-user", default="smoke_bidder", help="local: the eBay user linked")
    smoke.add_argument("--timeout", type=float, default=3600, help="give up after this many s")
    smoke.set_defaults(run=run)


@dataclass
class Endpoints:
    api: str
    websocket: str
    local: dict[str, Any] | None = None  # /local/info, against the local stack


@dataclass
class Report:
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds it took
    bid_id: str = ""
    item: str = ""
    end_ms: int = 0
    ms_before_end: int | None = None
    outcome: str = ""
    reason: str = ""

    def lines(self) -> list[str]:
        out = [f"snipe {self.bid_id} on item {self.item}"]
        out += [f"  {step:<22} {seconds * 1000:>9.0f} ms" for step, seconds in self.steps.items()]
        placed = "-" if self.ms_before_end is None else f"{self.ms_before_end} ms before the end"
        out.append(f"  placed                 {placed}")
        out.append(f"  outcome                {self.outcome or 'unknown'} {self.reason}".rstrip())
        return out


def discover(stack: str, http: httpx.Client) -> Endpoints:
    """The local stack answers /local/info; a deployed dashboard serves config.js."""
    stack = stack.rstrip("/")
    try:
        info = http.get(f"{stack}/local/info")
        if info.status_code == 200:
            body = info.json()
            return Endpoints(api=stack, websocket=str(body["websocketUrl"]), local=body)
    except (httpx.HTTPError, ValueError):
        pass
    config = http.get(f"{stack}/config.js")
    config.raise_for_status()
    api = re.search(r'apiBaseUrl:\s*"([^"]+)"', config.text)
    ws = re.search(r'websocketUrl:\s*"([^"]+)"', config.text)
    if not api or not ws:
        raise LookupError(f"{stack}/config.js names no apiBaseUrl and websocketUrl")
    return Endpoints(api=api.group(1).rstrip("/"), websocket=ws.group(1))


def sign_in(args: argparse.Namespace, where: Endpoints, http: httpx.Client) -> str:
    if args.token:
        return str(args.token)
    if where.local is None:
        raise LookupError("a deployed stack needs --token (an ID token from the dashboard)")
    demo = where.local.get("demoUser") or {}
    username = args.login or demo.get("username")
    password = args.password or (demo.get("password") if username == demo.get("username") else "")
    answer = http.post(
        f"{where.api}/local/login", json={"username": username, "password": password}
    )
    answer.raise_for_status()
    return str(answer.json()["idToken"])


def link(args: argparse.Namespace, where: Endpoints, http: httpx.Client, headers: Any) -> None:
    status = http.get(f"{where.api}/ebay/auth/status", headers=headers)
    status.raise_for_status()
    if status.json().get("isLinked"):
        return
    if where.local is not None:
        from local.testing import link_ebay_account

        with httpx.Client(base_url=where.api, timeout=30) as client:
            link_ebay_account(client, headers, args.ebay_user)
        return
    start = http.get(f"{where.api}/ebay/auth/url", headers=headers)
    start.raise_for_status()
    print(f"Link eBay: open {start.json()['authUrl']} and approve; waiting...", flush=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(3)
        if http.get(f"{where.api}/ebay/auth/status", headers=headers).json().get("isLinked"):
            return
    raise LookupError("eBay was not linked within 10 minutes")


def local_auction(args: argparse.Namespace, where: Endpoints, http: httpx.Client) -> str:
    assert where.local is not None
    sim = str(where.local["ebaySimulatorUrl"])
    now_ms = int(http.get(f"{sim}/_sim/clock").json().get("nowMs") or time.time() * 1000)
    end = time.gmtime(now_ms / 1000 + args.ends_in)
    created = http.post(
        f"{sim}/_sim/auctions",
        json={
            "title": "Smoke test lot",
            "startPrice": 100,
            "endTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", end),
        },
    )
    created.raise_for_status()
    return str(created.json()["legacyItemId"])


async def watch(url: str, token: str, bid_id: str, report: Report, timeout: float) -> None:
    """Until the snipe's outcome arrives (or ``timeout``): bid.placed's msBeforeEnd, the outcome."""
    import websockets

    separator = "&" if "?" in url else "?"
    async with websockets.connect(f"{url}{separator}token={token}", open_timeout=10) as ws:
        await ws.send(json.dumps({"action": "sync"}))
        async with asyncio.timeout(timeout):
            async for text in ws:
                message = json.loads(text)
                if message.get("bidId") != bid_id:
                    continue
                data = message.get("data") or {}
                kind = message.get("type")
                if kind == "bid.placed":
                    report.ms_before_end = data.get("msBeforeEnd")
                    report.steps["placed (after create)"] = time.monotonic() - report.steps.pop(
                        "_created"
                    )
                elif kind in ("bid.outcome", "bid.failed", "bid.cancelled") or (
                    data.get("status") in FINAL
                ):
                    report.outcome = str(data.get("outcome") or data.get("status") or kind)
                    report.reason = str(data.get("reason") or "")
                    if report.end_ms:
                        report.steps["outcome (after end)"] = time.time() - report.end_ms / 1000
                    return


def run(args: argparse.Namespace) -> int:
    report = Report()
    http = httpx.Client(timeout=30)
    try:
        started = time.monotonic()
        where = discover(args.stack, http)
        token = sign_in(args, where, http)
        report.steps["sign in"] = time.monotonic() - started
        headers = {"Authorization": f"Bearer {token}"}
        started = time.monotonic()
        link(args, where, http, headers)
        report.steps["eBay linked"] = time.monotonic() - started
        item = args.item or (local_auction(args, where, http) if where.local else None)
        if not item:
            raise LookupError("name the auction to snipe: --item ITEM_ID")
        started = time.monotonic()
        created = http.post(
            f"{where.api}/bids",
            json={
                "ebayItemId": item,
                "maxBidAmount": round(args.max * 100),
                "leadSeconds": args.lead,
            },
            headers=headers,
        )
        if created.status_code != 201:
            print(f"sniper smoke: POST /bids {created.status_code} {created.text}", file=sys.stderr)
            return EXIT_FAILED
        snipe = created.json()
        report.steps["create snipe"] = time.monotonic() - started
        report.steps["_created"] = time.monotonic()
        report.bid_id, report.item = str(snipe["bidId"]), item
        report.end_ms = int(snipe.get("auctionEndMs") or snipe.get("auctionEndTime", 0) * 1000)
        left = max(0.0, report.end_ms / 1000 - time.time())
        print(f"sniping {item}: ends in {left:.0f} s; watching the WebSocket...", flush=True)
        _run_apart(
            watch(where.websocket, token, report.bid_id, report, min(args.timeout, left + 300))
        )
    except (httpx.HTTPError, LookupError, OSError) as exc:
        print(f"sniper smoke: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except TimeoutError:
        report.outcome = "no outcome before the timeout"
    finally:
        http.close()
    report.steps.pop("_created", None)
    print("\n".join(report.lines()))
    placed = report.ms_before_end is not None
    return 0 if placed and report.outcome in ("WON", "LOST") else EXIT_FAILED


def _run_apart(coroutine: Any) -> None:
    """asyncio.run on a thread of its own: the command may be called where an event loop is
    already running (a test process that also runs the local stack)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            failure.append(exc)

    thread = threading.Thread(target=run, name="smoke-watch")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
