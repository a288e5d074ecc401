"""A world in which the money path can be driven step by step: the user's API calls through the
real logic of ``rest/logic/bids.py``, bid executor runs of
``workers.logic.snipe_engine.SnipeEngine``, eBay's auction engine (the simulator's
``Simulator``, in this process) and one fake clock that all of them read. Nothing sleeps for
real.

How a run is driven: each ``SnipeEngine.run`` has a thread of its own, and its ``sleep`` port hands
a baton back to the test's thread (two semaphores), so the runs and the test form deterministic
coroutines: exactly one thread moves at a time. ``Run.step`` resumes a run until its next sleep
(or its end); the clock moves only when the test says time passes. A call to eBay that times out
is a sleep of its own inside the call, so other actors can act while a bid is unanswered.

The engine is used through its public surface only (constructor ports and ``run``), and API
answers are a 2xx (the function returned) or not (it raised a ``DomainError``, e.g. a 409
``ConflictError``/``SnipeSealedError``): see ``World.make_engine`` and ``World.create_snipe``
if either changes.

The invariants, I1-I6 of ``test_money_path_model.py``'s docstring, are
``World.check_invariants`` (after every step), ``World.check_settled`` (once everything has
run its course) and, for I6, ``World.retry_create`` itself.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from types import SimpleNamespace

import httpx
from pydantic import SecretStr

from common.data.bids import BidsRepository
from common.data.users import UsersRepository
from common.ebay.browse import item_from
from common.ebay.errors import (
    DeadlineExceeded,
    EbayError,
    EbayRateLimited,
    EbayUnavailable,
    ItemNotFound,
    error_for,
)
from common.ebay.models import BiddingStatus, ClockSample, EbayItem, Money, ProxyBidResult
from common.ebay.offer import PreparedBid, bidding_from
from common.errors import DomainError
from common.models import FREEZE_WINDOW_SECONDS, BidEntity, BidStatus
from common.scheduling import needs_immediate_invoke, wake_minute
from local.ebay_sim import engine as auction_engine
from local.ebay_sim import views
from local.ebay_sim.buy_api import legacy_from_item_id
from local.ebay_sim.engine import Auction, BidRecord
from local.ebay_sim.faults import Outcome
from local.ebay_sim.money import format_amount
from local.ebay_sim.simulator import ItemNotFound as SimItemNotFound
from local.ebay_sim.simulator import Simulator
from local.ebay_sim.testing import TEST_CONFIG
from rest.logic.bids import NewSnipe, cancel_snipe, create_snipe, update_snipe
from tests.dynamo_faults import LateWrites
from tests.engine_support import group_ports, linked_profile
from tests.fakes import roomy_cap
from tests.slow_database import SlowDatabase
from workers.logic.snipe_engine import SnipeEngine

# A fake epoch far from today's: nothing may depend on the real time.
START_EPOCH_S = 1_900_000_000.0
OUR_EBAY_USER = "sniper_sam"
RIVAL = "bargain_hunter_42"
START_PRICE = 1_000
HISTORY_TTL_DAYS = 30
# Lambda's Timeout of the bid executor (template.yaml); a run resumed after it is dead.
LAMBDA_TIMEOUT_S = 300
# Fewer aimed clock probes than production's 18: each is a step, and the timing is not what
# these tests are about.
EDGE_PROBES = 2
# The client's default read timeout (common.ebay.config.Timeouts.read).
DEFAULT_READ_TIMEOUT_S = 5.0
# How long eBay's answer takes to come back (it handles a request the instant it is sent).
LATENCY_S = 0.03
# Lambda retries a failed asynchronous invocation once, about a minute later, with the same
# request id (the executor's execution id).
LAMBDA_RETRY_AFTER_S = 60
# A run that resends for a whole 30 s lead against an eBay that always fails takes about 1,200
# steps (an answer and a pause each); Lambda's timeout stops it after 300 s. More steps than
# this without the run's end is a loop.
MAX_RUN_STEPS = 3_000
MAX_WORLD_STEPS = 50_000
STEP_REAL_TIMEOUT_S = 60.0
# The engine asks a minute apart after an hour of not knowing: "within an hour" plus that.
SETTLE_AFTER_END_S = 3600 + 120
# Each API call takes a millisecond: snipes created in one step get ordered ids.
API_CALL_S = 0.001


class FakeClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, start: float = START_EPOCH_S) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def advance_to(self, instant: float) -> None:
        self.now = max(self.now, instant)


# ---------------------------------------------------------------------------------- eBay


@dataclass(frozen=True)
class Answer:
    """What eBay does with one request: ``outcome`` is the simulator's fault shape (an error
    status, or a hang the client gives up on); ``reaches_ebay`` makes a bid be applied by the
    auction engine before that failure (eBay took it, the answer was lost)."""

    outcome: Outcome
    reaches_ebay: bool = False
    refusal_id: int | None = None  # an Offer API errorId to answer instead (not applied)

    @property
    def fails(self) -> bool:
        return (
            self.outcome.status is not None
            or self.outcome.hang_ms is not None
            or self.refusal_id is not None
        )


ACCEPT = Answer(Outcome(0))


class EbayScript:
    """Answers queued per endpoint ("place_proxy_bid", "get_bidding", "browse"); with none
    queued, the simulator's own fault injection (``Simulator.set_fault``) decides."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.queued: dict[str, deque[Answer]] = {}

    def queue(self, endpoint: str, answer: Answer, times: int = 1) -> None:
        self.queued.setdefault(endpoint, deque()).extend([answer] * times)

    def clear(self) -> None:
        self.queued.clear()

    def draw(self, endpoint: str) -> Answer:
        queued = self.queued.get(endpoint)
        if queued:
            return queued.popleft()
        outcome = self.sim.draw_fault(endpoint)
        return Answer(outcome) if outcome is not None else ACCEPT


