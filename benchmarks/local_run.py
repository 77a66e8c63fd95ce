"""The local pipeline end to end: `make demo`, and `run` at two sizes, on the sample source.

Each case runs as a user would run it (a subprocess, Python start-up and imports included)
on a fresh data directory, `--repeat` times; the table shows the median wall time.

    .venv/bin/python -m benchmarks.local_run [--repeat 3]

Cases
- make demo: `make demo` with the venv already installed (10 symbols, 2 years, full history,
  the report).
- run 10 x 1y / 100 x 5y: `run --outputsize full --sample-years Y` for N symbols (the default
  ten, or S000..S099 with market profiles derived from their names).
- next day after 100 x 5y: a compact `run --as-of` one trading day later on that lake (what a
  daily run costs once history is there).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
AS_OF = date(2024, 6, 7)  # a Friday
NEXT_DAY = date(2024, 6, 10)
DEFAULT_SYMBOLS = "AMD,NVDA,INTC,MU,QCOM,TXN,AMAT,AVGO,LSCC,KLAC"


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return time.perf_counter() - started


def run_command(data_dir: Path, symbols: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "runtime.local",
        "run",
        "--source",
        "sample",
        "--data-dir",
        str(data_dir),
        "--symbols",
        symbols,
        "--quiet",
        *extra,
    ]


def full_run(symbols: str, years: int) -> Callable[[Path], float]:
    def case(data_dir: Path) -> float:
        return timed(
            run_command(
                data_dir,
                symbols,
                "--outputsize",
                "full",
                "--sample-years",
                str(years),
                "--as-of",
                AS_OF.isoformat(),
            )
        )

    return case


def next_day_after(symbols: str, years: int) -> Callable[[Path], float]:
    def case(data_dir: Path) -> float:
        full_run(symbols, years)(data_dir)
        return timed(run_command(data_dir, symbols, "--as-of", NEXT_DAY.isoformat()))

    return case


def make_demo(data_dir: Path) -> float:
    return timed(["make", "-s", "demo", f"DATA_DIR={data_dir}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hundred = ",".join(f"S{n:03d}" for n in range(100))
    cases = {
        "make demo (10 symbols x 2 years, report)": make_demo,
        "run 10 symbols x 1 year (full)": full_run(DEFAULT_SYMBOLS, 1),
        "run 100 symbols x 5 years (full)": full_run(hundred, 5),
        "next day's run after 100 x 5 years (compact)": next_day_after(hundred, 5),
    }
    print(f"| case | median wall (s) of {args.repeat} | runs (s) |")
    print("|---|---:|---|")
    for name, case in cases.items():
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as work:
                runs.append(case(Path(work) / "data"))
        listed = ", ".join(f"{r:.2f}" for r in runs)
        print(f"| {name} | {statistics.median(runs):.2f} | {listed} |", flush=True)


if __name__ == "__main__":
    main()
