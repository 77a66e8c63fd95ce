"""`make smoke`: each step's line, the first broken link named, cleanup on failure and on
interrupt. moto serves STS and S3; botocore's Stubber answers what moto does not (the Lambda
invoke, Glue workflow and job runs, Athena results), each call in order, so a call the
smoke should not make (a stopped job, a second invoke) fails the test; Grafana behind
`responses`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
import responses
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from components import smoke as smoke_module
from components.smoke import Smoke, main

REGION = "us-east-1"
BUCKET = "stockpipe-dev-lake"
FUNCTION = "stockpipe-dev-ingest-function"
WORKFLOW = "stockpipe-dev-wap-workflow"
JOBS = {
    "drop_staging": "wap-drop-staging",
    "create_staging": "wap-create-staging",
    "audit": "wap-audit",
    "publish": "wap-publish",
}
RUN_ID = "smoke_0a1b2c3d"
GRAFANA_URL = "https://g-0123.grafana-workspace.us-east-1.amazonaws.com"
TOKEN = "glsa_smoke"
OUTPUTS = {
    "bucket": BUCKET,
    "function_name": FUNCTION,
    "workflow_name": WORKFLOW,
    "database": "stockpipe_dev",
    "etl_workgroup": "etl",
    "analytics_workgroup": "analytics",
}
TODAY = date(2024, 6, 11)
SMOKE_KEY = "smoke/dt=2024-06-11/NVDA-20240611T210500000000Z.csv"


class Clock:
    """Time that moves only when the smoke sleeps (or a step takes `tick` seconds)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