class InProcessEbay:
    """The engine's eBay port (``EbayBidding``) and the API's ``AuctionLookup``, answered by the
    simulator in this process. eBay handles a request the instant it is sent; its answer takes
    ``LATENCY_S`` to come back, and an answer that never comes costs the caller its timeout.
    Both are slept through the run's own ``sleep``, so they are steps of their own: other actors
    act meanwhile, and a run may be killed with its bid taken but not yet answered. eBay's JSON
    (the simulator's views) is read by the client's own readers, so a change of the client's
    models needs none here."""

    def __init__(self, world: World, sleep: Callable[[float], None] | None = None) -> None:
        self.world = world
        self.sim = world.sim
        self._sleep = sleep

    # -- AuctionLookup (the API's create)

    def get_item_by_legacy_id(self, legacy_item_id: str) -> EbayItem:
        with self.sim.lock:
            try:
                auction = self.sim.auction(legacy_item_id)
            except SimItemNotFound as exc:
                raise ItemNotFound("no such item", error_id=11001, http_status=404) from exc
            body = views.item_json(
                auction,
                self.sim.now_ms(),
                "http://ebay.invalid",
                self.sim.seller_feedback(auction.seller),
            )
        return item_from(body)

    # -- EbayBidding (the engine)

    def probe_clock(self, n: int = 5, *, deadline: float | None = None) -> list[ClockSample]:
        samples: list[ClockSample] = []
        for _ in range(n):
            if deadline is not None and self._now() >= deadline:
                break
            answer = self.world.script.draw("browse")
            if answer.outcome.hang_ms is not None:
                self._unanswered(answer, deadline, None)
                continue
            sample = self._sample("probe_clock", answer.outcome.status or 401)
            self._answer_travels()
            samples.append(sample.model_copy(update={"received_ms": self._now_ms()}))
        if not samples:
            raise EbayUnavailable("no clock sample from eBay", maybe_processed=False)
        return samples

    def prepare_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
    ) -> PreparedBid:
        request = httpx.Request("POST", f"http://ebay.invalid/bidding/{item_id}/place_proxy_bid")
        return PreparedBid(item_id, max_amount, adult_only, request)

    def place_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
        deadline: float | None = None,
        *,
        retry_on_timeout: bool = False,
        read_timeout: float | None = None,
        prepared: PreparedBid | None = None,
    ) -> ProxyBidResult:
        if prepared is not None and (
            prepared.item_id,
            prepared.max_amount,
            prepared.adult_only,
        ) != (item_id, max_amount, adult_only):
            raise ValueError("the prepared bid is for another item or amount")
        if deadline is not None and self._now() >= deadline:
            raise DeadlineExceeded("place_proxy_bid: deadline passed", maybe_processed=False)
        answer = self.world.script.draw("place_proxy_bid")
        legacy_id = legacy_from_item_id(item_id) or ""
        record: BidRecord | None = None
        refusal: EbayError | None = None
        if answer.refusal_id is None and (not answer.fails or answer.reaches_ebay):
            record, refusal = self._apply_bid(legacy_id, max_amount)
        if answer.outcome.hang_ms is not None:
            self._unanswered(answer, deadline, read_timeout)
            raise EbayUnavailable("place_proxy_bid: ReadTimeout", maybe_processed=True)
        sample = self._sample("place_proxy_bid", answer.outcome.status or 200)
        self._answer_travels()
        if answer.outcome.status is not None:
            raise _status_error(answer.outcome.status)
        if answer.refusal_id is not None:
            raise error_for(answer.refusal_id, "refused (scripted)", http_status=409)
        if refusal is not None:
            raise refusal
        assert record is not None
        timing = sample.model_copy(update={"received_ms": self._now_ms()})
        return ProxyBidResult(proxy_bid_id=record.proxy_bid_id, timing=timing)

    def get_bidding(
        self, access_token: str | SecretStr, item_id: str, *, deadline: float | None = None
    ) -> BiddingStatus:
        answer = self.world.script.draw("get_bidding")
        if answer.outcome.hang_ms is not None:
            self._unanswered(answer, deadline, None)
            raise EbayUnavailable("get_bidding: ReadTimeout", maybe_processed=True)
        legacy_id = legacy_from_item_id(item_id) or ""
        with self.sim.lock:
            auction = self.sim.auction(legacy_id)
            body = None
            if OUR_EBAY_USER in auction.proxies:
                body = views.bidding_json(auction, OUR_EBAY_USER, self.sim.now_ms())
        self._answer_travels()
        if answer.outcome.status is not None:
            raise _status_error(answer.outcome.status)
        if answer.refusal_id is not None:
            raise error_for(answer.refusal_id, "refused (scripted)", http_status=409)
        if body is None:
            raise error_for(120033, "no bidding activity", http_status=404)
        return bidding_from(body)

    # -- internals

    def _apply_bid(
        self, legacy_id: str, max_amount: Money
    ) -> tuple[BidRecord | None, EbayError | None]:
        with self.sim.lock:
            auction = self.sim.auction(legacy_id)
            try:
                return self.sim.place_bid(legacy_id, OUR_EBAY_USER, max_amount.amount), None
            except auction_engine.BidRejected as exc:
                parameters = {name: format_amount(c) for name, c in exc.amounts.items()}
                if parameters:
                    parameters["currency"] = auction.currency
                status = 400 if exc.error_id in (120011, 120013, 120014, 120016) else 409
                return None, error_for(
                    exc.error_id, exc.message, http_status=status, parameters=parameters
                )

    def _unanswered(self, answer: Answer, deadline: float | None, read: float | None) -> None:
        """The caller waits for its read timeout (or its deadline), then gives up."""
        wait = DEFAULT_READ_TIMEOUT_S if read is None else read
        if answer.outcome.hang_ms is not None:
            wait = min(wait, answer.outcome.hang_ms / 1000)
        if deadline is not None:
            wait = min(wait, max(deadline - self._now(), 0.001))
        self._wait(wait)

    def _answer_travels(self) -> None:
        self._wait(LATENCY_S)

    def _wait(self, seconds: float) -> None:
        if self._sleep is None:
            raise AssertionError("a call to eBay that takes time, outside a run")
        self._sleep(seconds)

    def _sample(self, operation: str, status: int) -> ClockSample:
        """When it was sent, and eBay's Date: eBay's clock at that instant."""
        now_ms = self._now_ms()
        return ClockSample(
            operation=operation,
            sent_ms=now_ms,
            received_ms=now_ms,
            server_date_seconds=self.sim.now_ms() // 1000,
            http_status=status,
        )

    def _now(self) -> float:
        return self.world.clock()

    def _now_ms(self) -> int:
        return round(self.world.clock() * 1000)


