"""Every boto3 client the product makes gives up before the function that uses it times out.

The call sites are found in the source (every ``*.client(...)`` of boto3, every Powertools
provider), their ``config=`` is evaluated, and its worst case (common/aws.py) is compared with the
``Timeout`` of every function in template.yaml whose code can reach that call site
(``tests/unit/static_calls.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from static_calls import PRODUCT, reach

from common import aws
from local.lambda_runtime import new_containers
from local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml(ROOT / "template.yaml")
FUNCTIONS = {
    name: r["Properties"]
    for name, r in TEMPLATE["Resources"].items()
    if r["Type"] == "AWS::Serverless::Function"
}
DEFAULT_TIMEOUT = TEMPLATE["Globals"]["Function"]["Timeout"]
# Config arguments that decide how long a call can take: literals at every call site, so this
# test can read them.
TIMING = {"connect_timeout", "read_timeout", "retries"}
# Powertools' module-level readers build a provider, and so a client, with botocore's defaults.
DEFAULT_CLIENT_READERS = {"get_secret", "get_parameter", "get_parameters", "get_app_config"}


@dataclass(frozen=True)
class ClientSite:
    module: str
    function: str | None  # the def it is in (None: the module's top level)
    line: int
    what: str
    config: Config | None  # None: no config of common.aws


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _is_aws_config(node: ast.expr, module: str) -> bool:
    """``aws.CONFIG`` or ``aws.config(...)`` (inside common.aws: ``CONFIG``, ``config(...)``)."""
    target = node.func if isinstance(node, ast.Call) else node
    if module == "common.aws" and isinstance(target, ast.Name):
        return target.id in ("CONFIG", "config")
    return (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "aws"
        and target.attr in ("CONFIG", "config")
    )


def _evaluate(node: ast.expr) -> Config:
    if not isinstance(node, ast.Call):
        return aws.CONFIG
    overrides = {}
    for keyword in node.keywords:
        assert keyword.arg is not None, "no **kwargs into a client's config"
        if keyword.arg in TIMING:
            overrides[keyword.arg] = ast.literal_eval(keyword.value)
    return aws.config(**overrides)


class _Finder(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.functions: list[str] = []
        self.sites: list[ClientSite] = []

    def _def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = _def
    visit_AsyncFunctionDef = _def

    def _site(self, node: ast.Call, what: str, config: Config | None) -> None:
        function = self.functions[-1] if self.functions else None
        self.sites.append(ClientSite(self.module, function, node.lineno, what, config))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        keywords = {k.arg: k.value for k in node.keywords}
        if name in ("client", "resource") and isinstance(func, ast.Attribute):
            config = keywords.get("config")
            ok = config is not None and _is_aws_config(config, self.module)
            self._site(node, name, _evaluate(config) if ok and config else None)
        elif name.endswith("Provider") and name[0].isupper():
            # A Powertools provider: it must be handed a client made as above.
            self._site(node, name, aws.CONFIG if "boto3_client" in keywords else None)
        elif name in DEFAULT_CLIENT_READERS and isinstance(func, ast.Attribute):
            owner = func.value
            if isinstance(owner, ast.Name) and owner.id == "parameters":
                self._site(node, f"parameters.{name}", None)
        self.generic_visit(node)


def _product_sites() -> list[ClientSite]:
    sites = []
    for folder in PRODUCT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            finder = _Finder(_module_name(path))
            finder.visit(ast.parse(path.read_text(), filename=str(path)))
            sites += finder.sites
    return sites


def _reached(name: str) -> list[ClientSite]:
    """The call sites the function's code can run (static_calls: by module and name)."""
    handler = FUNCTIONS[name]["Handler"]
    module = handler.rpartition(".")[0]
    siblings = frozenset(
        p["Handler"] for p in FUNCTIONS.values() if p["Handler"].rpartition(".")[0] == module
    )
    found = reach(handler, siblings)
    taken = {id(unit) for _, unit in found.units}
    reached = []
    for site in SITES:
        loaded = found.modules.get(site.module)
        if loaded is None:
            continue
        bodies = loaded.defs.get(site.function, []) if site.function else [(loaded.top, 0, 0)]
        if any(id(body) in taken for body, _, _ in bodies):
            reached.append(site)
    return reached


