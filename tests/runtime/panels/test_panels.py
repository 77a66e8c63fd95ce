"""Panel definitions: what the Grafana dashboard and the local report both read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from runtime.panels import (
    PANELS_TOML,
    SQL_DIR,
    TABLE_FORMAT,
    TIME_SERIES_FORMAT,
    PanelDefinitionError,
    expand_macros,
    load_panels,
    load_variables,
)

PANELS = load_panels()
FROM = datetime(2021, 6, 23, 0, 0, 0)
TO = datetime(2021, 6, 23, 1, 0, 0)


def test_the_dashboard_has_the_issue_panels_in_order() -> None:
    assert [panel.id for panel in PANELS] == [
        "close_price",
        "average_price",
        "daily_return",
        "volatility",
        "volume",
        "dq_latest_run",
        "freshness",
    ]


@pytest.mark.parametrize("panel", PANELS, ids=lambda panel: panel.id)
def test_panel_format_matches_its_visualisation(panel) -> None:
    if panel.visualisation == "timeseries":
        assert panel.format == TIME_SERIES_FORMAT
    else:
        assert panel.format == TABLE_FORMAT
    assert panel.unit in {"currencyUSD", "percentunit", "short", "none"}
    assert panel.title
    assert panel.description
    assert panel.sql_path.parent == SQL_DIR


@pytest.mark.parametrize("panel", PANELS, ids=lambda panel: panel.id)
def test_panel_sql_parses_as_athena_after_expansion(panel) -> None:
    sql = expand_macros(panel.sql, date(2023, 1, 1), date(2024, 6, 7), ["NVDA", "AMD"])
    assert "$" not in sql
    statements = sqlglot.parse(sql, read="athena")
    assert len(statements) == 1
    assert statements[0].find(sqlglot.exp.Select) is not None


@pytest.mark.parametrize("name", ["symbol_variable.sql", "published_range.sql"])
def test_helper_sql_parses_as_athena(name: str) -> None:
    sqlglot.parse_one((SQL_DIR / name).read_text(encoding="utf-8"), read="athena")


def test_symbol_variable_is_multi_value_with_all() -> None:
    variable = load_variables()["symbol"]
    assert variable.multi
    assert variable.include_all


def _tables(sql: str) -> set[str]:
    expanded = expand_macros(sql, FROM, TO, ["NVDA"])
    return {table.name for table in sqlglot.parse_one(expanded, read="athena").find_all(exp.Table)}


# Athena bills the bytes a query scans and the dashboard runs these on every refresh: what
# covers the whole history reads the small per-symbol summary, never every daily_prices year.
@pytest.mark.parametrize("name", ["freshness.sql", "symbol_variable.sql", "published_range.sql"])
def test_whole_history_queries_read_the_summary_not_daily_prices(name: str) -> None:
    assert _tables((SQL_DIR / name).read_text(encoding="utf-8")) == {"symbol_summary"}


@pytest.mark.parametrize(
    "panel", [p for p in PANELS if "daily_prices" in _tables(p.sql)], ids=lambda p: p.id
)
def test_every_read_of_daily_prices_filters_its_year_partitions(panel) -> None:
    sql = expand_macros(panel.sql, FROM, TO, ["NVDA"])
    for select in sqlglot.parse_one(sql, read="athena").find_all(exp.Select):
        source = select.args.get("from")
        if source is not None and source.this.name == "daily_prices":
            where = select.args.get("where")
            assert where is not None, panel.id
            assert "year" in {column.name for column in where.find_all(exp.Column)}, panel.id


def test_time_series_panels_use_the_symbol_variable_and_the_range() -> None:
    for panel in PANELS:
        if panel.format == TIME_SERIES_FORMAT:
            assert panel.uses_symbols, panel.id
            assert "$__dateFilter(trade_date)" in panel.sql, panel.id


# Expected strings below are the ones in grafana/athena-datasource pkg/athena/macros_test.go
# (same column names and time range).


def test_time_filter_matches_the_plugin() -> None:
    assert (
        expand_macros("$__timeFilter(starttime)", FROM, TO)
        == "starttime BETWEEN TIMESTAMP '2021-06-23 00:00:00' AND TIMESTAMP '2021-06-23 01:00:00'"
    )


def test_time_filter_with_a_custom_format_matches_the_plugin() -> None:
    sql = expand_macros("$__timeFilter(starttime, 'yyyy-MM-dd''T''HH:mm:ss''+0000')", FROM, TO)
    assert sql == (
        "parse_datetime(starttime,'yyyy-MM-dd''T''HH:mm:ss''+0000') BETWEEN "
        "TIMESTAMP '2021-06-23 00:00:00' AND TIMESTAMP '2021-06-23 01:00:00'"
    )


def test_time_filter_with_the_default_format_casts_the_column() -> None:
    sql = expand_macros("$__timeFilter(starttime, 'yyyy-MM-dd HH:mm:ss')", FROM, TO)
    assert sql.startswith("TIMESTAMP starttime BETWEEN TIMESTAMP '2021-06-23 00:00:00'")


def test_time_from_and_time_to_match_the_plugin() -> None:
    assert expand_macros("$__timeFrom()", FROM, TO) == "TIMESTAMP '2021-06-23 00:00:00'"
    assert expand_macros("$__timeTo()", FROM, TO) == "TIMESTAMP '2021-06-23 01:00:00'"


def test_date_filter_matches_the_plugin() -> None:
    assert (
        expand_macros("$__dateFilter(trade_date)", FROM, TO + timedelta(days=1))
        == "trade_date BETWEEN date '2021-06-23' AND date '2021-06-24'"
    )


def test_every_occurrence_is_expanded() -> None:
    sql = expand_macros("SELECT $__timeFrom(), $__timeFrom() , $__timeTo()", FROM, TO)
    assert sql == (
        "SELECT TIMESTAMP '2021-06-23 00:00:00', TIMESTAMP '2021-06-23 00:00:00' , "
        "TIMESTAMP '2021-06-23 01:00:00'"
    )


def test_times_are_rendered_in_utc() -> None:
    new_york = timezone(timedelta(hours=-4))
    sql = expand_macros(
        "$__timeFrom() $__timeTo()",
        datetime(2024, 6, 7, 20, 30, tzinfo=new_york),
        datetime(2024, 6, 8, 1, 0, tzinfo=UTC),
    )
    assert sql == "TIMESTAMP '2024-06-08 00:30:00' TIMESTAMP '2024-06-08 01:00:00'"


def test_a_date_means_midnight() -> None:
    assert (
        expand_macros("$__timeFrom()", date(2024, 1, 2), date(2024, 1, 3))
        == "TIMESTAMP '2024-01-02 00:00:00'"
    )


def test_symbols_expand_like_grafanas_sqlstring_format() -> None:
    # Grafana's documented example: ["test'1", "test2"] -> 'test''1','test2'
    sql = expand_macros("symbol IN (${symbol:sqlstring})", FROM, TO, ["test'1", "test2"])
    assert sql == "symbol IN ('test''1','test2')"


def test_bare_symbol_variable_expands_like_the_athena_plugins_multi_value() -> None:
    assert expand_macros("IN ($symbol)", FROM, TO, ["NVDA", "AMD"]) == "IN ('NVDA','AMD')"


@pytest.mark.parametrize(
    ("sql", "symbols", "message"),
    [
        ("$__unixEpochGroup(ts, '1d')", None, r"unsupported Grafana macro \$__unixEpochGroup"),
        ("$__dateFilter(a, b)", None, r"\$__dateFilter expects one argument"),
        ("$__timeFilter()", None, r"\$__timeFilter expects 1 to 2 arguments"),
        ("IN (${symbol:sqlstring})", None, "no symbols were given"),
        ("IN (${symbol:sqlstring})", [], "no symbols were given"),
        ("IN (${symbol:csv})", ["A"], "unsupported format"),
        ("IN (${exchange})", ["A"], r"unknown dashboard variable \$\{exchange\}"),
    ],
)
def test_bad_sql_gets_one_clear_error(sql: str, symbols, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expand_macros(sql, FROM, TO, symbols)


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match=r"time_from .* is after time_to"):
        expand_macros("$__timeFrom()", TO, FROM)


def test_a_panel_without_required_keys_is_named(tmp_path: Path) -> None:
    toml = tmp_path / "panels.toml"
    toml.write_text('[[panels]]\nid = "close"\ntitle = "Close"\n', encoding="utf-8")
    with pytest.raises(PanelDefinitionError, match=r"panel #1: missing description, unit"):
        load_panels(toml)


def test_a_missing_sql_file_is_named(tmp_path: Path) -> None:
    toml = tmp_path / "panels.toml"
    entry = PANELS_TOML.read_text(encoding="utf-8").split("[[panels]]")[1]
    toml.write_text("[[panels]]" + entry, encoding="utf-8")
    with pytest.raises(PanelDefinitionError, match=r"panel 'close_price': cannot read SQL file"):
        load_panels(toml)


def test_duplicate_panel_ids_are_refused(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "close_price.sql").write_text("SELECT 1", encoding="utf-8")
    entry = PANELS_TOML.read_text(encoding="utf-8").split("[[panels]]")[1]
    toml = tmp_path / "panels.toml"
    toml.write_text("[[panels]]" + entry + "[[panels]]" + entry, encoding="utf-8")
    with pytest.raises(PanelDefinitionError, match=r"panel 'close_price': duplicate id"):
        load_panels(toml)


def test_an_unknown_scale_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "close_price.sql").write_text("SELECT 1", encoding="utf-8")
    entry = PANELS_TOML.read_text(encoding="utf-8").split("[[panels]]")[1]
    toml = tmp_path / "panels.toml"
    toml.write_text("[[panels]]" + entry.replace('scale = "log"', 'scale = "sqrt"'), "utf-8")
    with pytest.raises(PanelDefinitionError, match=r"scale must be one of linear, log"):
        load_panels(toml)
