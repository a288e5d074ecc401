"""``sniper ws``: watch the realtime events of one user from a terminal.

    sniper ws --login demo@example.com            # against the local stack (make run)
    sniper ws --url wss://.../prod --token "$ID_TOKEN" --json | jq .
    sniper ws --login demo@example.com --send '{"action": "ping"}' --filter pong

Prints one line per event (time, type, item, the essentials; each event of a ``batch`` frame on
its own line) and, on a terminal, a live
countdown to the next ending snipe. Reconnects with backoff and sends ``sync`` after every
(re)connect; pings every few minutes to stay under API Gateway's 10-minute idle limit. With
``--prices`` it asks for fresh prices (``refreshPrices``) while one of the user's snipes is in
its last 10 minutes, as an open dashboard does: when the last answer's ``nextInMs`` says the next
round may run (plus up to 0.3 s, within 1-60 s), 10 s after the last ask while none came (each
refresh is billed: off by default). A rejected token exits with status 3 and a one-line reason
(with ``--login``, after signing in once more: a token expires within the hour, a socket may
last two),
the account's cap of open sockets (HTTP 429 in the handshake) with status 5: retrying cannot free
a socket, closing another tab or terminal does (docs/realtime-protocol.md, "Connecting").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import getpass
import json
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TextIO

import httpx

EXIT_REJECTED = 3
EXIT_UNREACHABLE = 4
EXIT_TOO_MANY_SOCKETS = 5
KEEPALIVE_SECONDS = 240.0
# As the dashboard (dashboard/js/realtime.js): a snipe in its last FINAL_SECONDS is refreshed,
# when the answer's nextInMs says (refresh_delay), every REFRESH_PRICES_SECONDS without one.
REFRESH_PRICES_SECONDS = 10.0
REFRESH_JITTER_SECONDS = 0.3
REFRESH_MIN_SECONDS, REFRESH_MAX_SECONDS = 1.0, 60.0
FINAL_SECONDS = 600
# Text a seller or the server wrote (titles, reasons, messages) goes to a terminal: a control
# character could start an escape sequence (retitle the window, clear the screen) or break the
# one line per event, a bidi control reorder the line. Each is shown as its \u escape.
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control or bidi control character shown as its \\u escape."""
    return UNPRINTABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def refresh_delay(next_in_ms: float) -> float:
    """Seconds until the next ``refreshPrices`` after an answer saying the next round may run in
    ``next_in_ms``: then, plus a little jitter (dashboards answered together do not ask
    together), within REFRESH_MIN_SECONDS..REFRESH_MAX_SECONDS."""
    wanted = next_in_ms / 1000 + random.uniform(0, REFRESH_JITTER_SECONDS)
    return min(REFRESH_MAX_SECONDS, max(REFRESH_MIN_SECONDS, wanted))


async def _wait(event: asyncio.Event | None, seconds: float) -> bool:
    """Up to ``seconds`` for ``event`` (None: just the time); whether it was set."""
    if event is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


class Rejected(Exception):
    """The server refused the token: retrying cannot help."""


def register(subparsers: Any) -> None:
    ws = subparsers.add_parser(
        "ws",
        help="watch a user's live snipe events over the WebSocket API",
        description="Connect to the realtime WebSocket API and print every event.",
    )
    ws.add_argument("--url", help="WebSocket URL (default: the local stack's)")
    ws.add_argument("--token", help="Cognito id or access token")
    ws.add_argument("--login", metavar="USER", help="log in to the local stack as USER")
    ws.add_argument("--password", help="password for --login (default: the demo user's, or ask)")
    ws.add_argument(
        "--stack", default="http://localhost:8000", help="local stack base URL for --login"
    )
    ws.add_argument("--json", action="store_true", help="print raw JSON lines (for jq)")
    ws.add_argument("--send", action="append", default=[], help="send this message on connect")
    ws.add_argument(
        "--filter", action="append", default=[], metavar="TYPE", help="only these types"
    )
    ws.add_argument("--count", type=int, default=0, help="exit after N printed events")
    ws.add_argument("--no-reconnect", action="store_true", help="exit when the connection ends")
    ws.add_argument(
        "--prices",
        action="store_true",
        help="refresh prices once per round while a snipe is in its last 10 minutes (billed)",
    )
    ws.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        url, token, login = _resolve(args)
    except (httpx.HTTPError, LookupError) as exc:
        print(f"sniper ws: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    watcher = Watcher(
        url,
        token,
        raw=args.json,
        types=set(args.filter),
        sends=args.send,
        count=args.count,
        reconnect=not args.no_reconnect,
        refresh_prices=args.prices,
        token_source=login,
    )
    try:
        return asyncio.run(watcher.run())
    except KeyboardInterrupt:
        return 0


