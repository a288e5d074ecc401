"""The dashboard as a deployed stack serves it, walked in Chromium on the local stack's deployed
mode: the site deploy/dashboard.py builds, the template's security headers (CSP included), the
Cognito Hosted UI stand-in's sign-in (authorization code + PKCE, then refresh), eBay's consent
returning to /ebay/callback/, and sign-out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.stack import DEMO_EBAY_USER, DEMO_EMAIL, DEMO_PASSWORD
from local.testing import RunningStack, running_stack
from tests.browser.conftest import reset_product_caches

pytestmark = pytest.mark.browser

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips every test with the install hint
    expect = None

# Tokens this short make the dashboard refresh (a minute before expiry) within seconds.
SHORT_TOKEN_SECONDS = 64


@pytest.fixture
def hosted(aws_endpoint: str) -> Iterator[RunningStack]:
    reset_product_caches()
    with running_stack(aws_endpoint_url=aws_endpoint, hosted_dashboard=True) as running:
        yield running
    reset_product_caches()


def test_sign_in_through_the_hosted_ui_link_ebay_and_sign_out(page: Any, hosted: RunningStack):
    stack = hosted.stack
    assert stack.hosted_ui is not None
    stack.hosted_ui.token_seconds = SHORT_TOKEN_SECONDS
    dashboard = stack.dashboard_url
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    # Given the deployed dashboard, served with the template's headers
    headers = httpx.get(f"{dashboard}/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"

    # When the user opens it, they are sent to the Hosted UI
    page.goto(f"{dashboard}/")
    page.wait_for_url(f"{stack.hosted_ui_url}/login?**")
    assert "code_challenge_method=S256" in page.url
    # And sign in there, and come back through /auth/callback/ with a code
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Then the dashboard traded it (PKCE) for tokens and shows the user
    expect(page.locator("#user-email")).to_have_text(DEMO_EMAIL)
    assert page.url.startswith(f"{dashboard}/")
    assert "code=" not in page.url
    assert stack.hosted_ui.grants["authorization_code"] == 1

    # When they link eBay on the simulator's consent page
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Link eBay account").click()
    page.get_by_label("eBay username").fill(DEMO_EBAY_USER)
    page.get_by_label("Password").fill("any-password")
    page.get_by_role("button", name="Agree").click()
    # Then eBay's accept URL (/ebay/callback/ on the dashboard) finished the link
    expect(page.get_by_test_id("ebay-linked")).to_be_visible()

    # When the tokens near their end, the dashboard refreshes them at the token endpoint
    deadline = time.monotonic() + 20
    while stack.hosted_ui.grants["refresh_token"] == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(250)  # the dashboard's own timer: real time, on purpose
    assert stack.hosted_ui.grants["refresh_token"] >= 1
    # And stays signed in, with working API calls
    page.get_by_role("link", name="Snipes", exact=True).click()
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_test_id("ebay-linked")).to_be_visible()
    expect(page.locator("#user-email")).to_have_text(DEMO_EMAIL)

    # When they sign out, the Hosted UI signs them out and the dashboard asks for a sign-in
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{stack.hosted_ui_url}/login?**")

    # And nothing the pages did was blocked by their CSP
    assert blocked == []
