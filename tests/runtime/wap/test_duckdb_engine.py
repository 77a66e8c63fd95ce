"""The embedded engine's verbs, on a real DuckDB connection over a temporary lake."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from runtime.wap.engines import create_engine
from runtime.wap.engines.base import EngineError
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake, bar

pytestmark = pytest.mark.duckdb

YEARS_SQL = """
SELECT
    symbol,
    CAST(trade_date AS date) AS trade_date,
    CAST(year(CAST(trade_date AS date)) AS integer) AS year
FROM raw_daily_prices
"""


@pytest.fixture
def two_years(raw_lake: RawLake) -> RawLake:
    raw_lake.write(date(2023, 12, 29), [bar("NVDA", date(2023, 12, 29), "120.0000")])
    raw_lake.write(date(2024, 1, 2), [bar("NVDA", date(2024, 1, 2), "121.0000")])
    return raw_lake


def test_create_engine_builds_a_duckdb_engine_on_a_lake_dir(raw_lake: RawLake) -> None:
    engine = create_engine("duckdb", lake_dir=raw_lake.root)

    assert isinstance(engine, DuckDBEngine)
    assert engine.location("prod/") == f"{raw_lake.root.resolve().as_posix()}/prod/"


def test_create_engine_names_the_kinds_it_knows() -> None:
    with pytest.raises(ValueError, match="athena, duckdb"):
        create_engine("sqlite")


def test_athena_sql_runs_over_raw_csvs_with_the_partition_column(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    result = duck.fetchall(
        "SELECT dt, symbol, try_cast(close AS double) AS close, day_of_week(date_parse(trade_date, "
        "'%Y-%m-%d')) AS dow FROM raw_daily_prices WHERE dt >= '2024-01-01'"
    )

    assert result.records() == [{"dt": "2024-01-02", "symbol": "NVDA", "close": 121.0, "dow": 2}]


def test_raw_without_any_file_is_an_empty_table(duck: DuckDBEngine) -> None:
    assert duck.fetchall("SELECT count(*) FROM raw_daily_prices").scalar() == 0


def test_ctas_writes_hive_partitions_and_registers_them(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    location = duck.location("prod/t/v1/")

    duck.ctas("t", YEARS_SQL, location, partitioned_by="year")

    assert duck.partitions("t") == {
        "2023": f"{location}year=2023/",
        "2024": f"{location}year=2024/",
    }
    rows = duck.fetchall("SELECT symbol, trade_date, year FROM t WHERE year = 2024").rows
    assert rows == [("NVDA", date(2024, 1, 2), 2024)]


def test_ctas_refuses_an_existing_table_or_a_non_empty_location(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("prod/t/v1/"), partitioned_by="year")

    with pytest.raises(EngineError, match="already exists"):
        duck.ctas("t", YEARS_SQL, duck.location("prod/t/v2/"))
    with pytest.raises(EngineError, match="not empty"):
        duck.ctas("u", YEARS_SQL, duck.location("prod/t/v1/"))


def test_copy_location_makes_independent_copies_and_refuses_to_mix_or_lose_data(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("staging/t/"), partitioned_by="year")
    source = duck.partitions("t")["2024"]
    target = duck.location("prod/t/v1/copy/year=2024/")

    duck.copy_location(source, target)
    with pytest.raises(EngineError, match="target is not empty"):
        duck.copy_location(duck.partitions("t")["2023"], target)
    with pytest.raises(EngineError, match="holds no data"):
        duck.copy_location(duck.location("staging/none/"), duck.location("prod/t/v2/"))
    duck.delete_location(duck.location("staging/"))

    duck.create_table_like("u", "t", duck.location("prod/t/"))
    duck.replace_partitions("u", {"2024": target})
    assert duck.fetchall("SELECT symbol, trade_date, year FROM u").rows == [
        ("NVDA", date(2024, 1, 2), 2024)
    ]


def test_the_raw_table_lives_at_the_raw_prefix(raw_lake: RawLake) -> None:
    engine = DuckDBEngine(raw_lake.root, raw_prefix="landing/raw/")

    assert engine.table_location("raw_daily_prices") == engine.location("landing/raw/")


def test_replace_partitions_repoints_only_the_given_values(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("prod/t/v1/"), partitioned_by="year")
    duck.ctas(
        "t_new",
        "SELECT 'AMD' AS symbol, DATE '2024-01-03' AS trade_date, 2024 AS year",
        duck.location("prod/t/v2/"),
        partitioned_by="year",
    )

    duck.replace_partitions("t", {"2024": duck.partitions("t_new")["2024"]})

    assert duck.fetchall("SELECT symbol, year FROM t ORDER BY year").rows == [
        ("NVDA", 2023),
        ("AMD", 2024),
    ]


def test_a_swap_that_cannot_write_the_catalog_changes_nothing(
    two_years: RawLake, duck: DuckDBEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("prod/t/v1/"), partitioned_by="year")
    duck.ctas("t2", YEARS_SQL, duck.location("prod/t/v2/"), partitioned_by="year")
    before = duck.catalog_path.read_bytes()

    def replace_fails(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(EngineError, match="disk full"):
        duck.replace_partitions("t", duck.partitions("t2"))

    assert duck.catalog_path.read_bytes() == before
    assert [p.name for p in duck.lake_dir.iterdir() if p.name.startswith(".catalog")] == []


def test_a_partition_location_must_carry_its_value(two_years: RawLake, duck: DuckDBEngine) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("prod/t/v1/"), partitioned_by="year")

    with pytest.raises(EngineError, match="must end with year=2025/"):
        duck.replace_partitions("t", {"2025": duck.partitions("t")["2024"]})


def test_drop_table_keeps_the_data_and_is_safe_when_absent(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    location = duck.location("prod/t/v1/")
    duck.ctas("t", YEARS_SQL, location, partitioned_by="year")

    duck.drop_table("t")
    duck.drop_table("t")

    assert not duck.table_exists("t")
    assert list(Path(location).rglob("*.parquet"))
    with pytest.raises(EngineError, match="does not exist"):
        duck.fetchall("SELECT * FROM t")


def test_properties_merge(two_years: RawLake, duck: DuckDBEngine) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("prod/t/v1/"))

    duck.set_table_properties("t", {"a": "1", "b": "2"})
    duck.set_table_properties("t", {"b": "3"})

    assert duck.table_properties("t") == {"a": "1", "b": "3"}


def test_create_table_like_makes_an_empty_table_of_the_same_shape(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("prod/t/v1/"), partitioned_by="year")

    duck.create_table_like("copy", "t", duck.location("prod/copy/"))

    assert duck.partitions("copy") == {}
    assert duck.fetchall("SELECT symbol, trade_date, year FROM copy").rows == []
    with pytest.raises(EngineError, match="already exists"):
        duck.create_table_like("copy", "t", duck.location("prod/copy/"))


def test_locations_stay_inside_the_lake(raw_lake: RawLake, duck: DuckDBEngine) -> None:
    (raw_lake.root / "prod" / "a").mkdir(parents=True)
    (raw_lake.root / "prod" / "b").mkdir()

    assert duck.list_locations(duck.location("prod/")) == [
        duck.location("prod/a/"),
        duck.location("prod/b/"),
    ]
    duck.delete_location(duck.location("prod/a/"))
    duck.delete_location(duck.location("prod/never/"))
    assert duck.list_locations(duck.location("prod/")) == [duck.location("prod/b/")]
    with pytest.raises(EngineError, match="whole lake"):
        duck.delete_location(duck.location(""))
    with pytest.raises(EngineError, match="outside the lake"):
        duck.delete_location(str(raw_lake.root.parent) + "/")
    with pytest.raises(EngineError, match="relative"):
        duck.location("../elsewhere/")


def test_a_corrupt_parquet_file_is_an_error_naming_the_file(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("prod/t/v1/"), partitioned_by="year")
    broken = Path(duck.partitions("t")["2024"]) / "data_0.parquet"
    broken.write_bytes(b"PAR1 this is not parquet PAR1")

    with pytest.raises(EngineError) as raised:
        DuckDBEngine(two_years.root).fetchall("SELECT count(*) FROM t", name="count t")

    assert str(broken) in str(raised.value)
    assert str(raised.value).startswith("count t failed reading")


def test_a_corrupt_raw_csv_is_an_error_naming_the_file(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    broken = two_years.write_text(date(2024, 1, 3), "AMD", 'symbol,trade_date\n"AMD,2024-01-03\n')

    with pytest.raises(EngineError) as raised:
        duck.fetchall("SELECT count(*) FROM raw_daily_prices")

    assert str(broken) in str(raised.value)


def test_a_corrupt_catalog_is_reported_with_its_path(raw_lake: RawLake) -> None:
    (raw_lake.root / "_catalog.json").write_text("{not json")

    with pytest.raises(EngineError, match=r"_catalog\.json is corrupt"):
        DuckDBEngine(raw_lake.root).table_exists("daily_prices")


def test_sql_that_is_not_athena_is_reported_by_query_name(duck: DuckDBEngine) -> None:
    with pytest.raises(EngineError, match=r"^broken: not valid Athena SQL"):
        duck.fetchall("SELECT FROM WHERE", name="broken")


def test_render_transpiles_athena_to_duckdb(duck: DuckDBEngine) -> None:
    rendered = duck.render("SELECT day_of_week(d), array_join(a, ',') FROM t")

    assert rendered == "SELECT ISODOW(d), ARRAY_TO_STRING(a, ',') FROM t"


def test_the_catalog_is_plain_json_with_relative_paths(
    two_years: RawLake, duck: DuckDBEngine
) -> None:
    duck.ctas("t", YEARS_SQL, duck.location("prod/t/v1/"), partitioned_by="year")

    catalog = json.loads(duck.catalog_path.read_text())

    assert catalog["tables"]["t"]["partitions"]["2023"]["location"] == "prod/t/v1/year=2023/"


def test_a_stray_quote_in_a_raw_file_loses_no_rows(two_years: RawLake, duck: DuckDBEngine) -> None:
    # DuckDB's quoted CSV reader drops the rest of a file at an unterminated quote without a
    # word when it reads many files at once. The raw zone is read unquoted (as Athena's
    # LazySimpleSerDe does), so every line arrives and the audit sees the odd symbol.
    before = duck.fetchall("SELECT count(*) FROM raw_daily_prices").scalar()
    two_years.write_text(
        date(2024, 1, 3),
        "ZZZZ",
        "symbol,trade_date,open,high,low,close,volume,ingested_at\n"
        '"ZZZZ,2024-01-03,1,2,0.5,1.5,10,2024-01-03T21:00:00Z\n'
        "ZZZZ,2024-01-04,1,2,0.5,1.5,10,2024-01-04T21:00:00Z\n",
    )

    symbols = duck.fetchall(
        "SELECT symbol FROM raw_daily_prices WHERE symbol LIKE '%ZZZZ' ORDER BY symbol"
    ).rows

    assert symbols == [('"ZZZZ',), ("ZZZZ",)]
    assert duck.fetchall("SELECT count(*) FROM raw_daily_prices").scalar() == before + 2
