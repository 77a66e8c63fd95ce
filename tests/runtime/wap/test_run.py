"""The whole write-audit-publish run on DuckDB, over generated and real raw data."""

from __future__ import annotations

from datetime import date, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from runtime.local.sample_market import SampleMarket
from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import (
    RawLake,
    expected_rows,
    ingested_at,
    production,
    publish_of,
    read_alphavantage_csv,
)

pytestmark = pytest.mark.duckdb

BACKFILL_DAY = date(2024, 6, 3)
NEXT_DAY = date(2024, 6, 4)
SYMBOLS = ("AMD", "INTC", "NVDA")
# Split days of NVDA in the file (3:2 in 2007, 2:1 in 2000/2001/2006, 4:1 in 2021).
NVDA_SPLIT_DAYS = ("2000-06-27", "2001-09-17", "2006-04-07", "2007-09-11", "2021-07-20")


def test_backfill_then_a_daily_run_publishes_every_generated_bar_exactly(
    raw_lake: RawLake, duck: DuckDBEngine
) -> None:
    config = WapConfig(symbols=SYMBOLS)
    history = SampleMarket(seed=3, end=BACKFILL_DAY, years=2)
    backfill = [b for symbol in SYMBOLS for b in history.bars(symbol)]
    raw_lake.write(BACKFILL_DAY, backfill)
    first = steps.run_all(duck, config, "backfill", as_of=BACKFILL_DAY)

    # The next day's ingestion fetches the latest 100 bars: 99 known, one new.
    today = SampleMarket(seed=3, end=NEXT_DAY, years=2)
    compact = [b for symbol in SYMBOLS for b in today.bars(symbol)[:100]]
    raw_lake.write(NEXT_DAY, compact)
    second = steps.run_all(duck, config, "daily", as_of=NEXT_DAY)

    assert publish_of(first).rows_added == len(backfill)
    assert publish_of(second).rows_added == len(SYMBOLS)
    bars = backfill + [b for b in compact if b.trade_date == NEXT_DAY]
    ingested = {(b.symbol, b.trade_date): ingested_at(BACKFILL_DAY) for b in backfill}
    ingested.update({(b.symbol, NEXT_DAY): ingested_at(NEXT_DAY) for b in compact})
    assert production(duck) == expected_rows(bars, ingested)
    assert publish_of(second).latest_trade_dates == dict.fromkeys(SYMBOLS, NEXT_DAY)
    assert publish_of(second).rows_replaced == 0


@pytest.mark.shared_data
def test_the_real_nvda_history_is_published_whole_with_splits_as_warnings(
    nvda_csv: Path, raw_lake: RawLake, duck: DuckDBEngine
) -> None:
    bars = read_alphavantage_csv(nvda_csv, "NVDA")
    raw_lake.write(date(2024, 6, 7), bars)
    config = WapConfig(symbols=("NVDA",))

    result = steps.run_all(
        duck, config, "nvda", as_of=date(2024, 6, 7), now=datetime(2024, 6, 7, 22, 0)
    )

    assert result.audit.failed_errors == []
    assert len(bars) == 6190
    ingested = {(b.symbol, b.trade_date): ingested_at(date(2024, 6, 7)) for b in bars}
    assert production(duck) == expected_rows(bars, ingested)

    closes = [float(b.close) for b in sorted(bars, key=lambda b: b.trade_date)]
    big_moves = [c / p - 1 for p, c in pairwise(closes) if abs(c / p - 1) > 0.30]
    moves = result.audit.result("large_daily_move")
    assert moves.severity == "warning"
    assert not moves.passed
    assert moves.failed_rows == len(big_moves)
    assert {f"NVDA@{day}" for day in NVDA_SPLIT_DAYS} <= set(moves.sample_keys)
    recorded = duck.fetchall(
        "SELECT severity, passed, failed_rows FROM dq_results "
        "WHERE run_id = 'nvda' AND check_name = 'large_daily_move'"
    ).rows
    assert recorded == [("warning", False, len(big_moves))]
