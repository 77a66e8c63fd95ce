"""Publish copies a year with no published rows from staging and merges the others."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import (
    RawLake,
    bar,
    expected_rows,
    ingested_at,
    production,
    production_snapshot,
    publish_of,
)

pytestmark = pytest.mark.duckdb

BACKFILL_DAY = date(2023, 12, 28)
BACKFILL = [
    bar("AMD", date(2022, 12, 30), "98.5000"),
    bar("AMD", date(2023, 1, 3), "99.0000"),
    bar("AMD", date(2023, 12, 27), "100.0000"),
    bar("NVDA", date(2022, 12, 30), "118.0000"),
    bar("NVDA", date(2023, 1, 3), "118.0000"),
    bar("NVDA", date(2023, 12, 27), "118.0000"),
]
NEXT_DAY = date(2024, 1, 2)
NEXT = [
    bar("AMD", date(2023, 12, 29), "101.0000"),
    bar("AMD", NEXT_DAY, "102.0000"),
    bar("NVDA", date(2023, 12, 29), "121.0000"),
    bar("NVDA", NEXT_DAY, "119.0000"),
]


@pytest.fixture
def backfilled(raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig) -> steps.RunResult:
    raw_lake.write(BACKFILL_DAY, BACKFILL)
    return steps.run_all(duck, wap_config, "backfill", as_of=BACKFILL_DAY)


def test_a_backfill_publishes_each_year_as_a_copy_of_its_staged_files(
    backfilled: steps.RunResult, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    locations = duck.partitions("daily_prices")
    staged = duck.partitions(steps.staging_table("backfill"))

    assert publish_of(backfilled).rows_added == len(BACKFILL)
    assert publish_of(backfilled).years == (2022, 2023)
    assert publish_of(backfilled).raw_objects_recorded == 2
    assert sorted(locations) == sorted(staged) == ["2022", "2023"]
    properties = duck.table_properties("daily_prices")
    assert properties["stockpipe.published_run_id"] == "backfill"
    assert properties["stockpipe.consumed_raw"].startswith("prod/_raw_consumed/")
    for year, location in locations.items():
        assert location.endswith(f"/copy/year={year}/")
        assert [f.read_bytes() for f in sorted(Path(location).iterdir())] == [
            f.read_bytes() for f in sorted(Path(staged[year]).iterdir())
        ]
    ingested = {(b.symbol, b.trade_date): ingested_at(BACKFILL_DAY) for b in BACKFILL}
    assert production(duck) == expected_rows(BACKFILL, ingested)


def test_dropping_staging_after_a_copying_publish_leaves_production_intact(
    backfilled: steps.RunResult, raw_lake: RawLake, wap_config: WapConfig
) -> None:
    engine = DuckDBEngine(raw_lake.root)
    published = production_snapshot(engine)

    steps.drop_staging(engine, wap_config, "next")

    assert not list((raw_lake.root / "staging").rglob("*.parquet"))
    assert production_snapshot(DuckDBEngine(raw_lake.root)) == published


def test_a_day_merges_a_year_with_published_rows_and_copies_a_new_one(
    backfilled: steps.RunResult, raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    before = duck.partitions("daily_prices")
    raw_lake.write(NEXT_DAY, NEXT)

    result = steps.run_all(duck, wap_config, "next", as_of=NEXT_DAY)

    assert publish_of(result).rows_added == len(NEXT)
    assert publish_of(result).years == (2023, 2024)
    locations = duck.partitions("daily_prices")
    assert locations["2022"] == before["2022"]
    assert "_next/part-0/year=2023/" in locations["2023"]
    assert "_next/copy/year=2024/" in locations["2024"]
    ingested = {(b.symbol, b.trade_date): ingested_at(BACKFILL_DAY) for b in BACKFILL}
    ingested.update({(b.symbol, b.trade_date): ingested_at(NEXT_DAY) for b in NEXT})
    assert production(duck) == expected_rows(BACKFILL + NEXT, ingested)

    published = production_snapshot(duck)
    rerun = steps.run_all(duck, wap_config, "again", as_of=NEXT_DAY)

    assert publish_of(rerun).rows_added == 0
    assert production_snapshot(duck) == published