def _resolve(args: argparse.Namespace) -> tuple[str, str, Callable[[], str] | None]:
    """The socket URL, a token, and with ``--login`` how to sign in again for a fresh one."""
    url, token = args.url, args.token
    login: Callable[[], str] | None = None
    if not url or args.login:
        info = httpx.get(f"{args.stack}/local/info", timeout=5).json()
        url = url or info.get("websocketUrl")
        if not url:
            raise LookupError("the local stack has no WebSocket API")
        if args.login:
            password = args.password
            demo = info.get("demoUser") or {}
            if password is None and demo.get("username") == args.login:
                password = demo.get("password")
            if password is None:
                password = getpass.getpass(f"password for {args.login}: ")
            login = functools.partial(_login, args.stack, args.login, password)
            token = login()
    if not token:
        raise LookupError("give --token or --login")
    return str(url), str(token), login


def _login(stack: str, username: str, password: str) -> str:
    """An id token from the local stack's sign-in."""
    response = httpx.post(
        f"{stack}/local/login", json={"username": username, "password": password}, timeout=10
    )
    try:
        body = response.json()
    except ValueError:  # not JSON: a proxy's error page, another server on the port
        body = None
    body = body if isinstance(body, dict) else {}
    if response.status_code != 200 or "idToken" not in body:
        reason = body.get("message") or f"HTTP {response.status_code}"
        raise LookupError(f"login refused: {reason}")
    return str(body["idToken"])


