"""The simulator's auction engine: eBay's proxy bidding, reserve, Buy It Now and end rules."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.ebay_sim import engine
from local.ebay_sim.engine import Auction, BidRejected
from local.ebay_sim.money import format_amount, increment, parse_amount

END = 1_000_000


def auction(
    start: int = 1_000, reserve: int | None = None, bin_price: int | None = None
) -> Auction:
    return Auction(
        legacy_id="326000000001",
        title="Camera",
        start_price=start,
        end_ms=END,
        seller="the_seller",
        reserve_price=reserve,
        buy_it_now_price=bin_price,
    )


def bid(a: Auction, bidder: str, cents: int, at: int = 10) -> engine.BidRecord:
    return engine.place_bid(a, bidder, cents, at, f"p{len(a.bids)}")


def rejected(a: Auction, bidder: str, cents: int, at: int = 10) -> BidRejected:
    with pytest.raises(BidRejected) as caught:
        bid(a, bidder, cents, at)
    return caught.value


@pytest.mark.parametrize(
    ("price", "step"),
    [
        (1, 5),
        (99, 5),
        (100, 25),
        (499, 25),
        (500, 50),
        (2_499, 50),
        (2_500, 100),
        (9_999, 100),
        (10_000, 250),
        (24_999, 250),
        (25_000, 500),
        (49_999, 500),
        (50_000, 1_000),
        (99_999, 1_000),
        (100_000, 2_500),
        (249_999, 2_500),
        (250_000, 5_000),
        (499_999, 5_000),
        (500_000, 10_000),
        (10_000_000, 10_000),
    ],
)
def test_us_bid_increments(price: int, step: int) -> None:
    # Given a price in cents / When the increment is looked up / Then it is eBay US's table
    assert increment(price) == step


def test_amounts_are_written_and_read_as_ebay_does() -> None:
    # Given cents and eBay amount strings / When converted / Then two decimals, no float drift
    assert format_amount(1_250) == "12.50"
    assert format_amount(5) == "0.05"
    assert parse_amount("12.50") == 1_250
    assert parse_amount(12.5) == 1_250
    assert parse_amount("12.505") is None
    assert parse_amount("-1") is None
    assert parse_amount("abc") is None
    assert parse_amount(True) is None


def test_first_bid_leads_at_the_start_price() -> None:
    # Given a $10 auction / When one buyer bids $50 / Then they lead at the start price
    a = auction()
    bid(a, "alice", 5_000)
    assert engine.leader(a).bidder == "alice"  # type: ignore[union-attr]
    assert engine.current_price(a) == 1_000
    assert engine.minimum_to_bid(a) == 1_050


def test_second_bidder_pushes_price_to_their_max_plus_one_increment() -> None:
    # Given alice at $50 max / When bob bids $20 / Then alice leads at $20 + $0.50
    a = auction()
    bid(a, "alice", 5_000)
    bid(a, "bob", 2_000, at=20)
    assert engine.leader(a).bidder == "alice"  # type: ignore[union-attr]
    assert engine.current_price(a) == 2_050


def test_price_is_capped_by_the_leaders_maximum() -> None:
    # Given alice at $20.25 / When bob bids $20.00 / Then the price is alice's max, not $20.50
    a = auction()
    bid(a, "alice", 2_025)
    bid(a, "bob", 2_000, at=20)
    assert engine.current_price(a) == 2_025


def test_equal_maxima_go_to_the_earlier_bid() -> None:
    # Given alice at $30 / When bob also bids $30 later / Then alice keeps the lead at $30
    a = auction()
    bid(a, "alice", 3_000, at=10)
    bid(a, "bob", 3_000, at=11)
    assert engine.leader(a).bidder == "alice"  # type: ignore[union-attr]
    assert engine.current_price(a) == 3_000


def test_reserve_lifts_the_price_when_the_leader_reaches_it() -> None:
    # Given a $10 auction with a $40 reserve
    a = auction(reserve=4_000)
    # When alice bids $30 / Then the reserve is not met and the price stays at the start
    bid(a, "alice", 3_000)
    assert engine.current_price(a) == 1_000
    assert not engine.reserve_met(a)
    # When alice raises to $60 / Then the price jumps to the reserve
    bid(a, "alice", 6_000, at=20)
    assert engine.reserve_met(a)
    assert engine.current_price(a) == 4_000


def test_reserve_not_met_means_no_winner() -> None:
    # Given a reserve of $40 and a best bid of $30 / When the auction ends / Then nobody wins
    a = auction(reserve=4_000)
    bid(a, "alice", 3_000)
    assert engine.winner(a, END) is None
    assert engine.final_price(a, END) is None


def test_bid_below_minimum_is_refused_with_the_minimum() -> None:
    # Given a price of $20.50 / When bob bids $20.75 / Then 120008 tells him the minimum $21.00
    a = auction()
    bid(a, "alice", 5_000)
    bid(a, "bob", 2_000, at=20)
    refusal = rejected(a, "bob", 2_075, at=30)
    assert refusal.error_id == 120008
    assert refusal.amounts == {"minimumBid": 2_100}
    assert a.bids[-1].accepted is False


def test_high_bidder_may_raise_but_not_lower() -> None:
    # Given alice leads with $50 / When she lowers to $40 / Then 120010; raising is accepted
    a = auction()
    bid(a, "alice", 5_000)
    assert rejected(a, "alice", 4_000, at=20).error_id == 120010
    bid(a, "alice", 7_000, at=30)
    assert a.proxies["alice"].max_amount == 7_000
    assert engine.current_price(a) == 1_000


def test_end_is_checked_to_the_millisecond() -> None:
    # Given an auction ending at END / When bids arrive 1 ms before and exactly at the end
    a = auction()
    bid(a, "alice", 2_000, at=END - 1)
    refusal = rejected(a, "bob", 5_000, at=END)
    # Then the first counts and the second is refused with 120012
    assert refusal.error_id == 120012
    assert engine.winner(a, END) == "alice"
    assert engine.final_price(a, END) == 1_000


def test_buy_it_now_disappears_with_the_first_bid() -> None:
    # Given an auction with Buy It Now at $80 / When someone bids / Then Buy It Now is gone
    a = auction(bin_price=8_000)
    assert engine.buy_it_now_available(a, 10)
    assert rejected(a, "alice", 9_000).error_id == 120005
    bid(a, "alice", 2_000, at=20)
    assert not engine.buy_it_now_available(a, 30)


def test_auction_ended_by_buy_it_now_refuses_bids() -> None:
    # Given an auction bought with Buy It Now / When a bid arrives / Then 120002 and BIN wins
    a = auction(bin_price=8_000)
    a.bought_by = "carol"
    assert rejected(a, "alice", 2_000).error_id == 120002
    assert engine.winner(a, 20) == "carol"
    assert engine.final_price(a, 20) == 8_000


def test_seller_and_adult_rules() -> None:
    # Given a seller and an adult-only item / When they bid / Then 120003 and 120032
    a = auction()
    assert rejected(a, "the_seller", 2_000).error_id == 120003
    a.adult_only = True
    with pytest.raises(BidRejected) as caught:
        engine.place_bid(a, "alice", 2_000, 10, "p", adult_consent=False)
    assert caught.value.error_id == 120032


bids_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # bidder
        st.integers(min_value=50, max_value=300_000),  # max amount in cents
        st.integers(min_value=0, max_value=3),  # ms since the previous bid
    ),
    min_size=1,
    max_size=40,
)


def _expected_leader(a: Auction) -> tuple[str, int]:
    """From the accepted bids alone: each bidder's last max, the highest wins, earliest tie."""
    last: dict[str, tuple[int, int, int]] = {}
    for seq, record in enumerate(a.bids):
        if record.accepted:
            last[record.bidder] = (record.max_amount, record.received_at, seq)
    best = min(last.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[1][2]))
    return best[0], best[1][0]


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(min_value=1, max_value=20_000),
    reserve_extra=st.one_of(st.none(), st.integers(min_value=0, max_value=50_000)),
    bids=bids_strategy,
)
def test_proxy_bidding_invariants(
    start: int, reserve_extra: int | None, bids: list[tuple[int, int, int]]
) -> None:
    # Given an auction, with or without a reserve
    reserve = None if reserve_extra is None else start + reserve_extra
    a = auction(start=start, reserve=reserve)
    now = 0
    previous_price = engine.current_price(a)
    # When any sequence of bids arrives
    for who, cents, gap in bids:
        now += gap
        with contextlib.suppress(BidRejected):
            bid(a, f"b{who}", cents, at=now)
        assert a.bids[-1].error_id in (None, 120008, 120010)
        price = engine.current_price(a)
        # Then the price never decreases
        assert price >= previous_price
        previous_price = price
        order = engine.ranked(a)
        if not order:
            continue
        top = order[0]
        # and never exceeds the leader's maximum
        assert price <= top.max_amount
        if len(order) > 1:
            second = order[1].max_amount
            lifted = reserve if reserve is not None and top.max_amount >= reserve else 0
            # and never exceeds the second-highest maximum plus one increment (unless the
            # reserve lifted it), while never falling below the second-highest maximum
            assert price <= max(second + increment(second), lifted, start)
            assert price >= second
        # and the leader holds the highest maximum, the earliest bid winning a tie
        assert (top.bidder, top.max_amount) == _expected_leader(a)
    # When the auction ends
    final = engine.final_price(a, END)
    champion = engine.winner(a, END)
    # Then a reserve is honoured, and the winner never pays more than their maximum
    if champion is None:
        assert not a.proxies or (reserve is not None and engine.leader(a).max_amount < reserve)  # type: ignore[union-attr]
    else:
        assert final is not None
        assert champion == _expected_leader(a)[0]
        assert final <= a.proxies[champion].max_amount
        if reserve is not None:
            assert final >= reserve
