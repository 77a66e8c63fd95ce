"""Publish is atomic: an engine failing mid-publish leaves production exactly as it was."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from runtime.market_calendar import trading_days
from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.base import EngineError
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, bar, production, production_snapshot, publish_of

pytestmark = pytest.mark.duckdb

OLD_DAY = date(2022, 12, 29)
LATE_DAY = date(2022, 12, 30)
FIRST_DAY = date(2023, 12, 28)
NEW_YEAR_DAYS = (date(2023, 12, 29), date(2024, 1, 2))


class SwapFails(DuckDBEngine):
    """Fails the catalog swap itself, after every partition has been written or copied."""

    def replace_partitions(self, table: str, partitions: dict[str, str]) -> None:
        if table == "daily_prices":
            raise EngineError(f"injected: swap of {table} failed")
        super().replace_partitions(table, partitions)


class SecondWriteFails(DuckDBEngine):
    """Writes one partition per CTAS and fails the second CTAS halfway through its files."""

    MAX_PARTITIONS_PER_WRITE = 1
    writes = 0

    def ctas(self, table, select_sql, location, partitioned_by=None, name="ctas"):  # type: ignore[no-untyped-def]
        if table.startswith("daily_prices_write_"):
            self.writes += 1
            if self.writes == 2:
                Path(location, "year=2023").mkdir(parents=True)
                Path(location, "year=2023", "data_0.parquet").write_bytes(b"PAR1 torn")
                raise EngineError("injected: second partition write failed")
        super().ctas(table, select_sql, location, partitioned_by, name)


class CopyFails(DuckDBEngine):
    """Fails copying a fresh year's staged files after copying part of them."""

    def copy_location(self, source: str, target: str) -> None:
        Path(target).mkdir(parents=True)
        Path(target, "data_0.parquet").write_bytes(b"PAR1 torn")
        raise EngineError("injected: copy failed")


@pytest.fixture
def history(raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig) -> tuple:
    """2022 and 2023 published; then raw brings days in 2023 and 2024 and a late 2022 bar,
    so a publish merges two years that have published rows and copies one that has none."""
    raw_lake.write(
        FIRST_DAY,
        [
            bar("AMD", OLD_DAY, "90.0000"),
            bar("AMD", FIRST_DAY, "100.0000"),
            bar("NVDA", OLD_DAY, "110.0000"),
            bar("NVDA", FIRST_DAY, "120.0000"),
        ],
    )
    steps.run_all(duck, wap_config, "history", as_of=FIRST_DAY)
    late = [bar("AMD", LATE_DAY, "91.0000")]
    for day in NEW_YEAR_DAYS:
        raw_lake.write(day, [bar("AMD", day, "101.0000"), bar("NVDA", day, "121.0000"), *late])
        late = []
    return production_snapshot(duck)


@pytest.mark.parametrize("failing_engine", [SwapFails, SecondWriteFails, CopyFails])
def test_a_failure_mid_publish_leaves_production_unchanged_and_a_rerun_completes(
    history: tuple, raw_lake: RawLake, wap_config: WapConfig, failing_engine: type
) -> None:
    failing = failing_engine(raw_lake.root)
    steps.drop_staging(failing, wap_config, "failing")
    steps.create_staging(failing, wap_config, "failing")
    assert steps.audit(failing, wap_config, "failing", as_of=NEW_YEAR_DAYS[-1]).ok

    with pytest.raises(EngineError, match="injected"):
        steps.publish(failing, wap_config, "failing")

    healthy = DuckDBEngine(raw_lake.root)
    assert production_snapshot(healthy) == history

    rerun = steps.run_all(healthy, wap_config, "rerun", as_of=NEW_YEAR_DAYS[-1])

    assert publish_of(rerun).rows_added == 5
    assert rerun.publish.years == (2022, 2023, 2024)
    assert len(production(healthy)) == 9


def test_partitions_written_in_several_ctas_are_swapped_in_together(
    history: tuple, raw_lake: RawLake, wap_config: WapConfig
) -> None:
    class OnePartitionPerWrite(DuckDBEngine):
        MAX_PARTITIONS_PER_WRITE = 1

    engine = OnePartitionPerWrite(raw_lake.root)
    result = steps.run_all(engine, wap_config, "split", as_of=NEW_YEAR_DAYS[-1])

    assert publish_of(result).years == (2022, 2023, 2024)
    staged = engine.partitions(steps.staging_table("split"))
    assert [staged[year].rsplit("/", 3)[1] for year in ("2022", "2023", "2024")] == [
        "part-0",
        "part-1",
        "part-2",
    ]
    locations = engine.partitions("daily_prices")
    assert locations["2022"].endswith("/part-0/year=2022/")
    assert locations["2023"].endswith("/part-1/year=2023/")
    assert locations["2024"].endswith("/copy/year=2024/")
    assert len(production(engine)) == 9


def test_old_versions_are_pruned_but_live_and_recent_ones_kept(
    raw_lake: RawLake, duck: DuckDBEngine
) -> None:
    config = WapConfig(symbols=("NVDA",), keep_versions=2)
    # Only 2024 is touched: one version per run, each replacing the last.
    for n, day in enumerate(trading_days(date(2024, 1, 2), date(2024, 1, 8))):
        raw_lake.write(day, [bar("NVDA", day, "120.0000")])
        steps.run_all(duck, config, f"run{n}", as_of=day, now=datetime(2024, 1, 8, 22, n))

    versions = duck.list_locations(duck.location("prod/daily_prices/"))
    live = duck.partitions("daily_prices")

    assert [v.rstrip("/").rsplit("/", 1)[1] for v in versions] == [
        "20240108T220300000000Z_run3",
        "20240108T220400000000Z_run4",
    ]
    assert all(Path(location).is_dir() for location in live.values())
    assert len(production(duck)) == 5
