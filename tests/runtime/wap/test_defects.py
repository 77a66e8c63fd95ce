"""Injected defects: each is caught by its check and never reaches production."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal

import pytest

from runtime.ingest.bars import RAW_HEADER, Bar, bar_record
from runtime.wap import queries, steps
from runtime.wap.checks import CHECKS
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, bar, ingested_at, production_snapshot, publish_of

pytestmark = pytest.mark.duckdb

HISTORY_END = date(2024, 6, 7)  # a Friday
DEFECT_DAY = date(2024, 6, 10)  # the Monday after


def history(symbol: str) -> list[Bar]:
    days = [HISTORY_END - timedelta(days=n) for n in range(30)]
    return [bar(symbol, d, f"{100 + n}.5000") for n, d in enumerate(days) if d.weekday() < 5]


@pytest.fixture
def published(raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig) -> tuple:
    raw_lake.write(HISTORY_END, history("AMD") + history("NVDA"))
    assert steps.run_all(duck, wap_config, "history", as_of=HISTORY_END).publish is not None
    return production_snapshot(duck)


def csv_text(*records: dict[str, str]) -> str:
    lines = [",".join(RAW_HEADER)]
    lines += [",".join(record[column] for column in RAW_HEADER) for record in records]
    return "\n".join(lines) + "\n"


def good_record(**changes: str) -> dict[str, str]:
    record = bar_record(bar("NVDA", DEFECT_DAY, "130.0000"), ingested_at(DEFECT_DAY))
    record.update(changes)
    return record


DEFECTS = {
    "null close": (good_record(close=""), "not_null_prices"),
    "unparseable volume": (good_record(volume="12x"), "not_null_prices"),
    "missing trade date": (good_record(trade_date=""), "not_null_keys"),
    "unparseable trade date": (good_record(trade_date="2024-13-45"), "not_null_keys"),
    "quoted symbol": (good_record(symbol='"NVDA'), "symbol_format"),
    "lower-case symbol": (good_record(symbol="nvda"), "symbol_format"),
    "high below low": (good_record(high="128.0000", low="129.0000"), "price_range"),
    "close above high": (good_record(close="140.0000"), "price_range"),
    "open below low": (good_record(open="120.0000"), "price_range"),
    "zero prices": (
        good_record(open="0", high="0", low="0", close="0"),
        "positive_values",
    ),
    "negative volume": (good_record(volume="-5"), "positive_values"),
    "future trade date": (good_record(trade_date="2024-06-11"), "future_trade_date"),
    "weekend trade date": (good_record(trade_date="2024-06-08"), "weekend_trade_date"),
}


@pytest.mark.parametrize(("record", "check"), DEFECTS.values(), ids=DEFECTS.keys())
def test_a_defective_bar_fails_its_check_and_production_is_unchanged(
    published: tuple,
    raw_lake: RawLake,
    duck: DuckDBEngine,
    wap_config: WapConfig,
    record: dict[str, str],
    check: str,
) -> None:
    amd = bar_record(bar("AMD", DEFECT_DAY, "100.0000"), ingested_at(DEFECT_DAY))
    raw_lake.write_text(DEFECT_DAY, "AMD", csv_text(amd))
    raw_lake.write_text(DEFECT_DAY, "NVDA", csv_text(record))

    result = steps.run_all(duck, wap_config, "defect", as_of=DEFECT_DAY)

    assert result.publish is None
    assert [failed.check_name for failed in result.audit.failed_errors] == [check]
    assert check in result.audit.failure_message()
    assert result.audit.result(check).failed_rows == 1
    with pytest.raises(steps.WapError, match="failed its audit"):
        steps.publish(duck, wap_config, "defect")
    assert production_snapshot(duck) == published


def test_a_check_failing_on_staging_is_recorded_in_dq_results(
    published: tuple, raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write_text(DEFECT_DAY, "NVDA", csv_text(good_record(close="")))

    steps.run_all(duck, wap_config, "defect", as_of=DEFECT_DAY)

    rows = duck.fetchall(
        "SELECT check_name, severity, passed, failed_rows, sample_keys FROM dq_results "
        "WHERE run_id = 'defect' AND NOT passed ORDER BY check_name"
    ).rows
    assert rows == [
        ("expected_symbols", "warning", False, 1, "AMD"),
        ("not_null_prices", "error", False, 1, "NVDA@2024-06-10"),
    ]


def staging_by_hand(duck: DuckDBEngine, run_id: str, rows: str, where: str = "true") -> None:
    """A staging table written directly, for defects the staging SQL itself prevents."""
    duck.ctas(
        f"daily_prices_staging_{run_id}",
        f"""
        SELECT symbol, CAST(trade_date AS date) AS trade_date, open, high, low, close,
            CAST(volume AS bigint) AS volume, close AS avg_price,
            CAST(NULL AS double) AS daily_return,
            CAST('2024-06-10 21:05:00' AS timestamp) AS ingested_at,
            '{run_id}' AS run_id, 2024 AS year
        FROM (VALUES {rows}) AS t (symbol, trade_date, open, high, low, close, volume)
        WHERE {where}
        """,
        duck.location(f"staging/daily_prices/run_id={run_id}/"),
        partitioned_by="year",
    )


def test_duplicate_keys_in_staging_fail_unique_key(
    published: tuple, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    row = "('NVDA', '2024-06-10', 1.0E0, 1.0E0, 1.0E0, 1.0E0, 5)"
    amd = "('AMD', '2024-06-10', 1.0E0, 1.0E0, 1.0E0, 1.0E0, 5)"
    staging_by_hand(duck, "dupes", f"{row}, {row}, {amd}")

    result = steps.audit(duck, wap_config, "dupes", as_of=DEFECT_DAY)

    assert [f.check_name for f in result.failed_errors] == ["unique_key"]
    assert result.result("unique_key").sample_keys == ("NVDA@2024-06-10",)
    with pytest.raises(steps.WapError):
        steps.publish(duck, wap_config, "dupes")
    assert production_snapshot(duck) == published


def test_empty_staging_while_raw_had_rows_fails_staging_not_empty(
    published: tuple, raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    raw_lake.write(DEFECT_DAY, [bar("NVDA", DEFECT_DAY, "130.0000")])
    # A staging table that lost every row of the window.
    staging_by_hand(
        duck, "lost", "('NVDA', '2024-06-10', 1.0E0, 1.0E0, 1.0E0, 1.0E0, 5)", where="false"
    )
    duck.set_table_properties(
        "daily_prices_staging_lost",
        {steps.UNPUBLISHED_RAW_KEYS_PROPERTY: "1"},
    )

    result = steps.audit(duck, wap_config, "lost", as_of=DEFECT_DAY)

    assert [f.check_name for f in result.failed_errors] == ["staging_not_empty"]
    assert production_snapshot(duck) == published


def test_warnings_do_not_block_publish_and_a_restated_bar_replaces_the_published_one(
    published: tuple, raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    # AMD is missing today, NVDA halves (a split) and restates Friday's close.
    friday = bar("NVDA", HISTORY_END, "99.0000")
    raw_lake.write(DEFECT_DAY, [friday, bar("NVDA", DEFECT_DAY, "50.2500")])

    result = steps.run_all(duck, wap_config, "warned", as_of=DEFECT_DAY)

    assert result.audit.ok
    assert {w.check_name: w.sample_keys for w in result.audit.failed_warnings} == {
        "expected_symbols": ("AMD",),
        "large_daily_move": ("NVDA@2024-06-10",),
        "restatement": ("NVDA@2024-06-07",),
    }
    assert publish_of(result).rows_added == 1
    assert publish_of(result).rows_replaced == 1
    friday_close = duck.fetchall(
        "SELECT close FROM daily_prices WHERE symbol = 'NVDA' AND trade_date = DATE '2024-06-07'"
    ).scalar()
    assert Decimal(str(friday_close)) == friday.close
    # The replaced values stay queryable, with the run that had published them.
    replaced = duck.fetchall(
        "SELECT symbol, trade_date, close, published_run_id, run_id FROM daily_prices_replaced"
    ).rows
    assert replaced == [("NVDA", HISTORY_END, float(history("NVDA")[0].close), "history", "warned")]


def test_unique_key_checks_published_and_staged_duplicates_together(
    published: tuple, raw_lake: RawLake, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    # A published key twice (a data file copied in by hand), and a staged key twice: the
    # merged year publish would write holds both, and the audit names both.
    [location] = duck.partitions("daily_prices").values()
    [data_file] = sorted((raw_lake.root / location).glob("*.parquet"))
    shutil.copyfile(data_file, data_file.with_name("copied-by-hand.parquet"))
    catalog_path = raw_lake.root / "_catalog.json"
    catalog = json.loads(catalog_path.read_text())
    files = catalog["tables"]["daily_prices"]["partitions"]["2024"]["files"]
    files.append(files[0].replace(data_file.name, "copied-by-hand.parquet"))
    catalog_path.write_text(json.dumps(catalog))
    engine = DuckDBEngine(raw_lake.root)
    # Staging replaces AMD's published 2024-06-07, so that key is written once; it holds
    # NVDA's 2024-06-10 three times, so that key ranks first among the samples.
    row = "('NVDA', '2024-06-10', 1.0E0, 1.0E0, 1.0E0, 1.0E0, 5)"
    amd = "('AMD', '2024-06-07', 1.0E0, 1.0E0, 1.0E0, 1.0E0, 5)"
    staging_by_hand(engine, "dupes", f"{row}, {row}, {row}, {amd}")

    result = steps.audit(engine, wap_config, "dupes", as_of=DEFECT_DAY)

    unique_key = result.result("unique_key")
    assert not unique_key.passed
    # Every published key of 2024 twice but AMD@2024-06-07 (the history), NVDA@2024-06-10
    # staged three times.
    history_keys = {f"{b.symbol}@{b.trade_date}" for b in history("AMD") + history("NVDA")}
    assert unique_key.failed_rows == len(history_keys) - 1 + 1
    assert unique_key.sample_keys[0] == "NVDA@2024-06-10"
    assert unique_key.sample_keys[1:] == tuple(sorted(history_keys))[:9]
    with pytest.raises(steps.WapError):
        steps.publish(engine, wap_config, "dupes")


def test_the_one_pass_over_staging_reports_each_row_check_as_its_own_query_does(
    published: tuple, duck: DuckDBEngine, wap_config: WapConfig
) -> None:
    rows = [
        "('NVDA', '2024-06-10', 1.0E0, 1.0E0, 1.0E0, NULL, 5)",
        "('nvda', '2024-06-10', 1.0E0, 1.0E0, 1.0E0, 1.0E0, 5)",
        "('AMD', '2024-06-08', 1.0E0, 1.0E0, 1.0E0, 1.0E0, 5)",
        "('AMD', '2024-06-11', 1.0E0, 0.5E0, 2.0E0, 1.0E0, 5)",
        "('INTC', '2024-06-10', -1.0E0, 1.0E0, -1.0E0, 1.0E0, -5)",
        "(NULL, '2024-06-10', 1.0E0, 1.0E0, 1.0E0, 1.0E0, 5)",
    ]
    staging_by_hand(duck, "defects", ", ".join(rows))
    table = "daily_prices_staging_defects"

    result = steps.audit(duck, wap_config, "defects", as_of=DEFECT_DAY)

    params = {
        "staging": table,
        "as_of": DEFECT_DAY.isoformat(),
        "max_daily_move": repr(wap_config.max_daily_move),
    }
    for check in (c for c in CHECKS if c.per_row):
        alone = duck.fetchall(
            queries.render(
                "check_summary",
                check_name=check.name,
                severity=check.severity,
                check_sql=queries.render(check.sql_name, **params),
            )
        ).records()[0]
        reported = result.result(check.name)
        assert (reported.passed, reported.failed_rows, ",".join(reported.sample_keys)) == (
            alone["passed"],
            alone["failed_rows"],
            alone["sample_keys"],
        ), check.name
    assert {c.check_name for c in result.failed_errors} >= {
        "not_null_prices",
        "symbol_format",
        "weekend_trade_date",
        "future_trade_date",
        "price_range",
        "positive_values",
        "not_null_keys",
    }
