"""The simulator's state: accounts, OAuth grants, auctions, faults, bots and the clock.

One re-entrant lock guards everything, because tests call in from their own thread while the
asyncio server (maybe on another thread) serves requests.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from local.ebay_sim import engine, views
from local.ebay_sim.config import API_SCOPE, AUTH_CODE_TTL_SECONDS, BULK_ITEMS_SCOPE, SimConfig
from local.ebay_sim.engine import Auction, BidRecord
from local.ebay_sim.faults import FaultConfig, Outcome
from local.ebay_sim.notification_center import NotificationCenter

T = TypeVar("T")
# The simulator's time source, epoch milliseconds: real time unless a test injects its own.
SimClock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


_USER_TOKEN_PREFIX = "v^1.1#i^1#p^3#r^1#I^3#f^0#t^"
_APP_TOKEN_PREFIX = "v^1.1#i^1#p^1#r^0#I^3#f^0#t^"
_REFRESH_TOKEN_PREFIX = "v^1.1#i^1#r^1#p^3#I^3#f^0#t^Ul4x"
_CODE_PREFIX = "v^1.1#i^1#f^0#r^1#I^3#p^3#t^Ul41XzA6"


class ItemNotFound(LookupError):
    pass


class AdminError(ValueError):
    """A request to the admin API that cannot be carried out."""


@dataclass
class Account:
    username: str
    user_id: str
    created_ms: int
    watchlist: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AccessToken:
    token: str
    username: str | None  # None for an application token
    scopes: frozenset[str]
    expires_ms: int


@dataclass(frozen=True)
class RefreshToken:
    token: str
    username: str
    scopes: frozenset[str]
    expires_ms: int


@dataclass(frozen=True)
class AuthCode:
    code: str
    username: str
    scopes: frozenset[str]
    expires_ms: int


@dataclass
class BotAction:
    at_ms: int
    bidder: str
    cap: int
    snipe: bool


class GrantError(Exception):
    """An OAuth token request eBay would refuse; ``error`` is the RFC 6749 error code."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


_BOT_NAMES = (
    "bargain_hunter_42",
    "vintage.collector",
    "retro-gamer-88",
    "sniper_sam",
    "midnight_bidder",
    "thriftqueen",
    "camera_nut_1975",
    "deal.seeker",
)

_DEMO_LISTINGS: tuple[tuple[str, int, int | None, int | None, str], ...] = (
    ("Nintendo Game Boy Color Atomic Purple - Tested, Works", 2_500, None, None, "Used"),
    ("Canon AE-1 Program 35mm Film Camera with 50mm f/1.8 Lens", 8_000, 12_000, None, "Used"),
    ("LEGO Star Wars 75192 Millennium Falcon UCS - Sealed", 45_000, None, 79_999, "New"),
    ("Omega Seamaster Professional 300M Automatic 41mm", 120_000, 200_000, None, "Pre-owned"),
    ("Apple iPod Classic 160GB Silver (7th Gen)", 6_000, None, None, "Used"),
    ("Vintage Pyrex Butterprint Mixing Bowl Set of 4", 1_999, None, None, "Used"),
)

_SELLERS = ("vintage_finds_co", "camera-depot", "brickhouse_toys", "timepiece.traders")


