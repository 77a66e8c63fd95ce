"""Exact increments and corrections: every raw object is consumed once, wherever it landed,
and a bar that changes what is published changes it (and its neighbour's return)."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime

import pytest

from runtime.ingest.bars import bar_record, bars_to_csv
from runtime.wap import raw_zone, steps
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


def evening(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 22, 0)


def closes(engine: DuckDBEngine, symbol: str) -> dict[date, tuple[float, float | None]]:
    rows = engine.fetchall(
        "SELECT trade_date, close, daily_return FROM daily_prices "
        f"WHERE symbol = '{symbol}' ORDER BY trade_date"
    ).rows
    return {day: (close, daily_return) for day, close, daily_return in rows}


def test_a_replay_into_an_older_ingest_date_is_published(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    steps.run_all(duck, wap_config, "monday", as_of=MON)
    raw_lake.write(WED, [bar("AMD", WED, "110.0000")])
    steps.run_all(duck, wap_config, "wednesday", as_of=WED)
    # A replay lands Tuesday's ingestion in its own (older) partition.
    raw_lake.write(TUE, [bar("AMD", TUE, "105.0000")])

    result = steps.run_all(duck, wap_config, "replay", as_of=WED)

    assert result.staging.raw_partitions == (TUE.isoformat(),)
    assert publish_of(result).rows_added == 1
    assert sorted(closes(duck, "AMD")) == [MON, TUE, WED]


def test_a_filled_gap_recomputes_the_next_days_return(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    raw_lake.write(WED, [bar("AMD", WED, "110.0000")])
    steps.run_all(duck, wap_config, "first", as_of=WED)
    assert closes(duck, "AMD")[WED][1] == pytest.approx(0.10)
    raw_lake.write(THU, [bar("AMD", TUE, "200.0000")])

    result = steps.run_all(duck, wap_config, "gap", as_of=THU)

    published = closes(duck, "AMD")
    assert published[TUE] == (200.0, pytest.approx(200 / 100 - 1))
    assert published[WED] == (110.0, pytest.approx(110 / 200 - 1))
    assert (publish_of(result).rows_added, publish_of(result).rows_replaced) == (1, 1)
    # Wednesday's old return is kept where a person can find it.
    replaced = duck.fetchall(
        "SELECT trade_date, daily_return, published_run_id FROM daily_prices_replaced "
        "WHERE run_id = 'gap'"
    ).rows
    assert replaced == [(WED, pytest.approx(0.10), "first")]


def test_a_restated_close_replaces_the_bar_and_its_neighbours_return(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(WED, [bar("AMD", d, c) for d, c in ((MON, "100"), (TUE, "104"), (WED, "110"))])
    steps.run_all(duck, wap_config, "first", as_of=WED)
    raw_lake.write(THU, [bar("AMD", TUE, "105.0000"), bar("AMD", THU, "111.0000")])

    result = steps.run_all(duck, wap_config, "restated", as_of=THU)

    assert result.audit.result("restatement").sample_keys == ("AMD@2024-06-04",)
    published = closes(duck, "AMD")
    assert published[TUE] == (105.0, pytest.approx(105 / 100 - 1))
    assert published[WED] == (110.0, pytest.approx(110 / 105 - 1))
    assert published[THU] == (111.0, pytest.approx(111 / 110 - 1))
    assert (publish_of(result).rows_added, publish_of(result).rows_replaced) == (1, 2)


def test_identical_bars_fetched_again_change_nothing(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    bars = [bar("AMD", MON, "100.0000"), bar("NVDA", MON, "120.0000")]
    raw_lake.write(MON, bars)
    steps.run_all(duck, wap_config, "monday", as_of=MON)
    rows = production_snapshot(duck)[0]
    # The next compact fetch brings Monday again, identical, with Tuesday.
    raw_lake.write(TUE, [*bars, bar("AMD", TUE, "101.0000"), bar("NVDA", TUE, "121.0000")])

    result = steps.run_all(duck, wap_config, "tuesday", as_of=TUE)

    assert (publish_of(result).rows_added, publish_of(result).rows_replaced) == (2, 0)
    assert result.staging.staged_rows == 2
    assert set(rows) <= set(production_snapshot(duck)[0])


def test_a_second_ingestion_the_same_day_is_read_and_its_newer_bar_wins(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")], at="2024-06-03T21:05:00Z")
    steps.run_all(duck, wap_config, "first", as_of=MON)
    raw_lake.write(MON, [bar("AMD", MON, "100.5000")], at="2024-06-03T22:30:00Z")

    result = steps.run_all(duck, wap_config, "second", as_of=MON)

    assert result.staging.raw_objects == 1
    assert closes(duck, "AMD")[MON][0] == 100.5


def test_a_relanded_object_is_read_again(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    [path] = raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    steps.run_all(duck, wap_config, "first", as_of=MON)
    # Someone fixes the object in place (same key, new content).
    raw_lake.write(MON, [bar("AMD", MON, "101.0000")])
    assert "101.0000" in path.read_text()

    result = steps.run_all(duck, wap_config, "fixed", as_of=MON)

    assert result.staging.raw_objects == 1
    assert closes(duck, "AMD")[MON][0] == 101.0


def test_nothing_consumed_is_read_again(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000"), bar("NVDA", MON, "120.0000")])
    steps.run_all(duck, wap_config, "first", as_of=MON)
    snapshot = production_snapshot(duck)
    duck.scans.clear()

    result = steps.run_all(duck, wap_config, "again", as_of=MON)

    assert result.staging.raw_objects == 0
    assert [scan for scan in duck.scans if scan.function == "READ_CSV" and scan.files_read] == []
    assert publish_of(result).rows_added == 0
    assert production_snapshot(duck) == snapshot


@pytest.mark.parametrize(
    "misplaced",
    [
        "raw/dt=2024-6-3/AMD-1.csv",
        "raw/dt=2099-01-01/AMD-1.csv",
        "raw/dt=2024-02-30/AMD-1.csv",
        "raw/AMD.csv",
        "raw/dt=2024-06-04/backfill/AMD-1.csv",
        "raw/dt=2024-06-04/AMD-1.json",
    ],
)
def test_a_misplaced_raw_object_fails_the_audit_by_name_and_never_blocks_in_silence(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig, misplaced: str
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    steps.run_all(duck, wap_config, "monday", as_of=MON, now=evening(MON))
    stray = raw_lake.root / misplaced
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("symbol,trade_date,open,high,low,close,volume,ingested_at\n")
    raw_lake.write(TUE, [bar("AMD", TUE, "101.0000")])

    blocked = steps.run_all(duck, wap_config, "tuesday", as_of=TUE, now=evening(TUE))

    assert blocked.publish is None
    assert [check.check_name for check in blocked.audit.failed_errors] == ["raw_layout"]
    assert blocked.audit.result("raw_layout").sample_keys == (misplaced,)
    stray.unlink()
    unblocked = steps.run_all(duck, wap_config, "fixed", as_of=TUE, now=evening(TUE))
    assert publish_of(unblocked).rows_added == 1


def test_hidden_objects_are_never_read(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    # A local write in progress (temporary name) next to the landed object.
    temp = raw_lake.root / "raw" / f"dt={MON.isoformat()}" / ".AMD-2.csv.tmp.csv"
    temp.write_text("symbol,trade_date\nAMD,2024-06-0")

    result = steps.run_all(duck, wap_config, "monday", as_of=MON)

    assert result.audit.ok
    assert publish_of(result).rows_added == 1


def test_unique_key_checks_what_publish_would_write(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    steps.run_all(duck, wap_config, "monday", as_of=MON)
    # A published year that holds a key twice (a file copied in by hand): any publish that
    # touches the year would write the duplicate again.
    [location] = duck.partitions("daily_prices").values()
    [data_file] = sorted(p for p in (raw_lake.root / location).glob("*.parquet"))
    shutil.copyfile(data_file, data_file.with_name("copied-by-hand.parquet"))
    catalog_path = raw_lake.root / "_catalog.json"
    catalog = json.loads(catalog_path.read_text())
    partition = catalog["tables"]["daily_prices"]["partitions"]["2024"]
    partition["files"].append(
        partition["files"][0].replace(data_file.name, "copied-by-hand.parquet")
    )
    catalog_path.write_text(json.dumps(catalog))
    raw_lake.write(TUE, [bar("AMD", TUE, "101.0000")])

    result = steps.run_all(DuckDBEngine(raw_lake.root), wap_config, "tuesday", as_of=TUE)

    assert [check.check_name for check in result.audit.failed_errors] == ["unique_key"]
    assert result.audit.result("unique_key").sample_keys == ("AMD@2024-06-03",)


def test_firehose_deliveries_are_read_with_the_csv_objects_and_deduplicated(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    records = [
        json.dumps(bar_record(bar(symbol, TUE, close), ingested_at(TUE)))
        for symbol, close in (("AMD", "101.0000"), ("NVDA", "121.0000"))
    ]
    # At least once: a whole batch delivered twice, in two objects.
    raw_lake.write_firehose(TUE, records, "stockpipe-raw-1-2024-06-04-22-00-00-a")
    raw_lake.write_firehose(TUE, records, "stockpipe-raw-1-2024-06-04-22-01-00-b")

    result = steps.run_all(duck, wap_config, "mixed", as_of=TUE)

    assert result.audit.ok
    assert result.staging.raw_objects == 3
    ingested = {(b.symbol, b.trade_date): ingested_at(b.trade_date) for b in bars_mixed()}
    assert production(duck) == expected_rows(bars_mixed(), ingested)
    again = steps.run_all(duck, wap_config, "again", as_of=TUE)
    assert again.staging.raw_objects == 0


def bars_mixed() -> list:
    return [bar("AMD", MON, "100.0000"), bar("AMD", TUE, "101.0000"), bar("NVDA", TUE, "121.0000")]


def test_two_landings_in_the_same_second_the_later_object_wins(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    second = "2024-06-03T21:05:00Z"
    for landed, close in (("20240603T210500100000Z", "100"), ("20240603T210500900000Z", "101")):
        raw_lake.write_text(
            MON, "AMD", bars_to_csv([bar("AMD", MON, close)], second), landed=landed
        )

    steps.run_all(duck, wap_config, "monday", as_of=MON)

    assert closes(duck, "AMD")[MON][0] == 101.0


def test_a_raw_object_that_yields_no_row_fails_the_audit_and_is_never_consumed(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    empty = raw_lake.write_text(
        MON, "NVDA", "symbol,trade_date,open,high,low,close,volume,ingested_at\n"
    )

    blocked = steps.run_all(duck, wap_config, "monday", as_of=MON)

    key = empty.relative_to(raw_lake.root).as_posix()
    assert blocked.audit.result("raw_layout").sample_keys == (key,)
    assert blocked.publish is None
    empty.unlink()
    assert publish_of(steps.run_all(duck, wap_config, "fixed", as_of=MON)).rows_added == 1


def test_objects_beyond_one_querys_limit_are_left_for_the_next_run(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw_zone, "MAX_NAMED_OBJECTS", 2)
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")], at="2024-06-03T21:00:00Z")
    steps.run_all(duck, wap_config, "first", as_of=MON)
    # Three late landings in the partly consumed partition: each must be named by "$path".
    for n, symbol in enumerate(("NVDA", "INTC", "MU")):
        raw_lake.write(MON, [bar(symbol, MON, "50.0000")], at=f"2024-06-03T22:0{n}:00Z")

    second = steps.run_all(duck, wap_config, "second", as_of=MON)
    third = steps.run_all(duck, wap_config, "third", as_of=MON)

    assert (second.staging.raw_objects, second.staging.raw_objects_deferred) == (2, 1)
    assert (third.staging.raw_objects, third.staging.raw_objects_deferred) == (1, 0)
    assert sorted(symbol for symbol, _ in production(duck)) == ["AMD", "INTC", "MU", "NVDA"]


def test_a_lake_moved_elsewhere_keeps_its_summary(
    raw_lake: RawLake, wap_config: WapConfig, tmp_path
) -> None:
    raw_lake.write(MON, [bar("AMD", MON, "100.0000")])
    steps.run_all(DuckDBEngine(raw_lake.root), wap_config, "monday", as_of=MON)
    moved = tmp_path / "moved"
    shutil.copytree(raw_lake.root, moved)
    # The catalog names files relative to the lake, so the copy is a whole lake.
    engine = DuckDBEngine(moved)

    assert steps.refresh_summary(engine, wap_config, "again", evening(MON)) == []


def test_a_first_backfill_reads_its_raw_objects_once_and_still_names_an_empty_one(
    raw_lake: RawLake, wap_config: WapConfig
) -> None:
    days = [date.fromordinal(MON.toordinal() - n) for n in range(120)]
    raw_lake.write(MON, [bar("AMD", day, "100.0000") for day in days if day.weekday() < 5])
    empty = raw_lake.write_text(MON, "NVDA", "symbol,trade_date,open,high,low,close,volume\n")
    engine = DuckDBEngine(raw_lake.root, profile=True)

    blocked = steps.run_all(engine, wap_config, "backfill", as_of=MON)

    assert blocked.audit.result("raw_layout").sample_keys == (
        empty.relative_to(raw_lake.root).as_posix(),
    )
    # The large object is read by staging alone (and by nothing before it); the empty one
    # by the per-object count too.
    read_before = {
        name for scan in engine.scans if scan.query == "raw_window" for name in scan.filenames
    }
    assert read_before == {str(empty)}
    empty.unlink()
    assert publish_of(steps.run_all(engine, wap_config, "fixed", as_of=MON)).rows_added == 86


def test_a_day_twice_in_a_first_backfills_only_object_fails_unique_key(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    # One object per symbol and nothing published: staging takes every row as its day's bar
    # (ingestion writes a day once per object), so a hand-made object with a day twice is
    # stopped by the audit instead of being published either way.
    raw_lake.write(MON, [bar("AMD", MON, "100.0000"), bar("AMD", MON, "101.0000")])

    blocked = steps.run_all(duck, wap_config, "backfill", as_of=MON)

    assert [check.check_name for check in blocked.audit.failed_errors] == ["unique_key"]
    assert blocked.audit.result("unique_key").sample_keys == ("AMD@2024-06-03",)
    assert blocked.publish is None