SITES = _product_sites()


def test_the_search_finds_the_clients_it_must():
    # Given the factories known to make clients
    found = {(s.module, s.what) for s in SITES}
    # Then the search sees them (if it saw none, the checks below would pass for nothing)
    assert {
        ("common.data.dynamo", "client"),
        ("common.scheduling", "client"),
        ("common.notifier_client", "client"),
        ("common.token_crypto", "client"),
        ("common.data.identities", "client"),
        ("common.data.push", "client"),
        ("common.data.connections", "client"),
        ("common.aws", "client"),
        ("common.aws", "SSMProvider"),
    } <= found


@pytest.mark.parametrize("site", SITES, ids=lambda s: f"{s.module}:{s.line}:{s.what}")
def test_every_client_is_made_with_the_shared_config(site: ClientSite):
    # Then its config is common.aws's (with overrides), never botocore's 60 s defaults
    assert site.config is not None, (
        f"{site.module}:{site.line} {site.what}: pass config=aws.CONFIG or aws.config(...)"
    )


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_client_gives_up_inside_its_functions_timeout(name: str):
    # Given the function's timeout and the client call sites its code can run
    timeout = FUNCTIONS[name].get("Timeout", DEFAULT_TIMEOUT)
    reached = _reached(name)
    assert any(s.module == "common.data.dynamo" for s in reached), "the search is broken"
    # Then each one's worst case, every attempt and backoff, ends before the function does
    for site in reached:
        assert site.config is not None, f"{site.module}:{site.line}"
        worst = aws.worst_case_seconds(site.config)
        assert worst < timeout, (
            f"{name} (Timeout {timeout} s) can run {site.module}:{site.line}, which can take "
            f"{worst:.1f} s"
        )


def test_the_worst_case_counts_what_botocore_does():
    # Given configs as botocore reads them (max_attempts counts retries; total includes the first)
    retries_only = Config(retries={"max_attempts": 1, "mode": "standard"})
    total = Config(retries={"total_max_attempts": 3, "mode": "standard"})
    # Then the attempts match botocore's own normalisation, and the worst case adds up
    assert aws.attempts(retries_only) == 2
    assert aws.attempts(total) == 3
    assert aws.worst_case_seconds(aws.CONFIG) == pytest.approx(2 * (0.5 + 1.0) + 1.0)
    assert aws.worst_case_seconds(aws.config(retries={"total_max_attempts": 1})) == 1.5
    # And botocore's defaults (60 s each way) are what this all guards against
    assert aws.worst_case_seconds(Config()) > max(
        int(p.get("Timeout", DEFAULT_TIMEOUT)) for p in FUNCTIONS.values()
    )


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    new_containers()
    yield
    new_containers()


def test_the_factories_build_clients_with_these_settings(fresh: Any):
    # Given the clients the factories build (no request is made; KMS's is a process-wide
    # global that would outlive this test, so only its call site is checked above)
    from common.data import connections, dynamo, identities, push
    from common.notifier_client import default_lambda_client
    from common.scheduling import default_scheduler_client

    shared = {
        "dynamodb": dynamo.default_client(),
        "dynamodb pooled": connections.pooled_client(32),
        "scheduler": default_scheduler_client(),
        "lambda": default_lambda_client(),
        "cognito-idp": identities.default_cognito_client(),
        "ssm": aws.secrets_provider().client,
    }
    pusher = push.management_client("https://example.com/dev").meta.config
    # Then botocore holds the timeouts and attempts the call sites asked for
    for what, client in shared.items():
        settings = client.meta.config
        assert settings.connect_timeout == aws.CONNECT_TIMEOUT_SECONDS, what
        assert settings.read_timeout == aws.READ_TIMEOUT_SECONDS, what
        assert settings.retries["total_max_attempts"] == aws.TOTAL_ATTEMPTS, what
    # And the WebSocket pusher, which backs off itself, sends each post once
    assert pusher.retries["total_max_attempts"] == 1
    assert aws.worst_case_seconds(pusher) == 7.0
