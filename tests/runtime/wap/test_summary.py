"""symbol_summary: one file, whatever the history's length, so a daily run's reads stay flat."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.local.sample_market import SampleMarket
from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, publish_of

pytestmark = pytest.mark.duckdb

BACKFILL_DAY = date(2024, 6, 3)
NEXT_DAY = date(2024, 6, 4)
SYMBOLS = ("AMD", "NVDA")


def _summary_files_read(engine: DuckDBEngine) -> set[str]:
    return {
        name
        for scan in engine.scans
        for name in scan.filenames
        if "/symbol_summary/" in name.replace("\\", "/")
    }


def _daily_run_after(raw_lake: RawLake, years: int) -> tuple[DuckDBEngine, steps.RunResult]:
    config = WapConfig(symbols=SYMBOLS)
    history = SampleMarket(seed=5, end=BACKFILL_DAY, years=years)
    raw_lake.write(BACKFILL_DAY, [b for s in SYMBOLS for b in history.bars(s)])
    backfill = DuckDBEngine(raw_lake.root)
    steps.run_all(backfill, config, "backfill", as_of=BACKFILL_DAY)
    backfill.close()
    today = SampleMarket(seed=5, end=NEXT_DAY, years=years)
    raw_lake.write(NEXT_DAY, [b for s in SYMBOLS for b in today.bars(s)[:5]])
    daily = DuckDBEngine(raw_lake.root, profile=True)
    return daily, steps.run_all(daily, config, "daily", as_of=NEXT_DAY)


@pytest.mark.parametrize("years", [1, 20])
def test_a_daily_run_reads_one_summary_file_after_any_history(
    raw_lake: RawLake, years: int
) -> None:
    engine, result = _daily_run_after(raw_lake, years)

    assert publish_of(result).rows_added == len(SYMBOLS)
    summary_files = _summary_files_read(engine)
    # The summary's one file as publish found it, and the freshness query's read of the
    # new one: never a file per year.
    assert 1 <= len(summary_files) <= 2
    rows = engine.fetchall(
        "SELECT symbol, count(*) AS years, sum(bars) AS bars, max(last_trade_date) AS last "
        "FROM symbol_summary GROUP BY symbol ORDER BY symbol"
    ).records()
    published = engine.fetchall(
        "SELECT symbol, count(DISTINCT year) AS years, count(*) AS bars, "
        "max(trade_date) AS last FROM daily_prices GROUP BY symbol ORDER BY symbol"
    ).records()
    assert rows == published
    assert {row["last"] for row in rows} == {NEXT_DAY}
    engine.close()


def test_a_summary_with_a_partition_per_year_is_rewritten_as_one(raw_lake: RawLake) -> None:
    config = WapConfig(symbols=SYMBOLS)
    history = SampleMarket(seed=5, end=BACKFILL_DAY, years=3)
    raw_lake.write(BACKFILL_DAY, [b for s in SYMBOLS for b in history.bars(s)])
    engine = DuckDBEngine(raw_lake.root)
    steps.run_all(engine, config, "backfill", as_of=BACKFILL_DAY)
    # The layout before: one partition per year.
    engine.drop_table("symbol_summary")
    engine.ctas(
        "symbol_summary",
        "SELECT symbol, min(trade_date) AS first_trade_date, max(trade_date) AS "
        "last_trade_date, count(*) AS bars, year FROM daily_prices GROUP BY symbol, year",
        engine.location("prod/symbol_summary/old/"),
        partitioned_by="year",
    )

    today = SampleMarket(seed=5, end=NEXT_DAY, years=3)
    raw_lake.write(NEXT_DAY, [b for s in SYMBOLS for b in today.bars(s)[:5]])
    result = steps.run_all(engine, config, "daily", as_of=NEXT_DAY)

    assert set(engine.partitions("symbol_summary")) == {"all"}
    assert publish_of(result).latest_trade_dates == dict.fromkeys(SYMBOLS, NEXT_DAY)
    years = engine.fetchall("SELECT count(DISTINCT year) FROM symbol_summary").scalar()
    assert years == len(engine.partitions("daily_prices"))
    engine.close()
