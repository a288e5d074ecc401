"""One Lambda container for bench/memory.py: a fresh interpreter that imports one handler and
serves invocations, one at a time, as a Lambda execution environment does.

    python bench/lambda_container.py rest.bids.handler [trace]

Reads one JSON request per line on stdin (``{"event", "requestId", "remainingMs",
"functionName", "memoryMb"}``) and answers on the original stdout, one JSON line each; the
handler's own output (Powertools logs to stdout) goes to stderr instead. The first line it
writes describes the init phase (the import).

Reported per invocation: the process's peak RSS after it (VmHWM, the high-water mark
``ru_maxrss`` also gives, without what Linux carries over from the parent; what Lambda's "Max
Memory Used" reports, for the interpreter and everything it loaded), its CPU time
(``time.process_time``, every thread) and wall time, and with ``trace`` tracemalloc's peak of
Python allocations during it (tracing starts after the import). tracemalloc keeps a record per
live block, which inflates RSS, so bench/memory.py takes RSS from untraced containers and heap
peaks from traced ones.

Imports only the standard library besides the handler, so nothing here adds to the figures.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import sys
import time
import tracemalloc
from typing import Any


class Context:
    """The attributes the Python runtime's context has, with Lambda's countdown."""

    def __init__(self, request: dict[str, Any]) -> None:
        name = request["functionName"]
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = request["memoryMb"]
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = request["requestId"]
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + request["remainingMs"] / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Marks(logging.Filter):
    """CPU time at the executor's "firing" and "snipe placed" log lines: the fire path."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in ("firing", "snipe placed"):
            self.cpu[str(record.msg)] = time.process_time()
        return True


def _time_the_bid(marks: Marks) -> None:
    """CPU time at the start and end of the bid's request (the executor imports httpx anyway):
    with the "firing" mark, the CPU the critical path needs from the wait to the wire."""
    import httpx

    send = httpx.Client.send

    def timed(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        bid = request.url.path.endswith("/place_proxy_bid")
        if bid:
            marks.cpu["bid sent"] = time.process_time()
        try:
            return send(self, request, **kwargs)
        finally:
            if bid:
                marks.cpu["bid answered"] = time.process_time()

    httpx.Client.send = timed  # type: ignore[method-assign]


def _rss_kb() -> int:
    """This process's peak resident set (KB): the kernel's VmHWM, kept per address space.
    ``getrusage().ru_maxrss`` would be wrong here: Linux carries it across fork and exec, so a
    child of a 150 MB parent starts at 150 MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    handler_path = sys.argv[1]
    trace = sys.argv[2:] == ["trace"]
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    wall, cpu = time.perf_counter(), time.process_time()
    module, _, attribute = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module), attribute)
    init = {
        "initS": time.perf_counter() - wall,
        "initCpuS": time.process_time() - cpu,
        "rssKb": _rss_kb(),
    }
    if trace:
        # From here on: only what the invocations allocate (the import is measured as RSS).
        tracemalloc.start()
    protocol.write(json.dumps(init) + "\n")
    marks = Marks()
    if handler_path == "workers.bid_executor.handler":
        _time_the_bid(marks)
    logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "service")).addFilter(marks)

    for line in sys.stdin:
        request = json.loads(line)
        marks.cpu.clear()
        heap_before = 0
        if trace:
            heap_before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
        rss_before = _rss_kb()
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            result: Any = handler(request["event"], Context(request))
            error = None
        except BaseException as exc:  # reported to the caller, as Lambda's Unhandled
            result, error = None, f"{type(exc).__name__}: {exc}"
        cpu_s = time.process_time() - cpu
        answer = {
            "result": result,
            "error": error,
            "wallS": time.perf_counter() - wall,
            "cpuS": cpu_s,
            "rssBeforeKb": rss_before,
            "rssKb": _rss_kb(),
            "heapPeak": tracemalloc.get_traced_memory()[1] if trace else None,
            "heapBefore": heap_before if trace else None,
            # The executor's fire path: "firing" (logged before the fine wait) to the bid's
            # request, the request itself, and on to "snipe placed" (after the PLACED write).
            "fireCpuS": (
                {
                    "toBid": marks.cpu["bid sent"] - marks.cpu["firing"],
                    "bid": marks.cpu["bid answered"] - marks.cpu["bid sent"],
                    "toPlaced": marks.cpu["snipe placed"] - marks.cpu["firing"],
                }
                if {"firing", "bid sent", "bid answered", "snipe placed"} <= set(marks.cpu)
                else None
            ),
        }
        protocol.write(json.dumps(answer, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
