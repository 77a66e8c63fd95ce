"""Write-audit-publish on the embedded DuckDB engine: backfill throughput and daily-run scaling.

(a) Backfill: SYMBOLS x YEARS of generated bars (one raw partition, one CSV per symbol, as a
    full-history ingestion writes them) through all four steps; rows per second, compared
    with a bare CSV-to-Parquet conversion of the same files (target: within 3x).
(b) The four steps of a daily run after 1 year vs after 20 years of published history
    (target: ratio < 1.5). The history is a published backfill; the next two days each bring
    a compact fetch (latest 100 bars per symbol): the first day after the backfill and a
    steady-state day.
(c) The whole `python -m runtime.local run` command (ingest from the sample server, the four
    steps, the report), 40 symbols, for those two days after a 1-year and a 20-year backfill
    (target: ratio <= 1.2 for both), the first day under `strace -e trace=openat`: it must
    open no raw object consumed before and no daily_prices file outside the touched years and
    the previous-close lookback.

    .venv/bin/python -m benchmarks.wap_scaling [--symbols 500] [--years 20] [--repeat 3]
    .venv/bin/python -m benchmarks.wap_scaling --only-run [--run-symbols 40] [--repeat 3]
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
COMPACT_BARS = 100


PROJECT = Path(__file__).resolve().parent.parent
#: The sample server answers at once: no pacing, so the runs time the pipeline, not the budget.
UNPACED = {"CALLS_PER_MINUTE": "100000", "MIN_CALL_INTERVAL_SECONDS": "0"}


def symbols(count: int) -> list[str]:
    return [f"S{n:03d}" for n in range(count)]


def write_raw(
    lake: Path, day: date, market: SampleMarket, names: list[str], limit: int | None
) -> int:
    """One raw CSV per symbol in partition dt=day; returns the rows written."""
    folder = lake / "raw" / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    for name in names:
        bars = market.bars(name)[:limit]
        landed = f"{day:%Y%m%d}T210500000000Z"
        (folder / f"{name}-{landed}.csv").write_text(bars_to_csv(bars, f"{day}T21:05:00Z"))
        rows += len(bars)
    return rows


def timed(action: Callable[..., object], *args: object, **kwargs: object) -> float:
    start = time.perf_counter()
    action(*args, **kwargs)
    return time.perf_counter() - start


def full_run(lake: Path, config: WapConfig, run_id: str, day: date) -> float:
    """Seconds of drop_staging, create_staging, audit and publish on a fresh engine."""
    engine = DuckDBEngine(lake)
    try:
        return timed(steps.run_all, engine, config, run_id, as_of=day)
    finally:
        engine.close()


def bare_conversion(lake: Path, out: Path) -> None:
    """CSV -> typed Parquet with nothing else: the floor a backfill can be compared with."""
    connection = duckdb.connect()
    connection.execute(
        f"""
        COPY (
            SELECT symbol, trade_date, open, high, low, close, volume, ingested_at
            FROM read_csv('{lake}/raw/dt=*/*.csv', header = true, auto_detect = false,
                columns = {{'symbol': 'VARCHAR', 'trade_date': 'DATE', 'open': 'DOUBLE',
                    'high': 'DOUBLE', 'low': 'DOUBLE', 'close': 'DOUBLE', 'volume': 'BIGINT',
                    'ingested_at': 'TIMESTAMP'}},
                timestampformat = '%Y-%m-%dT%H:%M:%SZ')
        ) TO '{out}' (FORMAT parquet, COMPRESSION snappy)
        """
    )
    connection.close()


def engine_conversion(lake: Path) -> None:
    """The same conversion as one CTAS through the engine (the reference system's staging)."""
    engine = DuckDBEngine(lake)
    engine.ctas(
        "converted",
        """
        SELECT
            symbol,
            CAST(trade_date AS date) AS trade_date,
            CAST(open AS double) AS open,
            CAST(high AS double) AS high,
            CAST(low AS double) AS low,
            CAST(close AS double) AS close,
            CAST(volume AS bigint) AS volume,
            date_parse(ingested_at, '%Y-%m-%dT%H:%i:%sZ') AS ingested_at
        FROM raw_daily_prices
        """,
        engine.location("converted/"),
    )
    engine.drop_table("converted")
    engine.delete_location(engine.location("converted/"))
    engine.close()


def daily_runs(lake: Path, names: list[str], config: WapConfig) -> list[float]:
    """Seconds of the two daily runs after the published backfill in `lake`."""
    seconds = []
    for day in DAILY_DAYS:
        write_raw(lake, day, SampleMarket(seed=SEED, end=day, years=0.5), names, COMPACT_BARS)
        seconds.append(full_run(lake, config, f"d{day:%Y%m%d}", day))
    return seconds


def local_run(
    data_dir: Path, names: list[str], years: float, day: date, size: str, trace: Path | None
) -> float:
    """Seconds of one `python -m runtime.local run` (optionally under strace)."""
    command = [
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
    if trace is not None:
        command = ["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(trace), *command]
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 (our own command)
        command, cwd=PROJECT, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **UNPACED}
    )
    return time.perf_counter() - started


def opened_files(trace: Path, lake: Path) -> dict[str, set[str]]:
    """Files (not directories) the traced run opened under the lake's raw zone and
    daily_prices, relative to the lake."""
    opened: dict[str, set[str]] = {"raw": set(), "daily_prices": set()}
    pattern = re.compile(r'openat\([^,]+, "([^"]+)", ([^)]*)\)')
    for line in trace.read_text().splitlines():
        match = pattern.search(line)
        flags = match.group(2) if match else ""
        if not match or "O_DIRECTORY" in flags or "O_WRONLY" in flags or "ENOENT" in line:
            continue
        path = Path(match.group(1))
        if lake not in path.parents:
            continue
        relative = path.relative_to(lake).as_posix()
        if relative.startswith("raw/"):
            opened["raw"].add(relative)
        elif relative.startswith("prod/daily_prices/"):
            opened["daily_prices"].add(relative)
    return opened


def whole_runs(names: list[str], years: float, repeat: int, work: Path) -> tuple:
    """(first day, steady day) medians of the whole run after a backfill of `years`, and
    what the first day's run opened, from its trace."""
    first, steady, opened = [], [], {}
    for n in range(repeat):
        data_dir = work / f"run-{years:g}y-{n}"
        local_run(data_dir, names, years, BACKFILL_DAY, "full", None)
        trace = work / f"trace-{years:g}y.txt" if n == 0 else None
        first.append(local_run(data_dir, names, 1, DAILY_DAYS[0], "compact", trace))
        steady.append(local_run(data_dir, names, 1, DAILY_DAYS[1], "compact", None))
        if trace is not None:
            opened = opened_files(trace, (data_dir / "lake").resolve())
    return statistics.median(first), statistics.median(steady), opened


def report_opened(label: str, opened: dict[str, set[str]]) -> None:
    raw_days = sorted({path.split("/")[1] for path in opened["raw"]})
    years = sorted(
        {part for path in opened["daily_prices"] for part in path.split("/") if "year=" in part}
    )
    print(f"    {label}: opened {len(opened['raw'])} raw objects in {raw_days}")
    print(f"    {' ' * len(label)}  and daily_prices files of {years}")


def run_command_benchmark(count: int, years: float, repeat: int, work: Path) -> None:
    names = symbols(count)
    short_first, short_steady, short_opened = whole_runs(names, 1, repeat, work)
    long_first, long_steady, long_opened = whole_runs(names, years, repeat, work)
    print(f"\n(c) the whole `runtime.local run` ({count} symbols, compact daily fetch)")
    print(f"    {'':<18} {'after 1 year':>14} {f'after {years:g} years':>16} {'ratio':>7}")
    for label, short, long in (
        ("first day", short_first, long_first),
        ("steady-state day", short_steady, long_steady),
    ):
        print(f"    {label:<18} {short:12.2f} s {long:14.2f} s {long / short:7.2f}")
    print("    target: ratio <= 1.2 for both")
    report_opened("first day after 1 year", short_opened)
    report_opened(f"first day after {years:g} years", long_opened)


def report(label: str, seconds: float, rows: int) -> None:
    print(f"    {label:<32}: {seconds:6.2f} s {rows / seconds:11,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions")
    parser.add_argument("--run-symbols", type=int, default=40, help="symbols of (c)")
    parser.add_argument("--only-run", action="store_true", help="only (c)")
    args = parser.parse_args()
    names = symbols(args.symbols)
    config = WapConfig(symbols=tuple(names))
    work = Path(tempfile.mkdtemp(prefix="wap-bench-"))
    try:
        if args.only_run:
            run_command_benchmark(args.run_symbols, args.years, args.repeat, work)
            return
        print(f"generating {args.symbols} symbols x {args.years:g} years ...", flush=True)
        source = work / "source"
        # The generator's millions of cached bars must not outlive this line: alive, they make
        # every garbage collection during the timed runs walk them all.
        rows = write_raw(
            source, BACKFILL_DAY, SampleMarket(SEED, BACKFILL_DAY, args.years), names, None
        )
        gc.collect()

        bare, converted, full = [], [], []
        for n in range(args.repeat):
            bare.append(timed(bare_conversion, source, work / f"bare{n}.parquet"))
            converted.append(timed(engine_conversion, source))
            shutil.copytree(source, work / f"lake{n}")
            full.append(full_run(work / f"lake{n}", config, "backfill", BACKFILL_DAY))
        bare_s, converted_s = statistics.median(bare), statistics.median(converted)
        full_s = statistics.median(full)
        print(f"\n(a) backfill of {rows:,} rows ({args.symbols} symbols x {args.years:g} years)")
        report("bare CSV->Parquet (DuckDB COPY)", bare_s, rows)
        report("CSV->Parquet as one engine CTAS", converted_s, rows)
        report("all four steps", full_s, rows)
        print(f"    ratio to bare COPY              : {full_s / bare_s:6.2f}x  (target <= 3x)")
        print(f"    ratio to one engine CTAS        : {full_s / converted_s:6.2f}x")

        long_first, long_steady = daily_runs(work / "lake0", names, config)
        short = work / "short"
        write_raw(short, BACKFILL_DAY, SampleMarket(SEED, BACKFILL_DAY, 1.0), names, None)
        full_run(short, config, "backfill", BACKFILL_DAY)
        short_first, short_steady = daily_runs(short, names, config)
        print(f"\n(b) daily run ({args.symbols} symbols, compact fetch of {COMPACT_BARS} bars)")
        for label, steady, first in (
            ("1 year", short_steady, short_first),
            (f"{args.years:g} years", long_steady, long_first),
        ):
            print(f"    after {label:<10}: {steady:6.2f} s  (first after backfill {first:.2f} s)")
        print(f"    ratio           : {long_steady / short_steady:6.2f}  (target < 1.5)")
        print(f"    ratio, first day: {long_first / short_first:6.2f}")
        run_command_benchmark(args.run_symbols, args.years, args.repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
