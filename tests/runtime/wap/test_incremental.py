"""A daily run reads the new raw partitions, not the whole raw history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from runtime.local.market_calendar import trading_days
from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, bar, publish_of

pytestmark = pytest.mark.duckdb


def test_a_daily_run_after_a_long_history_scans_only_the_newest_partitions(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    days = trading_days(date(2023, 1, 3), date(2024, 6, 6))
    for n, day in enumerate(days):
        raw_lake.write(day, [bar("AMD", day, f"{100 + n % 7}.0000"), bar("NVDA", day, "120.0000")])
    assert steps.run_all(duck, wap_config, "history", as_of=days[-1]).publish is not None
    watermark = steps.read_watermark(duck)
    new_day = days[-1] + timedelta(days=1)
    new_files = raw_lake.write(
        new_day, [bar("AMD", new_day, "99.0000"), bar("NVDA", new_day, "121.0000")]
    )
    all_files = raw_lake.raw_files()
    duck.scans.clear()

    result = steps.run_all(duck, wap_config, "daily", as_of=new_day)

    raw_scans = [scan for scan in duck.scans if scan.function == "READ_CSV"]
    assert {scan.query for scan in raw_scans} >= {"raw_window", "create_staging"}
    # The watermark's own partition (two files) is read again, then the new partition.
    assert watermark == days[-1].isoformat()
    for scan in raw_scans:
        assert scan.files_total == len(all_files) == 2 * len(days) + 2
        assert scan.files_read == 4
        for name in scan.filenames:
            assert f"dt={watermark}/" in name or f"dt={new_day.isoformat()}/" in name
    assert result.staging.staged_rows == 4
    assert publish_of(result).rows_added == len(new_files)


def test_the_staging_sql_filters_raw_on_its_partition_column(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    day = date(2024, 6, 3)
    raw_lake.write(day, [bar("NVDA", day, "120.0000")])
    steps.run_all(duck, wap_config, "first", as_of=day)
    executed: list[str] = []

    class Recording(DuckDBEngine):
        def ctas(self, table, select_sql, location, partitioned_by=None, name="ctas"):  # type: ignore[no-untyped-def]
            executed.append(select_sql)
            super().ctas(table, select_sql, location, partitioned_by, name)

    steps.create_staging(Recording(raw_lake.root), wap_config, "second")

    assert "WHERE dt >= '2024-06-03'" in executed[0]
