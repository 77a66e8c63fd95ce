"""Lambda artifact benchmark: the zip's size and the handler's cold import time from it.

Builds the zip with `components.artifacts.build_lambda_zip` into a temporary directory,
then, `--repeat` times, unpacks it into a fresh empty directory and imports
`runtime.ingest.handler` in a fresh interpreter whose sys.path holds only the unpacked
artifact and what Lambda plus the Powertools layer provide (tests/components/lambda_sandbox.py).
`-B` keeps Python from writing bytecode, as on Lambda's read-only /var/task: every run
compiles the artifact's sources, as every cold start does (the zip ships no `.pyc`), while
boto3 and Powertools use their installed bytecode, as the runtime's and the layer's do.
`-X importtime` splits the time by package (each module's own time, summed per
top-level package; the rest is the standard library).

Targets: zipped size < 1 MB, cold import < 250 ms.

    .venv/bin/python -m benchmarks.lambda_artifact [--repeat 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

from components.artifacts import build_lambda_zip
from tests.components.lambda_sandbox import ISOLATED_PYTHON, provided_dir, unpack

SIZE_TARGET_BYTES = 1_000_000
IMPORT_TARGET_MS = 250.0
# The child prints the import's wall time; -X importtime writes per-module lines to stderr.
CHILD = """
import sys, time
sys.path[:0] = sys.argv[1:3]
started = time.perf_counter()
import runtime.ingest.handler
print((time.perf_counter() - started) * 1000)
"""
PACKAGES = ("runtime", "requests", "urllib3", "charset_normalizer", "idna", "certifi")
PACKAGES += ("boto3", "botocore", "aws_lambda_powertools")


def cold_import(artifact: Path, work: Path, *, importtime: bool) -> tuple[float, dict[str, float]]:
    """One cold import: wall ms, and with `importtime` the ms in each package's own modules.

    -X importtime slows every import down, so the wall times come from runs without it.
    """
    unpacked = unpack(artifact, work / "task")
    layer = provided_dir(work / "layer")
    profile = ["-X", "importtime"] if importtime else []
    completed = subprocess.run(  # noqa: S603 (our own interpreter)
        [*ISOLATED_PYTHON, "-B", *profile, "-c", CHILD, str(unpacked), str(layer)],
        cwd=unpacked,
        capture_output=True,
        text=True,
        check=True,
        env={},
    )
    by_package: dict[str, float] = defaultdict(float)
    for line in completed.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package" (a header line first)
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            by_package[fields[2].strip().split(".")[0]] += int(fields[0]) / 1000
    return float(completed.stdout.strip()), by_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lambda-artifact-") as scratch:
        root = Path(scratch)
        artifact = build_lambda_zip(root / "build")
        size = artifact.stat().st_size
        with zipfile.ZipFile(artifact) as archive:
            entries = archive.infolist()
        unzipped = sum(entry.file_size for entry in entries)
        walls: list[float] = []
        packages: dict[str, list[float]] = defaultdict(list)
        for run in range(args.repeat):
            walls.append(cold_import(artifact, root / f"run-{run}", importtime=False)[0])
            _, by_package = cold_import(artifact, root / f"profile-{run}", importtime=True)
            for name in PACKAGES:
                packages[name].append(by_package.get(name, 0.0))
            packages["(everything else)"].append(
                sum(ms for name, ms in by_package.items() if name not in PACKAGES)
            )

    median = statistics.median(walls)
    size_verdict = "met" if size < SIZE_TARGET_BYTES else "MISSED"
    print(
        f"zipped size: {size:,} bytes ({size / 1e6:.2f} MB), {len(entries)} files, "
        f"{unzipped:,} bytes unzipped; target < 1 MB: {size_verdict}"
    )
    print(
        f"cold import of runtime.ingest.handler: median {median:.0f} ms "
        f"(min {min(walls):.0f}, max {max(walls):.0f}, {args.repeat} runs); "
        f"target < {IMPORT_TARGET_MS:.0f} ms: {'met' if median < IMPORT_TARGET_MS else 'MISSED'}"
    )
    print("median time in each package's own modules (-X importtime, self time):")
    for name, times in packages.items():
        print(f"  {name:22} {statistics.median(times):6.0f} ms")


if __name__ == "__main__":
    main()
