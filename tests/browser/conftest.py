"""Browser fixtures: Debian's Chromium driven by Playwright, a fresh local stack per test.

Playwright never downloads a browser here (that cannot work offline): it launches the
``chromium`` found on PATH (``apt-get install chromium``; ``.ci/run`` does it). Without it, or
without the ``playwright`` package, every browser test skips and says how to install them.
A failing test leaves a full-page screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import new_containers
from local.testing import RunningStack, running_stack

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Without the background-networking flags Chromium reaches out to Google and this closed
# network refuses it; QUIC and the GPU are of no use headless.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PRODUCT_PACKAGES = ("common", "rest", "workers", "realtime")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(
            "Chromium is not installed: `sudo apt-get install chromium` "
            "(Debian's package; .ci/run installs it before `make test`)"
        )
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: `.venv/bin/pip install -e '.[dev]'`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def reset_product_caches() -> None:
    """Forget the clients and table names the product caches per process (per container on
    AWS): each test's stack has tables of its own."""
    new_containers()


@pytest.fixture
def stack(aws_endpoint: str) -> Iterator[RunningStack]:
    """A fresh local stack for each scenario, with the demo user and watch list."""
    reset_product_caches()
    with running_stack(aws_endpoint_url=aws_endpoint) as running:
        yield running
    reset_product_caches()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::")[-1])
        opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.errors.txt").write_text("\n".join(errors))
    context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.fixture
def screenshot(page: Any) -> Callable[[str], None]:
    """Save a named screenshot in test-artifacts/ (to look at the screens a test went through)."""

    def save(name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return save
