"""One publisher at a time: a stale run (started by hand while another publishes) is refused
by name and never resets the other run's record or loses its rows, however the two publishes
interleave; a second publish of the same run stays a no-op."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest

from runtime.ingest.bars import bars_to_csv
from runtime.wap import steps, store
from runtime.wap.config import PROD_TABLE, PUBLISHED_RUN_PROPERTY, WapConfig
from runtime.wap.engines.athena import AthenaEngine
from runtime.wap.engines.base import ConcurrentWriteError, Engine
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.athena_double import AthenaDouble, create_raw_table
from tests.runtime.wap.builders import RawLake, bar, ingested_at, production, production_snapshot
from tests.runtime.wap.fake_aws import DATA_BUCKET, DATABASE, FakeAws

HISTORY_DAY, NEXT_DAY, LATER = date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 5)
CONFIG = WapConfig(symbols=("AMD", "NVDA"))
PROD = f"s3://{DATA_BUCKET}/prod/daily_prices/"


class Paused(DuckDBEngine):
    """Runs `around_commit(commit)` instead of publish's commit (the versioned write of
    daily_prices' record), so a test can let another publish happen just before it."""

    around_commit: Callable[[Callable[[], None]], None] | None = None

    def set_table_properties(self, table, properties, expected_version=None):  # type: ignore[no-untyped-def]
        around = self.around_commit
        if table != PROD_TABLE or expected_version is None or around is None:
            super().set_table_properties(table, properties, expected_version)
            return
        self.around_commit = None
        around(
            lambda: super(Paused, self).set_table_properties(table, properties, expected_version)
        )


def staged(engine: Engine, run_id: str, day: date, first: bool = True) -> None:
    """Stage and audit `run_id`; not `first`: its drop_staging ran before the other run
    staged (else it would have dropped the other run's staging)."""
    if first:
        steps.drop_staging(engine, CONFIG, run_id)
    steps.create_staging(engine, CONFIG, run_id, today=day)
    assert steps.audit(engine, CONFIG, run_id, as_of=day).ok


@pytest.fixture
def lake(raw_lake: RawLake) -> RawLake:
    """History published; the next day's bars landed (AMD's 2023 close restated)."""
    raw_lake.write(
        HISTORY_DAY,
        [
            bar(symbol, day, close)
            for symbol in ("AMD", "NVDA")
            for day, close in ((date(2023, 12, 28), "90"), (date(2023, 12, 29), "91"))
        ],
    )
    engine = DuckDBEngine(raw_lake.root)
    steps.run_all(engine, CONFIG, "history", as_of=HISTORY_DAY)
    engine.close()
    raw_lake.write(
        NEXT_DAY,
        [
            bar("AMD", date(2023, 12, 29), "92"),
            bar("AMD", NEXT_DAY, "95"),
            bar("NVDA", NEXT_DAY, "96"),
        ],
    )
    return raw_lake


def test_a_stale_run_is_refused_by_name_and_changes_nothing(lake: RawLake) -> None:
    manual = DuckDBEngine(lake.root)
    staged(manual, "by_hand", NEXT_DAY)
    # The workflow's run publishes meanwhile, with a bar that landed after by_hand staged.
    lake.write(LATER, [bar("NVDA", LATER, "97")])
    workflow = DuckDBEngine(lake.root)
    staged(workflow, "workflow", LATER, first=False)
    steps.publish(workflow, CONFIG, "workflow")
    after_workflow = production_snapshot(workflow)

    with pytest.raises(steps.WapError) as raised:
        steps.publish(manual, CONFIG, "by_hand")

    message = str(raised.value)
    assert message.startswith("publish of run by_hand refused: run workflow published")
    assert "start a new run" in message
    assert production_snapshot(DuckDBEngine(lake.root)) == after_workflow


