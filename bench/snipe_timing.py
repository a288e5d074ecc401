"""How precisely snipes reach eBay: N snipes on the local stack against the simulator.

N auctions (default 200) end within the same two seconds; each gets a snipe with a 1 s lead,
created through the REST API (so the executor is invoked through Lambda's Invoke API, as for
any snipe created this close to its end). The simulator's clock is skewed by a few seconds and
every eBay endpoint gets 40 +/- 20 ms of added latency. Ground truth is the simulator's own
``receivedAt`` (ms, its clock) of each accepted bid; the target is ``end - lead``.

Prints p50, p99 and max of |error| in ms, how many bids arrived after the end (must be 0) and
how many auctions got our bid twice (must be 0). Goal: p99 |error| <= 50 ms.

    .venv/bin/python bench/snipe_timing.py [-n 200] [--skew-ms 3700] [--lead 1]
"""

from __future__ import annotations

import argparse
import html
import logging
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.testing import running_stack  # noqa: E402

EMAIL = "bench@example.com"
PASSWORD = "Bench-Sniper-2024"
EBAY_USER = "bench_sniper"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _link_ebay(http: httpx.Client, headers: dict[str, str]) -> None:
    start = http.get("/ebay/auth/url", headers=headers)
    start.raise_for_status()
    auth_url = start.json()["authUrl"]
    page = httpx.get(auth_url, timeout=10)
    form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
    form.update(username=EBAY_USER, password="anything", approve="yes")
    answer = httpx.post(urljoin(auth_url, "/oauth2/authorize"), data=form, timeout=10)
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    done = http.post(
        "/ebay/auth/callback",
        json={"code": query["code"][0], "state": query["state"][0]},
        headers=headers,
    )
    done.raise_for_status()


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--lead", type=int, default=1)
    parser.add_argument("--skew-ms", type=int, default=3700)
    parser.add_argument("--latency-ms", type=int, default=20, help="added latency, minimum")
    parser.add_argument("--jitter-ms", type=int, default=40, help="added on top, uniform")
    parser.add_argument("--ahead", type=int, default=40, help="seconds until the first end")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    with running_stack(demo=False, lambda_concurrency=args.n + 64) as running:
        sim = running.sim_url
        http = httpx.Client(base_url=running.base_url, timeout=30)
        http.post("/local/signup", json={"email": EMAIL, "password": PASSWORD}).raise_for_status()
        token = http.post("/local/login", json={"username": EMAIL, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['idToken']}"}
        _link_ebay(http, headers)

        httpx.post(f"{sim}/_sim/clock", json={"skewMs": args.skew_ms}).raise_for_status()
        httpx.post(
            f"{sim}/_sim/faults",
            json={"endpoint": "*", "latencyMs": args.latency_ms, "jitterMs": args.jitter_ms},
        ).raise_for_status()
        sim_now = int(httpx.get(f"{sim}/_sim/clock").json().get("nowMs", 0)) or int(
            time.time() * 1000 + args.skew_ms
        )
        first_end = (sim_now // 1000 + args.ahead) * 1000
        auctions = []
        for i in range(args.n):
            end_ms = first_end + (i % 2) * 1000
            iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(end_ms / 1000))
            created = httpx.post(
                f"{sim}/_sim/auctions",
                json={"title": f"Bench lot {i}", "startPrice": 1000, "endTime": iso},
            )
            created.raise_for_status()
            auctions.append(created.json())

        def snipe(auction: dict[str, Any]) -> int:
            answer = http.post(
                "/bids",
                json={
                    "ebayItemId": auction["legacyItemId"],
                    "maxBidAmount": 5000,
                    "leadSeconds": args.lead,
                },
                headers=headers,
            )
            return answer.status_code

        started = time.time()
        # Few at a time: moto's DynamoDB is not safe under many concurrent transactions.
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(snipe, auctions))
        print(
            f"{statuses.count(201)}/{args.n} snipes created in {time.time() - started:.1f} s; "
            f"auctions end at sim {first_end} and {first_end + 1000} ms"
        )
        # Wait for the ends and the outcomes.
        wait = (first_end + 1000 - sim_now) / 1000 + 10 - (time.time() - started)
        time.sleep(max(0.0, wait))

        errors: list[float] = []
        late = twice = missing = 0
        for auction in auctions:
            state = httpx.get(f"{sim}/_sim/auctions/{auction['legacyItemId']}").json()
            ours = [b for b in state["bids"] if b["bidder"] == EBAY_USER and b["accepted"]]
            if not ours:
                missing += 1
                continue
            twice += len(ours) > 1
            target = state.get("endTimeMs", auction["endTimeMs"]) - args.lead * 1000
            received = ours[0]["receivedAt"]
            errors.append(received - target)
            late += received >= auction["endTimeMs"]
        page = http.get("/bids", params={"limit": 100}, headers=headers).json()
        listing, cursor = page["items"], page.get("nextCursor")
        while cursor:
            page = http.get(
                "/bids", params={"limit": 100, "cursor": cursor}, headers=headers
            ).json()
            listing += page["items"]
            cursor = page.get("nextCursor")
        outcome = {
            s: sum(1 for b in listing if b["status"] == s) for s in {b["status"] for b in listing}
        }
        stats = (
            running.stack.runtime.stats.get("BidExecutorFunction")
            if running.stack.runtime
            else None
        )

    absolute = [abs(e) for e in errors]
    print(
        f"snipes: {args.n}, lead {args.lead} s, sim clock skew {args.skew_ms} ms, "
        f"added latency {args.latency_ms}-{args.latency_ms + args.jitter_ms} ms"
    )
    if absolute:
        p50, p99 = _percentile(absolute, 50), _percentile(absolute, 99)
        print(
            f"|error| p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(absolute):.0f} ms; "
            f"signed median {statistics.median(errors):+.0f} ms"
        )
    print(f"arrived after the end: {late}; placed twice: {twice}; no bid: {missing}")
    print(f"recorded statuses: {outcome}")
    reasons = {b.get("failureReason") for b in listing if b["status"] == "FAILED"}
    if reasons:
        print(f"failure reasons: {reasons}")
    if stats:
        print(
            f"executor invocations {stats.invocations}, errors {stats.errors}, "
            f"max duration {stats.max_duration_ms / 1000:.1f} s"
        )
    ok = bool(absolute) and _percentile(absolute, 99) <= 50 and late == 0 and twice == 0
    print("goal (p99 |error| <= 50 ms, none late, none twice):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