class Clients:
    """moto for STS and S3; Stubbers for Lambda, Glue and Athena."""

    def __init__(self) -> None:
        self.stubbers = {}
        for service in ("lambda", "glue", "athena"):
            stubber = Stubber(boto3.client(service, region_name=REGION))
            stubber.activate()
            self.stubbers[service] = stubber
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET)

    def __call__(self, service: str) -> Any:
        if service in self.stubbers:
            return self.stubbers[service].client
        return boto3.client(service, region_name=REGION)

    def __getitem__(self, service: str) -> Stubber:
        return self.stubbers[service]

    def keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=BUCKET)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    # -- scripted answers ----------------------------------------------------------------

    def workflow(self, last_run_status: str = "COMPLETED") -> None:
        self["glue"].add_response(
            "get_workflow",
            {
                "Workflow": {
                    "Name": WORKFLOW,
                    "LastRun": {"WorkflowRunId": "wr_1", "Status": last_run_status},
                    "Graph": {"Nodes": [{"Type": "JOB", "Name": job} for job in JOBS.values()]},
                }
            },
            {"Name": WORKFLOW, "IncludeGraph": True},
        )
        if last_run_status == "RUNNING":
            return
        for step, job in JOBS.items():
            self["glue"].add_response(
                "get_job",
                {"Job": {"Name": job, "DefaultArguments": {"--step": step}}},
                {"JobName": job},
            )

    def invoke(self, payload: Any, *, lands: str | None = SMOKE_KEY, error: bool = False) -> None:
        body = json.dumps(payload).encode()
        answer = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
        if error:
            answer["FunctionError"] = "Unhandled"
        self["lambda"].add_response(
            "invoke",
            answer,
            {
                "FunctionName": FUNCTION,
                "InvocationType": "RequestResponse",
                "Payload": json.dumps({"smoke": True, "symbols": ["NVDA"]}).encode(),
            },
        )
        if lands:
            # What the deployed function does before it answers: land the smoke object.
            def land(event_name: str, **_: Any) -> None:
                if event_name.endswith(".Invoke"):
                    self.s3.put_object(Bucket=BUCKET, Key=lands, Body=b"symbol\n")

            self["lambda"].client.meta.events.register_first("before-call.*.*", land)

    def landed(self, rows: int = 100) -> None:
        self.invoke(
            {
                "ingest_date": "2024-06-11",
                "succeeded": ["NVDA"],
                "failed": {},
                "skipped": {},
                "rows": rows,
                "smoke": True,
                "objects": [f"s3://{BUCKET}/{SMOKE_KEY}"],
            }
        )

    def job_run(self, step: str, *states: str, error: str = "") -> None:
        job = JOBS[step]
        run = f"jr_{step}"
        self["glue"].add_response(
            "start_job_run",
            {"JobRunId": run},
            {"JobName": job, "Arguments": {"--run-id": RUN_ID}},
        )
        for state in states:
            job_run = {"Id": run, "JobName": job, "JobRunState": state}
            if error:
                job_run["ErrorMessage"] = error
            self["glue"].add_response(
                "get_job_run", {"JobRun": job_run}, {"JobName": job, "RunId": run}
            )

    def query(
        self,
        *states: str,
        newest: str = "2024-06-10",
        count: str = "61900",
        reason: str = "",
        scanned: int = 2_345_678,
    ) -> None:
        self["athena"].add_response(
            "start_query_execution",
            {"QueryExecutionId": "q-1"},
            {
                "QueryString": smoke_module.FRESHNESS_SQL.read_text(encoding="utf-8"),
                "QueryExecutionContext": {"Database": "stockpipe_dev"},
                "WorkGroup": "analytics",
            },
        )
        for state in states:
            status = {"State": state, **({"StateChangeReason": reason} if reason else {})}
            self["athena"].add_response(
                "get_query_execution",
                {
                    "QueryExecution": {
                        "QueryExecutionId": "q-1",
                        "Status": status,
                        "Statistics": {"DataScannedInBytes": scanned},
                    }
                },
                {"QueryExecutionId": "q-1"},
            )
        if states[-1] == "SUCCEEDED":
            header = [{"VarCharValue": "newest_trade_date"}, {"VarCharValue": "row_count"}]
            values = [{"VarCharValue": newest}, {"VarCharValue": count}]
            self["athena"].add_response(
                "get_query_results",
                {"ResultSet": {"Rows": [{"Data": header}, {"Data": values}]}},
                {"QueryExecutionId": "q-1"},
            )

    def assert_all_answered(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def clients(aws_credentials) -> Iterator[Clients]:
    with mock_aws():
        yield Clients()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def smoke_run(clients: Clients, clock: Clock, outputs: dict | None = None) -> tuple:
    out = io.StringIO()
    smoke = Smoke(
        stack="dev",
        outputs=outputs or OUTPUTS,
        clients=clients,
        timeout_seconds=600,
        poll_seconds=10,
        today=TODAY,
        sleep=clock.sleep,
        clock=clock,
        out=out,
        run_id=RUN_ID,
    )
    return smoke.run(), out.getvalue().splitlines()


def healthy_chain(clients: Clients) -> None:
    clients.workflow()
    clients.landed()
    clients.job_run("create_staging", "RUNNING", "SUCCEEDED")
    clients.job_run("drop_staging", "SUCCEEDED")
    clients.query("RUNNING", "SUCCEEDED")


def test_a_healthy_stack_passes_each_step_with_its_duration_and_leaves_nothing(clients, clock):
    clients.s3.put_object(Bucket=BUCKET, Key="smoke/dt=2024-06-01/NVDA-old.csv", Body=b"x")
    clients.s3.put_object(Bucket=BUCKET, Key="raw/dt=2024-06-10/NVDA-1.csv", Body=b"x")
    healthy_chain(clients)

    status, lines = smoke_run(clients, clock)

    assert lines == [
        "ok   credentials: account 123456789012 (0.0 s)",
        "ok   leftovers: removed 1 object(s) an earlier smoke left under smoke/ (0.0 s)",
        f"ok   workflow idle: {WORKFLOW} is idle; jobs wap-create-staging, wap-drop-staging "
        "(0.0 s)",
        f"ok   ingest: NVDA: 100 rows landed at s3://{BUCKET}/{SMOKE_KEY} (removed); the secret "
        "resolved and the API answered (0.0 s)",
        f"ok   create_staging: wap-create-staging run jr_create_staging of run id {RUN_ID} "
        "succeeded (10.0 s)",
        f"ok   drop_staging: wap-drop-staging run jr_drop_staging of run id {RUN_ID} succeeded "
        "(0.0 s)",
        "ok   query: daily_prices: 61900 rows, newest 2024-06-10 (1 days old); 2.35 MB scanned "
        "(10.0 s)",
        "smoke passed in 20.0 s",
    ]
    assert status == 0
    assert clients.keys() == ["raw/dt=2024-06-10/NVDA-1.csv"]  # raw/ untouched
    clients.assert_all_answered()


def test_the_workflow_running_stops_the_chain_before_anything_runs(clients, clock):
    clients.workflow("RUNNING")

    status, lines = smoke_run(clients, clock)

    assert status == 1
    assert lines[2:] == [
        f"FAIL workflow idle: workflow {WORKFLOW} is running (run wr_1): its staging steps and "
        "smoke's would race; run smoke again when it has ended (0.0 s)",
        "smoke failed at workflow idle",
    ]
    clients.assert_all_answered()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"smoke": True, "error": "Alpha Vantage rejected the API key from secret arn:x"},
            f"FAIL ingest: function {FUNCTION}: Alpha Vantage rejected the API key from secret "
            "arn:x (0.0 s)",
        ),
        (
            {"ingest_date": "2024-06-11", "succeeded": ["NVDA"], "rows": 100},
            f"FAIL ingest: function {FUNCTION} answered without smoke mode ({{'ingest_date': "
            "'2024-06-11', 'succeeded': ['NVDA'], 'rows': 100}): deploy this version first "
            "(0.0 s)",
        ),
    ],
    ids=["key rejected", "an older deploy"],
)
def test_a_broken_ingestion_is_named(clients, clock, answer, expected):
    clients.workflow()
    clients.invoke(answer, lands=None)

    status, lines = smoke_run(clients, clock)

    assert status == 1
    assert lines[-2:] == [expected, "smoke failed at ingest"]
    assert clients.keys() == []


