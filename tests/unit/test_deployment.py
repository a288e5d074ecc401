"""template.yaml against the code: handlers, environment, IAM, failure paths, the layer.

What the code calls and reads is found by ``tests/unit/static_calls.py`` (see its docstring for
what it can and cannot see).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from static_calls import IAM_ACTIONS, LIBRARY_CALLS, reach

from local.template import load_yaml, secure_parameters
from tests.function_settings import settings_model

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


def _own_environment(name: str) -> dict[str, Any]:
    return (FUNCTIONS[name].get("Environment") or {}).get("Variables") or {}


def _environment(name: str) -> set[str]:
    shared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    return set(shared) | set(_own_environment(name))


def _statements(name: str) -> list[dict[str, Any]]:
    """Every statement, a conditional one (``!If [Condition, statement, NoValue]``: the KMS
    key's, in the production profile) counted as granted: the code calls KMS only when the
    key's id is set, which is exactly where the statement is."""
    statements = []
    for policy in FUNCTIONS[name].get("Policies") or []:
        assert set(policy) == {"Statement"}, (
            f"{name}: SAM policy templates grant actions the code may not call; "
            f"write the statement out: {policy}"
        )
        for statement in policy["Statement"]:
            if "Fn::If" in statement:
                condition, granted, otherwise = statement["Fn::If"]
                assert condition in TEMPLATE["Conditions"]
                assert otherwise == {"Ref": "AWS::NoValue"}
                statement = granted
            statements.append(statement)
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


def _table_of(resource: Any) -> tuple[str, bool] | None:
    """(table, is its indexes) a statement's resource names, or None for another kind."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        name, attribute = resource["Fn::GetAtt"]
        if RESOURCES[name]["Type"] == "AWS::DynamoDB::Table" and attribute == "Arn":
            return name, False
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        found = re.fullmatch(r"\$\{(\w+)\.Arn\}/index/[\w*]+", str(resource["Fn::Sub"]))
        if found and RESOURCES[found[1]]["Type"] == "AWS::DynamoDB::Table":
            return found[1], True
    return None


def _granted_on_tables(name: str) -> tuple[dict[str, set[str]], set[str]]:
    """The DynamoDB actions each table is granted on, and the tables whose indexes are."""
    actions: dict[str, set[str]] = {}
    indexes: set[str] = set()
    for statement in _statements(name):
        granted = {a for a in _as_list(statement["Action"]) if a.startswith("dynamodb:")}
        for resource in _as_list(statement["Resource"]):
            table = _table_of(resource)
            if granted:
                assert table is not None, f"{name}: {granted} on {resource}"
            if table is None:
                continue
            actions.setdefault(table[0], set()).update(granted)
            if table[1]:
                indexes.add(table[0])
    return actions, indexes


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_table_is_granted_exactly_the_actions_the_code_calls_on_it(name: str):
    # Given what the code calls on each table (static_calls follows each table's name from the
    # call to where it is chosen), and what the policies grant on each
    called = _reach(name).table_actions()
    granted, indexes = _granted_on_tables(name)
    # Then every call's table is known
    assert not called.unresolved, f"{name}: {sorted(called.unresolved)}"
    # And each table gets exactly what is called on it: no write on a table only read, no
    # table the function never touches
    for table in sorted(set(granted) | set(called.actions)):
        calls, grants = called.actions.get(table, set()), granted.get(table, set())
        assert calls - grants == set(), f"{name} calls on {table} but may not: {calls - grants}"
        assert grants - calls == set(), f"{name} may on {table} but never does: {grants - calls}"
    # And a table's indexes are granted only where one is queried
    assert indexes == called.indexed, f"{name}: indexes granted {indexes}, queried {called.indexed}"


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
    model = settings_model(FUNCTIONS[name]["Handler"])
    aliases = {field: info.alias for field, info in model.model_fields.items() if info.alias}
    # Settings without a default fail validation at cold start
    required = {info.alias for info in model.model_fields.values() if info.is_required()}
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
    assert "ssm:GetParameter" in _reach("HistoryFunction").actions()  # Powertools
    assert {"scheduler:CreateSchedule", "iam:PassRole"} <= _reach("BidsFunction").actions()
    assert ("lambda", "Invoke") in IAM_ACTIONS
    assert LIBRARY_CALLS
    # and, per table, through repositories, helpers, transactions and the wiring that picks
    # each repository's table
    history = _reach("HistoryFunction").table_actions()
    assert (history.actions, history.indexed) == (
        {"BidHistoryTable": {"dynamodb:Query"}},
        {"BidHistoryTable"},
    )
    assert connect == set().union(*_reach("WsConnectFunction").table_actions().actions.values())
    assert _reach("WsConnectFunction").table_actions().actions["UsersTable"] == {
        "dynamodb:ConditionCheckItem"  # the account is not being deleted
    }
    executor = _reach("BidExecutorFunction").table_actions().actions
    assert "dynamodb:ConditionCheckItem" in executor["UsersTable"]  # the seal's profile check
    assert executor["BidHistoryTable"] == {"dynamodb:PutItem"}
    # (account deletion: reads and batch-deletes the user's snipes, history and sockets)
    users = _reach("UsersFunction").table_actions().actions
    assert users["ConnectionsTable"] == {"dynamodb:BatchWriteItem", "dynamodb:Query"}


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


def _alarms(condition: str | None) -> dict[str, dict[str, Any]]:
    return {
        n: r["Properties"]
        for n, r in RESOURCES.items()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r.get("Condition") == condition
    }


def _watched(alarm: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    """(namespace, metric, the function or queue it names) of every metric an alarm reads."""
    stats = (
        [alarm]
        if "MetricName" in alarm
        else [{**m["MetricStat"]["Metric"]} for m in alarm["Metrics"] if "MetricStat" in m]
    )
    found = set()
    for stat in stats:
        dimensions = stat.get("Dimensions") or [{}]
        value = dimensions[0].get("Value")
        named = None
        if isinstance(value, dict):
            named = value.get("Ref") or value.get("Fn::GetAtt", [None])[0]
        found.add((stat["Namespace"], stat["MetricName"], named))
    return found


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_watched_in_both_profiles_with_log_retention(name: str):
    # Given the alarms of each profile (template.yaml's Profile parameter)
    production = set().union(*map(_watched, _alarms("IsProduction").values()))
    personal = set().union(*map(_watched, _alarms("IsPersonal").values()))
    # Then production watches this function's errors by name, and the personal profile every
    # function's errors and throttles through Lambda's account-wide metrics
    assert ("AWS/Lambda", "Errors", name) in production
    assert {("AWS/Lambda", "Errors", None), ("AWS/Lambda", "Throttles", None)} <= personal
    # And traces are production's, retention everyone's
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == {
        "Fn::If": ["IsProduction", "Active", "PassThrough"]
    }
    logs = RESOURCES[f"{name}Logs"]["Properties"]
    assert logs["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}
    assert "RetentionInDays" in logs


def test_the_executors_throttles_and_the_broadcasters_backlog_alarm_in_production():
    production = set().union(*map(_watched, _alarms("IsProduction").values()))
    assert ("AWS/Lambda", "Throttles", "BidExecutorFunction") in production
    assert ("AWS/Lambda", "IteratorAge", "BroadcasterFunction") in production


def test_every_asynchronous_failure_goes_to_the_one_alarmed_queue():
    queues = {n for n, r in RESOURCES.items() if r["Type"] == "AWS::SQS::Queue"}
    assert queues == {"FailureQueue"}
    # Then its alarm is in both profiles
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "FailureQueue") in _watched(
        _alarms(None)["FailureQueueAlarm"]
    )
    queue = {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    executor = FUNCTIONS["BidExecutorFunction"]["EventInvokeConfig"]["DestinationConfig"]
    notifier = FUNCTIONS["NotifierFunction"]["EventInvokeConfig"]["DestinationConfig"]
    stream = FUNCTIONS["BroadcasterFunction"]["Events"]["BidsStream"]["Properties"]
    assert executor["OnFailure"]["Destination"] == queue
    assert notifier["OnFailure"]["Destination"] == queue
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == queue
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["SNIPE_DLQ_ARN"] == queue


def test_every_parameter_a_function_may_read_is_declared_and_named_in_its_environment():
    # Given the SecureStrings the template declares (CloudFormation cannot create them)
    declared = {p.suffix for p in secure_parameters(TEMPLATE)}
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    named = {
        v["Fn::Sub"].rpartition("/")[2]
        for f in FUNCTIONS
        for k, v in {**variables, **_own_environment(f)}.items()
        if isinstance(v, dict) and str(v.get("Fn::Sub", "")).startswith("/${AWS::StackName}/")
    }
    granted = {
        r["Fn::Sub"].rpartition("/")[2]
        for f in FUNCTIONS
        for s in _statements(f)
        if "ssm:GetParameter" in _as_list(s["Action"])
        for r in _as_list(s["Resource"])
    }
    # Then every one is named to the functions, and granted by name, and nothing else is
    assert declared == named == granted


def test_the_executor_emits_the_failed_metric_the_alarm_watches():
    alarm = RESOURCES["SnipesFailedAlarm"]["Properties"]
    source = (ROOT / "workers/bid_executor.py").read_text()
    assert f'name="{alarm["MetricName"]}"' in source
    namespace = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert alarm["Namespace"] == namespace["POWERTOOLS_METRICS_NAMESPACE"]


def _pinned(path: Path) -> dict[str, tuple[str, set[str]]]:
    """name -> (version, hashes) of a requirements file written by deploy/lock.py."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split(" --hash=")
        name, _, version = requirement.split(";")[0].strip().partition("==")
        assert version, f"{path.name}: {requirement} is not pinned"
        found[name.lower().replace("_", "-")] = (version.strip(), {o.strip() for o in options})
    return found


def _closure(lock: dict[str, Any], roots: list[dict[str, Any]]) -> set[str]:
    """Every package the lock installs for ``roots`` (its dependency entries), extras followed."""
    packages = {p["name"]: p for p in lock["package"]}
    found: set[str] = set()
    pending = list(roots)
    while pending:
        dependency = pending.pop()
        package = packages[dependency["name"]]
        extras = [
            d for e in dependency.get("extra", []) for d in package["optional-dependencies"][e]
        ]
        if dependency["name"] not in found or extras:
            found.add(dependency["name"])
            pending += package.get("dependencies", []) + extras
    return found


def test_every_dependency_is_pinned_with_its_hashes_and_installed_from_the_lock():
    # Given the lock, which pins every dependency of pyproject.toml with its files' hashes
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    project = packages["ebay-sniper"]
    # Then the layer installs exactly the run-time closure, each at its locked version with
    # every hash of its files (pip refuses a file whose hash is not listed)
    layer = _pinned(ROOT / "deploy/layer/requirements.txt")
    assert set(layer) == _closure(lock, project["dependencies"]) - {"ebay-sniper"}
    for name, (version, hashes) in layer.items():
        locked = packages[name]
        files = [*locked.get("wheels", []), *([locked["sdist"]] if "sdist" in locked else [])]
        assert version == locked["version"], name
        assert hashes == {f["hash"] for f in files}, name
    # And pip installs uv only, pinned with its hashes, before uv installs the frozen lock
    assert set(_pinned(ROOT / "deploy/uv-requirements.txt")) == {"uv"}
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes --no-deps -r deploy/uv-requirements.txt" in makefile
    assert "uv sync --quiet --frozen --extra dev" in makefile
    # And both files are what deploy/lock.py makes of the lock today (make lint checks it too)
    subprocess.run([sys.executable, "deploy/lock.py", "--check"], cwd=ROOT, check=True)


def _encryption_context_keys() -> set[str]:
    """The keys of every EncryptionContext common/token_crypto.py gives KMS."""
    tree = ast.parse((ROOT / "common/token_crypto.py").read_text())
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "EncryptionContext":
            assert isinstance(node.value, ast.Dict), "a literal context, so it can be checked"
            keys |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    return keys


def _keys() -> set[str]:
    return {n for n, r in RESOURCES.items() if r["Type"] == "AWS::KMS::Key"}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_key_grant_is_bound_to_the_encryption_context_the_code_uses(name: str):
    # Given the context the token cipher seals and opens under
    context = _encryption_context_keys()
    assert context == {"userId"}
    for statement in _statements(name):
        if not any(a.startswith("kms:") for a in _as_list(statement["Action"])):
            continue
        # Then each KMS grant names one of this stack's keys
        for resource in _as_list(statement["Resource"]):
            assert resource["Fn::GetAtt"][0] in _keys(), f"{name}: {resource}"
        # And only for data keys under exactly that context: every key of it present, no other
        condition = statement.get("Condition") or {}
        assert condition.get("Null") == {f"kms:EncryptionContext:{k}": "false" for k in context}
        only = condition.get("ForAllValues:StringEquals") or {}
        assert sorted(only.get("kms:EncryptionContextKeys", [])) == sorted(context), name


def test_every_role_a_service_assumes_is_bound_to_this_stacks_source():
    roles = {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::IAM::Role"}
    assert "SnipeSchedulerRole" in roles
    for name, role in roles.items():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            if "Service" not in statement["Principal"]:
                continue
            # Then the service may assume it only for this account and this stack's resource
            # (EventBridge Scheduler: this stack's schedule group), not as a confused deputy
            # for another account's or another stack's
            condition = statement["Condition"]["StringEquals"]
            assert condition["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}, name
            source = condition["aws:SourceArn"]["Fn::Sub"]
            assert not source.endswith("*"), name
            named = set(re.findall(r"\$\{([^}.:]+)\}", source)) & set(RESOURCES)
            assert named, f"{name}: {source} names none of this stack's resources"
    scheduler = roles["SnipeSchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]
    source = scheduler["Statement"][0]["Condition"]["StringEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith(":schedule-group/${SnipeScheduleGroup}")


def test_what_users_data_depends_on_outlives_the_stack_like_the_data():
    # Given the Users table, retained on deletion and replacement
    users = RESOURCES["UsersTable"]
    assert (users["DeletionPolicy"], users["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # Then so are the pool its keys are the user ids of, and every key its tokens are sealed
    # under: without them the stored tokens cannot be opened, nor the rows matched to a user
    for name in ["UserPool", *sorted(_keys())]:
        resource = RESOURCES[name]
        assert resource.get("DeletionPolicy") == "Retain", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name