def _status_error(status: int) -> EbayError:
    """What the client raises for one attempt answered ``status`` that it has no time or
    permission to retry (``place_proxy_bid`` uses ``retry_on_timeout=False``)."""
    if status == 429:
        return EbayRateLimited("Too many requests", retry_after=1.0, http_status=429)
    # 503 is a refusal to serve; 500/502/504 may come after eBay acted on the request.
    return EbayUnavailable(f"HTTP {status}", maybe_processed=status != 503, http_status=status)


# ---------------------------------------------------------------------------------- schedules


@dataclass
class Delivery:
    at: float
    bid_id: str
    purpose: str  # "snipe" or "outcome"


class RecordingScheduler:
    """``SnipeScheduler``: schedules are deliveries the world makes when their instant comes
    (at the start of the scheduled minute); an immediate invoke is a run that may start now."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.pending: dict[tuple[str, str], Delivery] = {}

    def wake(self, user_id: str, bid_id: str, fire_at: int, now: float) -> str:
        if needs_immediate_invoke(fire_at, now):
            self.world.deliver(bid_id)
            return "invoke"
        self.pending[(bid_id, "snipe")] = Delivery(wake_minute(fire_at), bid_id, "snipe")
        return "schedule"

    def check_outcome_at(self, user_id: str, bid_id: str, at: int) -> None:
        self.pending[(bid_id, "outcome")] = Delivery(at, bid_id, "outcome")

    def cancel(self, bid_ids: Iterable[str]) -> None:
        for bid_id in bid_ids:
            self.pending.pop((bid_id, "snipe"), None)
            self.pending.pop((bid_id, "outcome"), None)

    def next_at(self) -> float | None:
        return min((d.at for d in self.pending.values()), default=None)

    def take_due(self, now: float) -> list[Delivery]:
        due = sorted((d for d in self.pending.values() if d.at <= now), key=lambda d: d.at)
        for delivery in due:
            del self.pending[(delivery.bid_id, delivery.purpose)]
        return due


# ---------------------------------------------------------------------------------- runs


class _Killed(BaseException):
    """Raised inside a run's thread when its Lambda is stopped: it unwinds and does nothing
    more (a BaseException, so no handler of the engine can take it for an error of its own)."""


class Run:
    """One invocation of the bid executor, as a coroutine on a thread of its own."""

    def __init__(
        self, world: World, bid_id: str, execution_id: str, number: int, retry_of: Run | None
    ) -> None:
        self.world = world
        self.bid_id = bid_id
        self.execution_id = execution_id
        self.number = number
        self.retry_of = retry_of
        self.started = world.clock()
        self.wake_at = self.started
        self.steps = 0
        self.state = "new"  # new, waiting, done, killed
        self.result: str | None = None
        self.error: BaseException | None = None
        self._kill = False
        self._go = threading.Semaphore(0)
        self._back = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._main, name=f"run-{number}", daemon=True)
        self.engine = world.make_engine(self)

    def __repr__(self) -> str:
        retry = f" (retry of {self.retry_of.number})" if self.retry_of else ""
        return (
            f"<run {self.number}{retry} of snipe {self.bid_id[-6:]}: {self.state}, "
            f"result {self.result}, wakes {self.wake_at:.3f}>"
        )

    @property
    def alive(self) -> bool:
        return self.state in ("new", "waiting")

    @property
    def lambda_deadline(self) -> float:
        return self.started + LAMBDA_TIMEOUT_S

    @property
    def next_event(self) -> float:
        """When this run next does something: it wakes, or its Lambda stops it."""
        return min(self.wake_at, self.lambda_deadline)

    # -- ports the engine gets

    def sleep(self, seconds: float) -> None:
        self.wake_at = self.world.clock() + max(0.0, seconds)
        self.state = "waiting"
        self._back.release()
        self._go.acquire()
        if self._kill:
            raise _Killed

    def remaining_ms(self) -> int:
        return int((self.lambda_deadline - self.world.clock()) * 1000)

    # -- driven by the test's thread

    def step(self) -> None:
        """Resume the run until it sleeps again or ends (or kill it, past its Lambda's end)."""
        assert self.alive, f"{self!r} is not alive"
        if self.world.clock() >= self.lambda_deadline:
            self.kill()
            return
        self.steps += 1
        if self.steps > MAX_RUN_STEPS:
            self.world.failed = True
            raise AssertionError(f"I5: {self!r} took more than {MAX_RUN_STEPS} steps: it loops")
        self._resume()
        if self.error is not None:
            self.world.failed = True
            raise AssertionError(f"{self!r} raised {self.error!r}") from self.error

    def kill(self) -> None:
        """The Lambda is stopped where the run waits (or before it started): it never does
        anything again, and Lambda retries the invocation once (``World.retry_killed``)."""
        if not self.alive:
            return
        self._kill = True
        if self.state == "new":
            self.state = "killed"
        else:
            self._resume()
        self.world.retry_killed(self)

    def _resume(self) -> None:
        if self.state == "new":
            self._thread.start()
        self._go.release()
        if not self._back.acquire(timeout=STEP_REAL_TIMEOUT_S):
            self.world.failed = True
            raise AssertionError(
                f"I5: {self!r} neither waited nor ended within {STEP_REAL_TIMEOUT_S} s of real "
                "time: it loops without waiting"
            )

    def _main(self) -> None:
        self._go.acquire()
        try:
            if not self._kill:
                self.result = self.engine.run(self.world.user_id, self.bid_id)
        except _Killed:
            pass
        except BaseException as exc:
            self.error = exc
        finally:
            self.state = "killed" if self._kill else "done"
            self._back.release()


# ---------------------------------------------------------------------------------- world


@dataclass
class SnipeModel:
    """What the user was told about one snipe (and the auction it is for)."""

    bid_id: str
    legacy_id: str
    group: str | None
    end_s: float  # the auction's end, on our clock
    api_max: int  # the maximum of the last change that returned 2xx
    cancelled_ok: bool = False
    # The create as the client sent it (its Idempotency-Key, maximum, lead, group): what its
    # retry sends again.
    create: NewSnipe | None = None
    api_log: list[str] = field(default_factory=list)
    # The longest lead the snipe had: its run may have armed itself with the freeze instant of
    # that version.
    longest_lead: int = 0

    def lateness(self, now: float) -> float:
        """How far past the earliest freeze instant any version of the snipe had ``now`` is
        (positive: inside a freeze window the snipe once had, where a 2xx change races the
        executor)."""
        return now - (self.end_s - self.longest_lead - FREEZE_WINDOW_SECONDS)


@dataclass(frozen=True)
class ApiAnswer:
    ok: bool  # 2xx
    error: DomainError | None = None
    bid: BidEntity | None = None


class World:
    def __init__(self, bids: BidsRepository, users: UsersRepository, *, skew_ms: int = 0) -> None:
        self.bids = bids
        self.users = users
        self.clock = FakeClock()
        self.sim = Simulator(TEST_CONFIG, clock=lambda: round(self.clock() * 1000))
        self.sim.set_skew(skew_ms)
        self.sim.ensure_account(OUR_EBAY_USER)
        self.script = EbayScript(self.sim)
        self.lookup = InProcessEbay(self)
        self.scheduler = RecordingScheduler(self)
        # One user per world: worlds share the tables of a test, never a snipe or a guard.
        self.user_id = f"user-{uuid.uuid4().hex[:12]}"
        linked_profile(self.user_id, OUR_EBAY_USER)
        self._group_ports = group_ports()
        # Writes DynamoDB applies and answers too late, sent again (every actor's: one client).
        self.late_writes = LateWrites(bids.client)
        # Calls of the executors' that get no answer in time at all (RetryableError).
        self.slow = SlowDatabase()
        self.snipes: dict[str, SnipeModel] = {}
        self._creates = itertools.count(1)  # each create's Idempotency-Key
        self.runs: list[Run] = []
        self.notified: list[tuple[str, str]] = []
        self.failed = False
        self.closing = False
        # For each change that returned 2xx: SnipeModel.lateness when it was made.
        self.late_changes: list[float] = []
        self._numbers = itertools.count(1)
        # Lambda's retries of killed invocations: (when, the killed run).
        self._retries: list[tuple[float, Run]] = []

    # -- ports

    def make_engine(self, run: Run) -> SnipeEngine:
        """The one place that builds the executor: its constructor is the surface used."""
        return SnipeEngine(
            bids=self.slow.port(self.bids, run.sleep),
            ebay=InProcessEbay(self, run.sleep),
            tokens=self.slow.tokens(self._token, run.sleep),
            scheduler=self.scheduler,
            notify=lambda kind, user_id, bid_id: self.notified.append((kind, bid_id)),
            history_ttl_days=HISTORY_TTL_DAYS,
            **{name: self.slow.port(port, run.sleep) for name, port in self._group_ports.items()},
            clock=self.clock,
            sleep=run.sleep,
            remaining_ms=run.remaining_ms,
            execution_id=run.execution_id,
            edge_probes=EDGE_PROBES,
        )

    @staticmethod
    def _token(user_id: str, valid_until: int, force_refresh: bool = False) -> SecretStr:
        return SecretStr("sim-access-token")

    # -- the auctions (eBay's side)

    def auction(self, legacy_id: str) -> Auction:
        return self.sim.auction(legacy_id)

    def auction_end_s(self, auction: Auction) -> float:
        """The auction's end on our clock."""
        return (auction.end_ms - self.sim.skew_ms) / 1000

    def sniped(self, auction: Auction) -> bool:
        return any(s.legacy_id == auction.legacy_id for s in self.snipes.values())

    def open_auction(self, end_s: float) -> Auction:
        """An auction ending at ``end_s`` on our clock (eBay's clock says so plus its skew)."""
        end_ms = round(end_s * 1000) + self.sim.skew_ms
        return self.sim.create_auction("Leica M3", START_PRICE, end_ms, seller="camera-depot")

    def rival_bids(self, snipe: SnipeModel, amount: int) -> bool:
        with suppress(auction_engine.BidRejected):
            self.sim.place_bid(snipe.legacy_id, RIVAL, amount)
            return True
        return False

    def our_bids(self, snipe: SnipeModel) -> list[BidRecord]:
        """Every bid of ours that reached eBay for this snipe, accepted or refused."""
        with self.sim.lock:
            return [b for b in self.auction(snipe.legacy_id).bids if b.bidder == OUR_EBAY_USER]

    def ebay_holds_our_bid(self, snipe: SnipeModel) -> bool:
        with self.sim.lock:
            return OUR_EBAY_USER in self.auction(snipe.legacy_id).proxies

    def we_won_on_ebay(self, snipe: SnipeModel) -> bool:
        with self.sim.lock:
            auction = self.auction(snipe.legacy_id)
            return auction_engine.winner(auction, self.sim.now_ms()) == OUR_EBAY_USER

    # -- the user's API calls (the logic functions the routes call)

    def create_snipe(
        self,
        *,
        end_s: float | None = None,
        auction: Auction | None = None,
        max_bid: int = 5_000,
        lead: int | None = 6,
        group: str | None = None,
    ) -> tuple[SnipeModel | None, ApiAnswer]:
        """POST /bids on ``auction``, or on a new one ending at ``end_s`` (our clock)."""
        if auction is None:
            assert end_s is not None
            auction = self.open_auction(end_s)
        end_s = self.auction_end_s(auction)
        key = f"create-{next(self._creates)}"
        request = NewSnipe(auction.legacy_id, max_bid, "USD", lead, group, key)
        answer = self._post_snipe(request)
        if not answer.ok:
            return None, answer
        assert answer.bid is not None
        snipe = SnipeModel(answer.bid.bidId, auction.legacy_id, group, end_s, max_bid)
        snipe.create = request
        snipe.longest_lead = answer.bid.leadSeconds
        snipe.api_log.append(f"created at {self.rel(end_s)}: max {max_bid}, lead {lead}")
        self.snipes[answer.bid.bidId] = snipe
        return snipe, answer

    def retry_create(self, snipe: SnipeModel) -> ApiAnswer:
        """POST /bids again with the create's request and Idempotency-Key: the client's retry
        of a create whose answer it lost (the dashboard's ``postOnce``), at any time later. I6:
        it is answered with that snipe (as it is now), or refused; it never makes another."""
        assert snipe.create is not None
        answer = self._post_snipe(snipe.create)
        made = answer.bid.bidId if answer.bid else None
        snipe.api_log.append(f"create retried at {self.rel(snipe.end_s)}: {made or answer.error}")
        assert made in (None, snipe.bid_id), (
            f"I6: the retry of the create of snipe {snipe.bid_id} with its Idempotency-Key made "
            f"another snipe, {made}; {snipe.api_log}"
        )
        return answer

    def _post_snipe(self, request: NewSnipe) -> ApiAnswer:
        try:
            bid, _warnings = create_snipe(
                self.user_id,
                request,
                SimpleNamespace(
                    users=self.users,
                    bids=self.bids,
                    scheduler=self.scheduler,
                    snipe_cap=roomy_cap(),
                ),
                self.lookup,
                self.clock,
                HISTORY_TTL_DAYS,
            )
        except DomainError as exc:
            return ApiAnswer(False, exc)
        finally:
            self.clock.advance(API_CALL_S)
        return ApiAnswer(True, bid=bid)

    def update_snipe(
        self, snipe: SnipeModel, *, max_bid: int | None = None, lead: int | None = None
    ) -> ApiAnswer:
        try:
            bid = update_snipe(
                self.user_id,
                snipe.bid_id,
                max_bid,
                lead,
                self.bids,
                self.clock,
                HISTORY_TTL_DAYS,
                self.scheduler,
            )
        except DomainError as exc:
            snipe.api_log.append(
                f"PUT max={max_bid} lead={lead} at {self.rel(snipe.end_s)}: {type(exc).__name__}"
            )
            return ApiAnswer(False, exc)
        finally:
            self.clock.advance(API_CALL_S)
        snipe.api_log.append(f"PUT max={max_bid} lead={lead} at {self.rel(snipe.end_s)}: 2xx")
        self.late_changes.append(snipe.lateness(self.clock()))
        if max_bid is not None:
            snipe.api_max = max_bid
        if lead is not None:
            snipe.longest_lead = max(snipe.longest_lead, lead)
        return ApiAnswer(True, bid=bid)

    def cancel_snipe(self, snipe: SnipeModel) -> ApiAnswer:
        try:
            bid = cancel_snipe(
                self.user_id,
                snipe.bid_id,
                self.bids,
                self.clock,
                HISTORY_TTL_DAYS,
                self.scheduler,
            )
        except DomainError as exc:
            snipe.api_log.append(f"DELETE at {self.rel(snipe.end_s)}: {type(exc).__name__}")
            return ApiAnswer(False, exc)
        finally:
            self.clock.advance(API_CALL_S)
        snipe.api_log.append(f"DELETE at {self.rel(snipe.end_s)}: 2xx")
        self.late_changes.append(snipe.lateness(self.clock()))
        snipe.cancelled_ok = True
        return ApiAnswer(True, bid=bid)

    def stored(self, snipe: SnipeModel) -> BidEntity:
        bid = self.bids.get(self.user_id, snipe.bid_id)
        assert bid is not None, f"snipe {snipe.bid_id} is gone"
        return bid

    def rel(self, end_s: float) -> str:
        """Now, relative to an end: "end-36.000s"."""
        return f"end{self.clock() - end_s:+.3f}s"

    # -- the executor

    def deliver(self, bid_id: str, retry_of: Run | None = None) -> Run:
        """An invocation of the executor for this snipe (a schedule, an immediate invoke, a
        duplicate delivery, or Lambda's retry of a killed run, with its execution id)."""
        number = next(self._numbers)
        execution_id = retry_of.execution_id if retry_of else f"exec-{number}"
        run = Run(self, bid_id, execution_id, number, retry_of)
        self.runs.append(run)
        return run

    def retry_killed(self, run: Run) -> None:
        """Lambda retries a failed asynchronous invocation once, a minute later."""
        if run.retry_of is None and not self.closing:
            self._retries.append((self.clock() + LAMBDA_RETRY_AFTER_S, run))

    def runs_of(self, snipe: SnipeModel) -> list[Run]:
        return [r for r in self.runs if r.bid_id == snipe.bid_id]

    def alive_runs(self) -> list[Run]:
        return [r for r in self.runs if r.alive]

    def waiting_runs(self) -> list[Run]:
        """Runs that have started and wait (a sleep, or an answer from eBay)."""
        return [r for r in self.runs if r.state == "waiting"]

    def due_runs(self) -> list[Run]:
        now = self.clock()
        return sorted(
            (r for r in self.runs if r.alive and r.next_event <= now),
            key=lambda r: (r.next_event, r.number),
        )

    def deliver_due(self) -> None:
        now = self.clock()
        for delivery in self.scheduler.take_due(now):
            self.deliver(delivery.bid_id)
        due = [(at, run) for at, run in self._retries if at <= now]
        self._retries = [(at, run) for at, run in self._retries if at > now]
        for _at, run in due:
            self.deliver(run.bid_id, retry_of=run)

    def next_delivery_at(self) -> float | None:
        instants = [at for at, _run in self._retries]
        scheduled = self.scheduler.next_at()
        if scheduled is not None:
            instants.append(scheduled)
        return min(instants, default=None)

    def run_until(self, instant: float, *, check: bool = True) -> None:
        """Time passes until ``instant``: schedules are delivered and runs resumed at their own
        instants, in order, each as soon as it is due (the executors keep time)."""
        for _ in range(MAX_WORLD_STEPS):
            self.deliver_due()
            due = self.due_runs()
            if due:
                due[0].step()
                if check:
                    self.check_invariants(records=False)
                continue
            upcoming = [r.next_event for r in self.alive_runs()]
            delivery = self.next_delivery_at()
            if delivery is not None:
                upcoming.append(delivery)
            if not upcoming or min(upcoming) > instant:
                self.clock.advance_to(instant)
                return
            self.clock.advance_to(min(upcoming))
        raise AssertionError(
            f"I5: the world did not settle in {MAX_WORLD_STEPS} steps: runs {self.alive_runs()}, "
            f"schedules {list(self.scheduler.pending.values())}, retries {self._retries}, "
            f"now {self.clock():.3f}"
        )

    def settle(self, *, check: bool = True) -> None:
        """eBay recovers; everything runs its course until an hour after the last end. Calls
        DynamoDB is to leave unanswered (at most a few) still are: they are met on the way."""
        self.sim.clear_faults()
        self.script.clear()
        if self.snipes:
            last_end = max(s.end_s for s in self.snipes.values())
            self.run_until(last_end + SETTLE_AFTER_END_S, check=check)

    def close(self) -> None:
        """Stop every run's thread (a test's end, passed or failed)."""
        self.closing = True
        for run in self.runs:
            with suppress(AssertionError):
                run.kill()
        self.late_writes.close()

    # -- the invariants

    def check_invariants(self, *, records: bool = True) -> None:
        """I1-I4. eBay's side is read after every step; the records (a read of the table each)
        with ``records``, after every rule: the states I3 forbids are final but PENDING, so a
        rule's end still finds what one of its steps did."""
        try:
            self._check_invariants(records)
        except AssertionError:
            self.failed = True
            raise

    def _check_invariants(self, records: bool) -> None:
        held: list[SnipeModel] = []
        for snipe in self.snipes.values():
            ours = self.our_bids(snipe)
            if snipe.cancelled_ok:
                assert not ours, (
                    f"I1: the cancel of snipe {snipe.bid_id} returned 2xx, yet eBay received "
                    f"{_describe(ours, self.auction(snipe.legacy_id))}; {snipe.api_log}"
                )
            wrong = [b for b in ours if b.max_amount != snipe.api_max]
            assert not wrong, (
                f"I2: the last change that returned 2xx set the maximum {snipe.api_max}, yet "
                f"eBay received {_describe(wrong, self.auction(snipe.legacy_id))}; {snipe.api_log}"
            )
            if self.ebay_holds_our_bid(snipe):
                held.append(snipe)
        for snipe in held if records else []:
            status = self.stored(snipe).status
            assert status not in (BidStatus.CANCELLED, BidStatus.PENDING, BidStatus.FAILED), (
                f"I3: eBay holds our bid for snipe {snipe.bid_id}, yet its record says "
                f"{status.value}; {snipe.api_log}"
            )
        for group, members in self._groups().items():
            won = [m.bid_id for m in members if self.we_won_on_ebay(m)]
            assert len(won) <= 1, (
                f"I4: group {group!r} (win at most 1) won {len(won)} auctions on eBay: {won}; "
                f"ends {[self.rel(m.end_s) for m in members]}"
            )
            ended = [m for m in members if self.clock() >= m.end_s]
            if records and len(ended) > 1:
                recorded = [m.bid_id for m in ended if self.stored(m).status is BidStatus.WON]
                assert len(recorded) <= 1, f"I4: group {group!r} records {recorded} as WON"

    def check_settled(self) -> None:
        """I5, and I3's agreement with eBay once nothing is left to do."""
        try:
            self.check_invariants()
            for snipe in self.snipes.values():
                bid = self.stored(snipe)
                assert bid.status.is_final, (
                    f"I5: snipe {snipe.bid_id} is still {bid.status.value} an hour after its "
                    f"end; {snipe.api_log}"
                )
                if bid.status is BidStatus.FAILED:
                    assert bid.failureReason, f"I5: snipe {snipe.bid_id} FAILED without a reason"
                if bid.status is BidStatus.CANCELLED:
                    assert bid.cancelReason, f"I5: snipe {snipe.bid_id} CANCELLED with no reason"
                won = self.we_won_on_ebay(snipe)
                assert (bid.status is BidStatus.WON) == won, (
                    f"I3: snipe {snipe.bid_id} records {bid.status.value}, but eBay says we "
                    f"{'won' if won else 'did not win'}"
                )
        except AssertionError:
            self.failed = True
            raise

    def _groups(self) -> dict[str, list[SnipeModel]]:
        groups: dict[str, list[SnipeModel]] = {}
        for snipe in self.snipes.values():
            if snipe.group:
                groups.setdefault(snipe.group, []).append(snipe)
        return {g: m for g, m in groups.items() if len(m) > 1}


def _describe(bids: list[BidRecord], auction: Auction) -> str:
    return ", ".join(
        f"{b.max_amount} at end{(b.received_at - auction.end_ms) / 1000:+.3f}s"
        f"{'' if b.accepted else f' (refused, {b.error_id})'}"
        for b in bids
    )