def test_a_crashed_function_is_named_with_its_error(clients, clock):
    clients.workflow()
    clients.invoke({"errorMessage": "No module named 'aws_lambda_powertools'"}, error=True)

    status, lines = smoke_run(clients, clock)

    assert status == 1
    assert lines[-2] == (
        f"FAIL ingest: function {FUNCTION} failed: No module named 'aws_lambda_powertools' (0.0 s)"
    )
    assert clients.keys() == []  # what it landed before failing is removed too


def test_a_failed_create_staging_is_named_and_its_staging_dropped(clients, clock):
    clients.workflow()
    clients.landed()
    clients.job_run("create_staging", "FAILED", error="Athena query failed: ACCESS_DENIED")
    clients["glue"].add_response(
        "get_job_runs", {"JobRuns": []}, {"JobName": JOBS["create_staging"], "MaxResults": 10}
    )
    clients.job_run("drop_staging", "SUCCEEDED")

    status, lines = smoke_run(clients, clock)

    assert status == 1
    assert lines[-4:] == [
        "FAIL create_staging: wap-create-staging run jr_create_staging FAILED: Athena query "
        "failed: ACCESS_DENIED (see the job's log) (0.0 s)",
        "smoke failed at create_staging",
        f"cleanup: dropping the staging of run id {RUN_ID}",
        f"ok   cleanup drop_staging: wap-drop-staging run jr_drop_staging of run id {RUN_ID} "
        "succeeded (0.0 s)",
    ]
    clients.assert_all_answered()


def test_a_job_past_the_timeout_is_left_running_never_stopped(clients, clock):
    clients.workflow()
    clients.landed()
    clients.job_run("create_staging", *["RUNNING"] * 61)
    # Cleanup: the run is still going; it is waited for (and ends), then dropped.
    clients["glue"].add_response(
        "get_job_runs",
        {
            "JobRuns": [
                {
                    "Id": "jr_create_staging",
                    "JobRunState": "RUNNING",
                    "Arguments": {"--run-id": RUN_ID},
                }
            ]
        },
        {"JobName": JOBS["create_staging"], "MaxResults": 10},
    )
    clients["glue"].add_response(
        "get_job_run",
        {"JobRun": {"Id": "jr_create_staging", "JobRunState": "SUCCEEDED"}},
        {"JobName": JOBS["create_staging"], "RunId": "jr_create_staging"},
    )
    clients.job_run("drop_staging", "SUCCEEDED")

    status, lines = smoke_run(clients, clock)

    assert status == 1
    assert lines[4] == (
        "FAIL create_staging: wap-create-staging run jr_create_staging still running after "
        "600 s: left running (stopping it would alert); the next smoke or workflow run drops "
        "its staging (600.0 s)"
    )
    clients.assert_all_answered()  # no StopJobRun: the Stubber would refuse it


