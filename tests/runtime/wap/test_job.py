"""The Glue job script: arguments, run id, exit status, freshness metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime

import boto3
import pytest
from moto import mock_aws

from runtime.wap import job
from tests.conftest import PROJECT_ROOT
from tests.runtime.wap.builders import RawLake, bar

DAY = date(2024, 6, 7)
NOW = datetime(2024, 6, 7, 22, 0)


def local_args(raw_lake: RawLake, step: str, *extra: str) -> list[str]:
    return [
        "--step", step, "--engine", "duckdb", "--lake-dir", str(raw_lake.root),
        "--symbols", "NVDA,AMD", "--as-of", DAY.isoformat(), *extra,
    ]  # fmt: skip


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.mark.duckdb
def test_steps_run_by_hand_share_the_printed_run_id(
    raw_lake: RawLake, capsys: pytest.CaptureFixture[str]
) -> None:
    raw_lake.write(DAY, [bar("NVDA", DAY, "120.0000"), bar("AMD", DAY, "100.0000")])

    assert job.main(local_args(raw_lake, "drop_staging"), now=NOW) == 0
    run_id = capsys.readouterr().out.split("run id: ", 1)[1].split()[0]
    assert run_id.startswith("manual_20240607t220000_")
    for step in ("create_staging", "audit", "publish"):
        assert job.main(local_args(raw_lake, step, "--run-id", run_id), now=NOW) == 0

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    freshness = [r for r in emf if "Symbol" in r]
    assert {
        (r["Symbol"], r["latest_trade_date"], r["PublishedDataAgeDays"]) for r in freshness
    } == {
        ("AMD", "2024-06-07", 0.0),
        ("NVDA", "2024-06-07", 0.0),
    }
    assert freshness[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "stockpipe"
    # Every step also reports the queries it ran and the bytes they read.
    scans = {r["Step"]: r for r in emf if "Step" in r}
    assert set(scans) == {"create_staging", "audit", "publish"}
    for record in scans.values():
        assert len(record["queries"]) > 0
        assert record["AthenaBytesScanned"] == sum(n for _, n in record["queries"])
    assert scans["create_staging"]["AthenaBytesScanned"] > 0


@pytest.mark.duckdb
def test_a_raw_folder_that_is_not_a_date_fails_the_audit_naming_it(
    raw_lake: RawLake, capsys: pytest.CaptureFixture[str]
) -> None:
    raw_lake.write(DAY, [bar("NVDA", DAY, "120.0000"), bar("AMD", DAY, "100.0000")])
    stray = raw_lake.root / "raw" / "dt=2024-6-7" / "NVDA-1.csv"
    stray.parent.mkdir()
    stray.write_text("symbol,trade_date,open,high,low,close,volume,ingested_at\n")
    job.main(local_args(raw_lake, "create_staging", "--run-id", "odd"), now=NOW)
    capsys.readouterr()

    status = job.main(local_args(raw_lake, "audit", "--run-id", "odd"), now=NOW)

    assert status == 1
    assert "raw_layout (error, 1 rows: raw/dt=2024-6-7/NVDA-1.csv)" in capsys.readouterr().err


@pytest.mark.duckdb
def test_a_failed_audit_exits_non_zero_listing_the_failed_checks(
    raw_lake: RawLake, capsys: pytest.CaptureFixture[str]
) -> None:
    raw_lake.write(
        DAY, [bar("NVDA", DAY, "120.0000", volume=-5), bar("AMD", date(2024, 6, 8), "1")]
    )
    job.main(local_args(raw_lake, "create_staging", "--run-id", "bad"), now=NOW)
    capsys.readouterr()

    status = job.main(local_args(raw_lake, "audit", "--run-id", "bad"), now=NOW)

    err = capsys.readouterr().err
    assert status == 1
    assert "audit of run bad failed" in err
    assert "positive_values (error, 1 rows: NVDA@2024-06-07)" in err
    assert "weekend_trade_date (error, 1 rows: AMD@2024-06-08)" in err
    assert job.main(local_args(raw_lake, "publish", "--run-id", "bad"), now=NOW) == 1
    assert "failed its audit" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--step", "publish", "--engine", "duckdb", "--lake-dir", "x"], "--run-id is required"),
        (["--step", "audit", "--run-id", "r"], "--database, --workgroup, --data-bucket required"),
        (["--step", "audit", "--engine", "duckdb", "--run-id", "r"], "--lake-dir is required"),
        (["--step", "audit", "--run-id", "no spaces"], "run id 'no spaces' must be"),
        (["--step", "audit", "--run-id", "r", "--max-daily-move", "lots"], "max_daily_move"),
        (["--step", "audit", "--run-id", "r", "--as-of", "June"], "--as-of must be a date"),
        (["--step", "audit", "--run-id", "r", "--symbols", "NV DA"], "'NV DA' is not a ticker"),
    ],
)
def test_bad_arguments_get_one_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert job.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.aws
@pytest.mark.parametrize(
    ("properties", "expected"),
    [({}, "workflow_run"), ({"run_id": "Backfill-2024"}, "backfill_2024")],
)
def test_the_run_id_comes_from_the_glue_workflow_run(
    aws: None, properties: dict[str, str], expected: str
) -> None:
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_workflow(Name="wap")
    run = glue.start_workflow_run(Name="wap")["RunId"]
    if properties:
        glue.put_workflow_run_properties(Name="wap", RunId=run, RunProperties=properties)
    args = job.parse_args(
        ["--step", "audit", "--WORKFLOW_NAME", "wap", "--WORKFLOW_RUN_ID", run,
         "--job-bookmark-option", "job-bookmark-disable"]
    )  # fmt: skip

    run_id = job.resolve_run_id(args, lambda service: boto3.client(service), NOW)

    assert run_id == (job.normalize_run_id(run) if expected == "workflow_run" else expected)


@pytest.mark.aws
def test_an_unknown_workflow_run_is_one_clear_message(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--step", "audit", "--database", "db", "--workgroup", "wg", "--data-bucket", "b",
            "--WORKFLOW_NAME", "wap", "--WORKFLOW_RUN_ID", "wr_missing"]  # fmt: skip

    assert job.main(argv, lambda service: boto3.client(service), now=NOW) == 1

    err = capsys.readouterr().err
    assert err.startswith("stockpipe wap audit failed: an AWS call failed: ")
    assert "GetWorkflowRunProperties" in err
    assert err.count("\n") == 1


@pytest.mark.aws
@pytest.mark.duckdb
def test_publish_sends_freshness_metrics_to_cloudwatch(aws: None, raw_lake: RawLake) -> None:
    raw_lake.write(DAY, [bar("NVDA", date(2024, 6, 6), "120.0000"), bar("AMD", DAY, "100.0000")])
    for step in ("create_staging", "audit", "publish"):
        argv = local_args(raw_lake, step, "--run-id", "r1", "--metrics", "cloudwatch")
        assert job.main(argv, now=NOW) == 0

    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    ages = cloudwatch.get_metric_statistics(
        Namespace="stockpipe",
        MetricName="PublishedDataAgeDays",
        Dimensions=[{"Name": "Symbol", "Value": "NVDA"}],
        StartTime=datetime(2024, 1, 1),
        EndTime=datetime(2100, 1, 1),
        Period=86400,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert [point["Maximum"] for point in ages] == [1.0]
    metrics = cloudwatch.list_metrics(Namespace="stockpipe")["Metrics"]
    assert {m["MetricName"] for m in metrics} == {
        "LatestPublishedTradeDate", "PublishedDataAgeDays", "AthenaBytesScanned",
    }  # fmt: skip
    steps = {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Step"}
    assert steps == {"create_staging", "audit", "publish"}


def test_the_glue_path_imports_neither_duckdb_nor_sqlglot() -> None:
    code = (
        "import sys, runtime.wap.job, runtime.wap.engines.athena;"
        "loaded = {'duckdb', 'sqlglot'} & set(sys.modules);"
        "sys.exit(f'imported {loaded}' if loaded else 0)"
    )
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("value", ["20240607", "2024-6-7", "2024-06-31"])
def test_an_as_of_that_is_not_yyyy_mm_dd_is_refused_in_one_line(
    raw_lake: RawLake, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    status = job.main(
        ["--step", "audit", "--engine", "duckdb", "--lake-dir", str(raw_lake.root),
         "--run-id", "r", "--as-of", value],
        now=NOW,
    )  # fmt: skip

    assert status == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"stockpipe wap audit failed: --as-of must be a date YYYY-MM-DD, got {value!r}"
    ]


@pytest.mark.duckdb
def test_a_step_on_a_lake_another_writer_holds_waits_then_fails_naming_it(
    raw_lake: RawLake, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = subprocess.Popen(  # noqa: S603 (our own module)
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from runtime.wap.engines.local_catalog import writer_lock\n"
            f"with writer_lock({str(raw_lake.root)!r}, 'a test holding the lake'):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(30)\n",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"

        status = job.main(local_args(raw_lake, "drop_staging", "--lock-wait", "0.3"), now=NOW)
    finally:
        holder.kill()
        holder.wait()

    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(err) == 1
    assert "another writer holds the lake" in err[0]
    assert str(holder.pid) in err[0]
    assert "a test holding the lake" in err[0]
