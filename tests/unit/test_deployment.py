"""template.yaml against the code: handlers, environment, IAM, failure paths, the layer.

What the code calls and reads is found by ``tests/unit/static_calls.py`` (see its docstring for
what it can and cannot see).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from static_calls import IAM_ACTIONS, LIBRARY_CALLS, reach

from common.settings import Settings
from local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {
    name: r["Properties"]
    for name, r in RESOURCES.items()
    if r["Type"] == "AWS::Serverless::Function"
}
# Read only where the local stack sets them (boto3's endpoint override); absent on AWS.
LOCAL_ONLY_VARIABLES = {"AWS_ENDPOINT_URL_LAMBDA"}


def _reach(name: str):
    handler = FUNCTIONS[name]["Handler"]
    module = handler.rpartition(".")[0]
    siblings = frozenset(
        p["Handler"] for p in FUNCTIONS.values() if p["Handler"].rpartition(".")[0] == module
    )
    return reach(handler, siblings)


def _environment(name: str) -> set[str]:
    shared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    own = (FUNCTIONS[name].get("Environment") or {}).get("Variables") or {}
    return set(shared) | set(own)


def _statements(name: str) -> list[dict[str, Any]]:
    statements = []
    for policy in FUNCTIONS[name].get("Policies") or []:
        assert set(policy) == {"Statement"}, (
            f"{name}: SAM policy templates grant actions the code may not call; "
            f"write the statement out: {policy}"
        )
        statements.extend(policy["Statement"])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _granted(name: str) -> set[str]:
    return {a for s in _statements(name) for a in _as_list(s["Action"])}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_policies_allow_exactly_the_actions_the_code_calls(name: str):
    # Given what the function's code can call, and what its policies allow
    called = _reach(name).actions()
    granted = _granted(name)
    # Then nothing is missing and nothing is spare
    assert called - granted == set(), f"{name} calls but may not: {called - granted}"
    assert granted - called == set(), f"{name} may but never calls: {granted - called}"
    assert not any("*" in action for action in granted)


# A statement's resource names this stack's own resources: a Ref/GetAtt of a logical id, or a
# Sub whose ARN is built from one (or from the stack's name, for the explicitly named functions).
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_statement_is_scoped_to_this_stacks_resources(name: str):
    for statement in _statements(name):
        assert statement["Effect"] == "Allow"
        for resource in _as_list(statement["Resource"]):
            # Then it is never a literal (no "*", no other stack's ARN)
            assert isinstance(resource, dict), f"{name}: literal resource {resource!r}"
            ((kind, arg),) = resource.items()
            if kind == "Ref":
                assert arg in RESOURCES
            elif kind == "Fn::GetAtt":
                assert arg[0] in RESOURCES
            else:
                assert kind == "Fn::Sub"
                names = set(re.findall(r"\$\{([^}.]+)", arg))
                assert names & (set(RESOURCES) | {"AWS::StackName"}), f"{name}: {arg}"
                assert not arg.endswith(":*")
                assert ":function:*" not in arg


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_variable_the_code_reads_is_set_for_the_function(name: str):
    found = _reach(name)
    environment = _environment(name)
    aliases = {field: info.alias for field, info in Settings.model_fields.items() if info.alias}
    # Settings without a default fail validation at cold start, in every function
    required = {info.alias for info in Settings.model_fields.values() if info.is_required()}
    assert required <= environment
    # A setting the code uses is set, not left to its default
    used = {aliases[a] for a in found.attributes() & set(aliases)}
    assert used - environment == set(), f"{name} reads unset {used - environment}"
    # os.environ reads too
    direct = found.environ() - LOCAL_ONLY_VARIABLES
    assert direct - environment == set()


def test_the_analysis_sees_the_calls_it_must():
    # Given handlers whose calls are known from reading them
    # Then the analysis finds them, through ports, factories, transactions and libraries
    # (Query: at the per-user cap, $connect reads the user's rows to forget closed sockets.)
    connect = {
        "dynamodb:ConditionCheckItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    }
    assert connect == _reach("WsConnectFunction").actions()
    assert _reach("WsAuthorizerFunction").actions() == {"dynamodb:GetItem"}  # the tombstone
    broadcaster = _reach("BroadcasterFunction").actions()
    assert broadcaster == {
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
        "execute-api:ManageConnections",
    }
    assert "secretsmanager:GetSecretValue" in _reach("HistoryFunction").actions()  # Powertools
    assert {"scheduler:CreateSchedule", "iam:PassRole"} <= _reach("BidsFunction").actions()
    assert ("lambda", "Invoke") in IAM_ACTIONS
    assert LIBRARY_CALLS


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_no_dynamic_dispatch_on_a_client(name: str):
    # getattr(client, "op") would hide a call from the analysis above.
    assert _reach(name).uses_getattr_on_a_client() == []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_builds_from_the_product_packages_with_the_layer(name: str):
    metadata = RESOURCES[name].get("Metadata") or {}
    assert metadata == {"BuildMethod": "makefile", "WorkingDirectory": "."}
    assert TEMPLATE["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]
    assert FUNCTIONS[name].get("CodeUri") is None  # Globals' deploy/function


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_error_and_throttle_alarms_traces_and_log_retention(name: str):
    alarmed = {
        (r["Properties"]["MetricName"], r["Properties"]["Dimensions"][0]["Value"].get("Ref"))
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"] == "AWS/Lambda"
    }
    assert {("Errors", name), ("Throttles", name)} <= alarmed
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"
    logs = RESOURCES[f"{name}Logs"]["Properties"]
    assert logs["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}
    assert "RetentionInDays" in logs


def test_every_failure_queue_has_an_alarm():
    queues = {n for n, r in RESOURCES.items() if r["Type"] == "AWS::SQS::Queue"}
    alarmed = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"] == "AWS/SQS"
    }
    assert queues == alarmed
    executor = FUNCTIONS["BidExecutorFunction"]["EventInvokeConfig"]["DestinationConfig"]
    notifier = FUNCTIONS["NotifierFunction"]["EventInvokeConfig"]["DestinationConfig"]
    stream = FUNCTIONS["BroadcasterFunction"]["Events"]["BidsStream"]["Properties"]
    assert executor["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["BidExecutorFailureQueue", "Arn"]
    }
    assert notifier["OnFailure"]["Destination"] == {"Fn::GetAtt": ["NotifierFailureQueue", "Arn"]}
    assert stream["DestinationConfig"]["OnFailure"]["Type"] == "SQS"


def test_the_executor_emits_the_failed_metric_the_alarm_watches():
    alarm = RESOURCES["SnipesFailedAlarm"]["Properties"]
    source = (ROOT / "workers/bid_executor.py").read_text()
    assert f'name="{alarm["MetricName"]}"' in source
    namespace = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert alarm["Namespace"] == namespace["POWERTOOLS_METRICS_NAMESPACE"]


def test_the_layer_requirements_are_the_projects_runtime_dependencies():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lines = (ROOT / "deploy/layer/requirements.txt").read_text().splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert requirements == pyproject["project"]["dependencies"]
