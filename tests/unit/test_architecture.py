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
def test_product_code_never_imports_local(path: Path):
    assert "local" not in _imports(path)


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


def test_the_openapi_document_covers_every_http_route_in_the_template():
    from rest.openapi import build_openapi

    # Given every HttpApi route the template declares
    declared = set()
    for props in _functions().values():
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "HttpApi":
                declared.add((event["Properties"]["Method"].lower(), event["Properties"]["Path"]))
    # When the merged OpenAPI document is built
    document = build_openapi()
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    # Then they match exactly: no undocumented route, no documented route without a function
    assert declared == documented
