"""bench/cost.py prices the template it reads: every resource type, in both profiles."""

from __future__ import annotations

import pytest

from bench import cost
from local.template import expand_sam, load_yaml


def test_every_resource_type_in_the_template_is_priced():
    # Given every type the template deploys as SAM expands it, whatever its conditions
    declared = {r["Type"] for r in expand_sam(load_yaml())["Resources"].values()}
    # Then the cost model says how each is billed (a price, or why it is per use or free)
    assert declared - set(cost.RESOURCE_PRICES) == set()


@pytest.mark.parametrize("profile", cost.PROFILES)
def test_each_profile_prices_what_its_conditions_keep(profile: str):
    template = cost.load_profile(profile)
    # When its fixed prices are listed (a type missing from the table would raise)
    lines = cost.resource_fixed_costs(template)
    kinds = {kind for _, kind, _ in lines}
    # Then secrets are free SecureStrings in both; KMS and the dashboard are production's
    assert "AWS::SecretsManager::Secret" not in kinds
    assert ("AWS::KMS::Key" in kinds) == (profile == "production")
    assert ("AWS::CloudWatch::Dashboard" in kinds) == (profile == "production")


def test_the_personal_profiles_resources_leave_room_under_fifty_cents():
    # Given the personal profile's fixed resource prices (alarms by the metrics they read)
    lines = cost.resource_fixed_costs(cost.load_profile("personal"))
    # Then they leave at least $0.15 of the $0.50 for the scheduled runs (about $0.12 measured)
    assert sum(dollars for _, _, dollars in lines) <= 0.35


def test_alarms_are_priced_by_the_metrics_they_read():
    assert cost._alarm_metrics({"MetricName": "Errors"}) == 1
    math = {"Metrics": [{"Expression": "a + b"}, {"MetricStat": {}}, {"MetricStat": {}}]}
    assert cost._alarm_metrics(math) == 2


def test_scheduled_runs_come_from_the_templates_rates():
    runs = cost.scheduled_runs(cost.load_profile("personal"))
    assert runs == {
        "PriceUpdaterFunction": 43_200,
        "SnipeReconcilerFunction": 43_200,
        "TokenRefreshFunction": 720,
    }


def test_the_refresh_model_is_the_codes():
    # the bench keeps a copy of the final minutes; the dashboard's rule is cli/ws.py's
    import re

    from cli import ws
    from common import price_polls

    assert cost.FINAL_SECONDS == price_polls.FINAL_SECONDS
    js = (cost.ROOT / "dashboard" / "js" / "realtime.js").read_text()
    for name, seconds in (
        ("REFRESH_JITTER_MS", ws.REFRESH_JITTER_SECONDS),
        ("REFRESH_MIN_MS", ws.REFRESH_MIN_SECONDS),
        ("REFRESH_MAX_MS", ws.REFRESH_MAX_SECONDS),
    ):
        found = re.search(rf"const {name} = ([\d_]+);", js)
        assert found is not None, name
        assert int(found.group(1).replace("_", "")) == seconds * 1000


def test_a_watched_snipe_is_refreshed_at_the_pace_the_budget_allows():
    # Given getItems' 5,000 calls a day from the template
    calls = cost.getitems_per_day(cost.load_profile("personal"))
    assert calls == 5000
    # When one snipe's last minutes are the day's only ones (a quiet day) / Then the rounds run
    # at the fastest pace, 5 s, and its dashboard asks every 5.15 s (the pace and half the
    # jitter): 114 refreshes over its 589 s, not the 58.9 of the 10 s fallback
    quiet = cost.rounds_pace([(10_000.0, 6)], calls)
    assert quiet == 5.0
    assert cost.refresh_period(quiet) == 5.15
    assert round(cost.refreshes_over(589, quiet), 1) == 114.4
    # and on a day of 1,000 auctions evenly spread, the calls last the day at ~17.4 s a round
    busy = cost.rounds_pace(cost.busy_day(1000), calls)
    assert 17 < busy < 18
    assert round(cost.refreshes_over(589, busy), 1) == 33.6
    # and a pace never makes a dashboard ask sooner than the user's own window allows
    assert cost.refresh_period(1.0) == 5.15


def test_snipes_sharing_their_last_minutes_are_refreshed_once():
    # Given snipes with a 6 s lead: frozen 11 s before their end, in their last minutes 589 s
    alone = cost.final_minutes_seconds([(10_000.0, 6)])
    assert alone == 600 - 6 - 5
    # Then two ending together share it, two ending 5 minutes apart overlap by half, and two
    # an hour apart each have their own
    assert cost.final_minutes_seconds([(10_000.0, 6)] * 2) == alone
    assert cost.final_minutes_seconds([(10_000.0, 6), (10_300.0, 6)]) == alone + 300
    assert cost.final_minutes_seconds([(10_000.0, 6), (13_600.0, 6)]) == 2 * alone


def test_a_refresh_is_priced_item_by_item():
    # Given a refresh billed 100 ms at 256 MB
    one = cost.refresh_dollars(100, 256)
    # Then it is two WebSocket messages, a request, its GB-seconds, its DynamoDB units and a log
    assert one["websocket_message"] == 2 * cost.PRICES["websocket_message"]
    assert one["lambda_request"] == cost.PRICES["lambda_request"]
    assert one["lambda_gb_second_arm64"] == 0.1 * 0.25 * cost.PRICES["lambda_gb_second_arm64"]
    assert one["dynamodb_write_request_unit"] == 3 * cost.PRICES["dynamodb_write_request_unit"]
    assert 5e-6 < sum(one.values()) < 8e-6


def test_traces_are_counted_for_the_functions_production_traces():
    # Given each profile's Tracing (SAM Globals, or a function's own)
    production = cost.traced_functions(cost.load_profile("production"))
    # Then production traces the API and the workers, not the stream's broadcaster, and the
    # personal profile traces nothing
    assert {"BidsFunction", "BidExecutorFunction", "NotifierFunction"} <= production
    assert "BroadcasterFunction" not in production
    assert cost.traced_functions(cost.load_profile("personal")) == set()
