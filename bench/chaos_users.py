"""Users in the chaos run (issue 13 item 8): they change and cancel their snipes through the REST
API up to and across the seal, and the money path's invariants are audited against eBay's record.

A share of the snipes gets a user who, at instants drawn from well before the snipe's freeze
instant (auction end - leadSeconds - FREEZE_WINDOW_SECONDS, where the executor seals it) to just
after it, sends ``PUT /bids/{id}`` (a new maximum, a new lead time, or both) and ``DELETE
/bids/{id}``, one after another as a person would. Each is aimed at the freeze instant as the
last 2xx answer stored it (a lead change moves it), and its answer is kept with the instant it
was sent. After the run every snipe is checked against the simulator (every bid it received,
with bidder, maximum and whether accepted; the winner) and against its record, for the
invariants of docs/sniping-engine.md ("What must hold"):

- I1 a cancel that answered 2xx: eBay received no bid of ours for that snipe;
- I2 every bid of ours eBay received carries the maximum of the last change that answered 2xx
  (the created one if none; either one, where a change got no answer);
- I3 eBay holds our bid: the record says PLACED, WON or LOST;
- I4 a win-one group: eBay has us winning at most one of its auctions, the records at most one;
- I5 every snipe is final, or says why in words, by the end of the run.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

CHANGE_KINDS = ("max", "lead", "both")
SEALED = "SNIPE_SEALED"
# A change sent this close to the seal (before or after) raced it.
RACE_SECONDS = 1.0
# Aimed this far before the freeze instant, a change is read before it and written after the
# seal, if the seal wins: the race itself.
AT_SEAL_SECONDS = 0.25
HOLDING_STATUSES = frozenset({"PLACED", "WON", "LOST"})
FINAL_STATUSES = frozenset({"WON", "LOST", "FAILED", "CANCELLED"})
INVARIANTS = ("I1", "I2", "I3", "I4", "I5")
GROUP_LIMIT = 1  # a group's default rule: WIN_UP_TO 1


@dataclass(frozen=True)
class RacePlan:
    """How users change and cancel their snipes (nobody does, by default)."""

    share: float = 0.0  # of the snipes, whose users change or cancel them
    per_snipe: tuple[int, int] = (1, 4)  # changes per such snipe, drawn between (inclusive)
    cancel_rate: float = 0.3  # of such snipes, whose last change is a cancel
    earliest: float = 60.0  # the earliest change, seconds before the freeze instant
    latest: float = RACE_SECONDS  # the latest, seconds after it
    near_share: float = 0.6  # of the changes, aimed within RACE_SECONDS of the freeze instant
    at_seal_share: float = 0.5  # of those, aimed in the last AT_SEAL_SECONDS before it
    maxima: tuple[int, ...] = (2500, 4000, 6000, 9000)  # new maxima (the rivals: 3000, 8000)

    def aims(self, rng: random.Random) -> list[tuple[float, str]]:
        """One snipe's changes, in the order sent: (seconds from its freeze instant, kind)."""
        count = rng.randint(*self.per_snipe)
        offsets = sorted(self._offset(rng) for _ in range(count))
        kinds = [rng.choice(CHANGE_KINDS) for _ in range(count)]
        if rng.random() < self.cancel_rate:
            kinds[-1] = "cancel"
        return list(zip(offsets, kinds, strict=True))

    def _offset(self, rng: random.Random) -> float:
        if rng.random() >= self.near_share:
            return rng.uniform(-self.earliest, -RACE_SECONDS)
        if rng.random() < self.at_seal_share:
            return rng.uniform(-AT_SEAL_SECONDS, 0.0)
        return rng.uniform(-RACE_SECONDS, self.latest)


@dataclass
class SnipeChange:
    """One change a user sent, and what the API answered."""

    kind: str  # "max", "lead", "both" (PUT /bids/{id}) or "cancel" (DELETE /bids/{id})
    body: dict[str, int]
    aim: float  # seconds from the freeze instant it was aimed at
    freeze_at: int  # the freeze instant as the last 2xx answer stored it (epoch s)
    sent_at: float = 0.0  # epoch s, our clock (the stack's)
    answered_at: float = 0.0
    status: int = 0  # 0: no answer
    code: str | None = None  # the error's code
    answer: dict[str, Any] | None = None  # the snipe, as a 2xx answered it

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def unknown(self) -> bool:
        """Whether it may or may not have been written: no answer, or a 5xx."""
        return self.status == 0 or self.status >= 500

    @property
    def sealed(self) -> bool:
        return self.status == 409 and self.code == SEALED

    def label(self) -> str:
        if self.status == 0:
            return f"no answer ({self.code})"
        return f"{self.status} {self.code}" if self.code else str(self.status)

    def applied(self, maximum: int | None) -> int | None:
        """The maximum after this change, written on a snipe whose maximum was ``maximum``
        (None: cancelled, and nothing changes a cancelled snipe)."""
        if maximum is None or self.kind == "cancel":
            return None
        return self.body.get("maxBidAmount", maximum)