def test_a_publish_committed_while_another_swapped_wins_and_the_other_undoes_nothing_of_it(
    lake: RawLake,
) -> None:
    slow, fast = Paused(lake.root), DuckDBEngine(lake.root)
    staged(slow, "slow", NEXT_DAY)
    staged(fast, "fast", NEXT_DAY, first=False)
    slow.around_commit = lambda commit: (steps.publish(fast, CONFIG, "fast"), commit())

    with pytest.raises(steps.WapError, match="publish of run slow refused: run fast published"):
        steps.publish(slow, CONFIG, "slow")

    reader = DuckDBEngine(lake.root)
    assert reader.table_properties(PROD_TABLE)[PUBLISHED_RUN_PROPERTY] == "fast"
    assert len(production(reader)) == 6
    assert len(store.consumed_raw(reader)) == 4
    # slow's swap went first, so fast merged into it; nothing of fast's was put back.
    assert all("_fast/" in location for location in reader.partitions(PROD_TABLE).values())


def test_a_stale_swap_over_a_publish_that_commits_first_is_undone(lake: RawLake) -> None:
    first, stale = Paused(lake.root), Paused(lake.root)
    staged(first, "first", NEXT_DAY)
    staged(stale, "stale", NEXT_DAY, first=False)
    refused: list[steps.WapError] = []

    def stale_swaps_then_first_commits(commit_first: Callable[[], None]) -> None:
        def first_commits_before_stale(commit_stale: Callable[[], None]) -> None:
            commit_first()
            commit_stale()

        stale.around_commit = first_commits_before_stale
        try:
            steps.publish(stale, CONFIG, "stale")
        except steps.WapError as error:
            refused.append(error)

    first.around_commit = stale_swaps_then_first_commits
    published = steps.publish(first, CONFIG, "first")

    assert published.rows_added == 2
    assert [str(error).split(":")[0] for error in refused] == ["publish of run stale refused"]
    reader = DuckDBEngine(lake.root)
    assert reader.table_properties(PROD_TABLE)[PUBLISHED_RUN_PROPERTY] == "first"
    assert all("_first/" in location for location in reader.partitions(PROD_TABLE).values())
    assert len(production(reader)) == 6
    assert not reader.partitions("daily_prices_replaced").get("stale")


def test_two_publishes_of_the_same_run_publish_once(lake: RawLake) -> None:
    engine, again = Paused(lake.root), DuckDBEngine(lake.root)
    staged(engine, "workflow", NEXT_DAY)
    engine.around_commit = lambda commit: (steps.publish(again, CONFIG, "workflow"), commit())

    second = steps.publish(engine, CONFIG, "workflow")
    third = steps.publish(again, CONFIG, "workflow")

    assert second.already_published
    assert third.already_published
    reader = DuckDBEngine(lake.root)
    assert len(production(reader)) == 6
    assert store.published_run(reader) == "workflow"


# -- the lock on Glue ---------------------------------------------------------------------


@pytest.fixture
def aws(aws: FakeAws) -> FakeAws:
    aws.create_table(PROD_TABLE, PROD, parameters={"stockpipe.published_run_id": "r1"})
    return aws


def another_writer_sets(aws: FakeAws, key: str, value: str) -> Callable[[dict], None]:
    """A before-UpdateTable action: once, another writer updates daily_prices first."""
    done: list[bool] = []

    def update(_: dict) -> None:
        if done:
            return
        done.append(True)
        table = aws.table(PROD_TABLE)
        aws.glue.update_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": PROD_TABLE,
                "StorageDescriptor": table["StorageDescriptor"],
                "PartitionKeys": table["PartitionKeys"],
                "Parameters": {**table["Parameters"], key: value},
            },
        )

    return update


