"""Who may refresh prices now (``refreshPrices`` on the WebSocket, common/price_polls.py), on the
Users table:

- ``REFRESH#user#<userId>``: ``refreshedAt`` (epoch ms), the user's last refresh; ``ownerId``
  names the user, so account deletion removes it.
- ``REFRESH#final``: ``roundAt`` (epoch ms), the last refreshes' round of the final minutes,
  whoever asked for it (absent once that round gave it back); ``givenBackAt`` (epoch ms), the
  claim of the last round that gave it back (its poll failed); ``intervalMs`` and
  ``paceUntil`` (epoch ms), the pace the minute's price updater run set for those rounds from
  the day's budget, and until when it holds.
- ``REFRESH#carried#<minute>`` (epoch minutes): ``items``, the legacy ids a refreshes' round
  polled in its call's free places ahead of that minute's price updater run, which need not
  poll them again.

A claim is one ``UpdateItem`` conditioned on the last one being old enough, so of any number of
concurrent refreshes exactly one wins a user's (or the round's) window, whatever the timing:
no read-then-write. A claim that loses asks for the item its condition saw
(``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so it learns from the same request when the
window reopens (:class:`Claim`); a claim that was applied but whose answer was lost (botocore
sends it again, and the repeat fails on it) knows it by its token. Giving a round back is one
``UpdateItem`` too, conditioned on the round's claim being the giver's own, so a round never
gives back another's. DynamoDB's TTL (``ttl``) removes the items an hour after their last
write.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from common.data.dynamo import (
    ConditionalWrite,
    repository_client,
    seen_on_failure,
    translate_errors,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEEP_SECONDS = 3600
ROUND_KEY = "REFRESH#final"
CLAIMED_BY = "claimedBy"  # the token of the claim that holds the window


def user_claim_key(user_id: str) -> str:
    return f"REFRESH#user#{user_id}"


def carried_key(minute: int) -> str:
    return f"REFRESH#carried#{minute}"


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim's answer. ``taken``: this claim took the window. ``reopens_in_ms``: how long
    until the next claim may take it (at least 1): the whole window when taken, else what is
    left of the window of the claim that holds it.

    It is true exactly when taken, as the claims' answers were (``if claims.claim_round(...)``
    still reads as it did)."""

    taken: bool
    reopens_in_ms: int

    def __bool__(self) -> bool:
        return self.taken


def reopens_in(last_ms: int, now_ms: int, window_ms: int) -> int:
    """Ms from ``now_ms`` until a window of ``window_ms`` taken at ``last_ms`` is over (1 at
    least: a refused claim's window is not over yet, whatever the clocks say)."""
    return max(1, min(window_ms, last_ms + window_ms - now_ms))


