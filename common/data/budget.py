"""The app's daily eBay Browse calls, shared fairly: atomic counters per eBay day (Pacific time)
on the Users table.

eBay gives the application two daily Browse quotas, whoever spends them: "All methods except
getItems: 5000 API calls per day" and "getItems: 5000 API calls per day"
(https://developer.ebay.com/develop/api/buy/api_call_limits). Each *share*, one per kind of call,
belongs to the quota of the method its callers use, and each quota's calls a day
(``EBAY_DAILY_CALL_BUDGET`` for ``browse``, ``EBAY_DAILY_GETITEMS_BUDGET`` for ``getitems``) are
divided among its shares only:

| quota | share | who | reserved (only it may use) | at most | per user |
| --- | --- | --- | --- | --- | --- |
| ``browse`` | ``snipe-creation`` | POST /bids, getItemByLegacyId | 50% | 100% | 10% |
| ``browse`` | ``item-lookups`` | GET /wishlist/items/{id}, getItem(ByLegacyId) | 0 | 40% | 4% |
| ``getitems`` | ``final-polls`` | price updater, auctions ending within 10 min | 40% | 100% | |
| ``getitems`` | ``hour-polls`` | price updater, ending within the hour | 0 | 100% | |
| ``getitems`` | ``far-polls`` | price updater, ending later | 0 | 50% | |
| ``browse`` | ``final-polls-1``, ``hour-``, ``far-`` | the polls, see below | 0 | 40/40/20% | |

A call is paid by the share of its soonest-ending item: the later items a final-minutes call
carries in its free places (common/price_polls.py) ride in it at no cost of their own.

What a quota's shares do not reserve is its *pool* (browse 50%, getitems 60%), first come first
served. A share's call counts against its reserve while that lasts, then against its quota's
pool; it never passes its "at most". Why these numbers:

- ``browse`` carries only the single-item look-ups. A snipe cannot be made without its
  look-up, so snipe creation keeps half the quota and may use all of it; the wishlist's details
  are a convenience, capped below the pool (40% of 50%) so they always leave creation at least
  60% of the day. Per user: 10% for creation (500 calls at 5,000), 4% for look-ups (200), so it
  takes ten accounts to spend the look-ups' cap.
- ``getitems`` carries only the price updater's polls and the dashboards' refreshes. The final
  minutes decide what a snipe sees last and pace the refreshes (``plan``), so they keep 40% and
  may use everything; the far-off polls are capped at 50%, so however many far-off auctions are
  watched, they leave 10% of the day (500 calls at 5,000) of the pool to the hour's polls and
  the final minutes'.

Each share has one quota: a share of one quota never spends the other's calls. While eBay
refuses this app getItems (a keyset without ``buy.item.bulk``), the polls call getItem, one item
a call, which eBay counts on the other quota: they are then paid from the ``-1`` shares
(``one_item_a_call``), on ``browse``, from its pool only, so snipe creation keeps its reserve
and the polls together never take more than the pool.

``BUDGET#<quota>#<yyyy-mm-dd>`` (``BUDGET#browse#...``, ``BUDGET#getitems#...``) holds ``calls``
(the quota's calls that day), ``pool`` (calls counted against its pool) and per share of the
quota ``u_<key>`` (its calls) and ``r_<key>`` (those counted against its reserve). A user's item,
``BUDGET#<quota>#<yyyy-mm-dd>#<userId>``, holds ``u_<key>`` for the shares with a per-user part
(only ``browse``'s), and ``ownerId``, so account deletion removes it.

Every reservation is an ``ADD`` to its quota's item whose condition bounds each counter it raises
(``pool <= pool size - n``...), so concurrent callers can never overspend whatever the timing:
per quota, pool <= pool size, r_<key> <= reserve, u_<key> <= at most, and so calls <= that
quota's budget. The user's part is taken first and given back if the day refuses. DynamoDB's TTL
removes the items days later.

**eBay's day is Pacific time.** eBay's quotas start afresh at midnight in California, not UTC:
the Analytics API's getRateLimits answers ``"reset": "2018-08-06T07:00:00.000Z"`` with a
``timeWindow`` of 86400 (midnight PDT), and the Trading API's call limits say "The day starts at
midnight, 00:00:00 PST (not GMT)". Counting UTC days let a stack spend the end of one UTC day and
the start of the next inside one eBay day (the pacing saves a quiet morning's calls for the
evening): up to twice a quota there, answered by eBay with 429s. So the counters' day
(``<yyyy-mm-dd>``), ``Retry-After`` and the pacing's "until midnight" are those of
America/Los_Angeles, 23 or 25 hours long on the days the clocks change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

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
# Where eBay's day starts and ends (see the module's docstring).
EBAY_DAY_ZONE = ZoneInfo("America/Los_Angeles")
# plan(): the other shares' use of the pool so far is judged over at least this long, so a busy
# first minute after midnight does not read as a whole day's pace.
PLAN_MIN_ELAPSED_SECONDS = 3600
_ATTEMPTS = 5

# eBay's two daily Browse quotas: every method but getItems, and getItems.
Quota = Literal["browse", "getitems"]
BROWSE: Quota = "browse"
GETITEMS: Quota = "getitems"
QUOTAS: tuple[Quota, ...] = (BROWSE, GETITEMS)


@dataclass(frozen=True)
class Share:
    """Fractions of its quota's daily budget (``api``: BROWSE or GETITEMS): ``reserved`` for
    this share alone, ``cap`` at most in all, ``per_user`` at most for one user (None: no
    per-user part)."""

    key: str
    name: str
    api: Quota
    reserved: float
    cap: float
    per_user: float | None = None


SNIPE_CREATION = Share("create", "snipe-creation", BROWSE, reserved=0.50, cap=1.0, per_user=0.10)
ITEM_LOOKUPS = Share("lookup", "item-lookups", BROWSE, reserved=0.0, cap=0.40, per_user=0.04)
FINAL_POLLS = Share("final", "final-polls", GETITEMS, reserved=0.40, cap=1.0)
HOUR_POLLS = Share("hour", "hour-polls", GETITEMS, reserved=0.0, cap=1.0)
FAR_POLLS = Share("far", "far-polls", GETITEMS, reserved=0.0, cap=0.50)
# The polls while getItems is refused: getItem, on the browse quota, from its pool only.
FINAL_POLLS_1 = Share("final1", "final-polls-1", BROWSE, reserved=0.0, cap=0.40)
HOUR_POLLS_1 = Share("hour1", "hour-polls-1", BROWSE, reserved=0.0, cap=0.40)
FAR_POLLS_1 = Share("far1", "far-polls-1", BROWSE, reserved=0.0, cap=0.20)
SHARES = (
    SNIPE_CREATION,
    ITEM_LOOKUPS,
    FINAL_POLLS,
    HOUR_POLLS,
    FAR_POLLS,
    FINAL_POLLS_1,
    HOUR_POLLS_1,
    FAR_POLLS_1,
)
_ONE_ITEM_A_CALL = {FINAL_POLLS: FINAL_POLLS_1, HOUR_POLLS: HOUR_POLLS_1, FAR_POLLS: FAR_POLLS_1}


def one_item_a_call(share: Share) -> Share:
    """The share that pays for ``share``'s polls while eBay refuses this app getItems: they are
    getItem calls then, which eBay counts on the browse quota."""
    return _ONE_ITEM_A_CALL.get(share, share)


@dataclass(frozen=True)
class Limits:
    """One share's limits in calls, for its quota's daily budget."""

    reserved: int
    cap: int
    pool: int
    per_user: int | None

    @classmethod
    def of(cls, share: Share, daily_budget: int) -> Limits:
        reserved = {s.key: int(daily_budget * s.reserved) for s in SHARES if s.api == share.api}
        per_user = None
        if share.per_user is not None:
            per_user = max(1, int(daily_budget * share.per_user)) if daily_budget > 0 else 0
        return cls(
            reserved=reserved[share.key],
            cap=int(daily_budget * share.cap),
            pool=max(0, daily_budget - sum(reserved.values())),
            per_user=per_user,
        )


def ebay_day(epoch_seconds: float) -> str:
    """The eBay day (its quotas' day, Pacific time) of an instant, as ``yyyy-mm-dd``."""
    return datetime.fromtimestamp(epoch_seconds, EBAY_DAY_ZONE).strftime("%Y-%m-%d")


def day_bounds(epoch_seconds: float) -> tuple[float, float]:
    """The eBay day around an instant: its first and its next day's first epoch second (23, 24
    or 25 hours apart)."""
    now = datetime.fromtimestamp(epoch_seconds, EBAY_DAY_ZONE)
    start = datetime(now.year, now.month, now.day, tzinfo=EBAY_DAY_ZONE)
    following = start.date() + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=EBAY_DAY_ZONE)
    return start.timestamp(), end.timestamp()