def test_property_writes_send_the_version_read_and_skip_the_archive(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    version = engine.table_version(PROD_TABLE)

    engine.set_table_properties(PROD_TABLE, {"stockpipe.summary_of": "{}"})
    engine.set_table_properties(PROD_TABLE, {"a": "b"}, expected_version=str(int(version) + 1))

    updates = aws.calls_to("UpdateTable")
    assert [(u["VersionId"], u["SkipArchive"]) for u in updates] == [
        (version, True),
        (str(int(version) + 1), True),
    ]
    assert engine.table_version(PROD_TABLE) != version


def test_a_stale_versioned_write_is_refused_and_writes_nothing(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    planned = engine.table_version(PROD_TABLE)
    aws.before("UpdateTable", another_writer_sets(aws, PUBLISHED_RUN_PROPERTY, "r2"))

    with pytest.raises(ConcurrentWriteError, match="ConcurrentModificationException"):
        store.record_consumed(
            engine,
            CONFIG,
            {"raw/dt=2024-06-07/NVDA-1.csv": '"e"'},
            "stale",
            datetime(2024, 6, 7, 22),
            store.TableLock(PROD_TABLE, planned),
        )

    assert aws.table(PROD_TABLE)["Parameters"] == {PUBLISHED_RUN_PROPERTY: "r2"}
    assert len(aws.calls_to("UpdateTable")) == 1


def test_an_unversioned_write_that_meets_another_merges_again_and_keeps_both(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.before("UpdateTable", another_writer_sets(aws, "stockpipe.other", "kept"))

    engine.set_table_properties(PROD_TABLE, {"stockpipe.summary_of": "{}"})

    assert aws.table(PROD_TABLE)["Parameters"] == {
        PUBLISHED_RUN_PROPERTY: "r1",
        "stockpipe.other": "kept",
        "stockpipe.summary_of": "{}",
    }
    assert len(aws.calls_to("UpdateTable")) == 2
    assert aws.sleeps == [AthenaEngine.THROTTLE_FIRST_DELAY]


def test_a_swap_is_refused_once_the_table_moved_past_the_lock(
    aws: FakeAws, engine: AthenaEngine, tmp_path: Path
) -> None:
    old = {"2024": f"{PROD}v1/year=2024/"}
    aws.put_object("prod/daily_prices/v2/year=2024/part-0.parquet")
    aws.glue.batch_create_partition(
        DatabaseName=DATABASE,
        TableName=PROD_TABLE,
        PartitionInputList=[{"Values": ["2024"], "StorageDescriptor": {"Location": old["2024"]}}],
    )
    lock = store.TableLock(PROD_TABLE, engine.table_version(PROD_TABLE))
    engine.set_table_properties(PROD_TABLE, {PUBLISHED_RUN_PROPERTY: "r2"})

    with pytest.raises(ConcurrentWriteError):
        store.write_parts(
            engine,
            PROD_TABLE,
            PROD,
            f"{PROD}v3/",
            "year",
            [],
            {"2024": f"{PROD}v2/year=2024/"},
            None,
            "stale",
            lock,
        )

    assert engine.partitions(PROD_TABLE) == old
    assert aws.calls_to("BatchUpdatePartition") == aws.calls_to("BatchCreatePartition") == []


def test_a_publish_whose_staging_another_run_drops_meanwhile_swaps_nothing(
    lake: RawLake,
) -> None:
    class OtherRunStartsAfterTheCopy(DuckDBEngine):
        def copy_location(self, source: str, target: str) -> None:
            super().copy_location(source, target)
            steps.drop_staging(DuckDBEngine(lake.root), CONFIG, "by_hand")

    engine = OtherRunStartsAfterTheCopy(lake.root)
    staged(engine, "workflow", NEXT_DAY)
    before = production_snapshot(engine)

    with pytest.raises(store.StoreError, match="daily_prices_staging_workflow was dropped"):
        steps.publish(engine, CONFIG, "workflow")

    assert production_snapshot(DuckDBEngine(lake.root)) == before


@pytest.mark.duckdb
def test_on_athena_glue_refuses_a_stale_commit_and_the_run_that_published_keeps_all(
    aws: FakeAws, tmp_path: Path
) -> None:
    aws.glue.delete_table(DatabaseName=DATABASE, Name=PROD_TABLE)
    create_raw_table(aws, "raw_daily_prices")
    double = AthenaDouble(aws, tmp_path / "athena")
    for day, bars in (
        (
            HISTORY_DAY,
            [bar("AMD", date(2023, 12, 29), "91"), bar("NVDA", date(2023, 12, 29), "91")],
        ),
        (NEXT_DAY, [bar("AMD", date(2023, 12, 29), "92"), bar("AMD", NEXT_DAY, "95")]),
    ):
        for symbol in ("AMD", "NVDA"):
            rows = [each for each in bars if each.symbol == symbol]
            if rows:
                key = f"raw/dt={day.isoformat()}/{symbol}-1.csv"
                aws.s3.put_object(
                    Bucket=DATA_BUCKET, Key=key, Body=bars_to_csv(rows, ingested_at(day))
                )
        if day == HISTORY_DAY:
            steps.run_all(aws.engine(), CONFIG, "history", as_of=day, now=datetime(2024, 6, 3, 22))
    by_hand, workflow = aws.engine(), aws.engine()
    staged(by_hand, "by_hand", NEXT_DAY)
    staged(workflow, "workflow", NEXT_DAY, first=False)
    # The workflow publishes entirely while by_hand is about to commit its (swapped) publish.
    racing: list[bool] = []

    def workflow_publishes_first(params: dict) -> None:
        parameters = params["TableInput"].get("Parameters", {})
        if parameters.get(PUBLISHED_RUN_PROPERTY) == "by_hand" and not racing:
            racing.append(True)
            steps.publish(workflow, CONFIG, "workflow", now=datetime(2024, 6, 4, 22, 1))

    aws.before("UpdateTable", workflow_publishes_first)

    with pytest.raises(steps.WapError, match="publish of run by_hand refused: run workflow"):
        steps.publish(by_hand, CONFIG, "by_hand", now=datetime(2024, 6, 4, 22))

    reader = aws.engine()
    assert store.published_run(reader) == "workflow"
    assert len(production(reader)) == 3
    assert all("_workflow/" in location for location in reader.partitions(PROD_TABLE).values())
    commits = [
        update
        for update in aws.calls_to("UpdateTable")
        if PUBLISHED_RUN_PROPERTY in update["TableInput"].get("Parameters", {})
    ]
    # by_hand's commit was sent (and refused by Glue) before the workflow's went through.
    assert [c["TableInput"]["Parameters"][PUBLISHED_RUN_PROPERTY] for c in commits] == [
        "history",
        "by_hand",
        "workflow",
    ]
    assert all(c["SkipArchive"] and c["VersionId"] for c in commits)
    double.close()
    assert double.failures == []


def test_undoing_a_swap_puts_back_only_what_still_shows_it_and_never_a_deleted_location(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    def at(version: str, year: str) -> str:
        return f"{PROD}{version}/year={year}/"

    aws.put_object("prod/daily_prices/v1/year=2023/part-0.parquet")
    swapped = {
        "2021": at("v2", "2021"),  # another writer repointed it since: stays
        "2022": at("v2", "2022"),  # its previous data was pruned meanwhile: stays
        "2023": at("v2", "2023"),  # put back
        "2024": at("v2", "2024"),  # created by the swap: dropped
    }
    aws.glue.batch_create_partition(
        DatabaseName=DATABASE,
        TableName=PROD_TABLE,
        PartitionInputList=[
            {"Values": [year], "StorageDescriptor": {"Location": location}}
            for year, location in {**swapped, "2021": at("v3", "2021")}.items()
        ],
    )
    lock = store.TableLock(
        PROD_TABLE,
        "1",
        swapped={
            "2021": (at("v1", "2021"), swapped["2021"]),
            "2022": (at("v1", "2022"), swapped["2022"]),
            "2023": (at("v1", "2023"), swapped["2023"]),
            "2024": (None, swapped["2024"]),
        },
    )

    assert store.undo_swap(engine, lock) == ["2023", "2024"]

    assert engine.partitions(PROD_TABLE) == {
        "2021": at("v3", "2021"),
        "2022": at("v2", "2022"),
        "2023": at("v1", "2023"),
    }
