"""``bench/price_freshness.py --as-whole-day``: the hours gone today are charged on the day's
counters (moto's tables, from template.yaml) as a whole day of the same load would have spent
them, so the planner paces a whole day at any hour."""

from __future__ import annotations

import pytest

from bench.price_freshness import DAY_SECONDS, charge_whole_day, whole_day_charge
from common.data.budget import (
    BROWSE,
    FINAL_POLLS,
    GETITEMS,
    SNIPE_CREATION,
    CallBudget,
    day_bounds,
    ebay_day,
    seconds_to_next_day,
)
from common.price_polls import pace
from tests.stack_env import get_settings

pytestmark = pytest.mark.usefixtures("workers_env")
MIDNIGHT = int(day_bounds(1_900_000_000)[0])  # eBay's (Pacific time), a 24-hour day
WRITABLE = 589  # an auction's final minutes until its freeze, at the default lead time


def _budget() -> CallBudget:
    return CallBudget(get_settings().users_and_app_state_table, 5000, 5000)


def _rest_of_day(per_day: int, now: int) -> list[tuple[float, float]]:
    """The final minutes still to come today of ``per_day`` evenly spread auctions."""
    starts = [MIDNIGHT + n * DAY_SECONDS / per_day for n in range(per_day)]
    midnight = now + seconds_to_next_day(now)
    return [
        (max(now, start), min(midnight, start + WRITABLE))
        for start in starts
        if start + WRITABLE > now
    ]


@pytest.mark.parametrize("hour", [6, 15.5, 21])
def test_the_planner_paces_a_whole_day_whatever_the_hour(hour: float):
    # Given 1,000 auctions a day, evenly spread: a whole day's pace is 86,400 s of final
    # minutes (7 at once, one call a round) over getItems' 5,000 calls
    whole_day = pace(_rest_of_day(1000, MIDNIGHT), 5000, 20)
    assert whole_day == pytest.approx(17.28, abs=0.01)
    now = int(MIDNIGHT + hour * 3600)
    budget = _budget()
    # When the bench charges the hours gone, then the planner plans the final minutes' polls
    charged = charge_whole_day(budget, whole_day_charge(1000, now), now)
    left = budget.plan(FINAL_POLLS, now)
    # Then what it has left, over the rest of the day's final minutes, is a whole day's pace,
    # not the faster pace of 5,000 calls over the hours left
    assert left == 5000 - charged[FINAL_POLLS]
    assert pace(_rest_of_day(1000, now), left, 20) == pytest.approx(whole_day, rel=0.01)
    assert pace(_rest_of_day(1000, now), 5000, 20) < 0.95 * whole_day


def test_the_charge_is_on_the_product_counters_as_its_own_calls_would_have_left_them():
    # Given 21:00 on eBay's clock, with 1,000 auctions a day: 7/8 of the day gone
    now = MIDNIGHT + 21 * 3600
    # When the bench charges the hours gone
    charged = charge_whole_day(_budget(), whole_day_charge(1000, now), now)
    # Then the final minutes' polls took their reserve (2,000) and the rest from getItems'
    # pool, and 875 snipe creations are on the other quota, within creation's reserve
    assert charged == {FINAL_POLLS: 4375, SNIPE_CREATION: 875}
    getitems = _budget().counters(ebay_day(now), GETITEMS)
    assert (getitems["calls"], getitems["u_final"], getitems["r_final"], getitems["pool"]) == (
        4375,
        4375,
        2000,
        2375,
    )
    browse = _budget().counters(ebay_day(now), BROWSE)
    assert (browse["calls"], browse["u_create"], browse["r_create"], browse.get("pool", 0)) == (
        875,
        875,
        875,
        0,
    )


def test_a_quiet_day_is_charged_at_the_fastest_pace_not_its_whole_share():
    # Given 20 auctions a day: their final minutes cover 11,780 s, which 5,000 calls would poll
    # faster than the fastest pace (5 s); at noon half of them are gone
    now = MIDNIGHT + 12 * 3600
    # When the charge is worked out
    charge = whole_day_charge(20, now)
    # Then the hours gone spent what rounds 5 s apart cost: 5,890 s / 5 s
    assert charge == {FINAL_POLLS: 1178, SNIPE_CREATION: 10}


def test_at_midnight_nothing_is_charged():
    assert whole_day_charge(1000, MIDNIGHT) == {FINAL_POLLS: 0, SNIPE_CREATION: 0}
