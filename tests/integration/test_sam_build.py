"""`sam build` on this machine, without Docker, and what it ships.

Two builds run side by side: the template as deployed (arm64) and a copy for this machine's
architecture (x86_64), the same in every other respect, because arm64 extension modules cannot be
imported here. The handlers are imported from the second, in an isolated interpreter that sees
the standard library and the build output only: what Lambda would see, less the runtime's own
packages (which the layer does not rely on: it ships its boto3).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = {"common", "rest", "workers", "realtime"}
BUILD_TIMEOUT_SECONDS = 600

pytestmark = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="the import build targets x86_64 hosts"
)


def _sam() -> str:
    found = shutil.which("sam", path=str(Path(sys.executable).parent)) or shutil.which("sam")
    if not found:
        pytest.fail("aws-sam-cli is missing: it is in the dev extra (make install)")
    return found


def _build(template: Path, build_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_sam(), "build", "--template-file", str(template), "--base-dir", str(ROOT),
         "--build-dir", str(build_dir), "--parallel"],
        cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False,
        env=_build_environment(),
    )  # fmt: skip


def _build_environment() -> dict[str, str]:
    """This machine's environment without what the test session exports for moto and the
    handlers (AWS_ENDPOINT_URL, table names, ...): the build must not depend on them."""
    keep = ("PATH", "HOME", "LANG", "LC_", "PIP_", "SSL_", "REQUESTS_CA", "TMP", "HTTP", "NO_PROXY")
    env = {k: v for k, v in os.environ.items() if k.upper().startswith(keep)}
    return {**env, "SAM_CLI_TELEMETRY": "0"}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("sam")
    host_template = base / "template-x86_64.yaml"
    host_template.write_text((ROOT / "template.yaml").read_text().replace("arm64", "x86_64"))
    targets = {"arm64": (ROOT / "template.yaml", base / "arm64"),
               "x86_64": (host_template, base / "x86_64")}  # fmt: skip
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(targets, pool.map(lambda t: _build(*t), targets.values()), strict=True))
    for arch, result in results.items():
        assert result.returncode == 0, f"sam build ({arch}) failed:\n{result.stdout}{result.stderr}"
    return {arch: build_dir for arch, (_, build_dir) in targets.items()}


def _functions() -> dict[str, dict]:
    resources = load_yaml(ROOT / "template.yaml")["Resources"]
    return {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }


def _requirement_names() -> set[str]:
    """The pinned names of the layer's requirements (``name==version \\``, then their hashes)."""
    lines = (ROOT / "deploy/layer/requirements.txt").read_text().splitlines()
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("--"):
            names.add(line.split("[")[0].split(";")[0].split("=")[0].strip().lower())
    return names


def test_every_function_ships_the_product_packages_and_nothing_else(builds: dict[str, Path]):
    for name in _functions():
        # Given the function's artifact
        artifact = builds["arm64"] / name
        # Then it holds the four product packages, no local stack, tests, benchmarks, caches
        assert {p.name for p in artifact.iterdir()} == PRODUCT, name
        assert not list(artifact.rglob("__pycache__")), name


def test_the_layer_holds_every_runtime_dependency_built_for_arm64(builds: dict[str, Path]):
    # Given the layer as deployed
    site = builds["arm64"] / "SharedLayer" / "python"
    installed = {p.name.split("-")[0].replace("_", "-").lower() for p in site.glob("*.dist-info")}
    # Then every requirement is installed (dist-info names normalise - to _)
    assert {n.replace("_", "-") for n in _requirement_names()} <= installed
    # And every extension module is an aarch64 build (manylinux wheels; no container needed)
    extensions = list(site.rglob("*.so"))
    assert extensions
    assert all("x86_64" not in p.name for p in extensions), extensions
    assert any("aarch64" in p.name for p in extensions)


def test_every_handler_imports_from_the_build_output_alone(builds: dict[str, Path]):
    build = builds["x86_64"]
    layer = build / "SharedLayer" / "python"
    for name, props in _functions().items():
        module, _, attribute = props["Handler"].rpartition(".")
        # Given an interpreter without site-packages, whose path is the artifact and the layer
        # (the order of Lambda's: /var/task, then /opt/python)
        code = (
            "import importlib, json, sys\n"
            f"sys.path[:0] = [{str(build / name)!r}, {str(layer)!r}]\n"
            f"handler = getattr(importlib.import_module({module!r}), {attribute!r})\n"
            "assert callable(handler)\n"
            "outside = sorted({m.__file__ for m in list(sys.modules.values())\n"
            "    if getattr(m, '__file__', None) and 'site-packages' in m.__file__})\n"
            "print(json.dumps(outside))\n"
        )
        # When the handler is imported
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code],
            capture_output=True, text=True, timeout=120, check=False,
            env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ.get("PATH", "")},
        )  # fmt: skip
        # Then it imports, and nothing came from this machine's site-packages
        assert result.returncode == 0, f"{name}: {result.stderr}"
        assert json.loads(result.stdout.strip().splitlines()[-1]) == [], name


def test_artifacts_stay_small(builds: dict[str, Path]):
    # bench/package.py prints these sizes; here only Lambda's limits and our own ceiling.
    for name in _functions():
        assert _zipped_size(builds["arm64"] / name) < 1_000_000, name
    layer = builds["arm64"] / "SharedLayer"
    assert _unzipped_size(layer) < 250 * 1024 * 1024  # Lambda's limit, function plus layers
    assert _zipped_size(layer) < 50 * 1024 * 1024  # a direct upload's limit


def _unzipped_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _zipped_size(folder: Path) -> int:
    target = folder.parent / f"{folder.name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    return target.stat().st_size
