"""A run killed after any of its writes leaves nothing behind that the following run does not
sweep: no temporary table, no version prefix beyond the kept ones, and the data published
exactly once (a kill runs no cleanup code, as when Glue times a job out)."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from runtime.ingest.bars import Bar, bars_to_csv
from runtime.schema import RAW_COLUMNS
from runtime.wap import steps, store
from runtime.wap.config import CONSUMED_RAW_PROPERTY, RAW_TABLES, WapConfig
from runtime.wap.engines.base import Engine
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.athena_double import AthenaDouble, create_raw_table
from tests.runtime.wap.builders import RawLake, bar, ingested_at, production
from tests.runtime.wap.fake_aws import DATA_BUCKET, FakeAws

HISTORY_DAY, NEXT_DAY = date(2024, 6, 3), date(2024, 6, 4)
CONFIG = WapConfig(symbols=("AMD", "NVDA"), keep_versions=1)
#: Every Engine verb that changes the catalog or storage.
WRITE_VERBS = frozenset(
    {
        "ctas",
        "execute",
        "drop_table",
        "create_table_like",
        "replace_partitions",
        "drop_partitions",
        "set_table_properties",
        "write_text",
        "copy_location",
        "delete_location",
    }
)


class Killed(BaseException):
    """The job was killed (not an Exception: no `except` of the run catches it)."""


class KilledAfter:
    """The steps' engine, dying right after the steps' `kill_at`-th write that changed
    something, or after the write `kill_after` names (e.g. "ctas daily_prices_write_r_0");
    from then on every call raises Killed, so no cleanup code of the run does anything."""

    def __init__(
        self, engine: Engine, kill_at: int | None = None, kill_after: str | None = None
    ) -> None:
        self.engine = engine
        self.kill_at = kill_at
        self.kill_after = kill_after
        self.writes: list[str] = []
        self.dead = False

    def __getattr__(self, name: str) -> Any:
        if self.dead:
            raise Killed(name)
        attribute = getattr(self.engine, name)
        if name not in WRITE_VERBS:
            return attribute

        def write(target: str, *args: Any, **kwargs: Any) -> Any:
            changes = self._changes(name, target)
            result = attribute(target, *args, **kwargs)
            if changes:
                self.writes.append(f"{name} {target}")
                if self.writes[-1] == self.kill_after or len(self.writes) == self.kill_at:
                    self.dead = True
                    raise Killed(self.writes[-1])
            return result

        return write

    def _changes(self, verb: str, target: str) -> bool:
        """Whether the write can change anything (dropping what is absent cannot)."""
        if verb == "drop_table":
            return self.engine.table_exists(target)
        if verb == "delete_location":
            return bool(self.engine.list_objects(target))
        return True


#: Two 2023 days, then a day restating a 2023 close and bringing 2024 bars: its run writes
#: every store table (merges 2023, copies 2024, keeps a replaced row).
HISTORY = [
    bar(symbol, day, close)
    for symbol in ("AMD", "NVDA")
    for day, close in ((date(2023, 12, 28), "90"), (date(2023, 12, 29), "91"))
]
NEXT = [
    bar("AMD", date(2023, 12, 29), "92"),
    bar("AMD", NEXT_DAY, "95"),
    bar("NVDA", NEXT_DAY, "96"),
]


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """HISTORY published, NEXT landed, on a local lake."""
    lake = RawLake(tmp_path / "template")
    lake.root.mkdir()
    lake.write(HISTORY_DAY, HISTORY)
    engine = DuckDBEngine(lake.root)
    steps.run_all(engine, CONFIG, "history", as_of=HISTORY_DAY, now=datetime(2024, 6, 3, 22))
    engine.close()
    lake.write(NEXT_DAY, NEXT)
    return lake.root


def debris(engine: Engine, config: WapConfig, run_id: str) -> list[str]:
    """Tables other than the raw ones, the store's and `run_id`'s staging, staging data of
    other runs, and version prefixes beyond the newest `keep_versions` that nothing points at."""
    found = [
        table
        for table in engine.tables()
        if table not in (*RAW_TABLES, *steps.STORE_TABLES, steps.staging_table(run_id))
    ]
    staging_root = engine.location(f"{config.staging_prefix}daily_prices/")
    found += [
        location
        for location in engine.list_locations(staging_root)
        if location != steps.staging_location(engine, config, run_id)
    ]
    for table in steps.STORE_TABLES:
        live = list(engine.partitions(table).values()) if engine.table_exists(table) else []
        versions = engine.list_locations(engine.location(f"{config.prod_prefix}{table}/"))
        found += [
            version
            for version in versions[: -config.keep_versions]
            if not any(location.startswith(version) for location in live)
        ]
    records = engine.list_locations(engine.location(f"{config.prod_prefix}_raw_consumed/"))
    found += records[: -config.keep_versions]
    return found


def test_a_run_killed_after_any_write_is_swept_and_published_exactly_once(
    template: Path, tmp_path: Path
) -> None:
    complete = tmp_path / "complete"
    shutil.copytree(template, complete)
    counting = KilledAfter(DuckDBEngine(complete))
    steps.run_all(
        counting,  # type: ignore[arg-type]
        CONFIG,
        "killed",
        as_of=NEXT_DAY,
        now=datetime(2024, 6, 4, 22),
    )
    expected = production(counting.engine)
    raw_keys = {str(path.relative_to(complete)) for path in complete.glob("raw/dt=*/*.csv")}
    assert len(expected) == 6
    assert len(counting.writes) > 20

    for kill_at, write in enumerate(counting.writes, start=1):
        lake = tmp_path / f"killed-{kill_at}"
        shutil.copytree(template, lake)
        with pytest.raises(Killed):
            steps.run_all(
                KilledAfter(DuckDBEngine(lake), kill_at),  # type: ignore[arg-type]
                CONFIG,
                "killed",
                as_of=NEXT_DAY,
                now=datetime(2024, 6, 4, 22),
            )

        engine = DuckDBEngine(lake)
        following = steps.run_all(
            engine, CONFIG, "following", as_of=NEXT_DAY, now=datetime(2024, 6, 4, 23)
        )

        assert following.audit.ok, f"killed after {write}: {following.audit.failure_message()}"
        assert production(engine) == expected, f"killed after {write}"
        assert set(store.consumed_raw(engine)) == raw_keys, f"killed after {write}"
        assert debris(engine, CONFIG, "following") == [], f"killed after {write}"
        engine.close()


# -- on Glue and S3 -------------------------------------------------------------------------


@pytest.mark.aws
def test_drop_staging_on_glue_sweeps_what_runs_killed_anywhere_left(aws: FakeAws) -> None:
    config = WapConfig(keep_versions=1)
    prod = f"s3://{DATA_BUCKET}/prod/"
    live = "prod/daily_prices/20240606T220000000000Z_r1/part-0/year=2024/a.parquet"
    record = "prod/_raw_consumed/20240606T220000000000Z_r1/raw_objects.json"
    aws.create_table(
        "daily_prices",
        f"{prod}daily_prices/",
        partitions={"2024": f"s3://{DATA_BUCKET}/{live.rsplit('/', 1)[0]}/"},
        parameters={CONSUMED_RAW_PROPERTY: record},
    )
    aws.create_table(
        "raw_daily_prices", f"s3://{DATA_BUCKET}/raw/", [(c, "string") for c in RAW_COLUMNS], "dt"
    )
    # The newest version prefix of each table is kept (keep_versions=1): a run may still be
    # writing it; older ones that nothing points at go.
    newest = [
        "prod/daily_prices/20240607T220000000000Z_killed/copy/year=2025/a.parquet",
        "prod/dq_results/20240607T220000000000Z_killed/part-0/run_id=killed/a.parquet",
        "prod/_raw_consumed/20240607T220000000000Z_killed/raw_objects.json",
    ]
    orphans = [
        "prod/daily_prices/20240605T220000000000Z_r0/part-0/year=2024/a.parquet",
        "prod/dq_results/20240606T220000000000Z_r1/part-0/run_id=r1/a.parquet",
        "prod/_raw_consumed/20240605T220000000000Z_r0/raw_objects.json",
        "staging/daily_prices/run_id=killed/year=2024/a.parquet",
    ]
    for key in [live, record, *newest, *orphans]:
        aws.put_object(key)
    temporary = [
        "daily_prices_write_killed_0",
        "daily_prices_template_killed",
        "dq_results_write_killed_0",
        "symbol_summary_write_killed_1",
        "daily_prices_replaced_write_killed_0",
        "daily_prices_staging_killed",
        "daily_prices_staging_killed_write_killed_1",
    ]
    for table in temporary:
        aws.create_table(table, f"{prod}{table}/")

    dropped = steps.drop_staging(aws.engine(), config, "next")

    assert dropped == ["next", "killed"]
    assert aws.engine().tables() == ["daily_prices", "raw_daily_prices"]
    assert sorted(aws.keys()) == sorted([live, record, *newest])
    assert aws.sql_calls() == []


def land(aws: FakeAws, day: date, bars: list[Bar]) -> None:
    """One raw CSV object per symbol, as the S3 sink lands them."""
    for symbol in sorted({each.symbol for each in bars}):
        rows = [each for each in bars if each.symbol == symbol]
        key = f"raw/dt={day.isoformat()}/{symbol}-1.csv"
        aws.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=bars_to_csv(rows, ingested_at(day)))


@pytest.mark.aws
@pytest.mark.duckdb
def test_on_athena_a_publish_killed_after_its_first_write_is_swept_and_published_once(
    aws: FakeAws, tmp_path: Path
) -> None:
    create_raw_table(aws, "raw_daily_prices")
    double = AthenaDouble(aws, tmp_path / "athena")
    land(aws, HISTORY_DAY, HISTORY)
    steps.run_all(aws.engine(), CONFIG, "history", as_of=HISTORY_DAY, now=datetime(2024, 6, 3, 22))
    land(aws, NEXT_DAY, NEXT)
    # Killed with its first daily_prices part written: a temporary Glue table, and a version
    # prefix nothing points at.
    killed = KilledAfter(aws.engine(), kill_after="ctas daily_prices_write_killed_0")
    with pytest.raises(Killed):
        steps.run_all(killed, CONFIG, "killed", as_of=NEXT_DAY, now=datetime(2024, 6, 4, 22))  # type: ignore[arg-type]
    assert "daily_prices_write_killed_0" in aws.engine().tables()

    engine = aws.engine()
    steps.run_all(engine, CONFIG, "following", as_of=NEXT_DAY, now=datetime(2024, 6, 4, 23))

    assert debris(engine, CONFIG, "following") == []
    assert len(production(engine)) == 6
    assert len(store.consumed_raw(engine)) == 4
    double.close()
    assert double.failures == []