@dataclass
class RacedSnipe:
    """A snipe whose user changes and cancels it, as created, and the user's changes."""

    bid_id: str
    ebay_item_id: str
    owner: str  # eBay username
    headers: dict[str, str]
    created_max: int
    lead: int  # as the last 2xx answer stored it
    maximum: int  # as the last 2xx answer stored it
    end_s: int  # auctionEndTime
    aims: list[tuple[float, str]]
    changes: list[SnipeChange] = field(default_factory=list)
    sealed_ms: int | None = None  # the record's sealedAt, read after the run
    error: str | None = None  # what stopped its user's thread, if anything did

    @property
    def freeze_at(self) -> int:
        from common.models import FREEZE_WINDOW_SECONDS

        return self.end_s - self.lead - FREEZE_WINDOW_SECONDS

    def decided(self) -> set[int | None]:
        """What the user's changes decided eBay should get: the maximum of the last change that
        answered 2xx (the created one if none; None: cancelled), or each of the maxima it can
        be when a change got no answer (it may have been written or not)."""
        possible: set[int | None] = {self.created_max}
        for change in self.changes:
            if change.ok:
                if change.kind == "cancel" or change.answer is None:
                    possible = {None}
                else:
                    possible = {int(change.answer["maxBidAmount"])}
            elif change.unknown:
                possible |= {change.applied(maximum) for maximum in possible}
        return possible

    def seal_ms(self, change: SnipeChange) -> float:
        """The seal this change raced: the record's, or where none was made, the freeze
        instant as stored when the change was sent."""
        return float(self.sealed_ms) if self.sealed_ms is not None else change.freeze_at * 1000.0

    def from_seal_ms(self, change: SnipeChange) -> float:
        return change.sent_at * 1000 - self.seal_ms(change)

    def raced(self, change: SnipeChange) -> bool:
        return change.sealed or abs(self.from_seal_ms(change)) <= RACE_SECONDS * 1000


class Users:
    """The raced snipes' users, each on a thread of their own, sending their changes at the
    planned instants through one HTTP client (the API's gateway, as a browser would)."""

    def __init__(
        self,
        snipes: list[RacedSnipe],
        base_url: str,
        plan: RacePlan,
        leads: tuple[int, ...],
        seed: int,
    ) -> None:
        self.snipes = snipes
        self._plan = plan
        self._leads = leads
        self._seed = seed
        self._http = httpx.Client(
            base_url=base_url,
            timeout=30,
            limits=httpx.Limits(max_connections=len(snipes) + 10, max_keepalive_connections=50),
        )
        self._threads = [
            threading.Thread(target=self._play, args=(i, snipe), name=f"user-{i}", daemon=True)
            for i, snipe in enumerate(snipes)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        deadline = time.time() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.time()))
        self._http.close()

    def _play(self, index: int, snipe: RacedSnipe) -> None:
        try:
            play(
                snipe, self._http, self._plan.maxima, self._leads, random.Random(self._seed + index)
            )
        except Exception as exc:  # the thread's outermost edge: reported with the figures
            snipe.error = repr(exc)


def play(
    snipe: RacedSnipe,
    http: httpx.Client,
    maxima: tuple[int, ...],
    leads: tuple[int, ...],
    rng: random.Random,
) -> None:
    """Send the snipe's changes, each at its aim from the freeze instant as last stored."""
    path = f"/bids/{snipe.bid_id}"
    for aim, kind in snipe.aims:
        freeze_at = snipe.freeze_at
        # A real wait, on purpose: the user acts at this instant of the snipe's countdown.
        time.sleep(max(0.0, freeze_at + aim - time.time()))
        body: dict[str, int] = {}
        if kind in ("max", "both"):
            body["maxBidAmount"] = rng.choice([m for m in maxima if m != snipe.maximum] or maxima)
        if kind in ("lead", "both"):
            body["leadSeconds"] = rng.choice([s for s in leads if s != snipe.lead] or leads)
        change = SnipeChange(kind=kind, body=body, aim=aim, freeze_at=freeze_at)
        change.sent_at = time.time()
        try:
            if kind == "cancel":
                answer = http.delete(path, headers=snipe.headers)
            else:
                answer = http.put(path, json=body, headers=snipe.headers)
        except httpx.HTTPError as exc:
            change.code = type(exc).__name__
        else:
            change.status = answer.status_code
            try:
                payload = answer.json()
            except ValueError:  # a gateway's error page: the status says enough
                payload = {}
            if change.ok:
                change.answer = payload
                snipe.lead = int(payload["leadSeconds"])
                snipe.maximum = int(payload["maxBidAmount"])
            elif isinstance(payload, dict):
                change.code = payload.get("error", {}).get("code")
        change.answered_at = time.time()
        snipe.changes.append(change)


