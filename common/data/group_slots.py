"""A snipe group's slot ledger: how many of its snipes may hold a bid at eBay at once.

A group snipe takes a slot after it is sealed and before it bids (``take``); the slot is kept
while its outcome is unknown and when it wins, and given back when it loses or ends without a
bid (``settle``). The take is one conditional write on the group's item, so two snipes of one
group deciding in the same millisecond cannot both exceed the limit: I4 in
docs/sniping-engine.md.

The item is the group's own, in the Users table at ``group#<userId>#<groupId>`` (its rule,
``groupMode`` and ``groupLimit``, lives there too: common/data/groups.py). Attributes:
- ``holders``: the bids that took a slot (a string set; taking twice is harmless);
- ``settled``: the holders whose outcome is known;
- ``held``: slots in use (holders that did not lose), ``pending``: holders not yet settled,
  ``lost``: holders that lost or ended without a bid (contingency groups stop at the first).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from common.data.dynamo import (
    ConditionalWrite,
    from_item,
    repository_client,
    to_value,
    translate_errors,
)
from common.data.groups import BATCH_GET_LIMIT, group_key
from common.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LEDGER_ATTRIBUTES = ("holders", "settled", "held", "pending", "lost")
_READ_ATTEMPTS = 8


@dataclass(frozen=True)
class Ledger:
    holders: frozenset[str]
    settled: frozenset[str]
    held: int
    pending: int
    lost: int

    @property
    def unsettled(self) -> frozenset[str]:
        return self.holders - self.settled

    @property
    def won(self) -> int:
        """Holders settled as won: a group wins only through its slots (I4)."""
        return max(0, self.held - self.pending)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Ledger:
        return cls(
            holders=frozenset(data.get("holders", ())),
            settled=frozenset(data.get("settled", ())),
            held=int(data.get("held", 0)),
            pending=int(data.get("pending", 0)),
            lost=int(data.get("lost", 0)),
        )


EMPTY_LEDGER = Ledger.of({})


class GroupSlots:
    def __init__(
        self,
        users_and_app_state_table: str,
        client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = users_and_app_state_table
        self.client = repository_client(client)
        self.sleep = sleep

    def read(self, user_id: str, group_id: str) -> Ledger:
        item = self.client.get_item(
            TableName=self.table,
            Key={"userId": {"S": group_key(user_id, group_id)}},
            ConsistentRead=True,
        ).get("Item")
        return Ledger.of(from_item(item) if item else {})

    def read_many(self, user_id: str, group_ids: Iterable[str]) -> dict[str, Ledger]:
        """The ledgers of ``group_ids`` (an empty one for a group without), strongly consistent:
        one BatchGetItem per 100 groups, what DynamoDB leaves unprocessed asked again."""
        wanted = sorted(set(group_ids))
        found = dict.fromkeys(wanted, EMPTY_LEDGER)
        prefix = group_key(user_id, "")
        names = {f"#l{i}": name for i, name in enumerate(LEDGER_ATTRIBUTES)}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [
                        {"userId": {"S": group_key(user_id, g)}}
                        for g in wanted[start : start + BATCH_GET_LIMIT]
                    ],
                    "ConsistentRead": True,
                    "ProjectionExpression": ", ".join(["userId", *names]),
                    "ExpressionAttributeNames": names,
                }
            }
            for attempt in range(_READ_ATTEMPTS):
                with translate_errors():
                    result = self.client.batch_get_item(RequestItems=request)
                for item in result.get("Responses", {}).get(self.table, []):
                    data = from_item(item)
                    found[str(data["userId"])[len(prefix) :]] = Ledger.of(data)
                request = dict(result.get("UnprocessedKeys") or {})
                if not request.get(self.table):
                    break
                self.sleep(0.025 * 2**attempt * (0.5 + random.random()))
            else:
                raise RetryableError("The database was busy; try again")
        return found

    def take(
        self, user_id: str, group_id: str, bid_id: str, limit: int, *, contingency: bool
    ) -> bool:
        """Take a slot for ``bid_id`` if fewer than ``limit`` are held (and, for a contingency
        group, no holder's outcome is pending and none has lost). True if ``bid_id`` holds one
        (a repeat after a lost answer finds it a holder already)."""
        condition = "NOT contains(holders, :b) AND (attribute_not_exists(held) OR held < :limit)"
        if contingency:
            condition += (
                " AND (attribute_not_exists(pending) OR pending = :zero)"
                " AND (attribute_not_exists(lost) OR lost = :zero)"
            )
        values: dict[str, Any] = {
            ":b": {"S": bid_id},
            ":bs": {"SS": [bid_id]},
            ":limit": to_value(limit),
            ":one": to_value(1),
            ":owner": {"S": user_id},
            ":group": {"S": group_id},
        }
        if contingency:
            values[":zero"] = to_value(0)
        # A holder already: this take's own attempt whose answer timed out, or an earlier run's.
        with ConditionalWrite(lambda seen: bid_id in (seen or {}).get("holders", ())) as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": group_key(user_id, group_id)}},
                UpdateExpression=(
                    "ADD holders :bs, held :one, pending :one"
                    " SET ownerId = if_not_exists(ownerId, :owner),"
                    " groupId = if_not_exists(groupId, :group)"
                ),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        return write.happened

    def settle(self, user_id: str, group_id: str, bid_id: str, *, won: bool) -> bool:
        """Record a holder's outcome once: a win keeps its slot, a loss (or no bid) gives it
        back. True when ``bid_id`` is settled now: by this call, by its own attempt whose
        answer timed out, or by another run meanwhile (the ledger changed either way, so a
        caller waiting for a slot looks again); False when it holds no slot."""
        update = "ADD settled :bs, pending :minus"
        if not won:
            update += ", held :minus, lost :one"
        values: dict[str, Any] = {
            ":b": {"S": bid_id},
            ":bs": {"SS": [bid_id]},
            ":minus": to_value(-1),
        }
        if not won:
            values[":one"] = to_value(1)
        with ConditionalWrite(lambda seen: bid_id in (seen or {}).get("settled", ())) as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": group_key(user_id, group_id)}},
                UpdateExpression=update,
                ConditionExpression="contains(holders, :b) AND NOT contains(settled, :b)",
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        return write.happened
