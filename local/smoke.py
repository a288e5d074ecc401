"""``sniper smoke``: one whole snipe against a stack, timed, its outcome reported.

    sniper smoke --stack http://localhost:8000                 # the local stack (make run)
    sniper smoke --stack https://d123.cloudfront.net --item 1234567890 --max 1.50
                                                               # a deployed stack, eBay sandbox

Signs in, links eBay if the account is not linked yet, snipes the auction, watches the
WebSocket until the snipe's outcome and prints: when it was placed (ms before the end, by
eBay's clock), the outcome, and how long each step took. Exit status 0 when the snipe was
placed and its outcome known (WON or LOST: either proves the path), 1 when it failed, timed
out or the sign-in did not finish, 4 when the stack cannot be reached.

Against the local stack (``/local/info`` answers) everything is automatic: the demo user (or
``--login``), the simulator's consent page, and an auction created on the simulator ending
``--ends-in`` seconds later unless ``--item`` names one. Against a deployed stack ``--stack`` is
the dashboard's URL (its ``config.js`` names the API, the WebSocket and the Hosted UI), and the
command signs in as AWS's CLIs do: it opens (``--no-browser``: prints) the Cognito Hosted UI's
sign-in page and waits on ``http://localhost:<port>/callback`` for the browser to come back with
the code (authorization code + PKCE, local/hosted_sign_in.py); it keeps the refresh token for the
run. ``--token`` (an ID token) skips that. ``--item`` is a sandbox auction ending within the hour
(create one with a second sandbox user), and linking, if needed, prints eBay's consent URL and
waits for you to finish it on the dashboard.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
import uuid
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from local.hosted_sign_in import (
    HostedUiClient,
    SignInError,
    StaticToken,
    TokenSource,
)
from local.hosted_sign_in import sign_in as hosted_sign_in

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
    smoke.add_argument("--token", help="a deployed stack: a Cognito ID token instead of signing in")
    smoke.add_argument(
        "--no-browser",
        action="store_true",
        help="a deployed stack: print the sign-in URL instead of opening a browser",
    )
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
    cognito: dict[str, Any] | None = None  # config.js's cognito, against a deployed dashboard


@dataclass
class Report:
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds it took
    bid_id: str = ""
    item: str = ""
    end_ms: int = 0
    ms_before_end: int | None = None
    outcome: str = ""
    reason: str = ""
    reconnects: int = 0

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
    # deploy/dashboard.py writes "export default <JSON>;"
    document = re.search(r"export default (\{.*\});?\s*$", config.text, re.DOTALL)
    try:
        site = json.loads(document.group(1)) if document else {}
    except ValueError:
        site = {}
    if not site.get("apiBaseUrl") or not site.get("websocketUrl"):
        raise LookupError(f"{stack}/config.js names no apiBaseUrl and websocketUrl")
    return Endpoints(
        api=str(site["apiBaseUrl"]).rstrip("/"),
        websocket=str(site["websocketUrl"]),
        cognito=site.get("cognito") or None,
    )


def open_in_browser(url: str, *, browser: bool = True) -> None:
    print(f"Sign in: open {url}\nwaiting for the browser to come back...", flush=True)
    if browser:
        webbrowser.open_new_tab(url)


def sign_in(
    args: argparse.Namespace,
    where: Endpoints,
    http: httpx.Client,
    open_url: Callable[[str], object],
) -> TokenSource:
    if args.token:
        return StaticToken(str(args.token))
    if where.local is None:
        client = HostedUiClient.from_config(where.cognito or {})
        return hosted_sign_in(client, open_url, http)
    demo = where.local.get("demoUser") or {}
    username = args.login or demo.get("username")
    password = args.password or (demo.get("password") if username == demo.get("username") else "")
    answer = http.post(
        f"{where.api}/local/login", json={"username": username, "password": password}
    )
    answer.raise_for_status()
    return StaticToken(str(answer.json()["idToken"]))


def _headers(tokens: TokenSource) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.id_token()}"}


# A create whose answer was lost may have landed: 503 (the database did not answer in time), a
# gateway that gave up on the function, or no answer at all. Sent again with the same
# Idempotency-Key, the API answers it with the snipe it made (README, POST /bids).
MAYBE_DONE = frozenset({502, 503, 504})
CREATE_RETRY_PAUSES_S = (0.4, 1.2, 3.0)


def create_once(
    http: httpx.Client,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    pause: Callable[[float], object] = time.sleep,
) -> httpx.Response:
    """POST one create with a fresh Idempotency-Key, sent again with it while its answer may
    have been lost; the last answer (or the last transport error) when the pauses run out."""
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    for wait in (*CREATE_RETRY_PAUSES_S, None):
        try:
            answer = http.post(url, json=body, headers=keyed)
        except httpx.TransportError:
            if wait is None:
                raise
        else:
            if answer.status_code not in MAYBE_DONE or wait is None:
                return answer
        pause(wait)
    raise AssertionError("unreachable")


def link(
    args: argparse.Namespace, where: Endpoints, http: httpx.Client, tokens: TokenSource
) -> None:
    status = http.get(f"{where.api}/ebay/auth/status", headers=_headers(tokens))
    status.raise_for_status()
    if status.json().get("isLinked"):
        return
    if where.local is not None:
        from local.testing import link_ebay_account

        with httpx.Client(base_url=where.api, timeout=30) as client:
            link_ebay_account(client, _headers(tokens), args.ebay_user)
        return
    start = http.get(f"{where.api}/ebay/auth/url", headers=_headers(tokens))
    start.raise_for_status()
    print(f"Link eBay: open {start.json()['authUrl']} and approve; waiting...", flush=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(3)
        answer = http.get(f"{where.api}/ebay/auth/status", headers=_headers(tokens))
        if answer.json().get("isLinked"):
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


# API Gateway closes a WebSocket idle for 10 minutes: an auction an hour away needs a keepalive.
KEEPALIVE_SECONDS = 240


async def watch(
    url: str,
    tokens: TokenSource,
    bid_id: str,
    report: Report,
    timeout: float,
    snipe_now: Callable[[], dict[str, Any]],
) -> None:
    """Until the snipe's outcome arrives (or ``timeout``): bid.placed's msBeforeEnd, the outcome.
    A closed WebSocket is opened again with a fresh token (the ID token lives an hour, a watch
    may outlast it), and the snipe is read over REST in case its outcome came meanwhile."""
    import websockets

    separator = "&" if "?" in url else "?"
    async with asyncio.timeout(timeout):
        while True:
            token = await asyncio.to_thread(tokens.id_token)
            async with websockets.connect(f"{url}{separator}token={token}", open_timeout=10) as ws:
                await ws.send(json.dumps({"action": "sync"}))
                if report.reconnects and _settled(await asyncio.to_thread(snipe_now), report):
                    return
                keepalive = asyncio.create_task(_keepalive(ws))
                try:
                    async for text in ws:
                        message = json.loads(text)
                        if message.get("bidId") == bid_id and _read(message, report):
                            return
                except websockets.ConnectionClosed:
                    pass
                finally:
                    keepalive.cancel()
            report.reconnects += 1
            await asyncio.sleep(1)


async def _keepalive(ws: Any) -> None:
    while True:
        await asyncio.sleep(KEEPALIVE_SECONDS)
        await ws.send(json.dumps({"action": "ping"}))


def _read(message: dict[str, Any], report: Report) -> bool:
    """Note what a message about the snipe says; True once it carries the outcome."""
    data = message.get("data") or {}
    kind = message.get("type")
    if kind == "bid.placed":
        report.ms_before_end = data.get("msBeforeEnd")
        if "_created" in report.steps:
            created = report.steps.pop("_created")
            report.steps["placed (after create)"] = time.monotonic() - created
        return False
    if kind in ("bid.outcome", "bid.failed", "bid.cancelled") or data.get("status") in FINAL:
        report.outcome = str(data.get("outcome") or data.get("status") or kind)
        report.reason = str(data.get("reason") or "")
        if report.end_ms:
            report.steps["outcome (after end)"] = time.time() - report.end_ms / 1000
        return True
    return False


def _settled(snipe: dict[str, Any], report: Report) -> bool:
    """The snipe as GET /bids/{bidId} has it: True when it is final (read into the report)."""
    if snipe.get("msBeforeEnd") is not None:
        report.ms_before_end = snipe["msBeforeEnd"]
    if snipe.get("status") not in FINAL:
        return False
    report.outcome = str(snipe["status"])
    report.reason = str(snipe.get("failureReason") or snipe.get("cancelReason") or "")
    return True


def run(args: argparse.Namespace, open_url: Callable[[str], object] | None = None) -> int:
    """``open_url`` shows the Hosted UI's sign-in page to the user (a deployed stack without
    ``--token``): by default it prints the URL and opens the system's browser."""
    if open_url is None:
        browser = not args.no_browser

        def open_url(url: str) -> None:
            open_in_browser(url, browser=browser)

    report = Report()
    http = httpx.Client(timeout=30)
    try:
        started = time.monotonic()
        where = discover(args.stack, http)
        tokens = sign_in(args, where, http, open_url)
        report.steps["sign in"] = time.monotonic() - started
        started = time.monotonic()
        link(args, where, http, tokens)
        report.steps["eBay linked"] = time.monotonic() - started
        item = args.item or (local_auction(args, where, http) if where.local else None)
        if not item:
            raise LookupError("name the auction to snipe: --item ITEM_ID")
        started = time.monotonic()
        created = create_once(
            http,
            f"{where.api}/bids",
            {"ebayItemId": item, "maxBidAmount": round(args.max * 100), "leadSeconds": args.lead},
            _headers(tokens),
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

        def snipe_now() -> dict[str, Any]:
            answer = http.get(f"{where.api}/bids/{report.bid_id}", headers=_headers(tokens))
            answer.raise_for_status()
            return dict(answer.json())

        _run_apart(
            watch(
                where.websocket,
                tokens,
                report.bid_id,
                report,
                min(args.timeout, left + 300),
                snipe_now,
            )
        )
    except SignInError as exc:
        print(f"sniper smoke: sign-in: {exc}", file=sys.stderr)
        return EXIT_FAILED
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