class Watcher:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        raw: bool = False,
        types: set[str] | None = None,
        sends: Sequence[str] = (),
        count: int = 0,
        reconnect: bool = True,
        out: TextIO | None = None,
        refresh_prices: bool = False,
        token_source: Callable[[], str] | None = None,
        connect: Callable[..., Any] | None = None,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self.token = token
        # How to get a fresh token when the gateway refuses this one (None: it was given).
        self.token_source = token_source
        self.connect = connect  # websockets.connect unless a test gives its own
        self.pause = pause
        self.raw = raw
        self.types = types or set()
        self.sends = list(sends)
        self.count = count
        self.reconnect = reconnect
        self.out = out or sys.stdout
        self.printed = 0
        self.seen: dict[str, None] = {}  # eventIds, to drop redelivered duplicates
        self.endings: dict[str, tuple[int, str]] = {}  # bidId -> (auctionEndTime, title)
        # While a snapshot's parts arrive: the bidIds known before it, and those it listed.
        self.snapshot: tuple[set[str], set[str]] | None = None
        self.clock_offset = 0.0
        self.refresh_prices = refresh_prices
        self.prices_answered: asyncio.Event | None = None  # set by the last ask's answer
        self.next_in_ms = 0.0  # that answer's nextInMs

    async def run(self) -> int:
        import websockets

        connect = self.connect or websockets.connect
        delay = 0.5
        separator = "&" if "?" in self.url else "?"
        fresh = True  # this token has not been refused yet
        while True:
            try:
                async with connect(
                    f"{self.url}{separator}token={self.token}",
                    ping_interval=20,
                    max_size=128 * 1024,
                    open_timeout=10,
                ) as ws:
                    delay, fresh = 0.5, False
                    if await self._session(ws):
                        return 0
            except websockets.InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    if self.token_source is not None and not fresh:
                        # Expired while the last socket was open: sign in again, once.
                        try:
                            self.token, fresh = self.token_source(), True
                        except (httpx.HTTPError, LookupError) as login_failed:
                            print(f"sniper ws: {login_failed}", file=sys.stderr)
                            return EXIT_REJECTED
                        continue
                    print(f"sniper ws: token rejected (HTTP {status})", file=sys.stderr)
                    return EXIT_REJECTED
                if status == 429:
                    print(
                        "sniper ws: this account has as many sockets open as it may (HTTP 429);"
                        " close another tab or terminal and connect again",
                        file=sys.stderr,
                    )
                    return EXIT_TOO_MANY_SOCKETS
                print(f"sniper ws: handshake failed (HTTP {status})", file=sys.stderr)
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                print(f"sniper ws: connection lost ({type(exc).__name__})", file=sys.stderr)
            if not self.reconnect:
                return EXIT_UNREACHABLE
            await self.pause(delay * (0.5 + random.random()))
            delay = min(delay * 2, 30.0)

    async def _session(self, ws: Any) -> bool:
        """Read until the connection ends; True once ``count`` events were printed."""
        await ws.send(json.dumps({"action": "sync"}))
        for message in self.sends:
            await ws.send(message)
        keepalive = asyncio.create_task(self._keepalive(ws))
        ticker = asyncio.create_task(self._ticker()) if self._live() else None
        refresher = asyncio.create_task(self._refresher(ws)) if self.refresh_prices else None
        try:
            async for text in ws:
                if self._handle(text) and self.count and self.printed >= self.count:
                    return True
        finally:
            keepalive.cancel()
            for task in (ticker, refresher):
                if task:
                    task.cancel()
        return False

    def in_final_minutes(self) -> bool:
        """Whether a snipe this watcher knows of is in its last FINAL_SECONDS."""
        now = time.time() + self.clock_offset
        return any(0 < end - now <= FINAL_SECONDS for end, _ in self.endings.values())

    async def _refresher(self, ws: Any, wait: Any = _wait) -> None:
        """``refreshPrices`` while a snipe is in its last minutes, one ask at a time: when its
        answer's ``nextInMs`` says (:func:`refresh_delay`); with no answer within
        REFRESH_PRICES_SECONDS, or one without a time (nothing of ours in its final minutes
        there), that long after it. ``wait`` is :func:`_wait` (a test's moves time)."""
        delay = REFRESH_PRICES_SECONDS
        with contextlib.suppress(Exception):
            while True:
                await wait(None, delay)
                delay = REFRESH_PRICES_SECONDS
                if not self.in_final_minutes():
                    continue
                self.prices_answered, self.next_in_ms = asyncio.Event(), 0.0
                await ws.send(json.dumps({"action": "refreshPrices"}))
                if not await wait(self.prices_answered, REFRESH_PRICES_SECONDS):
                    delay = 0.0  # unanswered: the ask is REFRESH_PRICES_SECONDS old already
                elif self.next_in_ms > 0:
                    delay = refresh_delay(self.next_in_ms)
                self.prices_answered = None

    async def _keepalive(self, ws: Any) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(KEEPALIVE_SECONDS)
                await ws.send(json.dumps({"action": "ping"}))

    def _live(self) -> bool:
        return not self.raw and self.out.isatty()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(1)
            line = self._countdown()
            if line:
                self.out.write(f"\r\x1b[2K{line}")
                self.out.flush()

    def _handle(self, text: str | bytes) -> bool:
        """Print the frame's events; True when at least one was printed."""
        try:
            message = json.loads(text)
        except ValueError:
            return False
        if not isinstance(message, dict):
            return False
        if message.get("type") == "batch":  # several events in one frame: each as if alone
            events = (message.get("data") or {}).get("events") or []
            printed = [self._event(e) for e in events if isinstance(e, dict)]
            return any(printed)
        return self._event(message)

    def _event(self, message: dict[str, Any]) -> bool:
        if self.count and self.printed >= self.count:
            return False  # done: the rest of a batch frame is not printed
        event_id = str(message.get("eventId", ""))
        if event_id and message.get("type") not in ("pong", "snapshot", "error"):
            if event_id in self.seen:
                return False
            self.seen[event_id] = None
            if len(self.seen) > 10_000:
                self.seen.pop(next(iter(self.seen)))
        self._track(message)
        if self.types and message.get("type") not in self.types:
            return False
        if self.raw:
            line = json.dumps(message, separators=(",", ":"))
        else:
            line = format_event(message)
            if self._live():
                line = "\r\x1b[2K" + line
        print(line, file=self.out, flush=True)
        self.printed += 1
        return True

    def _track(self, message: dict[str, Any]) -> None:
        server_time = message.get("serverTime")
        if isinstance(server_time, int):
            self.clock_offset = server_time / 1000 - time.time()
        data = message.get("data") or {}
        kind, bid = message.get("type"), message.get("bidId")
        if kind == "snapshot":
            # A snapshot may come in parts; once the last is in, a snipe known before it that
            # it does not list ended or was cancelled while no socket was open (as the
            # dashboard's store judges absences), so no countdown or refresh is kept for it.
            if data.get("part", 1) == 1 or self.snapshot is None:
                self.snapshot = (set(self.endings), set())
            for snipe in data.get("snipes", []):
                self.snapshot[1].add(snipe["bidId"])
                self.endings[snipe["bidId"]] = (
                    int(snipe.get("auctionEndTime", 0)),
                    str(snipe.get("itemTitle") or snipe.get("ebayItemId")),
                )
            if data.get("part", 1) >= data.get("parts", 1):
                known_before, listed = self.snapshot
                for gone in known_before - listed:
                    self.endings.pop(gone, None)
                self.snapshot = None
        elif kind == "bid.created" and bid:
            self.endings[bid] = (
                int(data.get("auctionEndTime", 0)),
                str(data.get("itemTitle") or message.get("ebayItemId")),
            )
        elif kind in ("bid.outcome", "bid.failed", "bid.cancelled") and bid:
            self.endings.pop(bid, None)
        elif kind == "pricesRefreshed" and self.prices_answered is not None:
            next_in = data.get("nextInMs")
            self.next_in_ms = float(next_in) if isinstance(next_in, int | float) else 0.0
            self.prices_answered.set()

    def _countdown(self) -> str:
        now = time.time() + self.clock_offset
        upcoming = sorted((end, title) for end, title in self.endings.values() if end > now)
        if not upcoming:
            return ""
        end, title = upcoming[0]
        return f"next: {printable(title[:40])} ends in {_duration(end - now)}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _money(cents: Any, currency: Any) -> str:
    if not isinstance(cents, int):
        return "-"
    return f"{cents / 100:.2f} {currency or ''}".strip()