def test_an_interrupt_still_cleans_up(clients, clock):
    clients.workflow()
    clients.landed()
    clients.job_run("create_staging", "RUNNING")
    clients["glue"].add_response(
        "get_job_runs",
        {"JobRuns": [{"Id": "jr_create_staging", "JobRunState": "SUCCEEDED", "Arguments": {}}]},
        {"JobName": JOBS["create_staging"], "MaxResults": 10},
    )
    clients.job_run("drop_staging", "SUCCEEDED")

    def interrupt() -> None:
        clock.on_sleep = None
        raise KeyboardInterrupt

    clock.on_sleep = interrupt
    status, lines = smoke_run(clients, clock)

    assert status == 130
    assert lines[4:] == [
        "FAIL create_staging: interrupted (10.0 s)",
        "smoke interrupted: cleaning up",
        f"cleanup: dropping the staging of run id {RUN_ID}",
        f"ok   cleanup drop_staging: wap-drop-staging run jr_drop_staging of run id {RUN_ID} "
        "succeeded (0.0 s)",
    ]
    assert clients.keys() == []
    clients.assert_all_answered()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"newest": "2024-06-03"},
            "FAIL query: newest trade_date 2024-06-03 is 8 days old, more than "
            "stockpipe:freshnessMaxAgeDays=4 (2.35 MB scanned): see the workflow's last runs "
            "(0.0 s)",
        ),
        (
            {"newest": "", "count": "0"},
            "FAIL query: daily_prices is empty (2.35 MB scanned) (0.0 s)",
        ),
    ],
    ids=["stale", "empty"],
)
def test_stale_or_empty_published_data_fails_the_query_step(clients, clock, query, expected):
    clients.workflow()
    clients.landed()
    clients.job_run("create_staging", "SUCCEEDED")
    clients.job_run("drop_staging", "SUCCEEDED")
    clients.query("SUCCEEDED", **query)

    status, lines = smoke_run(clients, clock)

    assert status == 1
    assert lines[-2:] == [expected, "smoke failed at query"]


def test_a_new_stack_with_nothing_published_passes_the_query_step_saying_so(clients, clock):
    clients.workflow()
    clients.landed()
    clients.job_run("create_staging", "SUCCEEDED")
    clients.job_run("drop_staging", "SUCCEEDED")
    clients.query(
        "FAILED",
        reason="TABLE_NOT_FOUND: line 2:6: Table 'awsdatacatalog.stockpipe_dev."
        "daily_prices' does not exist",
    )

    status, lines = smoke_run(clients, clock)

    assert status == 0  # the deploy workflow smoke-tests a stack right after its first `up`
    (query,) = [line for line in lines if "query" in line]
    assert "daily_prices not published yet (a new stack)" in query
    assert "freshness not checked" in query


GRAFANA_OUTPUTS = {**OUTPUTS, "grafana_url": GRAFANA_URL, "grafana_token": TOKEN}


def grafana_answers(mock: responses.RequestsMock, health: dict, status: int = 200) -> None:
    auth = [responses.matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})]
    mock.get(
        f"{GRAFANA_URL}/api/datasources",
        json=[
            {"uid": "other", "type": "prometheus", "jsonData": {}},
            {
                "uid": "stockpipe-dev-grafana-athena",
                "type": "grafana-athena-datasource",
                "jsonData": {"database": "stockpipe_dev"},
            },
        ],
        match=auth,
    )
    mock.get(
        f"{GRAFANA_URL}/api/datasources/uid/stockpipe-dev-grafana-athena/health",
        json=health,
        status=status,
        match=auth,
    )


