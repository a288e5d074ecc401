"""The eBay client against the local eBay simulator: every error id the simulator produces
reaches the caller as its typed error, and the happy paths read back in the product's units."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from common.ebay import errors as e
from common.ebay.client import EbayClient
from common.ebay.config import DEFAULT_USER_SCOPES, EbayConfig, RetryPolicy
from common.ebay.credentials import AppCredentials
from common.ebay.errors import EbayError, EbayUnavailable, ItemNotFound
from common.ebay.models import Money, UserTokens

sim_testing = pytest.importorskip("local.ebay_sim.testing", reason="the eBay simulator is absent")
FaultConfig = pytest.importorskip("local.ebay_sim.faults").FaultConfig

pytestmark = pytest.mark.integration

BUYER = "sniper_buyer"
SELLER = "camera_shop"


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[Any, str]]:
    with sim_testing.running_simulator() as running:
        yield running


@pytest.fixture
def sim(simulator: tuple[Any, str]) -> Iterator[Any]:
    yield simulator[0]
    simulator[0].clear_faults()
    simulator[0].set_skew(0)


@pytest.fixture
def client(simulator: tuple[Any, str]) -> EbayClient:
    _, base_url = simulator
    config = sim_testing.TEST_CONFIG
    return EbayClient(
        EbayConfig.for_environment(
            "local",
            api_base_url=base_url,
            auth_base_url=f"{base_url}/oauth2/authorize",
            retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
        ),
        AppCredentials(
            clientId=config.client_id,
            clientSecret=SecretStr(config.client_secret),
            ruName=config.ru_name,
        ),
        http=httpx.Client(),
        rng=random.Random(1),
    )


@pytest.fixture
def tokens(sim: Any, client: EbayClient) -> UserTokens:
    code = sim.issue_code(BUYER, frozenset(DEFAULT_USER_SCOPES))
    return client.exchange_code(code)


def auction(sim: Any, **extra: Any) -> Any:
    options: dict[str, Any] = {"seller": SELLER, "bots": False}
    options.update(extra)
    return sim.create_auction("Vintage lens", 1000, sim.now_ms() + 3_600_000, **options)


def usd(cents: int) -> Money:
    return Money(amount=cents, currency="USD")


def test_the_oauth_round_trip(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    # Given a linked account / When its access token is refreshed
    refreshed = client.refresh_user_token(tokens)
    # Then eBay's refresh token is kept and a new access token works
    assert refreshed.refresh_token == tokens.refresh_token
    assert refreshed.access_token != tokens.access_token
    item = auction(sim)
    client.place_proxy_bid(refreshed.access_token, item.legacy_id, usd(2500))
    assert client.get_bidding(refreshed.access_token, item.legacy_id).high_bidder


def test_a_used_code_is_invalid_grant(sim: Any, client: EbayClient) -> None:
    code = sim.issue_code(BUYER, frozenset(DEFAULT_USER_SCOPES))
    client.exchange_code(code)
    with pytest.raises(e.InvalidGrant):
        client.exchange_code(code)


def test_an_item_and_a_winning_bid(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    # Given an auction starting at $10.00
    item = auction(sim)
    # When read and bid on
    read = client.get_item_by_legacy_id(item.legacy_id)
    same = client.get_item(read.item_id)
    result = client.place_proxy_bid(tokens.access_token, item.legacy_id, usd(2500))
    status = client.get_bidding(tokens.access_token, read.item_id)
    # Then the item is an auction, the bid stands and the clock was sampled
    assert read.is_auction
    assert read == same
    assert read.minimum_price_to_bid == usd(1000)
    assert result.proxy_bid_id
    assert result.timing is not None
    assert status.high_bidder is True
    assert status.current_proxy_bid == usd(2500)
    assert status.is_active


def test_get_items_reads_many_prices_in_one_browse_call(sim: Any, client: EbayClient) -> None:
    # Given three auctions, one with two bidders, and an item eBay does not have
    items = [auction(sim) for _ in range(3)]
    sim.place_bid(items[0].legacy_id, "rival_a", 2_000)
    sim.place_bid(items[0].legacy_id, "rival_b", 3_000)
    before = sim.calls_json().get("getItems", 0)
    # When their prices are read with getItems
    prices = client.get_items([i.legacy_id for i in items] + ["1"])
    # Then one Browse call answered for all of them, in the product's units
    assert sim.calls_json().get("getItems", 0) == before + 1
    assert [p.legacy_item_id for p in prices] == [i.legacy_id for i in items]
    assert prices[0].current_bid_price == usd(sim.auction_json(items[0].legacy_id)["currentPrice"])
    assert prices[0].current_bid_price.amount > 2_000
    assert prices[0].bid_count == 2
    assert prices[1].minimum_price_to_bid == usd(1_000)


def test_an_app_without_get_items_reads_one_price_per_call() -> None:
    # Given a simulator whose keyset is not granted getItems (a Limited Release method)
    from dataclasses import replace

    config = replace(sim_testing.TEST_CONFIG, bulk_items=False)
    with sim_testing.running_simulator(config) as (sim, base_url):
        client = EbayClient(
            EbayConfig.for_environment(
                "local", api_base_url=base_url, auth_base_url=f"{base_url}/oauth2/authorize"
            ),
            AppCredentials(
                clientId=config.client_id,
                clientSecret=SecretStr(config.client_secret),
                ruName=config.ru_name,
            ),
            http=httpx.Client(),
        )
        item = auction(sim)
        # When two prices are asked for in one call
        with pytest.raises(e.BulkItemsDenied):
            client.get_items([item.legacy_id, "1"])
        # Then the client asks one item per call, with getItem, and no getItems was counted
        assert client.items_per_call == 1
        prices = client.get_items([item.legacy_id])
        assert [p.current_bid_price for p in prices] == [usd(1_000)]
        assert sim.calls_json() == {"getItem": 1}


def test_reserve_price_met_reaches_the_item_and_the_bidding_status(
    sim: Any, client: EbayClient, tokens: UserTokens
) -> None:
    # Given a $50 reserve auction bid to $30, one bid to $60, and one without a reserve
    below = auction(sim, reserve_price=5000)
    met = auction(sim, reserve_price=5000)
    plain = auction(sim)
    for item, cents in ((below, 3000), (met, 6000), (plain, 3000)):
        _bid(client, tokens, item.legacy_id, cents)
    # When they are read while active
    items = [client.get_item_by_legacy_id(i.legacy_id) for i in (below, met, plain)]
    active = [client.get_bidding(tokens.access_token, i.legacy_id) for i in (below, met, plain)]
    # Then reservePriceMet is read as it was sent, and None where eBay leaves it out
    assert [i.reserve_price_met for i in items] == [False, True, None]
    assert [(b.is_active, b.high_bidder, b.reserve_price_met) for b in active] == [
        (True, True, False),
        (True, True, True),
        (True, True, None),
    ]
    # When they have ended
    sim.set_skew(3_700_000)
    ended = [client.get_bidding(tokens.access_token, i.legacy_id) for i in (below, met, plain)]
    # Then the buyer won the two that sold, and is not the high bidder of the one whose
    # reserve was not met (not sold)
    assert [(b.auction_status, b.high_bidder, b.reserve_price_met) for b in ended] == [
        ("ENDED", False, False),
        ("ENDED", True, True),
        ("ENDED", True, None),
    ]


def _bid(client: EbayClient, tokens: UserTokens, legacy_id: str, cents: int, **kw: Any) -> None:
    client.place_proxy_bid(tokens.access_token, legacy_id, usd(cents), **kw)


def test_120001_unknown_item(client: EbayClient, tokens: UserTokens) -> None:
    with pytest.raises(e.ItemNotFound):
        _bid(client, tokens, "999999999999", 2500)


def test_browse_unknown_item(client: EbayClient) -> None:
    with pytest.raises(ItemNotFound):
        client.get_item_by_legacy_id("999999999999")


def test_120002_ended_by_buy_it_now(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = auction(sim, buy_it_now_price=5000)
    sim.buy_it_now(item.legacy_id, "someone_else")
    with pytest.raises(e.EndedByBuyItNow):
        _bid(client, tokens, item.legacy_id, 2500)


def test_120003_seller_cannot_bid(sim: Any, client: EbayClient) -> None:
    item = auction(sim, seller=BUYER + "_seller")
    seller_tokens = client.exchange_code(
        sim.issue_code(BUYER + "_seller", frozenset(DEFAULT_USER_SCOPES))
    )
    with pytest.raises(e.SellerCannotBid):
        _bid(client, seller_tokens, item.legacy_id, 2500)


def test_120005_above_buy_it_now(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = auction(sim, buy_it_now_price=5000)
    with pytest.raises(e.BidAboveBuyItNowPrice):
        _bid(client, tokens, item.legacy_id, 6000)


def test_120008_too_low_quotes_the_minimum(
    sim: Any, client: EbayClient, tokens: UserTokens
) -> None:
    item = auction(sim)
    with pytest.raises(e.BidTooLow) as caught:
        _bid(client, tokens, item.legacy_id, 500)
    assert caught.value.minimum == usd(1000)
    assert caught.value.user_message == "Your maximum is below eBay's minimum bid of $10.00."


def test_120009_currency_mismatch(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = auction(sim)
    with pytest.raises(e.CurrencyMismatch):
        client.place_proxy_bid(
            tokens.access_token, item.legacy_id, Money(amount=2500, currency="GBP")
        )


def test_120010_cannot_lower(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = auction(sim)
    _bid(client, tokens, item.legacy_id, 3000)
    with pytest.raises(e.CannotLowerProxyBid):
        _bid(client, tokens, item.legacy_id, 2000)


def test_120011_above_the_limit(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = auction(sim)
    with pytest.raises(e.BidExceedsLimit):
        _bid(client, tokens, item.legacy_id, 100_000_000)


def test_120012_auction_ended(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = sim.create_auction("Short", 1000, sim.now_ms() + 1000, seller=SELLER, bots=False)
    sim.set_skew(5000)
    with pytest.raises(e.AuctionEnded):
        _bid(client, tokens, item.legacy_id, 2500)


def test_120032_adult_consent(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = auction(sim, adult_only=True)
    with pytest.raises(e.AdultConsentRequired):
        _bid(client, tokens, item.legacy_id, 2500)
    _bid(client, tokens, item.legacy_id, 2500, adult_only=True)


def test_120033_no_bidding_activity(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = auction(sim)
    with pytest.raises(e.NoBiddingActivity):
        client.get_bidding(tokens.access_token, item.legacy_id)


def test_120017_unsupported_marketplace(
    sim: Any, simulator: tuple[Any, str], tokens: UserTokens, client: EbayClient
) -> None:
    item = auction(sim)
    other = EbayClient(
        EbayConfig.for_environment("local", api_base_url=simulator[1], marketplace_id="EBAY_XX"),
        client.oauth.credentials(),
        http=httpx.Client(),
    )
    with pytest.raises(e.UnsupportedMarketplace):
        other.place_proxy_bid(tokens.access_token, item.legacy_id, usd(2500))


def test_an_unknown_token_is_an_auth_error(sim: Any, client: EbayClient) -> None:
    item = auction(sim)
    with pytest.raises(e.EbayAuthError):
        _bid(
            client,
            UserTokens(
                access_token=SecretStr("nope"),
                access_expires_at=0,
                refresh_token=SecretStr("nope"),
                refresh_expires_at=0,
            ),
            item.legacy_id,
            2500,
        )


def test_120000_after_retries_is_unavailable(
    sim: Any, client: EbayClient, tokens: UserTokens
) -> None:
    # Given eBay failing every bidding read with a 500
    item = auction(sim)
    _bid(client, tokens, item.legacy_id, 2500)
    sim.set_fault(FaultConfig.from_json({"endpoint": "get_bidding", "errorRate": 1.0}))
    # When read / Then the reads were retried and the caller learns eBay is unavailable
    with pytest.raises(EbayUnavailable) as caught:
        client.get_bidding(tokens.access_token, item.legacy_id)
    assert caught.value.error_id == 120000


def test_429_is_rate_limited(sim: Any, client: EbayClient) -> None:
    auction(sim)
    client.application_token()
    sim.set_fault(
        FaultConfig.from_json({"endpoint": "browse", "errorRate": 1.0, "statuses": [429]})
    )
    with pytest.raises(e.EbayRateLimited):
        client.get_item_by_legacy_id("1")


def test_a_bid_that_times_out_is_not_resent(
    sim: Any, client: EbayClient, tokens: UserTokens
) -> None:
    # Given eBay holding bids past the client's timeout
    item = auction(sim)
    sim.set_fault(
        FaultConfig.from_json({"endpoint": "place_proxy_bid", "timeoutRate": 1.0, "hangMs": 2000})
    )
    # When a bid is placed with a short deadline
    with pytest.raises(EbayUnavailable) as caught:
        _bid(client, tokens, item.legacy_id, 2500, deadline=time.time() + 0.5)
    # Then the outcome is reported as unknown, not retried
    assert caught.value.maybe_processed is True


def test_the_watch_list(sim: Any, client: EbayClient, tokens: UserTokens) -> None:
    item = auction(sim, watched_by=[BUYER])
    page = client.get_watch_list(tokens.access_token)
    assert item.legacy_id in {w.legacy_item_id for w in page.items}


def test_probe_clock_sees_the_simulators_skew(sim: Any, client: EbayClient) -> None:
    # Given eBay's clock 30 s ahead
    sim.set_skew(30_000)
    # When probed / Then the Date headers are ~30 s ahead of the local receive time
    for sample in client.probe_clock(3):
        offset_s = sample.server_date_seconds - sample.received_ms / 1000
        assert 28 < offset_s < 31


def test_identity(sim: Any, client: EbayClient, tokens: UserTokens, simulator: Any) -> None:
    probe = httpx.get(f"{simulator[1]}/commerce/identity/v1/user/")
    if probe.status_code == 404:
        pytest.skip("the simulator does not serve the Commerce Identity API yet")
    user = client.get_user(tokens.access_token)
    assert user.username == BUYER


def test_every_error_is_an_ebay_error() -> None:
    assert all(issubclass(cls, EbayError) for cls in e.ERROR_CLASSES.values())