@dataclass
class ChangeSummary:
    """The users' changes and their answers."""

    snipes: int = 0  # whose users changed or cancelled them
    sent: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    ok: int = 0
    sealed: int = 0  # answered 409 SNIPE_SEALED
    raced: int = 0  # answered 409 SNIPE_SEALED, or sent within RACE_SECONDS of the seal
    raced_answers: Counter[str] = field(default_factory=Counter)
    # Sent, ms from the seal: the latest change that still answered 2xx, the earliest that
    # answered SNIPE_SEALED.
    latest_ok_ms: float | None = None
    earliest_sealed_ms: float | None = None
    # 2xx changes sent after the record's seal was stamped (must be 0: the seal's read and a
    # change's write exclude each other, so a change that won was written before the seal read).
    ok_after_seal: int = 0
    snipes_sealed: int = 0  # raced snipes whose record was sealed
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        def ms(value: float | None) -> str:
            return "none" if value is None else f"{value:+.0f} ms"

        return [
            f"users: {self.snipes} snipes changed or cancelled, {self.sent} changes sent ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items()))
            + f"); {self.ok} answered 2xx, {self.sealed} 409 SNIPE_SEALED",
            "  answers: " + ", ".join(f"{k} {v}" for k, v in self.answers.most_common()),
            f"  raced the seal (409 SNIPE_SEALED, or sent within {RACE_SECONDS:.0f} s of it): "
            f"{self.raced}: " + ", ".join(f"{k} {v}" for k, v in self.raced_answers.most_common()),
            f"  sent from the seal: the latest 2xx {ms(self.latest_ok_ms)}, the earliest "
            f"SNIPE_SEALED {ms(self.earliest_sealed_ms)}; 2xx sent after the seal "
            f"{self.ok_after_seal} (must be 0); {self.snipes_sealed} of the {self.snipes} "
            "snipes were sealed",
            *(f"  user thread failed: {error}" for error in self.errors),
        ]


def summarize(snipes: list[RacedSnipe]) -> ChangeSummary:
    summary = ChangeSummary(snipes=len(snipes))
    for snipe in snipes:
        summary.snipes_sealed += snipe.sealed_ms is not None
        if snipe.error:
            summary.errors.append(f"{snipe.bid_id}: {snipe.error}")
        for change in snipe.changes:
            summary.sent += 1
            summary.kinds[change.kind] += 1
            label = "2xx" if change.ok else change.label()
            summary.answers[label] += 1
            summary.ok += change.ok
            summary.sealed += change.sealed
            offset = snipe.from_seal_ms(change)
            if snipe.raced(change):
                summary.raced += 1
                summary.raced_answers[label] += 1
            if change.ok and (summary.latest_ok_ms is None or offset > summary.latest_ok_ms):
                summary.latest_ok_ms = offset
            summary.ok_after_seal += change.ok and snipe.sealed_ms is not None and offset > 0
            if change.sealed and (
                summary.earliest_sealed_ms is None or offset < summary.earliest_sealed_ms
            ):
                summary.earliest_sealed_ms = offset
    return summary


@dataclass
class InvariantAudit:
    """I1-I5 for every snipe; ``violating`` names each wrong snipe's broken invariants."""

    snipes: int = 0
    groups: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    # How many snipes each invariant had something to say about: I1 those a 2xx cancel
    # reached, I2 those eBay got a bid for after a 2xx change of the maximum, I3 those whose
    # bid eBay holds, I4 the groups, I5 every snipe.
    checked: Counter[str] = field(default_factory=Counter)
    violating: dict[str, list[str]] = field(default_factory=dict)  # bidId -> "I2: why"
    timelines: list[str] = field(default_factory=list)  # each violating snipe's, when read

    @property
    def total(self) -> int:
        return sum(self.violations.values())

    def lines(self) -> list[str]:
        return [
            "invariant violations (each must be 0): "
            + ", ".join(
                f"{name} {self.violations.get(name, 0)} of {self.checked.get(name, 0)}"
                for name in INVARIANTS
            )
            + " (I1 of the snipes cancelled with a 2xx, I2 of those eBay got a bid for after a "
            "2xx change of the maximum, I3 of those whose bid eBay holds, I4 of the win-one "
            "groups, I5 of all)",
            *(
                f"  {bid_id}: {'; '.join(why)}"
                for bid_id, why in sorted(self.violating.items())[:20]
            ),
            *self.timelines,
        ]


