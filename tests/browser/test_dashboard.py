"""The dashboard as its user meets it: Chromium on the local stack's URL, the demo user, the
eBay simulator's consent page, snipes that arm, fire and end while the page stays open."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from common.data.prices import PriceHistory
from common.data.refresh_claims import RefreshClaims
from local.aws import client
from local.scheduler import scheduled_event
from local.stack import DEMO_EBAY_USER, DEMO_EMAIL, DEMO_PASSWORD
from local.testing import RunningStack
from tests.polling import eventually

pytestmark = pytest.mark.browser

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips every test with the install hint
    expect = None


# ------------------------------------------------------------------------------ helpers


def _require_realtime(running: RunningStack) -> str:
    url = httpx.get(f"{running.base_url}/local/info").json()["websocketUrl"]
    if not url:
        pytest.skip("the local stack serves no WebSocket API: /local/info has websocketUrl null")
    return str(url)


def _require_engine(running: RunningStack) -> None:
    functions = running.stack.template.functions if running.stack.template else {}
    if "BidExecutorFunction" not in functions or getattr(running.stack, "scheduler", None) is None:
        pytest.skip("no bid executor in this stack: BidExecutorFunction or the local scheduler")


def _require_price_updater(running: RunningStack) -> None:
    functions = running.stack.template.functions if running.stack.template else {}
    if "PriceUpdaterFunction" not in functions:
        pytest.skip("no price updater in this stack: template.yaml has no PriceUpdaterFunction")


def _sign_in(page: Any, running: RunningStack) -> None:
    # localhost, as the stack announces itself: eBay's accept URL comes back to this origin.
    page.goto(running.stack.base_url)
    page.get_by_role("button", name="Use the demo user").click()
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#user-email")).to_have_text(DEMO_EMAIL)


def _link_ebay(page: Any) -> None:
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Link eBay account").click()
    # The simulator's consent page, as eBay's would be.
    page.get_by_label("eBay username").fill(DEMO_EBAY_USER)
    page.get_by_label("Password").fill("any-password")
    page.get_by_role("button", name="Agree").click()
    expect(page.get_by_test_id("ebay-linked")).to_be_visible()


def _auction(running: RunningStack, ends_in: int, title: str, start: int = 1000) -> str:
    response = httpx.post(
        f"{running.sim_url}/_sim/auctions",
        json={
            "title": title,
            "startPrice": start,
            "endsInSeconds": ends_in,
            "watchedBy": [DEMO_EBAY_USER],
            "bots": False,
        },
    )
    response.raise_for_status()
    return str(response.json()["legacyItemId"])


def _competitor_bids(running: RunningStack, item: str, bidder: str, cents: int) -> None:
    response = httpx.post(
        f"{running.sim_url}/_sim/auctions/{item}/bids", json={"bidder": bidder, "maxAmount": cents}
    )
    assert response.status_code == 201, response.text


def _api_headers(running: RunningStack) -> dict[str, str]:
    tokens = httpx.post(
        f"{running.base_url}/local/login",
        json={"username": DEMO_EMAIL, "password": DEMO_PASSWORD},
    ).json()
    return {"Authorization": f"Bearer {tokens['idToken']}"}


def _card(page: Any, title: str) -> Any:
    return page.locator("article.snipe").filter(has=page.get_by_role("heading", name=title))


def _snipe_by_item_number(
    page: Any, running: RunningStack, title: str, maximum: str, ends_in: int
) -> tuple[str, Any]:
    """Signed in and linked, a new auction sniped from the form by its item number: the item
    number and its card, once it shows Scheduled."""
    _sign_in(page, running)
    _link_ebay(page)
    item = _auction(running, ends_in=ends_in, title=title)
    page.get_by_role("link", name="Snipes", exact=True).click()
    page.get_by_label("eBay item number").fill(item)
    page.get_by_label("Your maximum (USD)").fill(maximum)
    page.get_by_role("button", name="Set snipe").click()
    card = _card(page, title)
    expect(card.get_by_test_id("status")).to_have_text("Scheduled")
    return item, card


def _seconds(text: str) -> int:
    minutes, seconds = text.split(":")[-2:]
    return int(minutes) * 60 + int(seconds)


def _wait_for(condition: Any, timeout: float = 15.0) -> None:
    assert eventually(condition, timeout), "timed out waiting for the stack"


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


# ------------------------------------------------------------------------------ scenarios


def test_sign_in(page: Any, stack: RunningStack) -> None:
    # Given the dashboard at the stack's URL
    page.goto(stack.stack.base_url)
    # When a wrong password is tried
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    # Then it says so, beside the form
    expect(page.locator("#signin-error")).to_have_text("Wrong email or password.")
    # When the demo user signs in
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    # Then the snipes page shows, signed in, and no token is in the address bar
    expect(page.locator("#user-email")).to_have_text(DEMO_EMAIL)
    expect(page.get_by_role("heading", name="Active snipes")).to_be_visible()
    assert "token" not in page.url.lower()
    if httpx.get(f"{stack.base_url}/local/info").json()["websocketUrl"]:
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def test_link_ebay(page: Any, stack: RunningStack) -> None:
    # Given a signed-in user without an eBay link
    _sign_in(page, stack)
    expect(page.get_by_text("Link your eBay account to see the auctions")).to_be_visible()
    # When they link through eBay's consent page
    _link_ebay(page)
    # Then the account shows as linked and the watch list lists the demo auctions
    expect(page.get_by_test_id("ebay-account")).not_to_have_text("—")
    page.get_by_role("link", name="Snipes", exact=True).click()
    expect(page.locator("#watchlist li").first).to_be_visible()
    assert "code=" not in page.url


def test_snipe_arms_fires_and_lands_live(page: Any, stack: RunningStack) -> None:
    _require_realtime(stack)
    _require_engine(stack)
    _require_price_updater(stack)
    # Given a linked user and an auction in their watch list ending in about 30 s
    _sign_in(page, stack)
    _link_ebay(page)
    item = _auction(stack, ends_in=32, title="Leica M6 Classic 0.72 Black")
    _competitor_bids(stack, item, "rival_one", 1500)
    page.get_by_role("link", name="Snipes", exact=True).click()
    # When they snipe it from the watch list with a maximum of $50
    page.get_by_role("button", name="Snipe Leica M6 Classic 0.72 Black").click()
    page.get_by_label("Your maximum (USD)").fill("50")
    page.get_by_label("Lead time (s)").fill("3")
    page.get_by_role("button", name="Set snipe").click()
    card = _card(page, "Leica M6 Classic 0.72 Black")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("max-bid")).to_have_text("$50.00")
    expect(card.get_by_test_id("current-price")).to_have_text("$10.00")
    # Then the countdown ticks down every second, urgent under a minute
    clock = card.get_by_test_id("countdown")
    expect(clock).to_have_class(re.compile("urgent"))
    first = _seconds(clock.inner_text())
    # (read once: between two reads the clock may tick, or step back a second when the page
    # corrects its offset from the server's time, which made a check of two reads flaky)
    _wait_for(lambda: _seconds(clock.inner_text()) < first, timeout=5)

    # When a competitor outbids the start price and the price updater's schedule runs
    _competitor_bids(stack, item, "rival_two", 2500)
    assert stack.stack.template is not None
    assert stack.stack.runtime is not None
    event = scheduled_event("PriceUpdaterFunction", stack.stack.template)
    stack.stack.runtime.invoke("PriceUpdaterFunction", event)
    # Then the new price is pushed to the open page
    price = card.get_by_test_id("current-price")
    expect(price).to_have_text("$15.50")

    # Then the snipe fires: PLACED with how close to the end it landed
    placed = card.get_by_test_id("placed-info")
    expect(placed).to_have_text(re.compile(r"Bid landed [\d,]+ ms before the end"), timeout=45_000)
    # And the outcome lands without a reload, matching the simulator's own result
    outcome = card.get_by_test_id("outcome")
    expect(outcome).to_have_text(re.compile("^(Won|Lost)"), timeout=45_000)
    auction = httpx.get(f"{stack.sim_url}/_sim/auctions/{item}").json()
    if auction["winner"] == DEMO_EBAY_USER:
        expect(outcome).to_have_text(f"Won at {_dollars(auction['finalPrice'])}")
        expect(card.get_by_test_id("status")).to_have_text("Won")
    else:
        expect(outcome).to_have_text(f"Lost: final price {_dollars(auction['finalPrice'])}")
        expect(card.get_by_test_id("status")).to_have_text("Lost")


def test_cancel_a_snipe(page: Any, stack: RunningStack) -> None:
    # Given a snipe set by item number
    item, card = _snipe_by_item_number(page, stack, "Hasselblad 500C/M Kit", "120.00", 600)
    # When the user cancels it and confirms
    card.get_by_role("button", name="Cancel snipe").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel snipe").click()
    # Then it shows as cancelled among the finished ones, and the API agrees
    expect(page.locator("#finished-snipes").get_by_text("Hasselblad 500C/M Kit")).to_be_visible()
    expect(card.get_by_test_id("status")).to_have_text("Cancelled")
    listed = httpx.get(
        f"{stack.base_url}/bids", params={"status": "CANCELLED"}, headers=_api_headers(stack)
    ).json()["items"]
    assert [b["status"] for b in listed if b["ebayItemId"] == item] == ["CANCELLED"]


def test_a_create_whose_answer_is_lost_is_retried_with_its_key_and_shows_once(
    page: Any, stack: RunningStack
) -> None:
    # Given a signed-in, linked user on the new-snipe form, and an auction
    _sign_in(page, stack)
    _link_ebay(page)
    item = _auction(stack, ends_in=600, title="Rolleiflex 2.8F")
    page.get_by_role("link", name="Snipes", exact=True).click()
    # and a network that loses the first create's answer after the API has acted on it
    keys: list[str | None] = []

    def lose_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) > 1:
            route.fallback()
            return
        route.fetch()  # the snipe is created; the page is told 503 instead
        error = {"code": "RETRYABLE", "message": "Try again", "details": []}
        route.fulfill(status=503, json={"error": error})

    page.route(re.compile(r"/bids$"), lose_first_answer)
    # When they set a snipe
    page.get_by_label("eBay item number").fill(item)
    page.get_by_label("Your maximum (USD)").fill("75")
    # (the card can show from the stream's bid.created before the retry is sent: wait for the
    # retry's answer, not for the card)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/bids") and r.status == 201,
        timeout=15_000,
    ):
        page.get_by_role("button", name="Set snipe").click()
    # Then the dashboard sent it again with the same key, and shows one snipe and no error
    card = _card(page, "Rolleiflex 2.8F")
    expect(card.get_by_test_id("status")).to_have_text("Scheduled")
    expect(card).to_have_count(1)
    expect(page.locator("#new-snipe .form-error")).to_be_empty()
    assert keys[0]
    assert keys == [keys[0], keys[0]]
    listed = httpx.get(f"{stack.base_url}/bids", headers=_api_headers(stack)).json()["items"]
    assert [b["ebayItemId"] for b in listed].count(item) == 1


def test_after_a_reload_the_active_and_the_finished_snipes_show(page: Any, stack: RunningStack):
    # Given an active snipe and one the user made and cancelled through the API
    _snipe_by_item_number(page, stack, "Zeiss Ikon Contax II", "150.00", 900)
    item = _auction(stack, ends_in=900, title="Voigtlander Bessa R")
    headers = _api_headers(stack)
    created = httpx.post(
        f"{stack.base_url}/bids", headers=headers, json={"ebayItemId": item, "maxBidAmount": 9000}
    )
    assert created.status_code == 201, created.text
    bid_id = created.json()["bidId"]
    cancelled = httpx.delete(f"{stack.base_url}/bids/{bid_id}", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    # When the dashboard is loaded again (GET /bids: the active listing, then the finished one)
    page.reload()
    # Then the active one shows among the active, the cancelled one among the finished
    expect(page.locator("#active-snipes").get_by_text("Zeiss Ikon Contax II")).to_be_visible()
    finished = page.locator("#finished-snipes")
    expect(finished.get_by_text("Voigtlander Bessa R")).to_be_visible()
    expect(_card(page, "Voigtlander Bessa R").get_by_test_id("status")).to_have_text("Cancelled")


def test_a_snipes_price_history_is_charted_after_a_reload(page: Any, stack: RunningStack) -> None:
    # Given a snipe whose listing's price the price updater saw at three prices
    item, _ = _snipe_by_item_number(page, stack, "Rolleiflex 2.8F Planar", "300.00", 900)
    provisioned = stack.stack.provisioned
    assert provisioned is not None
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    prices = PriceHistory(provisioned.tables["UsersTable"].name, dynamodb)
    ends = int(time.time()) + 900
    for minutes_ago, cents in ((30, 1000), (20, 1400), (10, 2100)):
        prices.add_point(item, int(time.time()) - 60 * minutes_ago, cents, "USD", ends)
    # When the user comes back to the dashboard later
    page.reload()
    # Then the snipe's card charts every price seen, not only the latest
    chart = _card(page, "Rolleiflex 2.8F Planar").get_by_role(
        "img", name=re.compile("Price history")
    )
    expect(chart).to_have_attribute("aria-label", re.compile(r": [34] prices, now"))


def test_api_validation_errors_show_beside_their_fields(page: Any, stack: RunningStack) -> None:
    # Given a signed-in, linked user on the new-snipe form
    _sign_in(page, stack)
    _link_ebay(page)
    page.get_by_role("link", name="Snipes", exact=True).click()
    # When they submit values the API refuses
    page.get_by_label("eBay item number").fill("12ab")
    page.get_by_label("Your maximum (USD)").fill("0.50")
    page.get_by_label("Lead time (s)").fill("99")
    posted = lambda r: r.url.endswith("/bids") and r.request.method == "POST"  # noqa: E731
    with page.expect_response(posted) as r:
        page.get_by_role("button", name="Set snipe").click()
    assert r.value.status == 422
    details = {d["field"]: d["message"] for d in r.value.json()["error"]["details"]}
    # Then each of the API's messages shows beside the field it concerns
    for field in ("ebayItemId", "maxBidAmount", "leadSeconds"):
        expect(page.locator(f"#new-{field}-error")).to_have_text(details[field])
        expect(page.locator(f"#new-{field}")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#new-groupId-error")).to_be_empty()


class _SocketSwitch:
    """The page's WebSockets through a switch: while ``off`` a new socket is closed at once (the
    stack out of reach); those let through (``through``) the test can close itself."""

    def __init__(self, page: Any) -> None:
        self.off = False
        self.through: list[Any] = []
        page.route_web_socket(re.compile(r"^wss?://"), self._route)

    def _route(self, ws: Any) -> None:
        if self.off:
            ws.close()
        else:
            self.through.append(ws)
            ws.connect_to_server()


def test_connection_indicator_reconnects_and_resyncs(page: Any, stack: RunningStack) -> None:
    _require_realtime(stack)
    assert stack.stack.websocket is not None
    # Given the page's socket passes through a switch that can keep the stack out of reach
    switch = _SocketSwitch(page)
    _sign_in(page, stack)
    indicator = page.locator("#connection")
    expect(indicator).to_have_attribute("data-state", "live")
    auth = _api_headers(stack)
    item = _auction(stack, ends_in=900, title="Rolleiflex 2.8F Planar")
    # When the stack's WebSocket drops (API Gateway's @connections DELETE) and stays away
    websocket = stack.stack.websocket
    switch.off = True
    started = time.monotonic()

    def dropped() -> bool:
        # Every socket the stack holds is deleted, again on each pass: the page's may register
        # a moment after the page saw "open". Asking the page pumps Playwright's event loop.
        for connection_id in list(websocket.connections):
            httpx.delete(f"{stack.stack.websocket_management_url}/@connections/{connection_id}")
        if time.monotonic() - started > 3:
            # On a saturated machine Playwright's proxy can sit on the server's close frame;
            # the network dropping the page's side is the same event for the page.
            for ws in switch.through:
                ws.close()
        return indicator.get_attribute("data-state") == "reconnecting"

    # Then the indicator says it is reconnecting
    _wait_for(dropped, timeout=20.0)
    expect(page.locator("#connection-label")).to_have_text("Reconnecting…")
    # While away, a snipe is created elsewhere (its push reaches no socket)
    runtime = stack.stack.runtime
    assert runtime is not None
    pushes = runtime.stats["BroadcasterFunction"].invocations
    created = httpx.post(
        f"{stack.base_url}/bids",
        headers=auth,
        json={"ebayItemId": item, "maxBidAmount": 9000, "leadSeconds": 5},
    )
    assert created.status_code == 201, created.text
    _wait_for(lambda: runtime.stats["BroadcasterFunction"].invocations > pushes)
    # When the stack is reachable again
    switch.off = False
    # Then the page reconnects, syncs, and shows what it missed
    expect(indicator).to_have_attribute("data-state", "live", timeout=20_000)
    expect(_card(page, "Rolleiflex 2.8F Planar")).to_be_visible()


def test_online_events_while_reconnecting_leave_one_socket(page: Any, stack: RunningStack) -> None:
    _require_realtime(stack)
    websocket = stack.stack.websocket
    assert websocket is not None
    # Given a signed-in page whose sockets the test can cut, and which counts the sockets the
    # page opens
    page.add_init_script(
        """
        window.__sockets = [];
        const Native = window.WebSocket;
        window.WebSocket = class extends Native {
          constructor(...args) { super(...args); window.__sockets.push(this); }
        };
        """
    )
    switch = _SocketSwitch(page)
    _sign_in(page, stack)
    indicator = page.locator("#connection")
    expect(indicator).to_have_attribute("data-state", "live")
    # When its socket drops, and while it is reconnecting the browser says it is online three
    # times (a network that flaps as a laptop wakes)
    switch.off = True
    for ws in switch.through:
        ws.close()
    expect(indicator).to_have_attribute("data-state", "reconnecting", timeout=20_000)
    switch.off = False
    page.evaluate("for (let i = 0; i < 3; i++) window.dispatchEvent(new Event('online'))")
    # Then it is live again on one socket: no second one was opened beside it
    expect(indicator).to_have_attribute("data-state", "live", timeout=20_000)
    _wait_for(lambda: len(websocket.connections) >= 1)
    assert page.evaluate("window.__sockets.filter((s) => s.readyState <= 1).length") == 1
    assert len(websocket.connections) == 1


def test_back_online_after_offline_the_page_is_live_on_one_socket(
    page: Any, stack: RunningStack
) -> None:
    _require_realtime(stack)
    websocket = stack.stack.websocket
    assert websocket is not None
    # Given a live page that counts the sockets it opens
    page.add_init_script(
        """
        window.__sockets = [];
        const Native = window.WebSocket;
        window.WebSocket = class extends Native {
          constructor(...args) { super(...args); window.__sockets.push(this); }
        };
        """
    )
    _sign_in(page, stack)
    indicator = page.locator("#connection")
    expect(indicator).to_have_attribute("data-state", "live")
    # When the browser says it went offline and came back (its socket may have died meanwhile)
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    expect(indicator).to_have_attribute("data-state", "offline")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    # Then it is live again, on one socket: the one it had was replaced, not kept beside it
    expect(indicator).to_have_attribute("data-state", "live", timeout=20_000)
    closed = "window.__sockets.filter((s) => s.readyState === WebSocket.CLOSED).length"
    _wait_for(lambda: page.evaluate(closed) == 1)
    assert page.evaluate("window.__sockets.filter((s) => s.readyState <= 1).length") == 1
    _wait_for(lambda: len(websocket.connections) == 1)


def test_a_deleted_accounts_page_goes_back_to_sign_in(page: Any, stack: RunningStack) -> None:
    _require_realtime(stack)
    # Given a signed-in page, live
    _sign_in(page, stack)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    # When the account is deleted elsewhere (the API, a script) with a token still in its hour,
    # and the page is opened again with the session it kept
    token = page.evaluate("JSON.parse(sessionStorage.getItem('sniper.session')).idToken")
    deleted = httpx.delete(
        f"{stack.base_url}/users/account", headers={"Authorization": f"Bearer {token}"}
    )
    assert deleted.status_code == 200, deleted.text
    page.reload()
    # Then the API's ACCOUNT_DELETED signs the page out: the sign-in form, not a dashboard
    # whose socket is refused again and again
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('sniper.session')") is None


def _group_card(page: Any, group: str) -> Any:
    return page.locator("article.group").filter(has=page.get_by_role("heading", name=group))


def test_a_groups_rule_limit_and_totals(page: Any, stack: RunningStack) -> None:
    _require_realtime(stack)
    _require_price_updater(stack)
    # Given a linked user who snipes two auctions in the group "cameras" from the form
    _sign_in(page, stack)
    _link_ebay(page)
    nikon = _auction(stack, ends_in=500, title="Nikon F3 HP", start=1000)
    canon = _auction(stack, ends_in=500, title="Canon New F-1", start=2500)
    page.get_by_role("link", name="Snipes", exact=True).click()
    for item, title, maximum in ((nikon, "Nikon F3 HP", "80"), (canon, "Canon New F-1", "120")):
        page.get_by_label("eBay item number").fill(item)
        page.get_by_label("Your maximum (USD)").fill(maximum)
        page.get_by_label("Group", exact=True).fill("cameras")
        page.get_by_role("button", name="Set snipe").click()
        expect(_card(page, title).get_by_test_id("status")).to_have_text("Scheduled")
    # When they open the groups page
    page.get_by_role("link", name="Groups", exact=True).click()
    card = _group_card(page, "cameras")
    # Then the group shows the default rule, nothing won of its one, and its totals
    expect(card.get_by_test_id("group-rule")).to_have_text("Win up to 1 (default)")
    expect(card.get_by_test_id("group-won")).to_have_text("0 of 1")
    expect(card.get_by_test_id("group-active")).to_have_text("2")
    expect(card.get_by_test_id("group-total-price")).to_have_text("$35.00")
    expect(card.get_by_test_id("group-total-max")).to_have_text("$200.00")

    # When they make it a contingency group of two
    card.get_by_label("Mode").select_option("CONTINGENCY")
    card.get_by_label("Limit").fill("2")
    card.get_by_role("button", name="Save rule").click()
    # Then the card shows the rule, and the API agrees
    expect(card.get_by_test_id("group-rule")).to_have_text("Contingency, up to 2")
    expect(card.get_by_test_id("group-won")).to_have_text("0 of 2")
    groups = httpx.get(f"{stack.base_url}/groups", headers=_api_headers(stack)).json()["items"]
    assert [(g["groupId"], g["mode"], g["limit"]) for g in groups] == [
        ("cameras", "CONTINGENCY", 2)
    ]

    # When they try a limit the API refuses
    card.get_by_label("Limit").fill("101")
    card.get_by_role("button", name="Save rule").click()
    # Then the API's message shows beside the limit, and the rule stays
    limit = card.get_by_label("Limit")
    expect(limit).to_have_attribute("aria-invalid", "true")
    expect(card.locator(".field-error[data-field='limit']")).not_to_be_empty()
    expect(card.get_by_test_id("group-rule")).to_have_text("Contingency, up to 2")

    # When competitors raise one auction's price and the price updater's schedule runs
    _competitor_bids(stack, nikon, "rival_one", 1500)
    _competitor_bids(stack, nikon, "rival_two", 2500)
    assert stack.stack.template is not None
    assert stack.stack.runtime is not None
    event = scheduled_event("PriceUpdaterFunction", stack.stack.template)
    stack.stack.runtime.invoke("PriceUpdaterFunction", event)
    # Then the group's total of current prices follows, without a reload
    expect(card.get_by_test_id("group-total-price")).to_have_text("$40.50", timeout=20_000)

    # When they set a rule for a group that has no snipe yet
    page.get_by_label("Group", exact=True).fill("lenses")
    page.locator("#new-group-limit").fill("3")
    page.get_by_role("button", name="Set rule").click()
    # Then it is listed, empty, and both groups are still there after a reload
    lenses = _group_card(page, "lenses")
    expect(lenses.get_by_test_id("group-rule")).to_have_text("Win up to 3")
    expect(lenses.get_by_test_id("group-total-max")).to_have_text("$0.00")
    page.reload()
    expect(_group_card(page, "lenses").get_by_test_id("group-won")).to_have_text("0 of 3")
    expect(_group_card(page, "cameras").get_by_test_id("group-rule")).to_have_text(
        "Contingency, up to 2"
    )


def test_changes_that_arrive_in_one_frame_each_update_their_card(
    page: Any, stack: RunningStack
) -> None:
    _require_realtime(stack)
    frames: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(_json(f))))
    # Given two snipes of one user, each on its card
    first, card_one = _snipe_by_item_number(page, stack, "Contax T2 Titanium", "400.00", 900)
    second = _auction(stack, ends_in=900, title="Nikon FM2 Black")
    page.get_by_label("eBay item number").fill(second)
    page.get_by_label("Your maximum (USD)").fill("300.00")
    page.get_by_role("button", name="Set snipe").click()
    card_two = _card(page, "Nikon FM2 Black")
    expect(card_two.get_by_test_id("status")).to_have_text("Scheduled")
    # When both prices change in one write, so the broadcaster sends them in one batch frame
    provisioned = stack.stack.provisioned
    assert provisioned is not None
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    table = provisioned.tables["BidsTable"].name
    items = [
        i
        for i in dynamodb.scan(TableName=table)["Items"]
        if i.get("ebayItemId", {}).get("S") in (first, second)
    ]
    for item, cents in zip(items, (4321, 1234), strict=True):
        item["currentPrice"] = {"N": str(cents)}
    dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items]})
    # Then each card shows its new price
    prices = {i["ebayItemId"]["S"]: f"${int(i['currentPrice']['N']) / 100:,.2f}" for i in items}
    expect(card_one.get_by_test_id("current-price")).to_have_text(prices[first])
    expect(card_two.get_by_test_id("current-price")).to_have_text(prices[second])
    # And both price changes came in one batch frame, which the page read event by event (the
    # second snipe's own events may share that frame when the stream batches them together)
    priced = [
        {e["ebayItemId"] for e in b["data"]["events"] if e["type"] == "price.changed"}
        for b in frames
        if b.get("type") == "batch"
    ]
    assert {first, second} in priced


def _json(frame: Any) -> dict[str, Any]:
    try:
        message = json.loads(frame if isinstance(frame, str) else frame.decode())
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def test_an_open_page_pulls_prices_in_an_auctions_last_minutes(
    page: Any, stack: RunningStack
) -> None:
    _require_realtime(stack)
    sent: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(_json(f))))
    assert stack.stack.runtime is not None
    # Given the scheduled price updater doing nothing, and a snipe on an auction ending in 5
    # minutes, on its card
    with stack.stack.runtime.handler_replaced("PriceUpdaterFunction", lambda event, context: {}):
        item, card = _snipe_by_item_number(page, stack, "Mamiya 7 II", "100.00", 300)
        expect(card.get_by_test_id("current-price")).to_have_text("$10.00")
        # When competitors outbid the start price at eBay
        _competitor_bids(stack, item, "rival_one", 1500)
        _competitor_bids(stack, item, "rival_two", 2500)
        # Then the page, asking for fresh prices once per round (5 s here), shows the new price
        expect(card.get_by_test_id("current-price")).to_have_text("$15.50", timeout=25_000)
    assert {"action": "refreshPrices"} in sent


def test_an_open_page_asks_for_prices_when_the_server_says_the_next_round_may_run(
    page: Any, stack: RunningStack
) -> None:
    _require_realtime(stack)
    asks: list[dict[str, Any]] = []  # refreshPrices frames the page sent
    answers: list[dict[str, Any]] = []  # pricesRefreshed's data, as received

    def sent(frame: Any) -> None:
        if (message := _json(frame)).get("action") == "refreshPrices":
            asks.append(message)

    def received(frame: Any) -> None:
        if (message := _json(frame)).get("type") == "pricesRefreshed":
            answers.append(message["data"])

    def watch(ws: Any) -> None:
        ws.on("framesent", sent)
        ws.on("framereceived", received)

    page.on("websocket", watch)
    # The page's timers run on a clock the test moves (time still flows as well).
    page.clock.install()
    provisioned, runtime = stack.stack.provisioned, stack.stack.runtime
    assert provisioned is not None
    assert runtime is not None
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    claims = RefreshClaims(provisioned.tables["UsersTable"].name, dynamodb)

    # Given rounds of the final minutes paced 30 s apart (as the minute's run sets them on a busy
    # day; that run itself doing nothing here), and a snipe ending in 5 minutes on its card
    with runtime.handler_replaced("PriceUpdaterFunction", lambda event, context: {}):
        claims.set_pace(30_000, int(time.time() * 1000), 180)
        _snipe_by_item_number(page, stack, "Plaubel Makina 67", "100.00", 300)
        # When the page asks for prices (its first ask comes on the 10 s timer) and is answered
        _wait_for(lambda: page.clock.run_for(1_000) or answers, timeout=60)
        next_in = answers[0]["nextInMs"]
        asked = len(asks)
        # Then the answer says the next round is the pace away, not 10 s
        assert next_in > 20_000
        # and until 2 s before then the page asks nothing (on the 10 s grid it would have asked
        # twice by then)
        page.clock.run_for(next_in - 2_000)
        page.wait_for_timeout(1_000)  # real time, for frames sent to reach the test
        assert len(asks) == asked
        # and once that time (and at most 300 ms of jitter) has passed, it asks again
        page.clock.run_for(2_500)
        _wait_for(lambda: page.wait_for_timeout(200) or len(asks) == asked + 1, timeout=10)
