"""P6: the bytes a daily run's queries read, and how many it issues, as history and symbols grow.

For 40 and 500 symbols after 1 and 20 years of published history (generated bars, DuckDB
engine), a steady-state day: the write-audit-publish steps of a compact fetch (the latest 100
bars per symbol) and the report's panel queries (the dashboard's queries). Each query's bytes
are DuckDB's profiled `io.total_bytes_read` (what the readers fetched after column and
row-group pruning, as Athena counts bytes scanned), not file sizes. Target: a daily run's
bytes flat in history, 20 years / 1 year <= 1.2.

    .venv/bin/python -m benchmarks.cost_scan [--symbols 40 500] [--years 1 20] [--write]

`--write` records the measurement in components/cost/measured_scan.json, which `make cost`
prices the stack's Athena queries from.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from benchmarks.wap_scaling import BACKFILL_DAY, COMPACT_BARS, DAILY_DAYS, SEED, symbols, write_raw
from runtime.local.report import write_report
from runtime.local.sample_market import SampleMarket
from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.base import QueryScan
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from runtime.wap.scan_metrics import MEGABYTE, billed_bytes

MEASURED = Path(__file__).resolve().parent.parent / "components" / "cost" / "measured_scan.json"


def measure(symbol_count: int, years: int) -> dict:
    """The queries of a steady-state day after `years` of history of `symbol_count` symbols."""
    names = symbols(symbol_count)
    config = WapConfig(symbols=tuple(names))
    root = Path(tempfile.mkdtemp(prefix="cost_scan_"))
    try:
        lake = root / "lake"
        write_raw(
            lake, BACKFILL_DAY, SampleMarket(seed=SEED, end=BACKFILL_DAY, years=years), names, None
        )
        _run(lake, config, "backfill", BACKFILL_DAY)
        first, steady = DAILY_DAYS
        market = SampleMarket(seed=SEED, end=first, years=years)
        write_raw(lake, first, market, names, COMPACT_BARS)
        _run(lake, config, "first", first)
        market = SampleMarket(seed=SEED, end=steady, years=years)
        write_raw(lake, steady, market, names, COMPACT_BARS)
        engine = DuckDBEngine(lake, profile=True)
        steps.run_all(engine, config, "steady", as_of=steady)
        wap = list(engine.query_scans)
        write_report(engine, root / "report.html")
        panels = engine.query_scans[len(wap) :]
        summary_files = sum(
            scan.files_read
            for scan in engine.scans
            if any("/symbol_summary/" in name for name in scan.filenames)
        )
        engine.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "symbols": symbol_count,
        "years": years,
        "summary_files_read": summary_files,
        "wap": [[scan.name, scan.bytes_read] for scan in wap],
        "panels": [[scan.name, scan.bytes_read] for scan in panels],
    }


def _run(lake: Path, config: WapConfig, run_id: str, day: date) -> None:
    engine = DuckDBEngine(lake)
    steps.run_all(engine, config, run_id, as_of=day)
    engine.close()


def _totals(queries: list[list]) -> tuple[int, int, int]:
    scans = [QueryScan(name, n) for name, n in queries]
    return (
        len(scans),
        sum(s.bytes_read for s in scans),
        sum(billed_bytes(s.bytes_read) for s in scans),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost_scan")
    parser.add_argument("--symbols", type=int, nargs="+", default=[40, 500])
    parser.add_argument("--years", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--write", action="store_true", help=f"record in {MEASURED.name}")
    args = parser.parse_args(argv)
    cases = [measure(count, years) for count in args.symbols for years in args.years]
    print(
        "| symbols | years | WAP queries | WAP bytes read | panel queries | panel bytes read "
        "| summary files read | largest query | billed (10 MB min.) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        wap_n, wap_bytes, wap_billed = _totals(case["wap"])
        panel_n, panel_bytes, panel_billed = _totals(case["panels"])
        largest = max(case["wap"] + case["panels"], key=lambda q: q[1])
        print(
            f"| {case['symbols']} | {case['years']} | {wap_n} | {wap_bytes:,} | {panel_n} "
            f"| {panel_bytes:,} | {case['summary_files_read']} | {largest[0]} {largest[1]:,} "
            f"| {(wap_billed + panel_billed) / MEGABYTE:,.0f} MB |"
        )
    for count in args.symbols:
        by_years = {c["years"]: c for c in cases if c["symbols"] == count}
        low, high = min(by_years), max(by_years)
        for part in ("wap", "panels"):
            ratio = _totals(by_years[high][part])[1] / max(1, _totals(by_years[low][part])[1])
            print(f"{count} symbols, {part}: bytes after {high} y / {low} y = {ratio:.2f}")
    if args.write:
        record = {
            "measured": datetime.now(UTC).date().isoformat(),
            "how": "python -m benchmarks.cost_scan --write (DuckDB io.total_bytes_read, "
            "a steady-state day: the WAP steps of a compact fetch, then the report's panels)",
            "engine": f"duckdb {duckdb.__version__}, Python {platform.python_version()}",
            "cases": cases,
        }
        MEASURED.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MEASURED.relative_to(MEASURED.parents[2])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
