"""Write-audit-publish scaling on the embedded DuckDB engine: P3 (backfill) and P2 (daily run).

P3: a backfill of SYMBOLS x YEARS of generated bars (one raw partition, one CSV per symbol, as
    a full-history ingestion writes them) through the four steps, against a bare DuckDB `COPY`
    of the same CSV, column types declared, to year-partitioned Parquet (target: <= 2x CPU).
P2: the whole `python -m runtime.local run` command (ingest from the sample server, the four
    steps, the report), RUN_SYMBOLS symbols, for the two days after a 1-year and after a
    20-year backfill (target: <= 1.2x), and the files each side opened for reading
    (`strace -e trace=openat`, one extra untimed run per side): raw objects and daily_prices
    files of the lake only.

Both sides of a measure are prepared once, then run alternately (A B A B ...), each run on a
fresh copy of its prepared lake, so load that drifts during the benchmark lands on both. Each
pair gives one ratio; the report shows the median ratio of the pairs and their min-max, for
the process CPU time (user + system, every thread) and for the wall time. On a shared
machine CPU time is the stable figure.

    .venv/bin/python -m benchmarks.wap_scaling [--symbols 500] [--years 20] [--pairs 5]
    .venv/bin/python -m benchmarks.wap_scaling --only p2 [--run-symbols 40] [--pairs 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from runtime.ingest.bars import bars_to_csv
from runtime.local.sample_market import SampleMarket
from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine

BACKFILL_DAY = date(2024, 6, 5)
DAILY_DAYS = (date(2024, 6, 6), date(2024, 6, 7))
SEED = 11

PROJECT = Path(__file__).resolve().parent.parent
#: The sample server answers at once: no pacing, so the runs time the pipeline, not the budget.
UNPACED = {"CALLS_PER_MINUTE": "100000", "MIN_CALL_INTERVAL_SECONDS": "0"}


@dataclass(frozen=True)
class Cost:
    cpu: float
    wall: float


def symbols(count: int) -> list[str]:
    return [f"S{n:03d}" for n in range(count)]


def write_raw(lake: Path, day: date, market: SampleMarket, names: list[str]) -> int:
    """One raw CSV per symbol in partition dt=day; returns the rows written."""
    folder = lake / "raw" / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    for name in names:
        bars = market.bars(name)
        landed = f"{day:%Y%m%d}T210500000000Z"
        (folder / f"{name}-{landed}.csv").write_text(bars_to_csv(bars, f"{day}T21:05:00Z"))
        rows += len(bars)
    return rows


def in_process(action: Callable[[], object]) -> Cost:
    """CPU (this process, every thread) and wall seconds of `action`."""
    cpu, wall = time.process_time(), time.perf_counter()
    action()
    return Cost(time.process_time() - cpu, time.perf_counter() - wall)


def bare_copy(lake: Path, out: Path) -> None:
    """CSV -> typed, year-partitioned Parquet with nothing else: the floor of a backfill."""
    connection = duckdb.connect()
    connection.execute(
        f"""
        COPY (
            SELECT *, CAST(year(trade_date) AS integer) AS year
            FROM read_csv('{lake}/raw/dt=*/*.csv', header = true, auto_detect = false,
                columns = {{'symbol': 'VARCHAR', 'trade_date': 'DATE', 'open': 'DOUBLE',
                    'high': 'DOUBLE', 'low': 'DOUBLE', 'close': 'DOUBLE', 'volume': 'BIGINT',
                    'ingested_at': 'TIMESTAMP'}},
                timestampformat = '%Y-%m-%dT%H:%M:%SZ')
        ) TO '{out}' (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (year))
        """
    )
    connection.close()


def four_steps(lake: Path, config: WapConfig) -> None:
    engine = DuckDBEngine(lake)
    try:
        steps.run_all(engine, config, "backfill", as_of=BACKFILL_DAY)
    finally:
        engine.close()


def fresh_copy(prepared: Path, work: Path, name: str) -> Path:
    target = work / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(prepared, target)
    return target


def ratio_summary(results: list[tuple[Cost, Cost]], measure: str) -> str:
    """`median (min-max)` of side B / side A over the pairs."""
    ratios = [getattr(b, measure) / getattr(a, measure) for a, b in results]
    return f"{statistics.median(ratios):5.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def medians(costs: list[Cost]) -> str:
    cpu = statistics.median(cost.cpu for cost in costs)
    wall = statistics.median(cost.wall for cost in costs)
    return f"CPU {cpu:6.2f} s, wall {wall:6.2f} s"


def p3(names: list[str], years: float, pairs: int, work: Path, prepared: Path | None) -> None:
    source = prepared or work / "source"
    if prepared is None:
        print(f"generating {len(names)} symbols x {years:g} years ...", flush=True)
        # The generator's cached bars must not outlive this call: alive, they make every
        # garbage collection during the timed runs walk them all.
        write_raw(source, BACKFILL_DAY, SampleMarket(SEED, BACKFILL_DAY, years), names)
        gc.collect()
    rows = sum(max(len(f.read_text().splitlines()) - 1, 0) for f in source.glob("raw/*/*.csv"))
    config = WapConfig(symbols=tuple(names))

    def bare(n: int) -> Cost:
        lake = fresh_copy(source, work, "bare-lake")
        out = work / "bare-out"
        shutil.rmtree(out, ignore_errors=True)
        return in_process(lambda: bare_copy(lake, out))

    def full(n: int) -> Cost:
        lake = fresh_copy(source, work, "full-lake")
        return in_process(lambda: four_steps(lake, config))

    results = [(bare(n), full(n)) for n in range(pairs)]  # A B A B ...
    print(f"\nP3 backfill of {rows:,} rows ({len(names)} symbols x {years:g} years), {pairs} pairs")
    print(f"    bare COPY to year-partitioned Parquet: {medians([a for a, _ in results])}")
    print(f"    the four steps                       : {medians([b for _, b in results])}")
    print(f"    ratio, CPU : {ratio_summary(results, 'cpu')}  (target <= 2x)")
    print(f"    ratio, wall: {ratio_summary(results, 'wall')}")


def local_run(data_dir: Path, names: list[str], years: float, day: date, size: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "runtime.local",
        "run",
        "--source",
        "sample",
        "--quiet",
        "--data-dir",
        str(data_dir),
        "--symbols",
        ",".join(names),
        "--sample-years",
        f"{years:g}",
        "--outputsize",
        size,
        "--as-of",
        day.isoformat(),
    ]


def child(command: list[str]) -> Cost:
    """CPU (user + system of the child and its threads) and wall seconds of one command."""
    wall = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 (our own command)
        command, cwd=PROJECT, stdout=subprocess.DEVNULL, env={**os.environ, **UNPACED}
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return Cost(usage.ru_utime + usage.ru_stime, time.perf_counter() - wall)


_OPENAT = re.compile(r'openat\([^,]+, "(?P<path>[^"]+)", (?P<flags>[^,)]+)')
_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. openat resumed>(?P<rest>.*)$")
_UNFINISHED = re.compile(r"^(?P<pid>\d+)\s+(?P<call>openat\(.*) <unfinished \.\.\.>$")


def opened_for_reading(trace: Path, lake: Path) -> dict[str, set[str]]:
    """The lake's data files a traced run opened for reading: raw objects (names a raw table
    reads; ingestion's hidden temporary files are not raw objects) and daily_prices files.

    strace -f splits a call interrupted by another thread into `<unfinished ...>` and
    `<... openat resumed>` lines: they are joined again per thread id."""
    opened: dict[str, set[str]] = {"raw": set(), "daily_prices": set()}
    pending: dict[str, str] = {}
    for line in trace.read_text().splitlines():
        unfinished = _UNFINISHED.match(line)
        if unfinished:
            pending[unfinished.group("pid")] = unfinished.group("call")
            continue
        resumed = _RESUMED.match(line)
        if resumed:
            line = pending.pop(resumed.group("pid"), "") + resumed.group("rest")
        match = _OPENAT.search(line)
        if not match or "= -1" in line:
            continue
        flags = match.group("flags")
        if "O_WRONLY" in flags or "O_RDWR" in flags or "O_DIRECTORY" in flags:
            continue
        path = Path(match.group("path"))
        if lake not in path.parents:
            continue
        relative = path.relative_to(lake).as_posix()
        if relative.startswith("raw/") and not path.name.startswith((".", "_")):
            opened["raw"].add(relative)
        elif relative.startswith("prod/daily_prices/") and path.suffix == ".parquet":
            opened["daily_prices"].add(relative)
    return opened


def p2(names: list[str], years: float, pairs: int, work: Path) -> None:
    prepared = {}
    for history in (1.0, years):
        data_dir = work / f"history-{history:g}y"
        child(local_run(data_dir, names, history, BACKFILL_DAY, "full"))
        prepared[history] = data_dir

    def side(history: float) -> Callable[[int], tuple[Cost, Cost]]:
        def run(n: int) -> tuple[Cost, Cost]:
            data_dir = fresh_copy(prepared[history], work, f"run-{history:g}y")
            return tuple(  # type: ignore[return-value]
                child(local_run(data_dir, names, 1, day, "compact")) for day in DAILY_DAYS
            )

        return run

    short, long = side(1.0), side(years)
    results = [(short(n), long(n)) for n in range(pairs)]  # A B A B ...
    print(f"\nP2 the whole `runtime.local run`, {len(names)} symbols, {pairs} pairs")
    for index, label in enumerate(("first day after the backfill", "steady-state day")):
        day = [(a[index], b[index]) for a, b in results]
        print(f"    {label}")
        print(f"        after 1 year  : {medians([a for a, _ in day])}")
        print(f"        after {years:g} years: {medians([b for _, b in day])}")
        print(f"        ratio, CPU : {ratio_summary(day, 'cpu')}  (target <= 1.2x)")
        print(f"        ratio, wall: {ratio_summary(day, 'wall')}")
    for history in (1.0, years):
        data_dir = fresh_copy(prepared[history], work, f"traced-{history:g}y")
        trace = work / f"trace-{history:g}y.txt"
        command = local_run(data_dir, names, 1, DAILY_DAYS[0], "compact")
        child(["strace", "-f", "-e", "trace=openat", "-o", str(trace), *command])
        opened = opened_for_reading(trace, (data_dir / "lake").resolve())
        raw_days = sorted({path.split("/")[1] for path in opened["raw"]})
        prod_years = sorted(
            {part for path in opened["daily_prices"] for part in path.split("/") if "year=" in part}
        )
        print(
            f"    first day after {history:g} year(s): opened {len(opened['raw'])} raw objects "
            f"in {raw_days} and {len(opened['daily_prices'])} daily_prices files of {prod_years}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=float, default=20.0)
    parser.add_argument("--pairs", type=int, default=5, help="A B pairs per measure")
    parser.add_argument("--run-symbols", type=int, default=40, help="symbols of P2")
    parser.add_argument("--only", choices=("p2", "p3"), help="one measure only")
    parser.add_argument(
        "--prepared", type=Path, help="P3: a lake whose raw zone was generated before"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="wap-bench-"))
    try:
        if args.only != "p2":
            p3(symbols(args.symbols), args.years, args.pairs, work, args.prepared)
        if args.only != "p3":
            p2(symbols(args.run_symbols), args.years, args.pairs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
