"""`python -m runtime.local rebuild`: a damaged lake rebuilt from its raw zone in one
command, the damaged lake kept aside, the run history carried over where it reads, and the
next run publishing exactly what a fresh lake with the same raw zone would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.runtime.local.test_lake_safety import (
    _HOLD_THE_LAKE,
    AS_OF,
    PROJECT_ROOT,
    cli,
    count,
    one_line_error,
    rows,
    run_day,
)

MONDAY = date(2024, 6, 10)
TUESDAY = date(2024, 6, 11)
STEPS = ("set aside", "carry history", "drop_staging", "create_staging", "audit", "publish")
PRICES = (
    "SELECT symbol, trade_date, open, high, low, close, volume, avg_price, daily_return "
    "FROM daily_prices ORDER BY symbol, trade_date"
)
SUMMARY = "SELECT * FROM symbol_summary ORDER BY symbol, year"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("two-runs") / "data"
    assert run_day(data_dir, AS_OF) == 0
    assert run_day(data_dir, MONDAY) == 0
    return data_dir


@pytest.fixture
def data_dir(two_runs: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(two_runs, tmp_path / "data"))


def fresh_copy(data_dir: Path, target: Path) -> Path:
    """A new data directory holding only what the lake's raw zone held."""
    shutil.copytree(data_dir / "lake" / "raw", target / "lake" / "raw")
    shutil.copy2(data_dir / "lake" / "_source", target / "lake" / "_source")
    return target


def published_file(data_dir: Path, table: str, partition: str) -> Path:
    """The first data file the catalog names for a partition of a table."""
    catalog = json.loads((data_dir / "lake" / "_catalog.json").read_text(encoding="utf-8"))
    return data_dir / "lake" / catalog["tables"][table]["partitions"][partition]["files"][0]


def rebuild(data_dir: Path, capsys: pytest.CaptureFixture[str], status: int = 0) -> str:
    capsys.readouterr()
    assert cli("rebuild", "--data-dir", str(data_dir)) == status
    return capsys.readouterr().out


def run_ids(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    found = rows(data_dir, "SELECT DISTINCT run_id FROM dq_results ORDER BY run_id", capsys)
    return [row["run_id"] for row in found]


def test_a_damaged_parquet_file_is_rebuilt_from_raw_keeping_history_and_the_old_lake(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = fresh_copy(data_dir, tmp_path / "fresh")
    history = run_ids(data_dir, capsys)
    damaged = published_file(data_dir, "daily_prices", "2024")
    damaged.write_bytes(b"PAR1 this is not a parquet file")
    assert run_day(data_dir, TUESDAY) == 1  # the damage stops every run, naming the way out
    assert f"python -m runtime.local rebuild --data-dir {data_dir}" in one_line_error(capsys)

    out = rebuild(data_dir, capsys)

    for step in STEPS:  # a progress line per step
        assert any(line.startswith(step) and " done in " in line for line in out.splitlines())
    (aside,) = data_dir.glob("lake-before-rebuild-*")
    assert f"the lake before the rebuild is kept in {aside}" in out
    assert "could not keep" not in out
    assert (aside / damaged.relative_to(data_dir / "lake")).read_bytes().startswith(b"PAR1 this")
    assert sorted(p.name for p in (aside / "raw").rglob("*.csv")) == sorted(
        p.name for p in (data_dir / "lake" / "raw").rglob("*.csv")
    )
    after = run_ids(data_dir, capsys)
    assert set(history) < set(after)
    assert len(after) == len(history) + 1  # the rebuild's own audit

    assert run_day(data_dir, TUESDAY) == 0
    assert run_day(fresh, TUESDAY) == 0
    assert rows(data_dir, PRICES, capsys) == rows(fresh, PRICES, capsys)
    assert rows(data_dir, SUMMARY, capsys) == rows(fresh, SUMMARY, capsys)


def test_a_lost_catalog_and_catalog_history_rebuild_and_say_what_could_not_be_kept(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = fresh_copy(data_dir, tmp_path / "fresh")
    (data_dir / "lake" / "_catalog.json").unlink()
    shutil.rmtree(data_dir / "lake" / "_catalog_history")
    assert run_day(data_dir, TUESDAY) == 1  # no run goes on without its catalog
    assert f"python -m runtime.local rebuild --data-dir {data_dir}" in one_line_error(capsys)

    out = rebuild(data_dir, capsys)

    (lost,) = [line for line in out.splitlines() if line.startswith("could not keep")]
    assert lost.startswith("could not keep: dq_results, daily_prices_replaced: local catalog")
    assert "no kept catalog generation reads" in lost
    assert len(run_ids(data_dir, capsys)) == 1  # only the rebuild's
    assert run_day(data_dir, TUESDAY) == 0
    assert run_day(fresh, TUESDAY) == 0
    assert rows(data_dir, PRICES, capsys) == rows(fresh, PRICES, capsys)


def test_a_damaged_history_partition_is_named_and_the_rest_is_kept(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = run_ids(data_dir, capsys)
    damaged = published_file(data_dir, "dq_results", first)
    damaged.write_bytes(b"PAR1 this is not a parquet file")

    out = rebuild(data_dir, capsys)

    (lost,) = [line for line in out.splitlines() if line.startswith("could not keep")]
    assert lost.startswith(f"could not keep: dq_results run_id={first}: ")
    assert damaged.name in lost
    assert "does not read" in lost
    assert first not in run_ids(data_dir, capsys)
    assert second in run_ids(data_dir, capsys)


def test_rebuild_is_refused_while_another_writer_holds_the_lake(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = subprocess.Popen(  # noqa: S603 (a fixed script of ours)
        [sys.executable, "-c", _HOLD_THE_LAKE, str(data_dir / "lake")],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert cli("rebuild", "--data-dir", str(data_dir), "--wait", "0.2") == 2
    finally:
        holder.kill()
        holder.wait()

    assert "another writer holds the lake" in one_line_error(capsys)
    assert list(data_dir.glob("lake-before-rebuild-*")) == []
    assert count(data_dir, "daily_prices", capsys) > 0  # the lake is as it was


def test_a_rebuild_keeps_the_split_records_and_ingestion_state_in_the_lake(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = data_dir / "lake"

    def kept() -> dict[str, str]:
        return {
            str(path.relative_to(lake)): path.read_text(encoding="utf-8")
            for zone in ("raw_splits", "ingest_state")
            for path in (lake / zone).rglob("*")
            if path.is_file() and not path.name.startswith(".")
        }

    before = kept()
    assert any(key.startswith("raw_splits/dt=") for key in before)
    assert any(key.startswith("ingest_state/") for key in before)

    rebuild(data_dir, capsys)

    # The next runs' daily returns use the records; the call budget keeps its count.
    assert kept() == before
