"""The log check of tests/log_leaks.py fails a pytest run that leaks, and passes a clean one.

Each test runs pytest in processes of its own (the plugin as the real run registers it, with
xdist workers in one), so these are seconds each, not unit tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.log_leaks import TEE_DIR_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImR1bW15In0."
    "eyJzdWIiOiJ1c2VyLWEiLCJlbWFpbCI6ImFAZXhhbXBsZS5jb20ifQ.c2lnbmF0dXJl"
)


def test_a_run_that_logs_an_email_or_a_token_fails(tmp_path: Path) -> None:
    # Given a test run in two xdist workers with this plugin, where one test logs an email
    # address through Powertools (JSON on stdout) and a JWT through a standard logger from a
    # background thread, and the other test logs nothing secret
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            from tests.log_leaks import LogLeakCheck

            def pytest_configure(config):
                config.pluginmanager.register(LogLeakCheck(config), "log-leak-check")
            """
        )
    )
    (tmp_path / "test_leaky.py").write_text(
        textwrap.dedent(
            f"""
            import logging, threading
            from aws_lambda_powertools import Logger

            def test_leaks():
                Logger(service="inner").info("profile created", email="ann@example.com")
                thread = threading.Thread(
                    target=lambda: logging.getLogger("x").warning("token %s", "{JWT}")
                )
                thread.start()
                thread.join()
            """
        )
    )
    (tmp_path / "test_clean.py").write_text(
        "import logging\n\n"
        "def test_clean():\n"
        "    logging.getLogger('y').warning('snipe %s placed', 'b-1')\n"
    )
    # When pytest runs them
    result = _pytest(tmp_path, "-n", "2", "--dist", "loadfile")
    # Then both tests pass but the run fails, naming both lines with the leaks masked
    assert "2 passed" in result.stdout
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "secrets in the logs" in result.stdout
    assert "email address" in result.stdout
    assert "JWT" in result.stdout
    assert "ann@example.com" not in result.stdout
    assert JWT not in result.stdout


def test_a_clean_run_passes(tmp_path: Path) -> None:
    # Given a run whose only log line holds nothing secret
    (tmp_path / "conftest.py").write_text(
        "from tests.log_leaks import LogLeakCheck\n\n"
        "def pytest_configure(config):\n"
        "    config.pluginmanager.register(LogLeakCheck(config), 'log-leak-check')\n"
    )
    (tmp_path / "test_clean.py").write_text(
        "import logging\n\n"
        "def test_clean():\n"
        "    logging.getLogger('y').warning('snipe %s placed', 'b-1')\n"
    )
    # When pytest runs it
    result = _pytest(tmp_path)
    # Then the run passes and says nothing about secrets
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "secrets in the logs" not in result.stdout


def _pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != TEE_DIR_VARIABLE}
    environment["PYTHONPATH"] = str(ROOT)
    # Only the plugins these runs need (xdist for the workers): loading every installed one
    # costs each process a second or two and checks nothing here.
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "xdist.plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            *args,
        ],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