def audit_invariants(
    listing: list[tuple[str, dict[str, Any]]],
    auctions: dict[str, dict[str, Any]],
    raced: dict[str, RacedSnipe],
    created_max: int,
) -> InvariantAudit:
    """``listing``: (owner's eBay username, the snipe as ``GET /bids`` lists it) after the run;
    ``auctions``: the simulator's ``GET /_sim/auctions/{legacyItemId}`` by legacy id;
    ``raced``: the snipes whose users changed them, by bidId (the others kept ``created_max``)."""
    audit = InvariantAudit(snipes=len(listing))
    groups: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)

    def wrong(snipe: dict[str, Any], invariant: str, why: str) -> None:
        audit.violations[invariant] += 1
        audit.violating.setdefault(snipe["bidId"], []).append(f"{invariant}: {why}")

    for owner, snipe in listing:
        state = auctions[snipe["ebayItemId"]]
        received = [b for b in state["bids"] if b["bidder"] == owner]
        accepted = [b for b in received if b["accepted"]]
        status = snipe["status"]
        user = raced.get(snipe["bidId"])
        changes = user.changes if user else []
        cancelled = any(c.ok and c.kind == "cancel" for c in changes)
        audit.checked["I1"] += cancelled
        if cancelled and received:
            wrong(snipe, "I1", f"a cancel answered 2xx, yet eBay received {len(received)} bid(s)")
        decided = user.decided() if user else {created_max}
        maxima = {m for m in decided if m is not None}
        sent = {int(b["maxAmount"]) for b in received}
        audit.checked["I2"] += bool(received) and any(
            c.ok and "maxBidAmount" in c.body for c in changes
        )
        if not cancelled and not sent <= maxima:
            wrong(
                snipe,
                "I2",
                f"eBay received maxima {sorted(sent)}, the last 2xx decided "
                f"{sorted(maxima) or 'a cancel'}",
            )
        audit.checked["I3"] += bool(accepted)
        audit.checked["I5"] += 1
        if accepted and status not in HOLDING_STATUSES:
            wrong(snipe, "I3", f"eBay holds our bid, the record says {status}")
        if status not in FINAL_STATUSES and not snipe.get("failureReason"):
            wrong(snipe, "I5", f"{status} at the end of the run, with no reason")
        if snipe.get("groupId"):
            groups[(owner, snipe["groupId"])].append((snipe, state))
    audit.groups = audit.checked["I4"] = len(groups)
    for (owner, group_id), members in groups.items():
        won_at_ebay = sum(state.get("winner") == owner for _, state in members)
        won_recorded = sum(snipe["status"] == "WON" for snipe, _ in members)
        if max(won_at_ebay, won_recorded) > GROUP_LIMIT:
            for snipe, _ in members:
                wrong(
                    snipe,
                    "I4",
                    f"group {group_id} won {won_at_ebay} at eBay, {won_recorded} recorded",
                )
    return audit


def timeline(
    snipe: dict[str, Any],
    auction: dict[str, Any],
    history: list[dict[str, Any]],
    user: RacedSnipe | None,
) -> list[str]:
    """One snipe's story, every instant in seconds from its auction's end: its history
    entries, the user's changes and their answers, and every bid eBay received."""
    end_ms = int(auction["endTimeMs"])

    def at(epoch_ms: float) -> str:
        return f"end{(epoch_ms - end_ms) / 1000:+.3f} s"

    lines = [
        f"timeline of {snipe['bidId']} (item {snipe['ebayItemId']}, group {snipe.get('groupId')})"
        f": recorded {snipe['status']} max {snipe['maxBidAmount']} lead {snipe['leadSeconds']} "
        f"final {snipe.get('finalPrice')} failure {snipe.get('failureReason')!r} cancel "
        f"{snipe.get('cancelReason')}; eBay {auction.get('status')} winner "
        f"{auction.get('winner')} at {auction.get('finalPrice')}"
    ]
    if user is not None and user.sealed_ms is not None:
        lines.append(f"  sealed at {at(user.sealed_ms)}")
    for entry in sorted(history, key=lambda e: int(e["timestamp"])):
        lines.append(
            f"  history {entry['action']} -> {entry['status']} at {at(int(entry['timestamp']))}"
            f" {entry.get('details')}"
        )
    for change in user.changes if user else []:
        lines.append(
            f"  user {change.kind} {change.body} sent at {at(change.sent_at * 1000)} (freeze as "
            f"stored {at(change.freeze_at * 1000)}), answered {change.label()} at "
            f"{at(change.answered_at * 1000)}"
        )
    for bid in auction["bids"]:
        lines.append(
            f"  eBay received {bid['bidder']} max {bid['maxAmount']} at "
            f"{at(int(bid['receivedAt']))}: {'accepted' if bid['accepted'] else 'refused'}"
        )
    return lines
