"""The local lake as a database: one writer, a catalog never lost silently, outputs kept out
of it, every failure one line. Through `python -m runtime.local` (its `main`, or a process)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from runtime.local import retention
from runtime.local.cli import main
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import SampleServer
from runtime.wap import job
from runtime.wap.engines import local_catalog

AS_OF = date(2024, 6, 7)  # a Friday
SYMBOL = "NVDA"
COMPACT_BARS = 100
CHECKS = 13
PROJECT_ROOT = Path(__file__).resolve().parents[3]
# The sample source needs no pacing; subprocesses get it through the environment.
FAST = {"CALLS_PER_MINUTE": "100000", "MIN_CALL_INTERVAL_SECONDS": "0"}


def cli(*argv: str, environ: dict[str, str] | None = None) -> int:
    return main(list(argv), environ=environ or {})


def run_day(data_dir: Path, day: date = AS_OF, *extra: str) -> int:
    return cli(
        "run", "--data-dir", str(data_dir), "--symbols", SYMBOL, "--as-of", str(day), "--quiet",
        *extra,
    )  # fmt: skip


def rows(data_dir: Path, sql: str, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert cli("query", sql, "--format", "json", "--data-dir", str(data_dir)) == 0
    return json.loads(capsys.readouterr().out)


def count(data_dir: Path, table: str, capsys: pytest.CaptureFixture[str]) -> int:
    return rows(data_dir, f"SELECT count(*) AS n FROM {table}", capsys)[0]["n"]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def process(*argv: str, **options) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 (our own CLI)
        [sys.executable, "-m", "runtime.local", *argv],
        cwd=PROJECT_ROOT,
        env={**os.environ, **FAST},
        text=True,
        **options,
    )


@pytest.fixture(scope="module")
def published_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("published") / "data"
    assert run_day(data_dir) == 0
    return data_dir


@pytest.fixture
def lake(published_once: Path, tmp_path: Path) -> Path:
    """A data directory of its own after one published run (a copy: runs take time)."""
    return Path(shutil.copytree(published_once, tmp_path / "data"))


@pytest.fixture
def damaged_page(tmp_path: Path) -> tuple[Path, Path]:
    """Three years published, then every data page of 2022's file overwritten (its footer
    intact): DuckDB's error for it names no file. Returns the data dir and the file."""
    data_dir = tmp_path / "damaged"
    three_years = ("--outputsize", "full", "--sample-years", "3")
    assert run_day(data_dir, date(2025, 6, 6), *three_years) == 0
    (damaged,) = (data_dir / "lake" / "prod" / "daily_prices").rglob("year=2022/*.parquet")
    content = bytearray(damaged.read_bytes())
    footer = int.from_bytes(content[-8:-4], "little")
    content[4 : len(content) - 8 - footer] = b"\xff" * (len(content) - 12 - footer)
    damaged.write_bytes(bytes(content))
    return data_dir, damaged


# -- one writer at a time ------------------------------------------------------------------


