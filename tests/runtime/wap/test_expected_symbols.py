"""expected_symbols warns only for a symbol whose new data did not arrive: one missing, or
lagging, on the newest trade date a run brought. A run that brought nothing new (a rerun of
the day, a weekend run) is healthy and warns about nothing."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, bar
from tests.runtime.wap.test_defects import DEFECT_DAY, HISTORY_END, history

pytestmark = pytest.mark.duckdb

SATURDAY = date(2024, 6, 8)


@pytest.fixture
def published(raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig) -> None:
    raw_lake.write(HISTORY_END, history("AMD") + history("NVDA"))
    result = steps.run_all(duck, wap_config, "history", as_of=HISTORY_END)
    assert result.audit.result("expected_symbols").passed


def expected_symbols(duck: DuckDBEngine, wap_config: WapConfig, run_id: str, day: date):
    result = steps.run_all(duck, wap_config, run_id, as_of=day)
    return result.audit.result("expected_symbols")


def test_a_rerun_that_brings_nothing_new_warns_about_nothing(
    published: None, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    check = expected_symbols(duck, wap_config, "rerun", HISTORY_END)

    assert (check.passed, check.sample_keys) == (True, ())


def test_a_weekend_run_relanding_fridays_bars_warns_about_nothing(
    published: None, raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(SATURDAY, history("AMD") + history("NVDA"))

    check = expected_symbols(duck, wap_config, "saturday", SATURDAY)

    assert (check.passed, check.sample_keys) == (True, ())


def test_a_symbol_missing_on_the_new_trading_day_is_warned_about(
    published: None, raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(DEFECT_DAY, [bar("NVDA", DEFECT_DAY, "130.0000")])

    check = expected_symbols(duck, wap_config, "monday", DEFECT_DAY)

    assert (check.passed, check.sample_keys) == (False, ("AMD",))


def test_a_late_symbol_landing_after_the_others_were_published_warns_about_nothing(
    published: None, raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(DEFECT_DAY, [bar("NVDA", DEFECT_DAY, "130.0000")], at="2024-06-10T21:05:00Z")
    expected_symbols(duck, wap_config, "monday", DEFECT_DAY)
    raw_lake.write(DEFECT_DAY, [bar("AMD", DEFECT_DAY, "100.0000")], at="2024-06-10T22:05:00Z")

    check = expected_symbols(duck, wap_config, "monday_again", DEFECT_DAY)

    assert (check.passed, check.sample_keys) == (True, ())
