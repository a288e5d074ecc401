"""The folder rules of docs/architecture.md, checked on the source itself."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("common", "rest", "workers", "realtime")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _sources("common"), ids=str)
def test_common_imports_nothing_from_the_other_code_folders(path: Path):
    assert not _imports(path) & {"rest", "workers", "realtime", "local"}


@pytest.mark.parametrize("path", [p for f in PRODUCT for p in _sources(f)], ids=str)
def test_product_code_never_imports_local_or_the_cli(path: Path):
    # Neither ships in a function (deploy/function/Makefile): an import would fail in Lambda.
    assert not _imports(path) & {"local", "cli"}


@pytest.mark.parametrize("path", _sources("cli"), ids=str)
def test_the_cli_imports_neither_product_nor_local_stack_code(path: Path):
    # It is a client of a stack, local or deployed, and speaks to it over the wire only.
    assert not _imports(path) & {*PRODUCT, "local"}


FUNCTION_FOLDERS = ("rest", "workers", "realtime")


@pytest.mark.parametrize("path", [p for f in FUNCTION_FOLDERS for p in _sources(f)], ids=str)
def test_the_function_folders_share_only_common(path: Path):
    folder = path.relative_to(ROOT).parts[0]
    assert not _imports(path) & (set(FUNCTION_FOLDERS) - {folder})


@pytest.mark.parametrize("path", [p for f in PRODUCT for p in _sources(f)], ids=str)
def test_product_state_per_container_is_a_module_level_cache(path: Path):
    # What a function builds once per container lives in module-level functools.cache functions
    # (its composition root, settings, default clients), which the local stack forgets for each
    # new stack (local.lambda_runtime.new_containers): no per-thread or global state it misses,
    # and nothing in the product that knows a process may host several stacks.
    tree = ast.parse(path.read_text(), filename=str(path))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Global)]
    assert "threading.local" not in path.read_text()


MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("path", [p for f in PRODUCT for p in _sources(f)], ids=str)
def test_no_product_function_is_longer_than_60_lines(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


@pytest.mark.parametrize("path", _sources("local"), ids=str)
def test_the_local_stack_imports_no_benchmark_or_test(path: Path):
    # The chaos harness drives a stack from bench/; the stack itself knows nothing of it.
    assert not _imports(path) & {"bench", "tests"}


@pytest.mark.parametrize("path", _sources("local/ebay_sim"), ids=str)
def test_the_simulator_imports_no_product_code(path: Path):
    # It stands in for eBay: sharing the client's models would make its checks circular.
    assert not _imports(path) & set(PRODUCT)


def _functions() -> dict[str, dict]:
    resources = load_yaml(ROOT / "template.yaml")["Resources"]
    return {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }


@pytest.mark.parametrize("name", sorted(_functions()))
def test_every_function_in_the_template_has_an_importable_handler(name: str):
    module_name, attribute = _functions()[name]["Handler"].rsplit(".", 1)
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


def _http_routes() -> list[tuple[str, str, str]]:
    """(function, METHOD, path) of every HttpApi route the template declares."""
    return [
        (name, event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for name, props in _functions().items()
        for event in (props.get("Events") or {}).values()
        if event["Type"] == "HttpApi"
    ]


def test_the_openapi_document_covers_every_http_route_in_the_template():
    from rest.openapi import build_openapi

    # Given every HttpApi route the template declares, but the ANY routes that take a path's
    # undeclared methods to its function (405)
    declared = {(m.lower(), p) for _, m, p in _http_routes() if m != "ANY"}
    # When the merged OpenAPI document is built
    document = build_openapi()
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    # Then they match exactly: no undocumented route, no documented route without a function
    assert declared == documented


def test_every_path_routes_its_other_methods_to_the_function_that_owns_it():
    # Given the function of each path of a method route
    owners: dict[str, set[str]] = {}
    for function, method, path in _http_routes():
        if method != "ANY":
            owners.setdefault(path, set()).add(function)
    # Then one function owns each path, and the path's ANY route goes to it, where an
    # undeclared method gets 405 with Allow (rest/app.py) instead of API Gateway's 404
    assert all(len(functions) == 1 for functions in owners.values()), owners
    any_routes = {path: function for function, method, path in _http_routes() if method == "ANY"}
    assert any_routes == {path: next(iter(functions)) for path, functions in owners.items()}