def seconds_to_next_day(epoch_seconds: float) -> int:
    """Seconds until eBay's next midnight (Pacific time), when every share starts afresh (at
    least 1)."""
    return max(1, int(day_bounds(epoch_seconds)[1] - epoch_seconds + 0.999))


def budget_key(day: str, api: Quota) -> str:
    return f"BUDGET#{api}#{day}"


def user_budget_key(day: str, api: Quota, user_id: str) -> str:
    return f"{budget_key(day, api)}#{user_id}"


class CallBudget:
    """The day's eBay Browse calls of both quotas, reserved share by share (see the module's
    docstring): ``browse_budget`` calls a day of every method but getItems, ``getitems_budget``
    of getItems."""

    def __init__(
        self,
        table: str,
        browse_budget: int,
        getitems_budget: int,
        client: DynamoDBClient | None = None,
    ) -> None:
        self.table = table
        self.daily_budgets: dict[Quota, int] = {BROWSE: browse_budget, GETITEMS: getitems_budget}
        self.client = repository_client(client)

    def _limits(self, share: Share) -> Limits:
        return Limits.of(share, self.daily_budgets[share.api])

    def spent(self, day: str, api: Quota) -> int:
        return self.counters(day, api).get("calls", 0)

    def counters(self, day: str, api: Quota, user_id: str | None = None) -> dict[str, int]:
        """A quota's counters that day (``calls``, ``pool``, ``u_<key>``, ``r_<key>``), or a
        user's."""
        key = user_budget_key(day, api, user_id) if user_id else budget_key(day, api)
        with translate_errors():
            item = self.client.get_item(
                TableName=self.table, Key={"userId": {"S": key}}, ConsistentRead=True
            ).get("Item")
        found = from_item(item) if item else {}
        return {k: int(v) for k, v in found.items() if isinstance(v, int) and k != "ttl"}

    def reserve(self, share: Share, wanted: int, now: int) -> int:
        """Reserve up to ``wanted`` calls of today's ``share``; returns how many were granted."""
        limits = self._limits(share)
        if wanted <= 0 or limits.cap <= 0:
            return 0
        return self._take_day(ebay_day(now), share, wanted, limits, now)

    def take_one(self, share: Share, user_id: str, now: int) -> None:
        """One call of ``share`` for ``user_id``, or BrowseShareExhausted naming what is spent:
        the user's part or the whole share; both start afresh at eBay's next midnight (Pacific
        time)."""
        limits = self._limits(share)
        day = ebay_day(now)
        retry_after = seconds_to_next_day(now)
        spent = BrowseShareExhausted(
            f"Today's {share.name} share of the app's eBay calls is spent; "
            "it starts afresh at midnight Pacific time, when eBay's day does",
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
                f"({limits.per_user}); it starts afresh at midnight Pacific time",
                [FieldIssue("share", f"{share.name} (yours)")],
                retry_after=retry_after,
            )
        if self._take_day(day, share, 1, limits, now):
            return
        if limits.per_user is not None:
            self._give_back_user(day, user_id, share, 1, now)
        raise spent

    def plan(self, share: Share, now: int) -> int:
        """How many calls of ``share`` to count on until eBay's midnight, for pacing (one read; each
        call is still granted by :meth:`reserve`): what is left of its reserve, plus its quota's
        pool left less what the quota's other shares are on course to take from it by midnight
        at today's rate so far (judged over at least an hour), within its cap."""
        limits = self._limits(share)
        seen = self.counters(ebay_day(now), share.api)
        used, from_reserve = seen.get(f"u_{share.key}", 0), seen.get(f"r_{share.key}", 0)
        start, end = day_bounds(now)
        left_today = max(1.0, end - now)
        others_from_pool = max(0, seen.get("pool", 0) - (used - from_reserve))
        elapsed = max(PLAN_MIN_ELAPSED_SECONDS, now - start)
        others_to_come = others_from_pool * left_today / elapsed
        pool_left = max(0.0, limits.pool - seen.get("pool", 0) - others_to_come)
        reserve_left = max(0, limits.reserved - from_reserve)
        return max(0, min(limits.cap - used, reserve_left + int(pool_left)))

    # ------------------------------------------------------------------ the day's counters
    def _take_day(self, day: str, share: Share, wanted: int, limits: Limits, now: int) -> int:
        used, from_reserve = f"u_{share.key}", f"r_{share.key}"
        key = budget_key(day, share.api)
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
            seen = self.counters(day, share.api)
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
        used, key = f"u_{share.key}", user_budget_key(day, share.api, user_id)
        if wanted <= limit and self._add(
            key, {used: wanted}, {used: limit - wanted}, now, owner=user_id
        ):
            return wanted
        for _attempt in range(_ATTEMPTS):
            grant = min(wanted, limit - self.counters(day, share.api, user_id).get(used, 0))
            if grant <= 0:
                return 0
            if self._add(key, {used: grant}, {used: limit - grant}, now, owner=user_id):
                return grant
        return 0

    def _give_back_user(self, day: str, user_id: str, share: Share, amount: int, now: int) -> None:
        # Unconditional: if it failed, the user would only be counted a call they did not make.
        key = user_budget_key(day, share.api, user_id)
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