def test_a_healthy_grafana_data_source_passes(clients, clock):
    healthy_chain(clients)
    with responses.RequestsMock() as mock:
        grafana_answers(mock, {"status": "OK", "message": "Data source is working"})
        status, lines = smoke_run(clients, clock, GRAFANA_OUTPUTS)

    assert status == 0
    assert lines[-2] == (
        "ok   grafana: data source stockpipe-dev-grafana-athena: Data source is working (0.0 s)"
    )


def test_an_unhealthy_grafana_data_source_fails_with_its_message(clients, clock):
    healthy_chain(clients)
    with responses.RequestsMock() as mock:
        grafana_answers(mock, {"status": "ERROR", "message": "AccessDenied: athena"}, status=400)
        status, lines = smoke_run(clients, clock, GRAFANA_OUTPUTS)

    assert status == 1
    assert lines[-2:] == [
        "FAIL grafana: data source stockpipe-dev-grafana-athena is unhealthy: AccessDenied: "
        "athena (0.0 s)",
        "smoke failed at grafana",
    ]


def test_a_grafana_stack_without_the_token_output_says_so(clients, clock):
    healthy_chain(clients)

    status, lines = smoke_run(clients, clock, {**OUTPUTS, "grafana_url": GRAFANA_URL})

    assert status == 1
    assert lines[-2].startswith("FAIL grafana: the stack exports no grafana_token: ")


# -- the command line: outputs and credentials ---------------------------------------------


def write_outputs(tmp_path: Path, outputs: Any) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return path


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ({}, "FAIL outputs: stack dev has no outputs yet: run `pulumi up --stack dev`"),
        (
            {"bucket": BUCKET},
            "FAIL outputs: stack dev's outputs lack function_name, workflow_name, database, "
            "analytics_workgroup: `pulumi up` this version",
        ),
        (None, "FAIL outputs: --outputs {path}: No such file or directory"),
    ],
    ids=["no outputs yet", "an older stack", "no such file"],
)
def test_unusable_outputs_fail_in_one_line(tmp_path, capsys, outputs, expected):
    path = write_outputs(tmp_path, outputs) if outputs is not None else tmp_path / "none.json"

    status = main(["dev", "--outputs", str(path)])

    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert lines[0].startswith(expected.format(path=path) + " (")
    assert lines[1:] == ["smoke failed at outputs"]


def test_an_unreadable_stack_file_fails_in_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: [us-east-1\n")
    monkeypatch.setattr(smoke_module, "PROJECT_ROOT", tmp_path)

    status = main(["dev", "--outputs", str(write_outputs(tmp_path, OUTPUTS))])

    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert lines[1].startswith("FAIL stack file: Pulumi.dev.yaml line 3")
    assert "not valid YAML" in lines[1]
    assert lines[2:] == ["smoke failed at stack file"]


def test_without_the_pulumi_cli_it_asks_for_an_outputs_file(capsys, monkeypatch):
    monkeypatch.setattr(smoke_module.shutil, "which", lambda name: None)

    assert main(["dev"]) == 1

    assert capsys.readouterr().out.startswith(
        "FAIL outputs: the pulumi CLI is not installed: install it, or pass --outputs FILE "
        "written by `pulumi stack output --json --show-secrets --stack dev`"
    )


def test_missing_credentials_fail_in_one_line(tmp_path, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(smoke_module, "_interrupt_on_sigterm", lambda: None)

    status = main(["dev", "--outputs", str(write_outputs(tmp_path, OUTPUTS))])

    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert lines[1].startswith("FAIL credentials: no AWS credentials found: set AWS_PROFILE")
    assert lines[2:] == ["smoke failed at credentials"]


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])

    assert exit_.value.code == 0
    assert "--outputs" in capsys.readouterr().out


def test_a_grafana_that_refuses_the_token_is_named(clients, clock):
    healthy_chain(clients)
    with responses.RequestsMock() as mock:
        mock.get(f"{GRAFANA_URL}/api/datasources", json={"message": "expired"}, status=401)
        status, lines = smoke_run(clients, clock, GRAFANA_OUTPUTS)

    assert status == 1
    assert lines[-2] == "FAIL grafana: Grafana refused the stack's token (HTTP 401) (0.0 s)"
