"""`sniper up` as a user runs it: a subprocess on a free port, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _free_port_block(size: int = 4) -> int:
    """A port P with P..P+size-1 free (the gateway, the simulator, moto, the WebSocket API)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + size > 65535:
            continue
        sockets = []
        try:
            for offset in range(size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free block of ports")


def _sniper(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "local", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_info(port: int, process: subprocess.Popen[str]) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/local/info", timeout=1) as r:
                return json.load(r)
        except OSError:
            time.sleep(0.2)  # polling until `sniper up` answers, not a wait for time
    raise AssertionError("sniper up did not answer within 30 s")


def test_sniper_up_serves_and_stops_cleanly_on_ctrl_c() -> None:
    # Given `sniper up` on a free port
    port = _free_port_block()
    process = _sniper("up", "--port", str(port))
    try:
        # When it is up
        info = _wait_for_info(port, process)
        # Then /local/info answers, and Ctrl-C stops it with exit code 0 and no traceback
        assert info["state"] == "in-memory"
        assert info["ebaySimulatorUrl"].endswith(f":{port + 1}")
        assert info["awsEndpointUrl"].endswith(f":{port + 2}")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"http://localhost:{port}" in stdout
    assert "demo@example.com" in stdout
    assert "in memory" in stdout


def test_port_in_use_is_one_line_and_exit_code_2() -> None:
    # Given a port someone else listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # When `sniper up` is asked to use it
        process = _sniper("up", "--port", str(port))
        _, stderr = process.communicate(timeout=30)

    # Then it says so in one line naming the port and the flag, and exits 2
    assert process.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert str(port) in lines[0]
    assert "--port" in lines[0]
