"""A publish killed at any moment leaves production as it was before or after, and a rerun
completes it (SIGKILL: no cleanup code runs, as when Glue times a job out)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from runtime.wap import steps
from runtime.wap.config import WapConfig
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.conftest import PROJECT_ROOT
from tests.runtime.wap.builders import RawLake, bar

pytestmark = pytest.mark.duckdb

ITERATIONS = 20
HISTORY_DAY, NEXT_DAY = date(2024, 6, 3), date(2024, 6, 4)
CONFIG = WapConfig(symbols=("AMD", "NVDA"))


def rows(lake: Path) -> list[tuple]:
    engine = DuckDBEngine(lake)
    try:
        if not engine.table_exists("daily_prices"):
            return []
        return engine.fetchall(
            "SELECT symbol, trade_date, close, daily_return FROM daily_prices "
            "ORDER BY symbol, trade_date"
        ).rows
    finally:
        engine.close()


def publish_command(lake: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "runtime.wap.job",
        "--step",
        "publish",
        "--engine",
        "duckdb",
        "--lake-dir",
        str(lake),
        "--run-id",
        "killed",
        "--symbols",
        "AMD,NVDA",
    ]


@pytest.fixture
def audited_lake(tmp_path: Path) -> Path:
    """Two years published, then a day that restates a 2023 close and brings 2024 bars,
    staged and audited under run `killed`: its publish merges one year and copies another."""
    lake = RawLake(tmp_path / "template")
    lake.root.mkdir()
    history = [
        bar(symbol, day, close)
        for symbol in ("AMD", "NVDA")
        for day, close in ((date(2023, 12, 28), "90"), (date(2023, 12, 29), "91"))
    ]
    lake.write(HISTORY_DAY, history)
    engine = DuckDBEngine(lake.root)
    steps.run_all(engine, CONFIG, "history", as_of=HISTORY_DAY)
    lake.write(
        NEXT_DAY,
        [
            bar("AMD", date(2023, 12, 29), "92"),
            bar("AMD", NEXT_DAY, "95"),
            bar("NVDA", NEXT_DAY, "96"),
        ],
    )
    steps.drop_staging(engine, CONFIG, "killed")
    steps.create_staging(engine, CONFIG, "killed")
    assert steps.audit(engine, CONFIG, "killed", as_of=NEXT_DAY).ok
    engine.close()
    return lake.root


def start_publish(lake: Path) -> subprocess.Popen:
    """The publish job, returned once it logged that the step started (imports are done)."""
    process = subprocess.Popen(  # noqa: S603
        publish_command(lake),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "step publish of run killed" in line:
            return process
    raise AssertionError(f"the publish job ended before it started, exit {process.wait()}")


def test_a_publish_killed_at_random_moments_leaves_production_before_or_after(
    audited_lake: Path, tmp_path: Path
) -> None:
    before = rows(audited_lake)
    finished = tmp_path / "finished"
    shutil.copytree(audited_lake, finished)
    process = start_publish(finished)
    started = time.perf_counter()
    assert process.wait(timeout=60) == 0
    publish_seconds = time.perf_counter() - started
    after = rows(finished)
    assert after != before
    chooser = random.Random(7)
    outcomes = []

    for iteration in range(ITERATIONS):
        lake = tmp_path / f"killed-{iteration}"
        shutil.copytree(audited_lake, lake)
        process = start_publish(lake)
        time.sleep(chooser.uniform(0, publish_seconds))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()  # type: ignore[union-attr]

        state = rows(lake)
        assert state in (before, after), f"iteration {iteration}: a partial publish is visible"
        outcomes.append(state == after)
        engine = DuckDBEngine(lake)
        steps.run_all(engine, CONFIG, f"rerun{iteration}", as_of=NEXT_DAY)
        engine.close()
        assert rows(lake) == after, f"iteration {iteration}: the rerun did not complete it"

    # The moments spread over the whole publish: some kills came before the swap.
    assert not all(outcomes)
