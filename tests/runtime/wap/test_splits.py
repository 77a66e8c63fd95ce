"""daily_return is split-aware: close x F / previous close - 1, F from each symbol's latest
split record under raw_splits/."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, bar, publish_of, read_alphavantage_csv

pytestmark = pytest.mark.duckdb

NVDA_DAY = date(2024, 6, 7)
# Sessions on or right after NVDA's split dates (2001-09-12 fell in the September 2001
# closure: its first session is 2001-09-17).
NVDA_SPLIT_SESSIONS = ("2000-06-27", "2001-09-17", "2006-04-07", "2007-09-11", "2021-07-20")
MONDAY = date(2024, 6, 3)
TUESDAY = date(2024, 6, 4)
WEDNESDAY = date(2024, 6, 5)


def returns(engine: DuckDBEngine, symbol: str) -> dict[str, float | None]:
    rows = engine.fetchall(
        f"SELECT trade_date, daily_return FROM daily_prices WHERE symbol = '{symbol}'"
    ).rows
    return {day.isoformat(): value for day, value in rows}


def splits_answer(symbol: str, *splits: tuple[str, str]) -> str:
    data = [{"effective_date": day, "split_factor": factor} for day, factor in splits]
    return json.dumps({"symbol": symbol, "data": data})


@pytest.mark.shared_data
def test_the_real_nvda_history_with_its_split_record_publishes_the_real_moves(
    nvda_csv: Path, nvda_splits: Path, raw_lake: RawLake, duck: DuckDBEngine
) -> None:
    raw_lake.write(NVDA_DAY, read_alphavantage_csv(nvda_csv, "NVDA"))
    raw_lake.write_splits(
        NVDA_DAY, "NVDA", nvda_splits.read_text(), datetime(2024, 6, 7, 21, 6, tzinfo=UTC)
    )

    result = steps.run_all(
        duck,
        WapConfig(symbols=("NVDA",)),
        "nvda",
        as_of=NVDA_DAY,
        now=datetime(2024, 6, 7, 22, tzinfo=UTC),
    )

    assert result.audit.failed_errors == []
    published = returns(duck, "NVDA")
    assert len(published) == 6190
    assert [day for day, value in published.items() if value is None] == ["1999-11-01"]
    assert min(value for value in published.values() if value is not None) > -0.40
    # 4:1 on 2021-07-20: 186.12 after 751.19 as traded.
    assert published["2021-07-20"] == pytest.approx(186.12 * 4 / 751.19 - 1, abs=1e-12)
    assert published["2021-07-20"] == pytest.approx(-0.009, abs=0.001)
    # 2:1 dated 2001-09-12, while the market was closed: 2001-09-17 against 2001-09-10.
    assert published["2001-09-17"] == pytest.approx(-0.103, abs=0.001)
    moves = result.audit.result("large_daily_move")
    assert {"NVDA@2000-03-07", "NVDA@2004-08-06"} <= set(moves.sample_keys)
    assert not {f"NVDA@{day}" for day in NVDA_SPLIT_SESSIONS} & set(moves.sample_keys)


def test_a_split_applies_on_its_day_and_one_dated_ahead_waits(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(
        TUESDAY,
        [bar("AMD", MONDAY, "100.0000"), bar("AMD", TUESDAY, "26.0000")],
    )
    raw_lake.write_splits(
        TUESDAY,
        "AMD",
        splits_answer("AMD", ("2024-06-04", "4.0000"), ("2024-06-05", "0.1000")),
        datetime(2024, 6, 4, 21, 6, tzinfo=UTC),
    )

    result = steps.run_all(duck, wap_config, "tuesday", as_of=TUESDAY)

    assert publish_of(result).rows_added == 2
    assert returns(duck, "AMD")["2024-06-04"] == pytest.approx(26.0 * 4 / 100.0 - 1, abs=1e-12)
    # Wednesday's bar comes with the reverse split dated that day: 1:10.
    raw_lake.write(WEDNESDAY, [bar("AMD", WEDNESDAY, "265.0000")])
    steps.run_all(duck, wap_config, "wednesday", as_of=WEDNESDAY)
    assert returns(duck, "AMD")["2024-06-05"] == pytest.approx(265.0 * 0.1 / 26.0 - 1, abs=1e-12)


def test_only_the_latest_record_of_a_symbol_counts(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(TUESDAY, [bar("AMD", MONDAY, "100.0000"), bar("AMD", TUESDAY, "50.0000")])
    raw_lake.write_splits(
        MONDAY,
        "AMD",
        splits_answer("AMD", ("2024-06-04", "2.0000")),
        datetime(2024, 6, 3, 21, tzinfo=UTC),
    )
    # The newer record withdraws the split (a marker row).
    raw_lake.write_splits(
        TUESDAY, "AMD", splits_answer("AMD"), datetime(2024, 6, 4, 21, tzinfo=UTC)
    )

    steps.run_all(duck, wap_config, "tuesday", as_of=TUESDAY)

    assert returns(duck, "AMD")["2024-06-04"] == pytest.approx(-0.5, abs=1e-12)


def replaced_returns(engine: DuckDBEngine) -> list[tuple]:
    return engine.fetchall(
        "SELECT trade_date, daily_return, published_run_id, run_id FROM daily_prices_replaced "
        "ORDER BY run_id"
    ).rows


def test_a_split_learned_changed_or_withdrawn_later_corrects_the_published_return(
    raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    # Tuesday's 2:1 is published as traded: no record yet.
    raw_lake.write(TUESDAY, [bar("AMD", MONDAY, "100.0000"), bar("AMD", TUESDAY, "52.0000")])
    steps.run_all(duck, wap_config, "tuesday", as_of=TUESDAY)
    assert returns(duck, "AMD")["2024-06-04"] == pytest.approx(-0.48, abs=1e-12)

    # Wednesday's ingestion lands the recent sessions again (a compact answer) and the
    # record, which shows the split: Tuesday's return is corrected, the old row kept.
    recent = [bar("AMD", MONDAY, "100.0000"), bar("AMD", TUESDAY, "52.0000")]
    raw_lake.write(WEDNESDAY, [*recent, bar("AMD", WEDNESDAY, "53.0000")])
    raw_lake.write_splits(
        WEDNESDAY,
        "AMD",
        splits_answer("AMD", ("2024-06-04", "2.0000")),
        datetime(2024, 6, 5, 21, 6, tzinfo=UTC),
    )
    learned = steps.run_all(duck, wap_config, "learned", as_of=WEDNESDAY)

    assert publish_of(learned).rows_replaced == 1
    assert returns(duck, "AMD")["2024-06-04"] == pytest.approx(0.04, abs=1e-12)
    assert replaced_returns(duck) == [
        (TUESDAY, pytest.approx(-0.48, abs=1e-12), "tuesday", "learned")
    ]
    assert learned.audit.result("restatement").passed  # no bar changed, only a return

    # The provider corrects the factor (3:1), then withdraws the split: each is corrected.
    thursday, friday = date(2024, 6, 6), date(2024, 6, 7)
    raw_lake.write(thursday, [*recent, bar("AMD", thursday, "54.0000")])
    raw_lake.write_splits(
        thursday,
        "AMD",
        splits_answer("AMD", ("2024-06-04", "3.0000")),
        datetime(2024, 6, 6, 21, 6, tzinfo=UTC),
    )
    changed = steps.run_all(duck, wap_config, "changed", as_of=thursday)
    raw_lake.write(friday, [*recent, bar("AMD", friday, "55.0000")])
    raw_lake.write_splits(
        friday, "AMD", splits_answer("AMD"), datetime(2024, 6, 7, 21, 6, tzinfo=UTC)
    )
    withdrawn = steps.run_all(duck, wap_config, "withdrawn", as_of=friday)

    assert publish_of(changed).rows_replaced == 1
    assert publish_of(withdrawn).rows_replaced == 1
    assert returns(duck, "AMD")["2024-06-04"] == pytest.approx(-0.48, abs=1e-12)
    assert replaced_returns(duck) == [  # by replacing run
        (TUESDAY, pytest.approx(0.04, abs=1e-12), "learned", "changed"),
        (TUESDAY, pytest.approx(-0.48, abs=1e-12), "tuesday", "learned"),
        (TUESDAY, pytest.approx(0.56, abs=1e-12), "changed", "withdrawn"),
    ]
