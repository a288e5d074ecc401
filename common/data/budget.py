"""The app's daily eBay Browse calls, shared fairly: atomic counters per UTC day on the Users table.

eBay gives the application one daily Browse quota, whoever spends it. ``EBAY_DAILY_CALL_BUDGET``
calls a day are divided into *shares*, one per kind of call:

| share | who | reserved (only it may use) | at most | per user |
| --- | --- | --- | --- | --- |
| ``snipe-creation`` | POST /bids, looking the auction up | 10% | 100% | 10% |
| ``item-lookups`` | GET /wishlist/items/{id} | 0 | 20% | 2% |
| ``final-polls`` | price updater, auctions ending within 10 min | 20% | 100% | |
| ``hour-polls`` | price updater, ending within the hour | 0 | 100% | |
| ``far-polls`` | price updater, ending later | 0 | 60% | |

What no share reserves (70%) is the *pool*, first come first served. A share's call counts against
its reserve while that lasts, then against the pool; it never passes its "at most". So snipe
creation and the last minutes of every auction keep 10% and 20% of the day whatever the wishlist
and the far-off polls do, and one account can spend at most its per-user part.

``BUDGET#ebay#<yyyy-mm-dd>`` holds ``calls`` (the day's total), ``pool`` (calls counted against the
pool) and per share ``u_<key>`` (its calls) and ``r_<key>`` (those counted against its reserve).
A user's item, ``BUDGET#ebay#<yyyy-mm-dd>#<userId>``, holds ``u_<key>`` for the shares with a
per-user part, and ``ownerId``, so account deletion removes it.

Every reservation is an ``ADD`` whose condition bounds each counter it raises (``pool <= pool
size - n``...), so concurrent callers can never overspend whatever the timing: pool <= pool
size, r_<key> <= reserve, u_<key> <= at most, and so calls <= the budget. The user's part is
taken first and given back if the day refuses. DynamoDB's TTL removes the items days later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from common.data.dynamo import (
    ConditionalWrite,
    from_item,
    repository_client,
    to_value,
    translate_errors,
)
from common.errors import BrowseShareExhausted, FieldIssue

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEEP_SECONDS = 3 * 86400
# plan(): the other shares' use of the pool so far is judged over at least this long, so a busy
# first minute after midnight does not read as a whole day's pace.
PLAN_MIN_ELAPSED_SECONDS = 3600
_ATTEMPTS = 5


@dataclass(frozen=True)
class Share:
    """Fractions of the day's budget: ``reserved`` for this share alone, ``cap`` at most in all,
    ``per_user`` at most for one user (None: no per-user part)."""

    key: str
    name: str
    reserved: float
    cap: float
    per_user: float | None = None


SNIPE_CREATION = Share("create", "snipe-creation", reserved=0.10, cap=1.0, per_user=0.10)
ITEM_LOOKUPS = Share("lookup", "item-lookups", reserved=0.0, cap=0.20, per_user=0.02)
FINAL_POLLS = Share("final", "final-polls", reserved=0.20, cap=1.0)
HOUR_POLLS = Share("hour", "hour-polls", reserved=0.0, cap=1.0)
FAR_POLLS = Share("far", "far-polls", reserved=0.0, cap=0.60)
SHARES = (SNIPE_CREATION, ITEM_LOOKUPS, FINAL_POLLS, HOUR_POLLS, FAR_POLLS)


@dataclass(frozen=True)
class Limits:
    """One share's limits in calls, for a day's budget."""

    reserved: int
    cap: int
    pool: int
    per_user: int | None

    @classmethod
    def of(cls, share: Share, daily_budget: int) -> Limits:
        reserved = {s.key: int(daily_budget * s.reserved) for s in SHARES}
        per_user = None
        if share.per_user is not None:
            per_user = max(1, int(daily_budget * share.per_user)) if daily_budget > 0 else 0
        return cls(
            reserved=reserved[share.key],
            cap=int(daily_budget * share.cap),
            pool=max(0, daily_budget - sum(reserved.values())),
            per_user=per_user,
        )


def utc_day(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d")


def seconds_to_next_day(epoch_seconds: float) -> int:
    """Seconds until the next UTC midnight, when every share starts afresh (at least 1)."""
    now = datetime.fromtimestamp(epoch_seconds, UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, int((midnight - now).total_seconds() + 0.999))


def budget_key(day: str, api: str = "ebay") -> str:
    return f"BUDGET#{api}#{day}"


def user_budget_key(day: str, user_id: str) -> str:
    return f"{budget_key(day)}#{user_id}"


class CallBudget:
    """The day's eBay Browse calls, reserved share by share (see the module's docstring)."""

    def __init__(self, table: str, daily_budget: int, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self.daily_budget = daily_budget
        self.client = repository_client(client)

    def spent(self, day: str) -> int:
        return self.counters(day).get("calls", 0)

    def counters(self, day: str, user_id: str | None = None) -> dict[str, int]:
        """The day's counters (``calls``, ``pool``, ``u_<key>``, ``r_<key>``), or a user's."""
        key = user_budget_key(day, user_id) if user_id else budget_key(day)
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table, Key={"userId": {"S": key}}, ConsistentRead=True
            ).get("Item")
        found = from_item(item) if item else {}
        return {k: int(v) for k, v in found.items() if isinstance(v, int) and k != "ttl"}

    def reserve(self, share: Share, wanted: int, now: int) -> int:
        """Reserve up to ``wanted`` calls of today's ``share``; returns how many were granted."""
        limits = Limits.of(share, self.daily_budget)
        if wanted <= 0 or limits.cap <= 0:
            return 0
        return self._take_day(utc_day(now), share, wanted, limits, now)

    def take_one(self, share: Share, user_id: str, now: int) -> None:
        """One call of ``share`` for ``user_id``, or BrowseShareExhausted naming what is spent:
        the user's part or the whole share; both start afresh at the next UTC midnight."""
        limits = Limits.of(share, self.daily_budget)
        day = utc_day(now)
        retry_after = seconds_to_next_day(now)
        spent = BrowseShareExhausted(
            f"Today's {share.name} share of the app's eBay calls is spent; "
            "it starts afresh at midnight UTC",
            [FieldIssue("share", share.name)],
            retry_after=retry_after,
        )
        if limits.cap <= 0:
            raise spent
        if limits.per_user is not None and not self._take_user(
            day, user_id, share, 1, limits.per_user, now
        ):
            raise BrowseShareExhausted(
                f"You have used today's {share.name} allowance of eBay calls "
                f"({limits.per_user}); it starts afresh at midnight UTC",
                [FieldIssue("share", f"{share.name} (yours)")],
                retry_after=retry_after,
            )
        if self._take_day(day, share, 1, limits, now):
            return
        if limits.per_user is not None:
            self._give_back_user(day, user_id, share, 1, now)
        raise spent

    def plan(self, share: Share, now: int) -> int:
        """How many calls of ``share`` to count on until midnight UTC, for pacing (one read; each
        call is still granted by :meth:`reserve`): what is left of its reserve, plus the pool
        left less what the other shares are on course to take from it by midnight at today's
        rate so far (judged over at least an hour), within its cap."""
        limits = Limits.of(share, self.daily_budget)
        seen = self.counters(utc_day(now))
        used, from_reserve = seen.get(f"u_{share.key}", 0), seen.get(f"r_{share.key}", 0)
        left_today = seconds_to_next_day(now)
        others_from_pool = max(0, seen.get("pool", 0) - (used - from_reserve))
        elapsed = max(PLAN_MIN_ELAPSED_SECONDS, 86_400 - left_today)
        others_to_come = others_from_pool * left_today / elapsed
        pool_left = max(0.0, limits.pool - seen.get("pool", 0) - others_to_come)
        reserve_left = max(0, limits.reserved - from_reserve)
        return max(0, min(limits.cap - used, reserve_left + int(pool_left)))

    # ------------------------------------------------------------------ the day's counters
    def _take_day(self, day: str, share: Share, wanted: int, limits: Limits, now: int) -> int:
        used, from_reserve = f"u_{share.key}", f"r_{share.key}"
        key = budget_key(day)
        # Without a read: all of it from the reserve, else (one call, which the reserve then
        # cannot hold; or a share without a reserve) all of it from the pool.
        fast = [(from_reserve, limits.reserved)]
        if wanted == 1 or limits.reserved == 0:
            fast.append(("pool", limits.pool))
        for counted_on, size in fast:
            if wanted <= size and self._add(
                key,
                {"calls": wanted, used: wanted, counted_on: wanted},
                {used: limits.cap - wanted, counted_on: size - wanted},
                now,
            ):
                return wanted
        # Part of it, as the counters read allow; the bounds keep it safe if they move meanwhile.
        for _attempt in range(_ATTEMPTS):
            seen = self.counters(day)
            room = limits.cap - seen.get(used, 0)
            a = max(0, min(wanted, limits.reserved - seen.get(from_reserve, 0), room))
            b = max(0, min(wanted - a, limits.pool - seen.get("pool", 0), room - a))
            if a + b == 0:
                return 0
            adds = {"calls": a + b, used: a + b}
            bounds = {used: limits.cap - a - b}
            if a:
                adds[from_reserve], bounds[from_reserve] = a, limits.reserved - a
            if b:
                adds["pool"], bounds["pool"] = b, limits.pool - b
            if self._add(key, adds, bounds, now):
                return a + b
        return 0

    # ------------------------------------------------------------------ a user's part
    def _take_user(
        self, day: str, user_id: str, share: Share, wanted: int, limit: int, now: int
    ) -> int:
        used, key = f"u_{share.key}", user_budget_key(day, user_id)
        if wanted <= limit and self._add(
            key, {used: wanted}, {used: limit - wanted}, now, owner=user_id
        ):
            return wanted
        for _attempt in range(_ATTEMPTS):
            grant = min(wanted, limit - self.counters(day, user_id).get(used, 0))
            if grant <= 0:
                return 0
            if self._add(key, {used: grant}, {used: limit - grant}, now, owner=user_id):
                return grant
        return 0

    def _give_back_user(self, day: str, user_id: str, share: Share, amount: int, now: int) -> None:
        # Unconditional: if it failed, the user would only be counted a call they did not make.
        key = user_budget_key(day, user_id)
        self._add(key, {f"u_{share.key}": -amount}, {}, now, owner=user_id)

    def _add(
        self,
        key: str,
        adds: dict[str, int],
        bounds: dict[str, int],
        now: int,
        owner: str | None = None,
    ) -> bool:
        """``ADD`` each of ``adds`` if every counter in ``bounds`` is absent or at most its bound;
        False when the condition refused. ``owner``: the user whose item it is (``ownerId``, by
        which account deletion finds it)."""
        if any(bound < 0 for bound in bounds.values()):
            return False
        names = {"#ttl": "ttl"}
        values: dict[str, Any] = {":ttl": to_value(now + KEEP_SECONDS)}
        sets = ["#ttl = if_not_exists(#ttl, :ttl)"]
        if owner is not None:
            values[":owner"] = to_value(owner)
            sets.append("ownerId = :owner")
        additions = []
        for index, (name, amount) in enumerate(sorted(adds.items())):
            names[f"#a{index}"] = name
            values[f":a{index}"] = to_value(amount)
            additions.append(f"#a{index} :a{index}")
        conditions = []
        for index, (name, bound) in enumerate(sorted(bounds.items())):
            names[f"#b{index}"] = name
            values[f":b{index}"] = to_value(bound)
            conditions.append(f"(attribute_not_exists(#b{index}) OR #b{index} <= :b{index})")
        condition: dict[str, Any] = {}
        if conditions:
            condition["ConditionExpression"] = " AND ".join(conditions)
        with ConditionalWrite() as write:
            self.client.update_item(
                TableName=self.table,
                Key={"userId": {"S": key}},
                UpdateExpression=f"ADD {', '.join(additions)} SET {', '.join(sets)}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                **condition,
            )
        return write.happened
