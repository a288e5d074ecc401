"""Build the stack as deployed (`sam build`, arm64, no Docker) and print each artifact's size.

    python bench/package.py [--build-dir .aws-sam/build]

Sizes are unzipped (what counts against Lambda's 250 MB for a function plus its layers) and
zipped (what is uploaded, and what a cold start downloads).
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def unzipped_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def zipped_size(folder: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    return buffer.tell()


def largest_packages(site: Path, count: int = 6) -> list[tuple[str, int]]:
    sizes = [(p.name, unzipped_size(p)) for p in site.iterdir() if p.is_dir()]
    return sorted(sizes, key=lambda item: -item[1])[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=str(ROOT / ".aws-sam" / "build"))
    parser.add_argument("--no-build", action="store_true", help="only measure an earlier build")
    args = parser.parse_args()
    build_dir = Path(args.build_dir)
    if not args.no_build:
        sam = shutil.which("sam", path=str(Path(sys.executable).parent)) or "sam"
        subprocess.run([sam, "build", "--parallel", "--build-dir", str(build_dir)], cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
    print(f"{'artifact':<24} {'unzipped':>10} {'zipped':>10}")
    for artifact in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        print(
            f"{artifact.name:<24} {unzipped_size(artifact) / 1e6:>8.2f}MB "
            f"{zipped_size(artifact) / 1e6:>8.2f}MB"
        )
    site = build_dir / "SharedLayer" / "python"
    if site.is_dir():
        largest = ", ".join(f"{name} {size / 1e6:.1f}MB" for name, size in largest_packages(site))
        print(f"\nlargest in the layer (unzipped): {largest}")


if __name__ == "__main__":
    main()
