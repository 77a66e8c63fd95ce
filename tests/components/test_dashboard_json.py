"""The dashboard JSON: its structure, and every query it ships run on a local DuckDB lake.

The lake comes from the sample pipeline (`python -m runtime.local run --source sample`),
and each query is the SQL in the generated JSON, expanded as the Athena data source does
(runtime.panels.expand_macros, the report's expansion) over the dashboard's default range.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from components.dashboard_json import PANELS_TOML, dashboard_json
from components.plan import PROJECT_ROOT
from runtime.panels import PANELS_DIR, expand_macros, load_panels, load_variables
from runtime.wap.engines.duckdb_engine import DuckDBEngine

SOURCE_UID = "test-athena"
SYMBOLS = ("AMD", "NVDA")
PRICE_TABLE = "daily_prices"
MODEL = json.loads(dashboard_json(uid="stockpipe-test", title="t", datasource_uid=SOURCE_UID))
PANELS = MODEL["panels"]
(VARIABLE,) = MODEL["templating"]["list"]


def test_the_infrastructure_reads_the_runtimes_panel_files():
    assert PANELS_TOML.parent == PANELS_DIR


def test_the_panels_are_those_of_panels_toml_in_order_with_their_sql_and_format():
    defined = load_panels()

    assert [p["title"] for p in PANELS] == [panel.title for panel in defined]
    assert [p["targets"][0]["rawSQL"] for p in PANELS] == [panel.sql.strip() for panel in defined]
    assert [p["targets"][0]["format"] for p in PANELS] == [panel.format for panel in defined]
    assert [p["type"] for p in PANELS] == [panel.visualisation for panel in defined]
    assert [p["fieldConfig"]["defaults"]["unit"] for p in PANELS] == [p.unit for p in defined]


def test_every_panel_and_query_uses_the_data_source_with_a_valid_format_and_result_reuse():
    for panel in PANELS:
        (target,) = panel["targets"]
        assert panel["datasource"] == {"type": "grafana-athena-datasource", "uid": SOURCE_UID}
        assert target["datasource"] == panel["datasource"]
        assert target["format"] in (0, 1)  # time series, table
        assert (panel["type"] == "timeseries") == (target["format"] == 0)
        assert target["connectionArgs"]["resultReuseEnabled"] is True
        assert 0 < target["connectionArgs"]["resultReuseMaxAgeInMinutes"] <= 10_080
        assert target["refId"] == "A"


def test_panel_ids_are_unique_and_no_two_panels_overlap_on_the_grid():
    ids = [panel["id"] for panel in PANELS]
    cells = {}
    for panel in PANELS:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        assert grid["h"] > 0
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]

    assert len(set(ids)) == len(ids)
    assert all(isinstance(number, int) and number > 0 for number in ids)


def test_six_months_by_default_and_a_multi_select_symbol_variable_with_all_selected():
    symbol = load_variables()["symbol"]

    assert MODEL["time"] == {"from": "now-6M", "to": "now"}
    assert VARIABLE["name"] == "symbol"
    assert VARIABLE["type"] == "query"
    assert VARIABLE["datasource"]["uid"] == SOURCE_UID
    assert (VARIABLE["multi"], VARIABLE["includeAll"]) == (True, True)
    assert VARIABLE["current"]["value"] == ["$__all"]
    assert VARIABLE["query"]["rawSQL"] == symbol.sql.strip()
    assert VARIABLE["query"]["format"] == 1


def test_log_scale_only_where_panels_toml_asks_for_it():
    scales = {
        p["title"]: p["fieldConfig"]["defaults"].get("custom", {}).get("scaleDistribution")
        for p in PANELS
    }
    expected = {panel.title: panel.scale for panel in load_panels()}

    for title, scale in scales.items():
        assert (scale == {"type": "log", "log": 10}) == (expected[title] == "log")


def _expanded(sql: str) -> exp.Expression:
    return sqlglot.parse_one(
        expand_macros(sql, datetime(2024, 1, 1), datetime(2024, 6, 1), SYMBOLS), read="athena"
    )


def _predicates_on(sql: str, column: str) -> list[str]:
    return [
        node.sql(dialect="athena")
        for node in _expanded(sql).find_all(exp.Between)
        if isinstance(node.this, exp.Column) and node.this.name == column
    ]


def _reads_prices(panel: dict) -> bool:
    tables = _expanded(panel["targets"][0]["rawSQL"]).find_all(exp.Table)
    return any(table.name == PRICE_TABLE for table in tables)


@pytest.mark.parametrize("panel", [p for p in PANELS if _reads_prices(p)], ids=lambda p: p["title"])
def test_every_price_query_filters_trade_date_by_the_range_and_year_for_pruning(panel):
    sql = panel["targets"][0]["rawSQL"]

    assert "$__dateFilter(trade_date)" in sql or "$__timeFilter(trade_date)" in sql
    assert _predicates_on(sql, "trade_date")
    assert _predicates_on(sql, "year")


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    """A lake the sample pipeline built up to today (two symbols, one sample year)."""
    data_dir = tmp_path_factory.mktemp("dashboard-lake")
    environment = {**os.environ, "CALLS_PER_MINUTE": "100000", "MIN_CALL_INTERVAL_SECONDS": "0"}
    environment.pop("ALPHAVANTAGE_API_KEY", None)
    completed = subprocess.run(  # noqa: S603 (our own CLI)
        [sys.executable, "-m", "runtime.local", "run", "--source", "sample", "--quiet",
         "--symbols", ",".join(SYMBOLS), "--outputsize", "full", "--sample-years", "1",
         "--data-dir", str(data_dir)],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    return data_dir / "lake"


@pytest.fixture(scope="module")
def engine(lake):
    engine = DuckDBEngine(lake)
    yield engine
    engine.close()


def _default_range() -> tuple[datetime, datetime]:
    """The dashboard's default range, now-6M to now, in UTC."""
    assert MODEL["time"] == {"from": "now-6M", "to": "now"}
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    month = now.month - 6
    start = now.replace(year=now.year + (month - 1) // 12, month=(month - 1) % 12 + 1, day=1)
    return start.replace(day=min(now.day, 28)), now


def test_the_symbol_variable_lists_the_published_symbols(engine):
    result = engine.fetchall(VARIABLE["query"]["rawSQL"], name="symbol variable")

    assert [row[0] for row in result.rows] == list(SYMBOLS)


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p["title"])
def test_every_panel_query_returns_rows_on_the_sample_lake(engine, panel):
    symbols = [row[0] for row in engine.fetchall(VARIABLE["query"]["rawSQL"]).rows]
    time_from, time_to = _default_range()
    target = panel["targets"][0]

    sql = expand_macros(target["rawSQL"], time_from, time_to, symbols)
    result = engine.fetchall(sql, name=f"dashboard panel {panel['id']}")

    assert result.rows, f"{panel['title']} returned no rows for {time_from} to {time_to}"
    if target["format"] == 0:  # a long frame Grafana pivots per symbol
        assert [c.lower() for c in result.columns[:2]] == ["time", "symbol"]
        assert len(result.columns) == 3
        assert {row[1] for row in result.rows} == set(symbols)
