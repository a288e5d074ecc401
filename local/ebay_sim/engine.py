"""The auction engine: eBay's proxy bidding, reserve and Buy It Now rules, free of I/O.

Every function takes the simulator clock's ``now_ms`` so the caller decides what time it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from local.ebay_sim.money import increment

# Bids above this many cents exceed eBay's per-bid limit (errorId 120011).
MAX_BID_CENTS = 99_999_999


class EndReason(StrEnum):
    TIME = "TIME"
    BUY_IT_NOW = "BUY_IT_NOW"


@dataclass
class BidRecord:
    """Every bid that reached the engine, accepted or not, in arrival order."""

    bidder: str
    max_amount: int
    received_at: int
    proxy_bid_id: str
    accepted: bool
    error_id: int | None = None


@dataclass
class Proxy:
    """A bidder's standing proxy: their highest accepted maximum and when it was placed."""

    bidder: str
    max_amount: int
    placed_at: int
    seq: int
    proxy_bid_id: str


@dataclass
class Auction:
    legacy_id: str
    title: str
    start_price: int
    end_ms: int
    seller: str
    currency: str = "USD"
    reserve_price: int | None = None
    buy_it_now_price: int | None = None
    image_url: str | None = None
    adult_only: bool = False
    condition: str = "Used"
    condition_id: str = "3000"
    created_ms: int = 0
    bids: list[BidRecord] = field(default_factory=list)
    proxies: dict[str, Proxy] = field(default_factory=dict)
    bought_by: str | None = None
    bought_at: int | None = None

    @property
    def item_id(self) -> str:
        return f"v1|{self.legacy_id}|0"


class BidRejected(Exception):
    """The engine refused a bid; ``error_id`` is eBay's Offer API error id."""

    def __init__(self, error_id: int, message: str, amounts: dict[str, int] | None = None):
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        # Named amounts in cents that explain the refusal (the minimum bid, your maximum).
        self.amounts = amounts or {}


def ranked(auction: Auction) -> list[Proxy]:
    """Proxies from the leader down: highest maximum first, the earlier bid wins a tie."""
    return sorted(auction.proxies.values(), key=lambda p: (-p.max_amount, p.placed_at, p.seq))


def leader(auction: Auction) -> Proxy | None:
    order = ranked(auction)
    return order[0] if order else None


def current_price(auction: Auction) -> int:
    order = ranked(auction)
    if not order:
        return auction.start_price
    top = order[0]
    if len(order) == 1:
        price = auction.start_price
    else:
        second = order[1].max_amount
        price = max(auction.start_price, min(top.max_amount, second + increment(second)))
    reserve = auction.reserve_price
    if reserve is not None and top.max_amount >= reserve and price < reserve:
        price = reserve
    return price


def reserve_met(auction: Auction) -> bool:
    top = leader(auction)
    if auction.reserve_price is None:
        return True
    return top is not None and top.max_amount >= auction.reserve_price


def bid_count(auction: Auction) -> int:
    return sum(1 for bid in auction.bids if bid.accepted)


def unique_bidder_count(auction: Auction) -> int:
    return len(auction.proxies)


def minimum_to_bid(auction: Auction) -> int:
    if not auction.proxies:
        return auction.start_price
    price = current_price(auction)
    return price + increment(price)


def buy_it_now_available(auction: Auction, now_ms: int) -> bool:
    """Buy It Now disappears with the first bid (and so once the reserve is met)."""
    return (
        auction.buy_it_now_price is not None
        and not auction.proxies
        and not is_ended(auction, now_ms)
    )


def is_ended(auction: Auction, now_ms: int) -> bool:
    return auction.bought_by is not None or now_ms >= auction.end_ms


def end_reason(auction: Auction, now_ms: int) -> EndReason | None:
    if auction.bought_by is not None:
        return EndReason.BUY_IT_NOW
    if now_ms >= auction.end_ms:
        return EndReason.TIME
    return None


def winner(auction: Auction, now_ms: int) -> str | None:
    """Who bought it once it ended: the Buy It Now buyer, or the leader if the reserve is met."""
    reason = end_reason(auction, now_ms)
    if reason is EndReason.BUY_IT_NOW:
        return auction.bought_by
    if reason is EndReason.TIME and reserve_met(auction):
        top = leader(auction)
        return top.bidder if top else None
    return None


def final_price(auction: Auction, now_ms: int) -> int | None:
    reason = end_reason(auction, now_ms)
    if reason is EndReason.BUY_IT_NOW:
        return auction.buy_it_now_price
    if winner(auction, now_ms) is not None:
        return current_price(auction)
    return None


def place_bid(
    auction: Auction,
    bidder: str,
    max_amount: int,
    now_ms: int,
    proxy_bid_id: str,
    *,
    adult_consent: bool = True,
) -> BidRecord:
    """Apply one proxy bid; record it whether or not it is accepted.

    Raises ``BidRejected`` (after recording the rejected bid) when eBay would refuse it.
    """
    try:
        _check_bid(auction, bidder, max_amount, now_ms, adult_consent=adult_consent)
    except BidRejected as exc:
        auction.bids.append(
            BidRecord(
                bidder, max_amount, now_ms, proxy_bid_id, accepted=False, error_id=exc.error_id
            )
        )
        raise
    record = BidRecord(bidder, max_amount, now_ms, proxy_bid_id, accepted=True)
    auction.bids.append(record)
    auction.proxies[bidder] = Proxy(bidder, max_amount, now_ms, len(auction.bids), proxy_bid_id)
    return record


def _check_bid(
    auction: Auction, bidder: str, max_amount: int, now_ms: int, *, adult_consent: bool
) -> None:
    if auction.bought_by is not None:
        raise BidRejected(
            120002,
            "The auction was ended because the item was purchased with Buy It Now (fixed_price).",
        )
    if now_ms >= auction.end_ms:
        raise BidRejected(120012, "The auction has ended.")
    if bidder == auction.seller:
        raise BidRejected(120003, "A seller cannot place a bid.")
    if auction.adult_only and not adult_consent:
        raise BidRejected(120032, "This requires the user's consent for adult items.")
    if max_amount > MAX_BID_CENTS:
        raise BidRejected(120011, "The bid amount exceeds the limit.")
    if buy_it_now_available(auction, now_ms) and max_amount > (auction.buy_it_now_price or 0):
        raise BidRejected(120005, "The bid price cannot be greater than the Buy It Now price.")
    top = leader(auction)
    if top is not None and top.bidder == bidder and max_amount <= top.max_amount:
        raise BidRejected(
            120010,
            "You cannot lower your proxy bid.",
            {"currentMaxAmount": top.max_amount},
        )
    minimum = minimum_to_bid(auction)
    if max_amount < minimum:
        raise BidRejected(120008, "The bid amount is too low.", {"minimumBid": minimum})
