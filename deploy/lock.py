"""Re-lock the dependencies, and write what installs from the lock without reading it.

    .venv/bin/python deploy/lock.py            (make lock: after changing pyproject.toml)
    .venv/bin/python deploy/lock.py --check    (make lint: the files below match uv.lock)

uv.lock pins every dependency of pyproject.toml, run time and dev, with the hashes of its files;
`make install` installs exactly it (`uv sync --frozen`), for `make run`, `make test` and CI. Two
files are made from it for what cannot read it:

- deploy/layer/requirements.txt: the run-time dependencies with their hashes, which `sam build`
  installs into the SharedLayer (pip checks every hash);
- deploy/uv-requirements.txt: uv itself with its hashes, which `make install` installs with pip
  before uv installs the rest.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "uv.lock"
LAYER = ROOT / "deploy" / "layer" / "requirements.txt"
BOOTSTRAP = ROOT / "deploy" / "uv-requirements.txt"
UV = Path(sys.executable).with_name("uv")

LAYER_HEADER = """\
# The functions' run-time dependencies ([project].dependencies of pyproject.toml), exactly as
# uv.lock pins them, with their hashes: `sam build` installs them into the SharedLayer for the
# template's architecture. Written by deploy/lock.py (make lock); make lint checks it.
"""
BOOTSTRAP_HEADER = """\
# uv, as uv.lock pins it, with its hashes: the one package `make install` installs with pip,
# before `uv sync --frozen` installs uv.lock. Written by deploy/lock.py (make lock).
"""


def layer_requirements() -> str:
    exported = subprocess.run(  # noqa: S603 (our own argv)
        [str(UV), "export", "--frozen", "--no-emit-project", "--no-header"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return LAYER_HEADER + exported


def bootstrap_requirements() -> str:
    lock = tomllib.loads(LOCK.read_text())
    (uv,) = [p for p in lock["package"] if p["name"] == "uv"]
    files = [*uv.get("wheels", []), *([uv["sdist"]] if "sdist" in uv else [])]
    hashes = sorted(f["hash"] for f in files)
    lines = [f"uv=={uv['version']}", *(f"--hash={h}" for h in hashes)]
    return BOOTSTRAP_HEADER + " \\\n    ".join(lines) + "\n"


def main() -> int:
    check = "--check" in sys.argv[1:]
    if not check:
        subprocess.run([str(UV), "lock"], cwd=ROOT, check=True)  # noqa: S603 (our own argv)
    stale = []
    for path, text in ((LAYER, layer_requirements()), (BOOTSTRAP, bootstrap_requirements())):
        current = path.read_text() if path.exists() else None
        if current != text:
            if check:
                stale.append(str(path.relative_to(ROOT)))
            else:
                path.write_text(text)
    if stale:
        print(f"{', '.join(stale)} differ from uv.lock: run `make lock`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