def format_event(message: dict[str, Any]) -> str:
    """One human line: time, type, item, the essentials."""
    server_time = message.get("serverTime")
    stamp = time.strftime(
        "%H:%M:%S",
        time.localtime(server_time / 1000 if isinstance(server_time, int) else time.time()),
    )
    kind = str(message.get("type"))
    data = message.get("data") or {}
    item = message.get("ebayItemId") or "-"
    currency = data.get("currency")
    if kind == "price.changed":
        detail = (
            f"{_money(data.get('previousPrice'), currency)} -> "
            f"{_money(data.get('currentPrice'), currency)}"
        )
    elif kind == "countdown":
        detail = f"{data.get('phase')} ({_duration(data.get('secondsRemaining', 0))} left)"
    elif kind == "bid.placed":
        detail = f"{_money(data.get('amount'), currency)} {data.get('msBeforeEnd')} ms before end"
    elif kind == "bid.outcome":
        detail = f"{data.get('outcome')} at {_money(data.get('finalPrice'), currency)}"
    elif kind == "bid.failed":
        detail = str(data.get("reason"))
    elif kind == "bid.cancelled":
        detail = str(data.get("reason") or "")
    elif kind == "bid.created":
        detail = f"{data.get('itemTitle', '')} max {_money(data.get('maxBidAmount'), currency)}"
    elif kind == "bid.updated":
        detail = ", ".join(sorted(data.get("changes", {}))) or str(data.get("status"))
    elif kind == "snapshot":
        detail = f"{len(data.get('snipes', []))} active snipe(s)"
    elif kind == "error":
        detail = f"{data.get('code')}: {data.get('message')}"
    else:
        detail = ""
    return printable(f"{stamp}  {kind:<14} {item:<14} {detail}".rstrip())
