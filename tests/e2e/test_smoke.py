"""`sniper smoke`: one whole snipe through the local stack, as it runs against a deployed one:
signed in by the local user pool's password flow, or, pointed at the dashboard as deployed, by
the Cognito Hosted UI's code grant with PKCE and a loopback callback (local/hosted_sign_in.py)."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from local import smoke
from local.cli import build_parser, main
from local.testing import RunningStack, link_ebay_account, running_stack

PASSWORD = "Smoke-Sign-In-2024!"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    # The app client's loopback callback on a free port: another test run on this machine may
    # hold the template's default.
    with running_stack(
        aws_endpoint_url=aws_endpoint,
        hosted_dashboard=True,
        parameters={"CliCallbackPort": str(_free_port())},
    ) as stack:
        yield stack


def test_smoke_signs_in_links_snipes_and_reports_the_outcome(
    running: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack, its demo user not linked to eBay yet, and an auction the command
    # creates on the simulator ending 25 s later (real time: the executor fires on the clock)
    # When the smoke test runs against it
    code = main(["smoke", "--stack", running.base_url, "--ends-in", "25", "--timeout", "120"])
    out = capsys.readouterr().out
    # Then the snipe was placed before the end and its outcome came over the WebSocket
    assert code == 0, out
    assert "ms before the end" in out
    assert any(outcome in out for outcome in ("WON", "LOST"))
    for step in ("sign in", "eBay linked", "create snipe", "placed (after create)"):
        assert step in out


def _linked_user(running: RunningStack) -> str:
    """A user of the pool whose (simulated) eBay account is linked, as on the dashboard."""
    email = f"smoke-{secrets.token_hex(4)}@example.com"
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        http.post("/local/signup", json={"email": email, "password": PASSWORD}).raise_for_status()
        login = http.post("/local/login", json={"username": email, "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['idToken']}"}
        link_ebay_account(http, headers, f"smoke_{secrets.token_hex(3)}")
    return email


def _auction(running: RunningStack, ends_in: int) -> str:
    now_ms = httpx.get(f"{running.sim_url}/_sim/clock").json().get("nowMs") or time.time() * 1000
    end = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now_ms / 1000 + ends_in))
    created = httpx.post(
        f"{running.sim_url}/_sim/auctions",
        json={"title": "Hosted smoke lot", "startPrice": 100, "endTime": end},
    )
    created.raise_for_status()
    return str(created.json()["legacyItemId"])


class Browser:
    """What the user's browser does with the URL the command opens: the Hosted UI's sign-in
    form, filled in and sent, then the redirect back to the command's loopback listener."""

    def __init__(self, email: str, password: str) -> None:
        self.email, self.password = email, password
        self.opened: list[str] = []
        self.landed: httpx.Response | None = None

    def open(self, url: str) -> None:
        self.opened.append(url)
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            form = browser.get(url)
            assert form.status_code == 200, form.text
            self.landed = browser.post(
                str(form.url), data={"username": self.email, "password": self.password}
            )


def test_smoke_against_the_deployed_dashboard_signs_in_through_the_hosted_ui(
    running: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the dashboard as the stack deploys it (its config.js names the API, the WebSocket
    # and the Hosted UI), a user whose eBay account is linked, an auction ending in 25 s, and
    # tokens that live two minutes, so that the run has to refresh them
    assert running.stack.hosted_dashboard is not None
    assert running.stack.hosted_ui is not None
    email = _linked_user(running)
    item = _auction(running, ends_in=25)
    hosted_ui = running.stack.hosted_ui
    hosted_ui.token_seconds = 120
    refreshed = hosted_ui.grants["refresh_token"]
    browser = Browser(email, PASSWORD)
    args = build_parser().parse_args(
        ["smoke", "--stack", running.stack.dashboard_url, "--item", item, "--timeout", "120"]
    )
    # When the smoke test runs against it with no token, the user's browser signing in
    try:
        code = smoke.run(args, open_url=browser.open)
    finally:
        hosted_ui.token_seconds = None
    out = capsys.readouterr().out
    # Then the browser was sent to the Hosted UI with a PKCE S256 challenge and the loopback
    # callback, and came back to the command's listener
    [opened] = browser.opened
    assert opened.startswith(f"{hosted_ui.base_url}/oauth2/authorize?")
    assert "code_challenge_method=S256" in opened
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in opened
    assert browser.landed is not None
    assert browser.landed.status_code == 200
    assert "Signed in" in browser.landed.text
    # And the snipe was placed and its outcome came over the WebSocket, the ID token refreshed
    # with the refresh token kept for the run
    assert code == 0, out
    assert "ms before the end" in out
    assert any(outcome in out for outcome in ("WON", "LOST"))
    assert hosted_ui.grants["refresh_token"] > refreshed


def test_smoke_refuses_an_answer_that_is_not_its_own(running: RunningStack) -> None:
    # Given the command waiting for the Hosted UI's answer
    args = build_parser().parse_args(
        ["smoke", "--stack", running.stack.dashboard_url, "--item", "1", "--timeout", "5"]
    )
    forged: list[int] = []

    def attacker(url: str) -> None:
        # When a page sends the browser to the listener with a code but another state
        port = httpx.URL(httpx.URL(url).params["redirect_uri"]).port
        forged.append(
            httpx.get(f"http://localhost:{port}/callback?code=stolen&state=other").status_code
        )
        # and then the user declines at the Hosted UI (the right state, an error)
        state = httpx.URL(url).params["state"]
        httpx.get(f"http://localhost:{port}/callback?error=access_denied&state={state}")

    code = smoke.run(args, open_url=attacker)
    # Then the forged answer was refused and the sign-in ended with the user's refusal
    assert forged == [400]
    assert code == smoke.EXIT_FAILED


def test_smoke_without_a_stack_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", "--stack", "http://127.0.0.1:9", "--timeout", "5"])
    assert code == 4
    assert "sniper smoke:" in capsys.readouterr().err