class RefreshClaims:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.client = repository_client(client)

    def claim_user(self, user_id: str, now_ms: int, seconds: int) -> Claim:
        """Taken when ``user_id`` last refreshed ``seconds`` or more ago (their window now
        theirs again); else when their window reopens."""
        return self._claim(
            user_claim_key(user_id),
            "refreshedAt",
            now_ms,
            seconds * 1000,
            {"ownerId": {"S": user_id}},
        )

    def claim_round(self, now_ms: int, interval_ms: int) -> Claim:
        """Taken when the last round of the final minutes was ``interval_ms`` or more ago; else
        ``interval_ms`` after that round is when the next may run."""
        return self._claim(ROUND_KEY, "roundAt", now_ms, interval_ms, {})

    def give_back_round(self, taken_ms: int, interval_ms: int) -> bool:
        """Give back the round claimed at ``taken_ms`` (with ``interval_ms``), its poll failed,
        so the next claim takes it at once; True when given back. Only while that claim still
        holds the round (nobody's since), and at most once a pace: not when a round given back
        less than ``interval_ms`` before this one was taken (a failing eBay then waits for the
        pace instead of polling again at once)."""

        def own_repeat(seen: dict[str, Any] | None) -> bool:
            # this very write, sent again after its answer was lost, finds what it wrote
            return (
                seen is not None and "roundAt" not in seen and seen.get("givenBackAt") == taken_ms
            )

        with ConditionalWrite(already=own_repeat) as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": ROUND_KEY}},
                UpdateExpression="REMOVE #at SET #back = :taken",
                ConditionExpression=(
                    "#at = :taken AND (attribute_not_exists(#back) OR #back <= :before)"
                ),
                ExpressionAttributeNames={"#at": "roundAt", "#back": "givenBackAt"},
                ExpressionAttributeValues={
                    ":taken": _n(taken_ms),
                    ":before": _n(taken_ms - interval_ms),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        return write.happened

    def pace_ms(self, now_ms: int) -> int | None:
        """The rounds' interval the minute's run set, while it holds (None: none holds)."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table,
                Key={"userId": {"S": ROUND_KEY}},
                ProjectionExpression="intervalMs, paceUntil",
            ).get("Item", {})
        if "intervalMs" not in item or int(item.get("paceUntil", {}).get("N", "0")) <= now_ms:
            return None
        return int(item["intervalMs"]["N"])

    def set_pace(self, interval_ms: int, now_ms: int, keep_seconds: int) -> None:
        with translate_errors():
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": ROUND_KEY}},
                UpdateExpression="SET intervalMs = :i, paceUntil = :until, #ttl = :ttl",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":i": _n(interval_ms),
                    ":until": _n(now_ms + keep_seconds * 1000),
                    ":ttl": _n(now_ms // 1000 + KEEP_SECONDS),
                },
            )

    def carried(self, minute: int) -> frozenset[str]:
        """The items a refreshes' round polled ahead of ``minute``'s run (epoch minutes)."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table,
                Key={"userId": {"S": carried_key(minute)}},
                ProjectionExpression="#items",
                ExpressionAttributeNames={"#items": "items"},
                ConsistentRead=True,
            ).get("Item", {})
        return frozenset(item.get("items", {}).get("SS", []))

    def add_carried(self, minute: int, items: Sequence[str], now_ms: int) -> None:
        """Add ``items`` to those polled ahead of ``minute``'s run: one ``ADD`` to a string set,
        so concurrent rounds' items all stay."""
        if not items:
            return
        with translate_errors():
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": carried_key(minute)}},
                UpdateExpression="ADD #items :items SET #ttl = :ttl",
                ExpressionAttributeNames={"#items": "items", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":items": {"SS": sorted(set(items))},
                    ":ttl": _n(now_ms // 1000 + KEEP_SECONDS),
                },
            )

    def _claim(
        self, key: str, attribute: str, now_ms: int, window_ms: int, extra: dict[str, Any]
    ) -> Claim:
        # The claim's own token: when DynamoDB applied it but its answer was lost, botocore's
        # repeat fails the condition on the claim it made; the token says the claim is its own.
        token = secrets.token_hex(8)
        sets = ["#at = :now", "#by = :by", "#ttl = :ttl"]
        sets += [f"{name} = :{name}" for name in extra]
        values = {
            ":now": _n(now_ms),
            ":by": {"S": token},
            ":before": _n(now_ms - window_ms),
            ":ttl": _n(now_ms // 1000 + KEEP_SECONDS),
        }
        values.update({f":{name}": value for name, value in extra.items()})

        def own_repeat(seen: dict[str, Any] | None) -> bool:
            return seen is not None and seen.get(CLAIMED_BY) == token

        with ConditionalWrite(already=own_repeat) as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": key}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_not_exists(#at) OR #at <= :before",
                ExpressionAttributeNames={"#at": attribute, "#by": CLAIMED_BY, "#ttl": "ttl"},
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        if write.happened:
            return Claim(True, window_ms)
        seen = seen_on_failure(write.failure) if write.failure is not None else None
        if seen is None or attribute not in seen:
            return Claim(False, window_ms)  # not seen (cannot be, having failed): a whole window
        return Claim(False, reopens_in(int(seen[attribute]), now_ms, window_ms))
