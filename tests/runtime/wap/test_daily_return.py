"""daily_return is against the previous day's effective bar when that day has several copies."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, bar, publish_of

pytestmark = pytest.mark.duckdb

MONDAY = date(2024, 6, 3)
TUESDAY = date(2024, 6, 4)


def published_return(engine: DuckDBEngine, day: date) -> float:
    return engine.fetchall(
        "SELECT daily_return FROM daily_prices "
        f"WHERE symbol = 'AMD' AND trade_date = DATE '{day.isoformat()}'"
    ).scalar()


def test_the_latest_raw_copy_of_the_previous_day_is_the_base(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MONDAY, [bar("AMD", MONDAY, "100.0000")], at="2024-06-03T21:05:00Z")
    # Tuesday's ingestion restates Monday and brings Tuesday; both partitions are read.
    raw_lake.write(
        TUESDAY,
        [bar("AMD", MONDAY, "104.0000"), bar("AMD", TUESDAY, "110.0000")],
        at="2024-06-04T21:05:00Z",
    )

    result = steps.run_all(duck, wap_config, "backfill", as_of=TUESDAY)

    assert publish_of(result).rows_added == 2
    assert published_return(duck, TUESDAY) == pytest.approx(110.0 / 104.0 - 1, abs=1e-12)


def test_the_latest_raw_copy_replaces_a_published_bar_and_is_the_next_days_base(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MONDAY, [bar("AMD", MONDAY, "100.0000")], at="2024-06-03T21:05:00Z")
    steps.run_all(duck, wap_config, "monday", as_of=MONDAY)
    # Monday is landed again after it was published, and Tuesday's ingestion restates it
    # once more: the latest ingested copy (90) is Monday's bar.
    raw_lake.write(MONDAY, [bar("AMD", MONDAY, "95.0000")], at="2024-06-03T23:00:00Z")
    raw_lake.write(
        TUESDAY,
        [bar("AMD", MONDAY, "90.0000"), bar("AMD", TUESDAY, "110.0000")],
        at="2024-06-04T21:05:00Z",
    )

    result = steps.run_all(duck, wap_config, "tuesday", as_of=TUESDAY)

    assert publish_of(result).rows_added == 1
    assert publish_of(result).rows_replaced == 1
    assert result.audit.result("restatement").sample_keys == ("AMD@2024-06-03",)
    assert published_return(duck, TUESDAY) == pytest.approx(110.0 / 90.0 - 1, abs=1e-12)