@pytest.mark.parametrize("runs", [2, 6])
def test_runs_started_together_take_turns_and_publish_every_row_once(
    runs: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    started = [
        process(
            "run",
            "--data-dir",
            str(data_dir),
            "--symbols",
            SYMBOL,
            "--as-of",
            str(AS_OF),
            "--quiet",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(runs)
    ]
    finished = [(each.wait(timeout=60), *each.communicate()) for each in started]

    assert [code for code, _, _ in finished] == [0] * runs, [err for _, _, err in finished]
    assert all(err == "" for _, _, err in finished)
    added = [int(line.split()[1]) for _, out, _ in finished for line in out.splitlines()
             if line.startswith("published:")]  # fmt: skip
    assert sorted(added) == [0] * (runs - 1) + [COMPACT_BARS]
    assert count(data_dir, "daily_prices", capsys) == COMPACT_BARS
    audited = rows(data_dir, "SELECT run_id, count(*) AS n FROM dq_results GROUP BY 1", capsys)
    assert sorted(r["n"] for r in audited) == [CHECKS] * runs


def test_a_second_writer_gives_up_after_its_wait_naming_the_holder(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = subprocess.Popen(  # noqa: S603 (a fixed script of ours)
        [sys.executable, "-c", _HOLD_THE_LAKE, str(lake / "lake")],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        waited = time.monotonic()
        assert run_day(lake, AS_OF + timedelta(days=3), "--wait", "0.3") == 2
        waited = time.monotonic() - waited
    finally:
        holder.kill()
        holder.wait()

    err = one_line_error(capsys)
    assert f"another writer holds the lake {(lake / 'lake').resolve()} (pid {holder.pid}," in err
    assert "waited 0.3 s" in err
    assert 0.3 <= waited < 5
    assert count(lake, "daily_prices", capsys) == COMPACT_BARS  # nothing ran


_HOLD_THE_LAKE = """
import sys, time
from pathlib import Path
from runtime.wap.engines import local_catalog
with local_catalog.writer_lock(Path(sys.argv[1]), "run"):
    print("holding", flush=True)
    time.sleep(60)
"""


# -- the catalog is never lost silently ----------------------------------------------------


def test_a_lost_catalog_stops_the_run_before_it_fetches_and_a_restore_brings_it_back(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = lake / "lake" / "_catalog.json"
    kept = catalog.read_text()
    raw_before = sorted((lake / "lake" / "raw").rglob("*.csv"))
    catalog.unlink()

    assert run_day(lake, AS_OF + timedelta(days=3)) == 1

    err = one_line_error(capsys)
    assert f"local catalog {catalog} is missing" in err
    assert f"python -m runtime.local catalog restore --data-dir {lake}" in err
    assert sorted((lake / "lake" / "raw").rglob("*.csv")) == raw_before  # nothing fetched
    assert not catalog.exists()  # not rebuilt

    assert cli("catalog", "restore", "--data-dir", str(lake)) == 0
    assert catalog.read_text() == kept
    assert count(lake, "daily_prices", capsys) == COMPACT_BARS
    assert run_day(lake, AS_OF + timedelta(days=3)) == 0
    assert count(lake, "daily_prices", capsys) == COMPACT_BARS + 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{}", 'is not a catalog (expected an object with a "tables" object)'),
        ("[1, 2]", 'is not a catalog (expected an object with a "tables" object)'),
        ('{"tables": {"daily_prices": []}}', "is not a catalog (table daily_prices is not"),
        ("<!DOCTYPE html>", "is corrupt"),
    ],
)
@pytest.mark.parametrize("command", ["run", "query", "report"])
def test_a_damaged_catalog_is_one_line_naming_the_way_back(
    content: str, problem: str, command: str, lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = lake / "lake" / "_catalog.json"
    catalog.write_text(content)
    argv = {
        "run": ["run", "--symbols", SYMBOL, "--as-of", str(AS_OF), "--quiet"],
        "query": ["query", "SELECT count(*) FROM daily_prices"],
        "report": ["report", "--quiet"],
    }[command]

    assert cli(*argv, "--data-dir", str(lake)) == 1

    err = one_line_error(capsys)
    assert f"local catalog {catalog} {problem}" in err
    assert "catalog restore" in err
    assert catalog.read_text() == content


def test_a_restore_replaces_a_damaged_catalog_and_keeps_it_aside(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = lake / "lake" / "_catalog.json"
    catalog.write_text("[1, 2]")

    assert cli("catalog", "restore", "--data-dir", str(lake)) == 0

    assert count(lake, "daily_prices", capsys) == COMPACT_BARS
    (aside,) = (lake / "lake").glob("_catalog.json.damaged-*")
    assert aside.read_text() == "[1, 2]"


def test_every_kept_generation_can_be_restored_after_later_runs_pruned_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    days = [AS_OF + timedelta(days=n) for n in (0, 3, 4, 5)]  # Fri, then Mon to Wed
    for day in days:
        assert run_day(data_dir, day) == 0
    capsys.readouterr()
    assert cli("catalog", "list", "--data-dir", str(data_dir)) == 0
    listed = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in listed[2:-1]]
    assert len(names) == len(days)
    assert listed[2].endswith("yes")  # the newest is the current catalog

    oldest = names[-1]
    assert cli("catalog", "restore", oldest, "--data-dir", str(data_dir)) == 0

    assert f"from generation {oldest}" in capsys.readouterr().out
    # The first run's version folders outlived the three newest versions kept for rollback.
    assert count(data_dir, "daily_prices", capsys) == COMPACT_BARS
    assert cli("catalog", "restore", names[0], "--data-dir", str(data_dir)) == 0
    assert count(data_dir, "daily_prices", capsys) == COMPACT_BARS + 3


def test_restoring_an_unknown_generation_is_one_line(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("catalog", "restore", "20990101T000000000000Z", "--data-dir", str(lake)) == 1
    assert "no catalog generation '20990101T000000000000Z'" in one_line_error(capsys)


# -- outputs never land inside the lake ----------------------------------------------------


def test_report_out_refuses_a_path_inside_the_lake(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = lake / "lake" / "_catalog.json"
    before = catalog.read_bytes()

    assert cli("report", "--out", str(catalog), "--data-dir", str(lake)) == 2

    assert "is inside the lake" in one_line_error(capsys)
    assert catalog.read_bytes() == before


def test_report_out_replaces_an_earlier_report_but_no_other_file(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    earlier = lake / "report.html"

    assert cli("report", "--out", str(notes), "--data-dir", str(lake)) == 2
    assert "exists and is not a stockpipe report" in one_line_error(capsys)
    assert notes.read_text() == "<p>my notes</p>"
    assert cli("report", "--out", str(earlier), "--data-dir", str(lake), "--quiet") == 0


# -- every failure is one line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")],
)
def test_a_full_or_read_only_disk_during_publish_is_one_line_and_publishes_nothing(
    code: int,
    reason: str,
    lake: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog = (lake / "lake" / "_catalog.json").read_text()

    def disk_refuses(source: str, target: str) -> None:
        raise OSError(code, reason, str(target))

    # Publishing a new year copies its staged files: the disk refuses the copy.
    monkeypatch.setattr(shutil, "copyfile", disk_refuses)
    assert run_day(lake, date(2025, 1, 3), "--outputsize", "compact") == 1

    err = one_line_error(capsys)
    assert reason in err
    assert "what was already published is unchanged" in err
    assert (
        json.loads((lake / "lake" / "_catalog.json").read_text())["tables"]["daily_prices"]
        == json.loads(catalog)["tables"]["daily_prices"]
    )
    monkeypatch.undo()
    assert count(lake, "daily_prices", capsys) == COMPACT_BARS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--as-of", "0001-03-01"], "--as-of '0001-03-01' is not a date: use YYYY-MM-DD from"),
        (["--as-of", "1900-01-01"], "--as-of '1900-01-01' is not a date: use YYYY-MM-DD from"),
        (["--as-of", "20240607"], "--as-of '20240607' is not a date: use YYYY-MM-DD from"),
        (["--from", "1989-12-31"], "--from '1989-12-31' is not a date: use YYYY-MM-DD from"),
        (["--symbols", "NVDA,ABCDEFGHIJKLM"], "a ticker is 1 to 12 of A-Z, 0-9, '.' and '-'"),
        (["--wait", "-1"], "--wait -1 must be from 0 to 86400 seconds"),
    ],
)
def test_bad_run_inputs_state_the_whole_rule_in_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("run", "--data-dir", str(tmp_path / "data"), *argv) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "data" / "lake").exists()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "READ_CSV('/etc/passwd') is refused"),
        ('SELECT * FROM "/etc/passwd"', '"/etc/passwd" is not one'),
        ("SELECT * FROM other.daily_prices", "other.daily_prices is not one"),
        ("ATTACH '/tmp/elsewhere.db' AS elsewhere", "query: not valid Athena SQL"),
        ("SELECT " + "(" * 2000 + "1" + ")" * 2000, "nested too deeply"),
    ],
)
def test_query_reads_only_the_lakes_tables(
    sql: str, message: str, lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("query", sql, "--data-dir", str(lake)) == 2
    assert message in one_line_error(capsys)


def test_query_returns_a_timestamp_with_time_zone(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = "SELECT CAST(TIMESTAMP '2024-06-07 20:00:00' AS timestamp with time zone) AS t"
    assert rows(lake, sql, capsys) == [{"t": "2024-06-07T20:00:00+00:00"}]


def test_a_closed_stdout_ends_the_output_but_the_run_still_publishes(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Like `run | head -1` and `query | head -1`.
    commands = [
        ["run", "--symbols", SYMBOL, "--as-of", str(AS_OF + timedelta(days=3))],
        ["query", "SELECT * FROM daily_prices"],
    ]
    for argv in commands:
        started = process(
            *argv, "--data-dir", str(lake), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        started.stdout.readline()
        started.stdout.close()
        assert started.wait(timeout=60) == 0
        assert started.stderr.read() == ""
    assert count(lake, "daily_prices", capsys) == COMPACT_BARS + 1


def test_a_run_whose_report_panels_fail_exits_1_after_publishing_naming_the_damaged_file(
    damaged_page: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, damaged = damaged_page

    # The run reads only the years its new bars need; the whole-history report reads 2022.
    assert run_day(data_dir, date(2025, 6, 9), "--all") == 1

    out, err = capsys.readouterr()
    assert "published: 1 new rows" in out
    lines = err.splitlines()
    assert all(line.startswith("stockpipe: ") for line in lines)
    assert "published, but 5 report panel(s) failed (Close price," in lines[-1]
    assert f"damaged: {damaged} (" in lines[-1]


def test_a_query_failing_on_a_damaged_data_page_names_the_file(
    damaged_page: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, damaged = damaged_page
    sql = "SELECT sum(volume) AS v FROM daily_prices WHERE year = 2022"

    assert cli("query", sql, "--data-dir", str(data_dir)) == 1

    assert f"damaged: {damaged} (" in one_line_error(capsys)


# -- ingestion is honest -------------------------------------------------------------------


def test_the_summary_counts_throttled_and_retried_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SampleServer(SampleMarket(end=AS_OF, years=1)) as server:
        server.script(SYMBOL, "burst", "burst")
        environ = {"ALPHAVANTAGE_API_KEY": "a-real-looking-key", "ALPHAVANTAGE_URL": server.url}
        assert cli(
            "run", "--data-dir", str(tmp_path / "data"), "--symbols", SYMBOL, "--as-of",
            str(AS_OF), "--quiet", environ={**environ, **FAST},
        ) == 0  # fmt: skip

    out = capsys.readouterr().out
    # 3 calls for the prices, 1 for the symbol's first split record.
    assert "(100 bars fetched in 4 API calls: 2 throttled, 2 retried)" in out


# -- growth --------------------------------------------------------------------------------


def test_check_results_of_old_runs_are_pruned_the_newest_kept_in_full(
    lake: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "KEEP_RUNS", 1)
    assert run_day(lake) == 0

    capsys.readouterr()
    (latest,) = rows(lake, "SELECT run_id, count(*) AS n FROM dq_results GROUP BY 1", capsys)
    assert latest["n"] == CHECKS
    catalog = json.loads((lake / "lake" / "_catalog.json").read_text())
    assert list(catalog["tables"]["dq_results"]["partitions"]) == [latest["run_id"]]


def test_wap_job_refuses_a_lake_dir_that_does_not_exist_instead_of_starting_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "lkae"
    argv = ["--step", "create_staging", "--engine", "duckdb", "--lake-dir", str(typo)]

    assert job.main(argv) == 1

    assert f"--lake-dir {typo}: no such directory" in one_line_error(capsys)
    assert not typo.exists()


def test_catalog_history_keeps_only_the_newest_generations(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = lake / "lake" / "_catalog.json"
    published = json.loads(catalog.read_text())
    for writer in range(local_catalog.KEEP_GENERATIONS + 2):
        published["tables"]["daily_prices"]["properties"]["note"] = f"writer {writer}"
        catalog.write_text(json.dumps(published))
        with local_catalog.writer_lock(lake / "lake", "test", keep_generation=True):
            pass

    capsys.readouterr()
    assert cli("catalog", "list", "--data-dir", str(lake)) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[-1] == f"({local_catalog.KEEP_GENERATIONS} rows)"
    newest = local_catalog.list_generations(lake / "lake")[0]
    assert json.loads(newest.path.read_text()) == published
