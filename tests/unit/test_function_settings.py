"""Every function's settings model against the environment template.yaml gives that function:
it builds from exactly those variables, and fails its cold start naming any required one that
is missing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from local.template import load_yaml
from tests.function_settings import settings_model

TEMPLATE = load_yaml()
PARAMETERS: dict[str, Any] = TEMPLATE.get("Parameters", {})
FUNCTIONS = {
    name: resource["Properties"]
    for name, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}


def _value(raw: Any) -> str:
    """A variable's value as the function would see it: a literal as written, a parameter's
    default for its Ref, a stand-in for what only a deployment knows (ARNs, URLs, names)."""
    if isinstance(raw, dict) and set(raw) == {"Ref"} and raw["Ref"] in PARAMETERS:
        return str(PARAMETERS[raw["Ref"]].get("Default", "set-by-the-deployment"))
    if isinstance(raw, dict):
        return "set-by-the-deployment"
    return str(raw)


def _environment(name: str) -> dict[str, str]:
    """Globals' variables and the function's own, as Lambda merges them."""
    shared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    own = (FUNCTIONS[name].get("Environment") or {}).get("Variables") or {}
    return {key: _value(value) for key, value in {**shared, **own}.items()}


def _required(name: str) -> list[str]:
    model = settings_model(FUNCTIONS[name]["Handler"])
    return sorted(str(f.alias) for f in model.model_fields.values() if f.is_required())


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_function_starts_with_the_environment_the_template_gives_it(name: str):
    # Given exactly the variables the template gives the function
    environment = _environment(name)
    model = settings_model(FUNCTIONS[name]["Handler"])
    # When its settings are read as at cold start
    settings = model.model_validate(environment)
    # Then every variable its model lists is there, and read as the template set it
    for field, info in model.model_fields.items():
        assert info.alias in environment, f"{name} reads {info.alias}, which it is not given"
        assert str(getattr(settings, field)) == environment[str(info.alias)]


@pytest.mark.parametrize(
    ("name", "variable"),
    [(name, variable) for name in sorted(FUNCTIONS) for variable in _required(name)],
)
def test_a_missing_required_variable_fails_the_cold_start_naming_it(name: str, variable: str):
    # Given the function's environment without one variable it requires
    environment = _environment(name)
    del environment[variable]
    model = settings_model(FUNCTIONS[name]["Handler"])
    # When its settings are read / Then the error names that variable
    with pytest.raises(ValidationError) as failure:
        model.model_validate(environment)
    assert [error["loc"] for error in failure.value.errors()] == [(variable,)]
    assert variable in str(failure.value)


def test_names_that_once_defaulted_to_empty_are_required():
    # Given variables that had '' defaults, which let a function start without them
    # Then they are required where they are read
    assert "USERS_TABLE" in _required("UsersFunction")
    assert {"TOKEN_KMS_KEY_ID", "BID_EXECUTOR_ARN"} <= set(_required("BidExecutorFunction"))
