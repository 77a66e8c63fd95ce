"""Every SQL file is valid Athena SQL once filled in, and every check is registered."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from runtime.wap import queries
from runtime.wap.checks import CHECKS, ERROR, WARNING

SQL_DIR = Path(queries.__file__).parent / "sql"
SQL_NAMES = sorted(
    p.relative_to(SQL_DIR).with_suffix("").as_posix() for p in SQL_DIR.rglob("*.sql")
)
# What the steps put into the placeholders, one sample value each.
SAMPLE_PARAMS = {
    "aggregates": "count(*) AS failed_rows_0, '' AS sample_keys_0",
    "as_of": "2024-06-07",
    "check_name": "unique_key",
    "check_sql": "SELECT 'NVDA@2024-06-07' AS failure_key, 0.0 AS sample_rank",
    "check_summaries": "SELECT 'c' AS check_name, 'error' AS severity, true AS passed, "
    "0 AS failed_rows, '' AS sample_keys",
    "check_list": "(0, 'not_null_keys', 'error')",
    "checked_at": "2024-06-07 22:00:00",
    "expected_symbols": "'NVDA', 'AMD'",
    "failed_rows": "CASE checks.position WHEN 0 THEN per_check.failed_rows_0 END",
    "first_year": 2023,
    "last_year": 2024,
    "lookback_date": "2023-06-03",
    "merged": "SELECT * FROM daily_prices",
    "misplaced_raw": "'raw/dt=2024-6-3/NVDA.csv'",
    "kept": "symbol_summary",
    "lookback_year": 2023,
    "one_copy_per_key": "false",
    "max_daily_move": "0.3",
    "published": "daily_prices",
    "raw_filter": "dt IN ('2024-06-06')",
    "raw_rows": "SELECT * FROM raw_daily_prices WHERE dt IN ('2024-06-06')",
    "raw_table": "raw_daily_prices",
    "raw_splits_table": "raw_splits",
    "run_id": "wr_1234",
    "sample_keys": "CASE checks.position WHEN 0 THEN per_check.sample_keys_0 END",
    "severity": "error",
    "split_rows": 'SELECT symbol, effective_date, split_factor, "$path" AS source_object '
    "FROM raw_splits",
    "since_year": 2023,
    "staging": "daily_prices_staging_wr_1234",
    "staging_rows": "SELECT * FROM daily_prices",
    "unpublished_raw_keys": 2,
    "with_unknown_year": "true",
    "years": "2023, 2024",
}


@pytest.mark.parametrize("name", SQL_NAMES)
def test_every_sql_file_is_one_athena_statement(name: str) -> None:
    statements = sqlglot.parse(queries.render(name, **SAMPLE_PARAMS), read="athena")

    assert len([s for s in statements if s is not None]) == 1


def test_the_empty_production_stand_in_parses_where_production_is_used() -> None:
    published = queries.empty_relation()
    sql = queries.render("merged_years", **{**SAMPLE_PARAMS, "published": published})

    assert sqlglot.parse_one(sql, read="athena") is not None


def test_every_check_has_a_file_and_every_check_file_a_severity() -> None:
    check_files = {name.split("/", 1)[1] for name in SQL_NAMES if name.startswith("checks/")}

    assert check_files == {check.name for check in CHECKS}
    assert all(check.severity in (ERROR, WARNING) for check in CHECKS)
    assert {c.name for c in CHECKS if c.severity == WARNING} == {
        "expected_symbols",
        "large_daily_move",
        "restatement",
    }