class Simulator:
    def __init__(self, config: SimConfig, clock: SimClock = wall_clock_ms):
        self.config = config
        self.lock = threading.RLock()
        self._clock = clock
        self._skew_ms = 0
        self._rng = random.Random(config.seed)
        self._accounts: dict[str, Account] = {}
        self._sellers: dict[str, tuple[int, str]] = {}
        self._auctions: dict[str, Auction] = {}
        self._bots: dict[str, list[BotAction]] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._refresh_tokens: dict[str, RefreshToken] = {}
        self._codes: dict[str, AuthCode] = {}
        self._faults: dict[str, FaultConfig] = {}
        # Calls answered per eBay operation (getItem, getItems...), as eBay's quota counts them.
        self._calls: Counter[str] = Counter()
        self._next_legacy = 326_000_000_000 + (config.seed % 1000) * 1_000_000
        self._next_proxy = 0
        # eBay's push notifications: the signing key, the subscribed endpoint, deliveries.
        self.notifications = NotificationCenter()

    # -- clock ---------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The simulator clock: its time source (real time unless injected) plus the configured
        skew, in epoch milliseconds."""
        return self._clock() + self._skew_ms

    def set_skew(self, skew_ms: int) -> None:
        with self.lock:
            self._skew_ms = skew_ms

    @property
    def skew_ms(self) -> int:
        return self._skew_ms

    def locked(self, read: Callable[[], T]) -> T:
        with self.lock:
            return read()

    # -- accounts ------------------------------------------------------------------------

    def ensure_account(self, username: str) -> Account:
        with self.lock:
            account = self._accounts.get(username)
            if account is None:
                user_id = f"{self._rng.getrandbits(64):016x}"
                account = Account(username, user_id, self.now_ms())
                self._accounts[username] = account
            return account

    def accounts_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "username": a.username,
                    "userId": a.user_id,
                    "createdAt": a.created_ms,
                    "watchlist": list(a.watchlist),
                }
                for a in self._accounts.values()
            ]

    def add_to_watchlist(self, username: str, legacy_id: str) -> None:
        with self.lock:
            if legacy_id not in self._auctions:
                raise ItemNotFound(legacy_id)
            account = self.ensure_account(username)
            if legacy_id not in account.watchlist:
                account.watchlist.append(legacy_id)

    def watchlist(self, username: str) -> list[Auction]:
        """The auctions a user watches, soonest ending first (GetMyeBayBuying's default)."""
        with self.lock:
            account = self._accounts.get(username)
            if account is None:
                return []
            items = [self._auctions[i] for i in account.watchlist if i in self._auctions]
            return sorted(items, key=lambda a: a.end_ms)

    def seller_feedback(self, username: str) -> tuple[int, str]:
        with self.lock:
            feedback = self._sellers.get(username)
            if feedback is None:
                score = self._rng.randint(40, 25_000)
                percentage = f"{self._rng.uniform(97.0, 100.0):.1f}"
                feedback = (score, percentage)
                self._sellers[username] = feedback
            return feedback

    # -- OAuth ---------------------------------------------------------------------------

    def issue_code(self, username: str, scopes: frozenset[str]) -> str:
        with self.lock:
            self.ensure_account(username)
            code = _CODE_PREFIX + secrets.token_urlsafe(48)
            expires = self.now_ms() + AUTH_CODE_TTL_SECONDS * 1000
            self._codes[code] = AuthCode(code, username, scopes, expires)
            return code

    def exchange_code(self, code: str, redirect_uri: str) -> tuple[AccessToken, RefreshToken]:
        with self.lock:
            grant = self._codes.pop(code, None)
            if grant is None or grant.expires_ms <= self.now_ms():
                raise GrantError(
                    "invalid_grant",
                    "the provided authorization grant code is invalid or was issued to another"
                    " client",
                )
            if redirect_uri != self.config.ru_name:
                raise GrantError("invalid_grant", "the redirect_uri does not match the RuName")
            refresh = RefreshToken(
                _REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(64),
                grant.username,
                grant.scopes,
                self.now_ms() + self.config.refresh_token_ttl * 1000,
            )
            self._refresh_tokens[refresh.token] = refresh
            return self._issue_access(grant.username, grant.scopes), refresh

    def refresh(self, refresh_token: str, scopes: frozenset[str] | None) -> AccessToken:
        with self.lock:
            grant = self._refresh_tokens.get(refresh_token)
            if grant is None or grant.expires_ms <= self.now_ms():
                raise GrantError(
                    "invalid_grant",
                    "the provided authorization refresh token is invalid or was issued to another"
                    " client",
                )
            if scopes is not None and not scopes <= grant.scopes:
                raise GrantError(
                    "invalid_scope",
                    "The requested scope is invalid, unknown, malformed, or exceeds the scope"
                    " granted to the client",
                )
            return self._issue_access(grant.username, scopes or grant.scopes)

    def client_credentials(self, scopes: frozenset[str] | None) -> AccessToken:
        with self.lock:
            granted = scopes or frozenset({API_SCOPE})
            allowed = {API_SCOPE, BULK_ITEMS_SCOPE} if self.config.bulk_items else {API_SCOPE}
            if not granted <= allowed:
                raise GrantError(
                    "invalid_scope",
                    "The requested scope is invalid, unknown, malformed, or exceeds the scope"
                    " granted to the client",
                )
            return self._issue_access(None, granted)

    def _issue_access(self, username: str | None, scopes: frozenset[str]) -> AccessToken:
        prefix = _USER_TOKEN_PREFIX if username else _APP_TOKEN_PREFIX
        token = AccessToken(
            prefix + secrets.token_urlsafe(96),
            username,
            scopes,
            self.now_ms() + self.config.access_token_ttl * 1000,
        )
        self._tokens[token.token] = token
        return token

    def authenticate(self, token: str) -> AccessToken | None:
        """The live access token, or None when it is unknown or expired (by the sim clock)."""
        with self.lock:
            found = self._tokens.get(token)
            if found is None or found.expires_ms <= self.now_ms():
                return None
            return found

    # -- auctions ------------------------------------------------------------------------

    def create_auction(
        self,
        title: str,
        start_price: int,
        end_ms: int,
        *,
        reserve_price: int | None = None,
        buy_it_now_price: int | None = None,
        currency: str | None = None,
        seller: str | None = None,
        image_url: str | None = None,
        adult_only: bool = False,
        condition: str = "Used",
        watched_by: list[str] | None = None,
        bots: bool | None = None,
    ) -> Auction:
        if start_price <= 0:
            raise AdminError("startPrice must be a positive number of cents")
        if reserve_price is not None and reserve_price < start_price:
            raise AdminError("reservePrice must not be below startPrice")
        if buy_it_now_price is not None and buy_it_now_price <= max(
            start_price, reserve_price or 0
        ):
            raise AdminError("buyItNowPrice must be above the start and reserve prices")
        with self.lock:
            legacy_id = str(self._next_legacy)
            self._next_legacy += 1
            seller_name = seller or self._rng.choice(_SELLERS)
            self.seller_feedback(seller_name)
            auction = Auction(
                legacy_id=legacy_id,
                title=title,
                start_price=start_price,
                end_ms=end_ms,
                seller=seller_name,
                currency=currency or self.config.currency,
                reserve_price=reserve_price,
                buy_it_now_price=buy_it_now_price,
                image_url=image_url,
                adult_only=adult_only,
                condition=condition,
                condition_id=_CONDITION_IDS.get(condition, "3000"),
                created_ms=self.now_ms(),
            )
            self._auctions[legacy_id] = auction
            for username in watched_by or []:
                self.add_to_watchlist(username, legacy_id)
            if self.config.bots if bots is None else bots:
                self._bots[legacy_id] = self._plan_bots(auction)
            return auction

    def auction(self, legacy_id: str) -> Auction:
        """The live auction object; read it while holding ``lock``."""
        with self.lock:
            found = self._auctions.get(legacy_id)
            if found is None:
                raise ItemNotFound(legacy_id)
            return found

    def auction_json(self, legacy_id: str) -> dict[str, Any]:
        with self.lock:
            auction = self.auction(legacy_id)
            watchers = [a.username for a in self._accounts.values() if legacy_id in a.watchlist]
            return views.admin_json(auction, self.now_ms(), watchers)

    def auctions_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.auction_json(legacy_id) for legacy_id in self._auctions]

    def place_bid(
        self,
        legacy_id: str,
        bidder: str,
        max_amount: int,
        *,
        adult_consent: bool = True,
        at_ms: int | None = None,
    ) -> BidRecord:
        """Run one proxy bid through the engine, received at ``at_ms`` (default now), but never
        before a bid already on the auction; raises ``ItemNotFound`` or ``BidRejected``."""
        with self.lock:
            auction = self.auction(legacy_id)
            self.ensure_account(bidder)
            self._next_proxy += 1
            proxy_bid_id = str(4_100_000_000 + self._next_proxy)
            received = self.now_ms() if at_ms is None else at_ms
            if auction.bids:
                received = max(received, auction.bids[-1].received_at)
            return engine.place_bid(
                auction,
                bidder,
                max_amount,
                received,
                proxy_bid_id,
                adult_consent=adult_consent,
            )

    def buy_it_now(self, legacy_id: str, buyer: str) -> None:
        with self.lock:
            auction = self.auction(legacy_id)
            now = self.now_ms()
            if not engine.buy_it_now_available(auction, now):
                raise AdminError("Buy It Now is not available on this auction")
            if buyer == auction.seller:
                raise AdminError("the seller cannot buy their own item")
            self.ensure_account(buyer)
            auction.bought_by = buyer
            auction.bought_at = now

    # -- faults --------------------------------------------------------------------------

    def set_fault(self, fault: FaultConfig) -> None:
        with self.lock:
            self._faults[fault.endpoint] = fault

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def faults_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.to_json() for f in self._faults.values()]

    def count_call(self, operation: str) -> None:
        with self.lock:
            self._calls[operation] += 1

    def calls_json(self) -> dict[str, int]:
        with self.lock:
            return dict(sorted(self._calls.items()))

    def draw_fault(self, endpoint: str) -> Outcome | None:
        with self.lock:
            fault = self._faults.get(endpoint) or self._faults.get("*")
            return fault.draw(endpoint) if fault else None

    # -- bots ----------------------------------------------------------------------------

    def _plan_bots(self, auction: Auction) -> list[BotAction]:
        """Competing bidders for one auction, the same for the same seed and item."""
        rng = random.Random(f"{self.config.seed}:{auction.legacy_id}")
        names = rng.sample(_BOT_NAMES, rng.randint(1, 3))
        start_at = auction.created_ms
        duration = max(auction.end_ms - start_at, 1_000)
        anchor = max(auction.start_price, auction.reserve_price or 0)
        actions: list[BotAction] = []
        for name in names:
            cap = int(anchor * rng.uniform(0.9, 2.2))
            if auction.buy_it_now_price is not None:
                cap = min(cap, auction.buy_it_now_price)
            if rng.random() < 0.5:
                seconds_before = rng.uniform(1.0, min(10.0, duration / 1000))
                actions.append(
                    BotAction(auction.end_ms - int(seconds_before * 1000), name, cap, True)
                )
            else:
                for _ in range(rng.randint(2, 5)):
                    at = start_at + int(duration * rng.uniform(0.05, 0.85))
                    actions.append(BotAction(at, name, cap, False))
        return sorted(actions, key=lambda a: a.at_ms)

    def run_bots(self) -> int:
        """Fire every bot bid that is due; returns how many bids were attempted."""
        fired = 0
        with self.lock:
            now = self.now_ms()
            for legacy_id, actions in self._bots.items():
                auction = self._auctions[legacy_id]
                while actions and actions[0].at_ms <= now:
                    action = actions.pop(0)
                    if engine.is_ended(auction, now):
                        actions.clear()
                        break
                    amount = self._bot_amount(auction, action)
                    if amount is None:
                        continue
                    fired += 1
                    # A refused bot bid is recorded by the engine, like anyone's.
                    with contextlib.suppress(engine.BidRejected):
                        self.place_bid(legacy_id, action.bidder, amount)
        return fired

    @staticmethod
    def _bot_amount(auction: Auction, action: BotAction) -> int | None:
        top = engine.leader(auction)
        if top is not None and top.bidder == action.bidder:
            return None
        minimum = engine.minimum_to_bid(auction)
        if minimum > action.cap:
            return None
        return action.cap if action.snipe else minimum

    # -- demo ----------------------------------------------------------------------------

    def seed_demo(self, watcher: str) -> list[Auction]:
        """Six realistic auctions ending over the next 2-15 minutes in ``watcher``'s watch list."""
        with self.lock:
            self.ensure_account(watcher)
            now = self.now_ms()
            created = []
            for index, (title, start, reserve, bin_price, condition) in enumerate(_DEMO_LISTINGS):
                minutes = 2 + index * 13 / (len(_DEMO_LISTINGS) - 1)
                created.append(
                    self.create_auction(
                        title,
                        start,
                        now + int(minutes * 60_000),
                        reserve_price=reserve,
                        buy_it_now_price=bin_price,
                        condition=condition,
                        watched_by=[watcher],
                        bots=True,
                    )
                )
            return created


_CONDITION_IDS = {"New": "1000", "Open box": "1500", "Pre-owned": "3000", "Used": "3000"}
