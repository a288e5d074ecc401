"""The workers' conditional writes against moto: budget, snipe updates, price points, relink."""

from __future__ import annotations

import boto3
import pytest

from common.data.budget import BROWSE, FINAL_POLLS, GETITEMS, CallBudget, ebay_day
from common.data.dynamo import to_item
from common.data.prices import MAX_POINTS, PriceHistory
from common.data.relink_warnings import RelinkWarnings
from common.data.snipe_updates import SnipeUpdates
from common.models import EBAY_LINKED
from common.notifier_client import NotificationKind
from tests.integration.workers.worker_helpers import NOW, FakeNotifier, put_bid, put_user
from tests.stack_env import get_settings
from workers.logic import tokens

pytestmark = pytest.mark.usefixtures("workers_env")


def test_the_daily_budget_is_never_exceeded():
    # Given 10 getItems calls a day (4 reserved for the final minutes, 6 shared) and 10 of the
    # other Browse methods (5 reserved for snipe creation)
    budget = CallBudget(get_settings().users_and_app_state_table, 10, 10)
    day = ebay_day(NOW)
    # When the final minutes' polls ask for more than there is / Then they get the shared 6 and
    # their own 4, never a call of the look-ups' quota
    assert budget.reserve(FINAL_POLLS, 7, NOW) == 7
    assert budget.reserve(FINAL_POLLS, 7, NOW) == 3  # what is left to them
    assert budget.reserve(FINAL_POLLS, 1, NOW) == 0
    assert (budget.spent(day, GETITEMS), budget.spent(day, BROWSE)) == (10, 0)
    assert budget.reserve(FINAL_POLLS, 1, NOW + 86_400) == 1  # a new eBay day


def test_a_snipe_update_loses_to_a_concurrent_change_and_bumps_the_version():
    bid = put_bid(bid_id="b1", auctionEndTime=NOW + 3600)
    updates = SnipeUpdates(get_settings().bids_table)
    assert updates.apply(bid, {"currentPrice": 4200}, NOW)
    # the same stale copy cannot write again: the version moved on
    assert not updates.apply(bid, {"currentPrice": 4300}, NOW)
    # nothing is written once the snipe is frozen
    fresh = bid.model_copy(update={"version": 2})
    assert not updates.apply(fresh, {"countdownPhase": "1m"}, NOW + 3590)
    with pytest.raises(ValueError, match="not a price-updater attribute"):
        updates.apply(fresh, {"status": "WON"}, NOW)


def test_price_points_are_capped():
    history = PriceHistory(get_settings().users_and_app_state_table)
    for i in range(MAX_POINTS + 3):
        history.add_point("110000000001", NOW + i, 100 + i, "USD", NOW + 9999)
    points = history.points("110000000001")
    assert len(points) == MAX_POINTS
    assert points[0] == (NOW + 3, 103)


def _link(user_id: str, refresh_expires_at: int) -> None:
    boto3.client("dynamodb").update_item(
        TableName=get_settings().users_and_app_state_table,
        Key={"userId": {"S": user_id}},
        UpdateExpression="SET ebayLinkState = :l, ebayRefreshExpiresAt = :r, "
        "ebayAccessExpiresAt = :a, ebayTokens = :t, ebayAccountId = :acct",
        ExpressionAttributeValues={
            k: v
            for k, v in to_item(
                {
                    ":l": EBAY_LINKED,
                    ":r": refresh_expires_at,
                    ":a": NOW + 7200,
                    ":t": "envelope",
                    ":acct": "ebay-ada",
                }
            ).items()
        },
    )


def test_the_relink_warning_goes_out_once_per_expiry():
    # Given a user whose refresh token expires in 3 days, and one with 30 days left
    put_user("u-soon")
    put_user("u-later")
    _link("u-soon", NOW + 3 * 86400)
    _link("u-later", NOW + 30 * 86400)
    notifier = FakeNotifier()
    from tests import stack_env

    def run():
        return tokens.run(
            stack_env.ebay_links_repo(),
            stack_env.bids_repo(),
            RelinkWarnings(get_settings().users_and_app_state_table),
            None,
            None,  # type: ignore[arg-type]
            notifier,
            7,
            lambda: float(NOW),
        )

    # When the worker runs twice
    first, second = run(), run()
    # Then only the expiring user is warned, once
    assert notifier.calls == [(NotificationKind.RELINK_NEEDED, "u-soon", None)]
    assert (first.relinkWarnings, second.relinkWarnings) == (1, 0)
    assert first.usersProcessed == 1
    # A new expiry (the user linked again, still expiring soon) warns again
    _link("u-soon", NOW + 4 * 86400)
    assert run().relinkWarnings == 1
