"""A daily run reads the raw objects not consumed yet, not the whole raw history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from runtime.market_calendar import trading_days
from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, bar, publish_of

pytestmark = pytest.mark.duckdb


def test_a_daily_run_after_a_long_history_reads_only_the_new_objects(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    days = trading_days(date(2023, 1, 3), date(2024, 6, 6))
    for n, day in enumerate(days):
        raw_lake.write(day, [bar("AMD", day, f"{100 + n % 7}.0000"), bar("NVDA", day, "120.0000")])
    assert steps.run_all(duck, wap_config, "history", as_of=days[-1]).publish is not None
    new_day = days[-1] + timedelta(days=1)
    new_files = raw_lake.write(
        new_day, [bar("AMD", new_day, "99.0000"), bar("NVDA", new_day, "121.0000")]
    )
    all_files = raw_lake.raw_files()
    duck.scans.clear()

    result = steps.run_all(duck, wap_config, "daily", as_of=new_day)

    raw_scans = [scan for scan in duck.scans if scan.function == "READ_CSV"]
    assert {scan.query for scan in raw_scans} >= {"raw_window", "create_staging"}
    for scan in raw_scans:
        assert scan.files_total == len(all_files) == 2 * len(days) + 2
        assert scan.files_read == 2
        assert sorted(scan.filenames) == [str(path) for path in new_files]
    assert result.staging.staged_rows == 2
    assert publish_of(result).rows_added == len(new_files)


def test_the_staging_sql_names_the_partitions_and_objects_it_reads(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    # Athena's partition projection lists only the dt values the query names; within a
    # partition that was partly consumed, "$path" picks the new objects.
    day = date(2024, 6, 3)
    raw_lake.write(day, [bar("NVDA", day, "120.0000")])
    steps.run_all(duck, wap_config, "first", as_of=day)
    [second_landing] = raw_lake.write(day, [bar("AMD", day, "100.0000")], at="2024-06-03T23:00:00Z")
    later = date(2024, 6, 4)
    raw_lake.write(later, [bar("NVDA", later, "121.0000")])
    executed: list[str] = []

    class Recording(DuckDBEngine):
        def ctas(self, table, select_sql, location, partitioned_by=None, name="ctas"):  # type: ignore[no-untyped-def]
            executed.append(select_sql)
            super().ctas(table, select_sql, location, partitioned_by, name)

    steps.create_staging(Recording(raw_lake.root), wap_config, "second")

    partly_consumed = f"""(dt IN ('2024-06-03') AND "$path" IN ('{second_landing}'))"""
    assert f"WHERE dt IN ('2024-06-04') OR {partly_consumed}" in executed[0]
