"""The chaos run's audit of the money path's invariants (bench/chaos_users.py) flags each kind of
violation: an audit that always said 0 would pass the chaos test whatever the engine did."""

from __future__ import annotations

from typing import Any

from bench.chaos_users import RacedSnipe, SnipeChange, audit_invariants, summarize

OWNER = "chaos_0"
END_S = 1_900_000_000


def _snipe(bid_id: str, status: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return OWNER, {"bidId": bid_id, "ebayItemId": f"item-{bid_id}", "status": status, **extra}


def _auction(bid_id: str, *maxima: int, winner: str | None = None) -> dict[str, Any]:
    bids = [{"bidder": OWNER, "maxAmount": m, "accepted": True} for m in maxima]
    return {"legacyItemId": f"item-{bid_id}", "bids": bids, "winner": winner}


def _raced(bid_id: str, *changes: SnipeChange) -> RacedSnipe:
    return RacedSnipe(
        bid_id=bid_id,
        ebay_item_id=f"item-{bid_id}",
        owner=OWNER,
        headers={},
        created_max=5000,
        lead=3,
        maximum=5000,
        end_s=END_S,
        aims=[],
        changes=list(changes),
    )


def _change(kind: str, status: int, maximum: int = 5000, **body: int) -> SnipeChange:
    answer = {"maxBidAmount": maximum, "leadSeconds": 3} if 200 <= status < 300 else None
    return SnipeChange(kind, dict(body), 0.0, END_S - 8, status=status, answer=answer)


def test_a_sound_run_has_no_violation() -> None:
    # Given a snipe lowered to 40.00 (200) that eBay got at 40.00 and won, and an untouched one
    listing = [_snipe("a", "WON"), _snipe("b", "LOST")]
    auctions = {"item-a": _auction("a", 4000, winner=OWNER), "item-b": _auction("b", 5000)}
    raced = {"a": _raced("a", _change("max", 200, 4000, maxBidAmount=4000))}
    # When the invariants are audited
    audit = audit_invariants(listing, auctions, raced, created_max=5000)
    # Then none is broken
    assert audit.total == 0, audit.violating


def test_each_invariant_is_flagged() -> None:
    # Given a 2xx cancel with a bid at eBay (I1), a bid at the maximum a 2xx change replaced
    # (I2), a CANCELLED record while eBay holds the bid (I3), a win-one group that won twice
    # (I4) and a snipe left ARMED without a reason (I5)
    listing = [
        _snipe("i1", "CANCELLED", cancelReason="USER"),
        _snipe("i2", "WON"),
        _snipe("i3", "CANCELLED"),
        _snipe("g1", "WON", groupId="g"),
        _snipe("g2", "WON", groupId="g"),
        _snipe("i5", "ARMED"),
    ]
    auctions = {
        "item-i1": _auction("i1", 5000),
        "item-i2": _auction("i2", 5000, winner=OWNER),
        "item-i3": _auction("i3", 5000),
        "item-g1": _auction("g1", 5000, winner=OWNER),
        "item-g2": _auction("g2", 5000, winner=OWNER),
        "item-i5": _auction("i5"),
    }
    raced = {
        "i1": _raced("i1", _change("cancel", 200)),
        "i2": _raced("i2", _change("max", 200, 6000, maxBidAmount=6000)),
    }
    # When the invariants are audited
    audit = audit_invariants(listing, auctions, raced, created_max=5000)
    # Then each is flagged on its snipe, among the snipes it had something to say about
    assert dict(audit.violations) == {"I1": 1, "I2": 1, "I3": 2, "I4": 2, "I5": 1}
    assert dict(audit.checked) == {"I1": 1, "I2": 1, "I3": 5, "I4": 1, "I5": 6}
    assert {bid_id: [why[:2] for why in whys] for bid_id, whys in audit.violating.items()} == {
        "i1": ["I1", "I3"],
        "i2": ["I2"],
        "i3": ["I3"],
        "g1": ["I4"],
        "g2": ["I4"],
        "i5": ["I5"],
    }


def test_a_change_without_an_answer_allows_either_maximum() -> None:
    # Given a raise to 90.00 that got no answer (it may or may not have been written)
    raced = _raced("a", _change("max", 0, maxBidAmount=9000))
    # When eBay got either maximum / Then neither breaks I2
    for maximum in (5000, 9000):
        auctions = {"item-a": _auction("a", maximum, winner=OWNER)}
        audit = audit_invariants([_snipe("a", "WON")], auctions, {"a": raced}, created_max=5000)
        assert audit.total == 0, audit.violating


def test_a_change_that_won_after_the_seal_is_counted() -> None:
    # Given a snipe sealed at its freeze instant, and a change that answered 200 though sent
    # 50 ms after the seal
    raced = _raced("a", _change("max", 200, 4000, maxBidAmount=4000))
    raced.sealed_ms = (END_S - 8) * 1000
    raced.changes[0].sent_at = END_S - 8 + 0.05
    # When the changes are summarized
    summary = summarize([raced])
    # Then it raced the seal, and won after it: what the seal must make impossible
    assert (summary.raced, summary.ok_after_seal) == (1, 1)
