"""Run the whole local stack on a background thread for tests and benchmarks.

``with running_stack() as running: httpx.get(f"{running.base_url}/local/info")``
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
from aiohttp import web

from local.stack import LocalCloud

START_TIMEOUT_SECONDS = 30
_instances = itertools.count(1)


@dataclass(frozen=True, slots=True)
class RunningStack:
    stack: LocalCloud
    loop: asyncio.AbstractEventLoop

    @property
    def base_url(self) -> str:
        """The gateway on 127.0.0.1 (``stack.base_url`` says localhost, for browsers)."""
        return f"http://127.0.0.1:{self.stack.bound_port}"

    @property
    def sim_url(self) -> str:
        return self.stack.sim_url


@contextmanager
def running_stack(
    port: int = 0,
    *,
    seed: int = 0,
    demo: bool = True,
    aws_endpoint_url: str | None = None,
    **options: Any,
) -> Iterator[RunningStack]:
    """Start a LocalCloud in its own thread and event loop; stop it cleanly on exit.

    Inside pytest pass the session's ``aws_endpoint`` fixture as ``aws_endpoint_url``: the
    product caches its boto3 clients per process (per container on AWS), so a stack with a moto
    of its own would leave them pointing at a stopped server for the tests that follow.
    Physical names get a per-instance prefix, so the stack's resources sit beside the
    ``stack_resources`` fixture's in the same moto. The stack sets the handlers' environment in
    ``os.environ`` while it runs and restores it when it stops.
    """
    stack = LocalCloud(
        port=port,
        seed=seed,
        demo=demo,
        name_prefix=f"t{next(_instances)}-",
        aws_endpoint_url=aws_endpoint_url,
        **options,
    )
    loop = asyncio.new_event_loop()
    started: Future[None] = Future()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(stack.start())
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(None)
        loop.run_forever()
        loop.run_until_complete(stack.stop())
        loop.close()

    thread = threading.Thread(target=serve, name="local-stack", daemon=True)
    thread.start()
    started.result(timeout=START_TIMEOUT_SECONDS)
    try:
        yield RunningStack(stack=stack, loop=loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=START_TIMEOUT_SECONDS)


@contextmanager
def serving_app(app: web.Application, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve an aiohttp app on a free port in its own thread and loop; yields its base URL."""
    loop = asyncio.new_event_loop()
    started: Future[tuple[web.AppRunner, str]] = Future()

    async def start() -> tuple[web.AppRunner, str]:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        return runner, f"http://{host}:{runner.addresses[0][1]}"

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            started.set_result(loop.run_until_complete(start()))
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=serve, name="aiohttp-app", daemon=True)
    thread.start()
    runner, base_url = started.result(timeout=START_TIMEOUT_SECONDS)
    try:
        yield base_url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(START_TIMEOUT_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=START_TIMEOUT_SECONDS)


# ``python -c`` for a moto server in a process of its own: prints its URL, then serves.
MOTO_SERVER = (
    "import threading; from local.aws import start_moto; "
    "print(start_moto(0).endpoint_url, flush=True); threading.Event().wait()"
)


@contextmanager
def server_process(args: list[str]) -> Iterator[tuple[str, int]]:
    """A server (``python <args>``) in a process of its own, as eBay and DynamoDB are not in a
    Lambda's; yields the URL on the first line it prints, and its pid. Stopped on exit."""
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, *args]
    proc = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"https?://\S+", line)
        if url is None:
            raise RuntimeError(f"{args}: no URL in {line!r}")
        yield url.group(0), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


_HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def link_ebay_account(http: httpx.Client, headers: dict[str, str], ebay_user: str) -> None:
    """Link the signed-in user's simulated eBay account as a browser would: ask the API for the
    consent URL, approve on the simulator's page as ``ebay_user``, hand code and state back."""
    start = http.get("/ebay/auth/url", headers=headers)
    start.raise_for_status()
    auth_url = start.json()["authUrl"]
    page = httpx.get(auth_url, timeout=10)
    form = {name: html.unescape(value) for name, value in _HIDDEN_INPUT.findall(page.text)}
    form.update(username=ebay_user, password="anything", approve="yes")
    answer = httpx.post(urljoin(auth_url, "/oauth2/authorize"), data=form, timeout=10)
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    http.post(
        "/ebay/auth/callback",
        json={"code": query["code"][0], "state": query["state"][0]},
        headers=headers,
    ).raise_for_status()
