"""What the broadcaster and the action handler send matches docs/realtime-protocol.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from realtime.actions import respond
from realtime.changes import Change, MalformedSnipe, messages_for
from realtime.protocol import MAX_MESSAGE_BYTES, encode, frames, snapshot_messages, snipe_view
from tests.realtime_events import snipe

DOC = Path(__file__).resolve().parents[3] / "docs" / "realtime-protocol.md"
NOW = 1_800_000_000_000


def _schemas() -> dict[str, dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(), flags=re.S)
    return {s["title"]: s for s in map(json.loads, blocks)}


SCHEMAS = _schemas()


def _validate(message: dict[str, Any]) -> None:
    jsonschema.validate(message, SCHEMAS[message["type"]])
    assert len(encode(message)) <= MAX_MESSAGE_BYTES


def _types(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    messages = messages_for(Change("e1", _name(old, new), old, new), NOW)
    for message in messages:
        _validate(message)
    return [m["type"] for m in messages]


def _name(old: Any, new: Any) -> str:
    return "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"


def test_every_documented_type_has_a_schema():
    assert set(SCHEMAS) == {
        "bid.created",
        "bid.updated",
        "bid.cancelled",
        "price.changed",
        "countdown",
        "bid.placed",
        "bid.outcome",
        "bid.failed",
        "pong",
        "snapshot",
        "pricesRefreshed",
        "error",
        "batch",
    }


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, snipe(), ["bid.created"]),
        (snipe(), None, ["bid.cancelled"]),
        (snipe(), snipe(currentPrice=1200), ["price.changed"]),
        (snipe(), snipe(countdownPhase="10m"), ["countdown"]),
        (snipe(), snipe(maxBidAmount=3000), ["bid.updated"]),
        (snipe(), snipe(status="ARMED"), ["bid.updated"]),
        (snipe(), snipe(status="CANCELLED", cancelReason="USER"), ["bid.cancelled"]),
        (
            snipe(status="ARMED"),
            snipe(status="PLACED", placedAt=NOW, msBeforeEnd=5800),
            ["bid.placed"],
        ),
        (snipe(status="PLACED"), snipe(status="WON", finalPrice=2100), ["bid.outcome"]),
        (snipe(status="PLACED"), snipe(status="LOST", finalPrice=2600), ["bid.outcome"]),
        (snipe(status="ARMED"), snipe(status="FAILED", failureReason="OUTBID"), ["bid.failed"]),
        (
            snipe(countdownPhase="1m"),
            snipe(countdownPhase="FIRING", currentPrice=1500, status="ARMED"),
            ["bid.updated", "price.changed", "countdown"],
        ),
    ],
)
def test_each_change_gives_its_messages_and_they_match_the_schema(old, new, expected):
    assert _types(old, new) == expected


def test_ebays_milliseconds_reach_the_socket_where_an_end_is_shown():
    # Given a snipe on an auction ending at :07.250
    end_ms = 1_800_003_607_250
    old = snipe(auctionEndTime=end_ms // 1000, auctionEndMs=end_ms)
    new = {**old, "countdownPhase": "10m"}
    # When it is created, and when it enters a countdown phase
    created = messages_for(Change("e1", "INSERT", None, old), NOW)
    (countdown,) = messages_for(Change("e2", "MODIFY", old, new), NOW)
    # Then both carry the end in ms beside its second, as the schemas say
    for message in (*created, countdown):
        _validate(message)
    assert created[0]["data"]["auctionEndMs"] == end_ms
    assert (countdown["data"]["auctionEndMs"], countdown["data"]["auctionEndTime"]) == (
        end_ms,
        end_ms // 1000,
    )
    # and a snipe stored before milliseconds were kept counts down to its whole second
    legacy = snipe(auctionEndTime=end_ms // 1000)
    (tick,) = messages_for(Change("e3", "MODIFY", legacy, {**legacy, "countdownPhase": "1m"}), NOW)
    assert tick["data"]["auctionEndMs"] == end_ms // 1000 * 1000


def test_a_change_nobody_can_see_sends_nothing():
    # Given only bookkeeping attributes change
    old, new = snipe(), snipe(updatedAt=2, version=2, executionId="x", lastAlertSent=5)
    # Then there is nothing to show
    assert _types(old, new) == []


def test_event_ids_come_from_the_stream_record_so_redelivery_repeats_them():
    old, new = snipe(), snipe(currentPrice=1300, countdownPhase="1h")
    first = messages_for(Change("rec-9", "MODIFY", old, new), NOW)
    again = messages_for(Change("rec-9", "MODIFY", old, new), NOW + 500)
    assert [m["eventId"] for m in first] == [m["eventId"] for m in again]
    assert len({m["eventId"] for m in first}) == len(first)


def test_a_malformed_snipe_is_an_error_but_a_non_snipe_is_ignored():
    with pytest.raises(MalformedSnipe):
        messages_for(Change("e", "MODIFY", snipe(), snipe(status="BOGUS")), NOW)
    assert messages_for(Change("e", "INSERT", None, {"Id": 101, "Message": "hi"}), NOW) == []


def test_long_text_is_clipped_so_messages_stay_under_32_kb():
    message = messages_for(Change("e", "INSERT", None, snipe(itemTitle="x" * 100_000)), NOW)[0]
    _validate(message)


def test_a_big_snapshot_is_split_into_parts_under_32_kb():
    views = [{"bidId": f"b{i}", "ebayItemId": "1", **snipe_view(snipe())} for i in range(400)]
    parts = list(snapshot_messages("req", NOW, views))
    assert len(parts) > 1
    for part in parts:
        _validate(part)
    assert sum(len(p["data"]["snipes"]) for p in parts) == 400


class FakePusher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def post(self, connection_id: str, data: bytes) -> bool:
        self.sent.append((connection_id, json.loads(data)))
        return True


class FakeBids:
    """BidsRepository's read of a user's active snipes."""

    def active_snipes(self, user_id):
        from common.models import BidEntity

        return [BidEntity.model_validate(snipe(user=user_id))]


def _refresh(user_id: str) -> Any:
    from common.price_polls import RefreshResult

    return RefreshResult(items=1, itemPolls=3, ebayCalls=1, nextInMs=5000)


def _message_event(body: str, route: str = "$default") -> dict[str, Any]:
    return {
        "requestContext": {
            "routeKey": route,
            "eventType": "MESSAGE",
            "connectionId": "abc=",
            "requestId": "req-1",
            "authorizer": {"userId": "user-a", "principalId": "user-a"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action": "ping"}', "pong"),
        ('{"action": "sync"}', "snapshot"),
        ('{"action": "refreshPrices"}', "pricesRefreshed"),
        ('{"action": "dance"}', "error"),
        ("not json", "error"),
        ('{"action": "ping", "pad": "' + "x" * 5000 + '"}', "error"),
    ],
)
def test_actions_answer_on_the_same_connection_with_documented_messages(body, expected):
    pusher = FakePusher()
    result = respond(_message_event(body), FakeBids, pusher, lambda: NOW, _refresh)  # type: ignore[arg-type]
    assert result == {"statusCode": 200}
    [(connection, message)] = pusher.sent
    assert (connection, message["type"]) == ("abc=", expected)
    _validate(message)


def test_messages_for_one_socket_travel_in_batch_frames_of_at_most_32_kb():
    # Given 300 price changes of one user's snipes, encoded
    messages = [
        messages_for(Change(f"e{n}", "MODIFY", snipe(), snipe(currentPrice=1001 + n)), NOW)[0]
        for n in range(300)
    ]
    # When they are framed for one socket
    framed = frames([encode(m) for m in messages], NOW)
    # Then every frame is a documented batch under 32 KB, each event valid on its own, and
    # together they carry every message once, in order
    events = []
    for count, frame in framed:
        batch = json.loads(frame)
        _validate(batch)
        for event in batch["data"]["events"]:
            _validate(event)
        assert len(batch["data"]["events"]) == count
        events += batch["data"]["events"]
    assert events == messages
    assert len(framed) > 1
    # And a lone message is sent as it is
    assert frames([encode(messages[0])], NOW) == [(1, encode(messages[0]))]
