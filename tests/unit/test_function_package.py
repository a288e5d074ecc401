"""What deploy/function/Makefile puts in every Lambda function: the product, and no CLI."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _build(artifacts: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is missing: sam build runs this Makefile with it")
    subprocess.run(
        [make, "--silent", "-f", "deploy/function/Makefile", "build-AnyFunction",
         f"ARTIFACTS_DIR={artifacts}"],
        cwd=ROOT, check=True, timeout=60,
    )  # fmt: skip


def _imports_argparse(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "argparse":
            return True
    return False


def test_the_function_package_holds_the_product_packages_and_no_cli(tmp_path: Path):
    # Given the package `sam build` makes for a function
    # When the Makefile builds it
    _build(tmp_path)
    # Then it holds the four product packages and nothing else at its top
    assert {p.name for p in tmp_path.iterdir()} == {"common", "rest", "workers", "realtime"}
    # And no command line: not the `sniper ws` package, nor any module that parses arguments
    sources = sorted(tmp_path.rglob("*.py"))
    assert sources, "the build copied no source"
    assert not [p for p in sources if p.stem == "cli" or p.parent.name == "cli"]
    assert not [p.relative_to(tmp_path) for p in sources if _imports_argparse(p)]
