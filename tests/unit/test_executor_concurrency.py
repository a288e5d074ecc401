"""The bid executor's reserved concurrency: a template parameter, 0 meaning unreserved, that the
local stack's template reader still resolves (docs/deployment.md, "Executor concurrency")."""

from __future__ import annotations

import math

import pytest

from local.template import Template, load_yaml

ACCOUNT_CONCURRENCY = 1000  # a region's default quota
ALWAYS_UNRESERVED = 100  # what Lambda keeps for unreserved functions


def _reserved(overrides: dict[str, str]) -> dict[str, object]:
    template = Template.load(overrides=overrides)
    raw = template.raw_properties("BidExecutorFunction")
    return template.resolve({"value": raw["ReservedConcurrentExecutions"]})


def test_the_executor_reserves_the_parameters_concurrency_by_default():
    # Given the template as deployed without overrides
    parameter = load_yaml()["Parameters"]["BidExecutorReservedConcurrency"]
    # When the executor's properties are resolved / Then it reserves the default
    assert _reserved({}) == {"value": str(parameter["Default"])}
    # and the default fits any account with the default quota, leaving Lambda's minimum
    assert 0 < int(parameter["Default"]) <= ACCOUNT_CONCURRENCY - ALWAYS_UNRESERVED
    assert parameter["MinValue"] == 0


@pytest.mark.parametrize(("override", "expected"), [("0", {}), ("75", {"value": "75"})])
def test_zero_leaves_the_executor_unreserved_and_any_other_value_is_reserved(override, expected):
    # Given a stack deployed with the parameter overridden
    # When the executor's properties are resolved
    # Then 0 drops the property (unreserved) and another value is the reservation
    assert _reserved({"BidExecutorReservedConcurrency": override}) == expected


def test_the_default_follows_the_documented_sizing_rule():
    # Given the rule: ceil(1.2 x snipes firing within any 5 minutes) + 2
    def sized(snipes_in_five_minutes: int) -> int:
        return math.ceil(1.2 * snipes_in_five_minutes) + 2

    # Then the default serves a personal stack with 15 such snipes
    default = int(load_yaml()["Parameters"]["BidExecutorReservedConcurrency"]["Default"])
    assert sized(15) == default
