"""No token, secret or email address in any log line of a test run: a pytest plugin.

Every process of the run (the single one, or each xdist worker and the controller) tees what
its log handlers write into a file of its own: ``logging.Handler.format`` is wrapped, so the
lines of every handler are seen as they are written, the root logger's and pytest's as well as
Powertools' JSON lines (its loggers do not propagate and write to stdout), from any thread, also
between tests and in session fixtures' teardown. Log-shaped lines that other processes (``sniper
up``, Lambda containers) wrote to a test's captured stdout or stderr are added too. The local
stack's own loggers (``local.*``) log at INFO, as ``sniper up --verbose`` does.

At the end each process searches its file for JWTs and bearer tokens, eBay's token format,
email addresses, the client secrets and server tokens the tests and the local stack use, and
every secret value the product read from Secrets Manager during the run (the cursor key is
generated per provisioning). An xdist worker hands its findings to the controller in its
``workeroutput``; any finding fails the run and is listed in the terminal summary.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

TEE_DIR_VARIABLE = "SNIPER_LOG_TEE_DIR"
_WORKEROUTPUT_KEY = "log_leaks"

# What a log line must never hold. An email address is a user's (the tests' users are
# ``...@example.com``); none is allowed, not even the sender's.
PATTERNS: dict[str, re.Pattern[str]] = {
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"),
    "bearer token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{12,}"),
    "eBay token": re.compile(r"v\^1\.1#"),
    "email address": re.compile(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
    ),
}
# Secret values shorter than this are too common as substrings to search for.
MIN_SECRET_LENGTH = 8
# Keys of a JSON secret whose values are secret (clientId and ruName are public identifiers).
_SECRET_KEYS = re.compile(r"(?i)secret|token|password|key")


def static_secrets() -> set[str]:
    """The client secrets and server tokens that the local stack and the tests hand out."""
    from local.ebay_sim.testing import TEST_CONFIG
    from local.email_sink import LOCAL_SERVER_TOKEN
    from local.stack import APP_CLIENT_SECRET

    return {
        APP_CLIENT_SECRET,
        TEST_CONFIG.client_secret,
        LOCAL_SERVER_TOKEN,
        "POSTMARK_API_TEST",  # the template's Postmark server token
        "SBX-client-secret-do-not-log",  # tests/unit/ebay's client secret
    }


def secret_values(secret: str | bytes) -> set[str]:
    """The values of a Secrets Manager secret worth searching for: the whole string, or the
    secret-looking fields of a JSON document."""
    text = secret.decode(errors="replace") if isinstance(secret, bytes) else secret
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        values = {
            str(value)
            for key, value in document.items()
            if _SECRET_KEYS.search(key) and isinstance(value, str)
        }
    else:
        values = {text}
    return {value for value in values if len(value) >= MIN_SECRET_LENGTH}


@dataclass(frozen=True, slots=True)
class Leak:
    kind: str
    line: str  # the offending line, the leaked text masked

    def describe(self) -> str:
        return f"{self.kind}: {self.line[:400]}"


def find_leaks(lines: Iterable[str], secrets: Iterable[str] = ()) -> list[Leak]:
    """Every line holding a token, secret or email address (each distinct line once)."""
    known = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    leaks: dict[str, Leak] = {}
    for line in lines:
        if line in leaks:
            continue
        kinds: list[str] = []
        masked = line
        for secret in known:
            if secret in masked:
                kinds.append("secret")
                masked = masked.replace(secret, "[secret]")
        for kind, pattern in PATTERNS.items():
            masked, found = pattern.subn(f"[{kind}]", masked)
            if found:
                kinds.append(kind)
        if kinds:
            leaks[line] = Leak(", ".join(dict.fromkeys(kinds)), masked)
    return list(leaks.values())


# Lines another process wrote that look like log lines: Powertools' JSON, or `sniper up`'s
# "2024-01-01 10:00:00,123 WARNING local.stack: ..." format.
_TEXT_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
)


def log_shaped(line: str) -> bool:
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            return False
        return isinstance(document, dict) and "level" in document and "message" in document
    return bool(_TEXT_LOG_LINE.match(stripped))


class LogLeakCheck:
    """The plugin: one instance per pytest process, registered by tests/conftest.py."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.worker = getattr(config, "workerinput", {}).get("workerid")
        inherited = os.environ.get(TEE_DIR_VARIABLE)
        self.owns_dir = inherited is None
        self.dir = Path(inherited or tempfile.mkdtemp(prefix="sniper-logs-"))
        os.environ[TEE_DIR_VARIABLE] = str(self.dir)  # xdist workers inherit it
        self.path = self.dir / f"{self.worker or 'main'}-{os.getpid()}.log"
        self.secrets = static_secrets()
        self.leaks: list[tuple[str, Leak]] = []  # (where, leak)
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        self._current = "(outside a test)"
        self._undo: list[Any] = []

    # ---- the tee

    def write(self, text: str) -> None:
        line = text.replace("\r", "\\r").replace("\n", "\\n")
        with self._lock:
            if self._file is not None:
                self._file.write(f"{self._current}\t{line}\n")

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self._file = self.path.open("a", encoding="utf-8")
        self._wrap_handler_format()
        self._wrap_secrets_provider()
        local = logging.getLogger("local")
        previous_level = local.level
        local.setLevel(logging.INFO)
        self._undo.append(lambda: local.setLevel(previous_level))

    def _wrap_handler_format(self) -> None:
        original = logging.Handler.format
        check = self

        def format(self: logging.Handler, record: logging.LogRecord) -> str:
            text = original(self, record)
            check.write(text)
            return text

        logging.Handler.format = format  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(logging.Handler, "format", original))

    def _wrap_secrets_provider(self) -> None:
        from aws_lambda_powertools.utilities.parameters.ssm import SSMProvider

        original = SSMProvider._get
        check = self

        def _get(self: SSMProvider, name: str, **options: Any) -> str | bytes:
            value = original(self, name, **options)
            with check._lock:
                check.secrets |= secret_values(value)
            return value

        SSMProvider._get = _get  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(SSMProvider, "_get", original))

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._current = nodeid

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self._current = "(between tests)"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.config.pluginmanager.hasplugin("dsession"):
            return  # the controller: the worker that ran the test has read its output
        for title, content in report.sections:
            if title in (f"Captured stdout {report.when}", f"Captured stderr {report.when}"):
                for line in content.splitlines():
                    if log_shaped(line):
                        self.write(line)

    # ---- the search

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """After every fixture's teardown (runner's sessionfinish tears them down)."""
        for undo in reversed(self._undo):
            undo()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        self.leaks += [(str(self.path), leak) for leak in find_leaks(self._lines(), self.secrets)]
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKEROUTPUT_KEY] = [
                (where, leak.kind, leak.line) for where, leak in self.leaks
            ]
            return
        if self.leaks:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _lines(self) -> Iterator[str]:
        with contextlib.suppress(FileNotFoundError), self.path.open(encoding="utf-8") as lines:
            for line in lines:
                yield line.rstrip("\n")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        for where, kind, line in getattr(node, "workeroutput", {}).get(_WORKEROUTPUT_KEY, []):
            self.leaks.append((where, Leak(kind, line)))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if getattr(self.config, "workeroutput", None) is not None or not self.leaks:
            return
        terminalreporter.section("secrets in the logs", red=True)
        terminalreporter.write_line(
            f"{len(self.leaks)} log line(s) hold a token, secret or email address "
            f"(test id, then the line; logs kept in {self.dir}):"
        )
        for _, leak in self.leaks[:50]:
            terminalreporter.write_line(f"  {leak.describe()}")
