"""Reruns and late data: production holds each (symbol, trade_date) exactly once."""

from __future__ import annotations

from datetime import date

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

MON, TUE, WED, THU = date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 5), date(2024, 6, 6)


def day_bars(day: date, amd: str = "100.0000", nvda: str = "120.0000") -> list:
    return [bar("AMD", day, amd), bar("NVDA", day, nvda)]


def test_the_same_day_run_twice_publishes_once(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, day_bars(MON))
    first = steps.run_all(duck, wap_config, "monday", as_of=MON)
    snapshot = production_snapshot(duck)

    again = steps.run_all(duck, wap_config, "monday_again", as_of=MON)
    same_id = steps.run_all(duck, wap_config, "monday", as_of=MON)

    assert publish_of(first).rows_added == 2
    assert publish_of(again).rows_added == 0
    assert publish_of(same_id).rows_added == 0
    assert production_snapshot(duck) == snapshot


def test_each_step_rerun_on_its_own_changes_nothing(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, day_bars(MON))
    steps.run_all(duck, wap_config, "run", as_of=MON)
    snapshot = production_snapshot(duck)

    steps.publish(duck, wap_config, "run")
    audit = steps.audit(duck, wap_config, "run", as_of=MON)
    steps.publish(duck, wap_config, "run")

    assert production_snapshot(duck) == snapshot
    results = duck.fetchall("SELECT count(*) FROM dq_results WHERE run_id = 'run'").scalar()
    assert results == len(audit.results)


def test_a_crash_between_audit_and_publish_then_a_rerun_publishes_once(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, day_bars(MON))
    steps.run_all(duck, wap_config, "monday", as_of=MON)
    raw_lake.write(TUE, day_bars(TUE))
    steps.drop_staging(duck, wap_config, "crashed")
    steps.create_staging(duck, wap_config, "crashed")
    assert steps.audit(duck, wap_config, "crashed", as_of=TUE).ok
    # ... the job dies here; the next workflow run starts from the top.

    rerun = steps.run_all(duck, wap_config, "rerun", as_of=TUE)

    assert publish_of(rerun).rows_added == 2
    ingested = {(b.symbol, b.trade_date): ingested_at(b.trade_date) for b in day_bars(MON)}
    ingested.update({(b.symbol, b.trade_date): ingested_at(TUE) for b in day_bars(TUE)})
    assert production(duck) == expected_rows(day_bars(MON) + day_bars(TUE), ingested)


def test_resuming_the_crashed_publish_itself_publishes_once(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, day_bars(MON))
    steps.drop_staging(duck, wap_config, "crashed")
    steps.create_staging(duck, wap_config, "crashed")
    steps.audit(duck, wap_config, "crashed", as_of=MON)

    resumed = steps.publish(duck, wap_config, "crashed")
    resumed_again = steps.publish(duck, wap_config, "crashed")

    assert (resumed.rows_added, resumed_again.rows_added) == (2, 0)
    assert sorted(production(duck)) == [("AMD", MON), ("NVDA", MON)]


def test_a_new_run_drops_the_staging_a_crashed_run_left(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, day_bars(MON))
    steps.create_staging(duck, wap_config, "crashed")

    dropped = steps.drop_staging(duck, wap_config, "next")

    assert set(dropped) == {"next", "crashed"}
    assert not duck.table_exists("daily_prices_staging_crashed")
    assert duck.list_locations(duck.location("staging/daily_prices/")) == []
    with pytest.raises(steps.WapError, match="run create_staging first"):
        steps.publish(duck, wap_config, "crashed")


def test_raw_data_arriving_after_its_day_was_published_is_picked_up(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    # Monday: only NVDA made it before the run.
    raw_lake.write(MON, [bar("NVDA", MON, "120.0000")])
    steps.run_all(duck, wap_config, "monday", as_of=MON)
    # AMD's retry lands in Monday's partition after Monday was published.
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    # Tuesday's compact fetch also brings back Monday's NVDA bar and a bar NVDA had missed.
    raw_lake.write(
        TUE,
        [
            bar("NVDA", date(2024, 5, 31), "119.0000"),
            bar("NVDA", MON, "120.0000"),
            bar("NVDA", TUE, "121.0000"),
            bar("AMD", TUE, "101.0000"),
        ],
    )

    result = steps.run_all(duck, wap_config, "tuesday", as_of=TUE)

    assert publish_of(result).rows_added == 4
    published = production(duck)
    assert sorted(published) == [
        ("AMD", MON),
        ("AMD", TUE),
        ("NVDA", date(2024, 5, 31)),
        ("NVDA", MON),
        ("NVDA", TUE),
    ]
    assert published[("AMD", TUE)][6] == 101 / 100 - 1
    assert published[("NVDA", TUE)][6] == 121 / 120 - 1
    # The bar NVDA had missed fills the gap before Monday: Monday's return is recomputed.
    assert published[("NVDA", MON)][6] == 120 / 119 - 1
    assert publish_of(result).rows_replaced == 1


def test_the_latest_copy_of_a_bar_wins_within_a_run(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("NVDA", MON, "120.0000")], at="2024-06-03T21:05:00Z")
    raw_lake.write(TUE, [bar("NVDA", MON, "120.5000")], at="2024-06-04T21:05:00Z")

    steps.run_all(duck, wap_config, "run", as_of=TUE)

    assert production(duck)[("NVDA", MON)][3] == 120.5


def test_only_a_publish_marks_raw_objects_consumed(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, day_bars(MON))
    steps.run_all(duck, wap_config, "monday", as_of=MON)
    raw_lake.write(WED, day_bars(WED))
    staged = steps.create_staging(duck, wap_config, "unpublished")
    assert (staged.raw_objects, staged.raw_partitions) == (2, (WED.isoformat(),))

    steps.run_all(duck, wap_config, "wednesday", as_of=WED)
    raw_lake.write(TUE, day_bars(TUE))
    thursday = steps.run_all(duck, wap_config, "thursday", as_of=THU)

    # Tuesday, landed after Wednesday was published, is read (and only Tuesday).
    assert (thursday.staging.raw_objects, thursday.staging.raw_partitions) == (
        2,
        (TUE.isoformat(),),
    )
    assert sorted(production(duck)) == [(s, d) for s in ("AMD", "NVDA") for d in (MON, TUE, WED)]
