"""`make smoke STACK=dev`: a deployed stack's chain, link by link, touching no production data.

    python -m components.smoke dev                       # outputs from the pulumi CLI
    python -m components.smoke dev --outputs out.json    # `pulumi stack output --json ...`

Steps, in order, each printed as one line with its duration; the first that fails stops the
chain and names itself (exit 1):

1. outputs: the stack's outputs (`pulumi stack output --json --show-secrets`, or a file).
2. credentials: the AWS credentials answer.
3. leftovers: objects an earlier, interrupted smoke left under `smoke/` are removed.
4. workflow idle: the write-audit-publish workflow is not running (the staging steps below
   would race it); its jobs are found from the workflow's graph.
5. ingest: the ingestion function invoked synchronously in smoke mode for one symbol
   (a synchronous call fires no on-success destination, so the workflow does not start):
   the secret resolves, the API answers (one call of the day's budget), the object lands
   under `smoke/` (never `raw/`) and is removed.
6. create_staging, 7. drop_staging: the Glue jobs run once with a `smoke_` run id, waited
   for with a timeout that cancels nothing (a stopped run would alert); drop_staging
   removes the run's staging (and any earlier run's left behind).
8. query: one analytics-workgroup query on daily_prices (newest trade_date, row count),
   with the bytes Athena scanned, and a freshness check.
9. grafana: the Athena data source's health endpoint, with the token the stack exports.

Interrupted (Ctrl-C, SIGTERM), it still cleans up: the smoke object is removed, and a
started create_staging is waited for and its staging dropped.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from components.config import DEFAULT_FRESHNESS_MAX_AGE_DAYS, FRESHNESS_MAX_AGE_DAYS, NAMESPACE
from components.plan import PROJECT_ROOT, StackFileError, stack_file_config
from components.storage import SMOKE_PREFIX

ClientFactory = Callable[[str], Any]

REQUIRED_OUTPUTS = ("bucket", "function_name", "workflow_name", "database", "analytics_workgroup")
DEFAULT_SYMBOL = "NVDA"
DEFAULT_TIMEOUT_SECONDS = 900.0
POLL_SECONDS = 10.0
RUN_ID_PREFIX = "smoke_"
STEPS = ("create_staging", "drop_staging")
# https://docs.aws.amazon.com/glue/latest/dg/job-run-statuses.html
JOB_SUCCEEDED = "SUCCEEDED"
JOB_ENDED = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR", "EXPIRED")
QUERY_ENDED = ("SUCCEEDED", "FAILED", "CANCELLED")
FRESHNESS_SQL = Path(__file__).resolve().parent / "sql" / "smoke_freshness.sql"
ATHENA_PLUGIN = "grafana-athena-datasource"
HTTP_TIMEOUT_SECONDS = 30


class StepFailed(Exception):
    """A link of the chain is broken; the message says what and what to do."""


@dataclass
class Smoke:
    """One smoke run against a deployed stack; `run` prints each step's line."""

    stack: str
    outputs: dict[str, Any]
    clients: ClientFactory
    symbol: str = DEFAULT_SYMBOL
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    poll_seconds: float = POLL_SECONDS
    freshness_max_age_days: int = DEFAULT_FRESHNESS_MAX_AGE_DAYS
    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    out: Any = None
    run_id: str = field(default_factory=lambda: f"{RUN_ID_PREFIX}{secrets.token_hex(4)}")
    jobs: dict[str, str] = field(default_factory=dict)
    # What cleanup has to undo: smoke objects (once the function was invoked), a
    # create_staging run not yet dropped.
    invoked: bool = False
    staging_run: str | None = None

    def steps(self) -> Iterator[tuple[str, Callable[[], str]]]:
        yield "credentials", self.credentials
        yield "leftovers", self.leftovers
        yield "workflow idle", self.workflow_idle
        yield "ingest", self.ingest
        yield "create_staging", self.create_staging
        yield "drop_staging", self.drop_staging
        yield "query", self.query
        if self.outputs.get("grafana_url"):
            yield "grafana", self.grafana

    def run(self) -> int:
        started = self.clock()
        try:
            for name, step in self.steps():
                if not self._step(name, step):
                    self._print(f"smoke failed at {name}")
                    return 1
        except KeyboardInterrupt:
            self._print("smoke interrupted: cleaning up")
            return 130
        finally:
            self.cleanup()
        self._print(f"smoke passed in {self.clock() - started:.1f} s")
        return 0

    def _step(self, name: str, step: Callable[[], str]) -> bool:
        began = self.clock()
        try:
            detail, ok = step(), True
        except StepFailed as error:
            detail, ok = str(error), False
        except ClientError as error:
            problem = error.response.get("Error", {})
            detail = (
                f"{error.operation_name} failed: {problem.get('Code')}: {problem.get('Message')}"
            )
            ok = False
        except BotoCoreError as error:
            detail, ok = f"AWS could not be reached: {error}", False
        except KeyboardInterrupt:
            self._print(f"FAIL {name}: interrupted ({self.clock() - began:.1f} s)")
            raise
        status = "ok  " if ok else "FAIL"
        self._print(f"{status} {name}: {detail} ({self.clock() - began:.1f} s)")
        return ok

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    # -- the steps ------------------------------------------------------------------------

    def credentials(self) -> str:
        try:
            identity = self.clients("sts").get_caller_identity()
        except NoCredentialsError:
            raise StepFailed(
                "no AWS credentials found: set AWS_PROFILE (and `aws sso login`), or "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from None
        return f"account {identity['Account']}"

    def leftovers(self) -> str:
        removed = self._remove_smoke_objects()
        if not removed:
            return f"nothing under {SMOKE_PREFIX}"
        return f"removed {removed} object(s) an earlier smoke left under {SMOKE_PREFIX}"

    def workflow_idle(self) -> str:
        glue = self.clients("glue")
        name = self.outputs["workflow_name"]
        workflow = glue.get_workflow(Name=name, IncludeGraph=True)["Workflow"]
        last = workflow.get("LastRun") or {}
        if last.get("Status") in ("RUNNING", "STOPPING"):
            raise StepFailed(
                f"workflow {name} is running (run {last.get('WorkflowRunId')}): its staging "
                "steps and smoke's would race; run smoke again when it has ended"
            )
        for node in (workflow.get("Graph") or {}).get("Nodes", []):
            if node.get("Type") == "JOB":
                job = glue.get_job(JobName=node["Name"])["Job"]
                step = (job.get("DefaultArguments") or {}).get("--step")
                if step in STEPS:
                    self.jobs[step] = job["Name"]
        missing = [step for step in STEPS if step not in self.jobs]
        if missing:
            raise StepFailed(f"workflow {name} has no job for {', '.join(missing)}")
        return f"{name} is idle; jobs {', '.join(self.jobs[step] for step in STEPS)}"

    def ingest(self) -> str:
        function = self.outputs["function_name"]
        self.invoked = True
        answer = self.clients("lambda").invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps({"smoke": True, "symbols": [self.symbol]}).encode(),
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            message = payload.get("errorMessage") if isinstance(payload, dict) else payload
            raise StepFailed(f"function {function} failed: {message}")
        if not isinstance(payload, dict) or payload.get("smoke") is not True:
            raise StepFailed(
                f"function {function} answered without smoke mode ({payload!r}): deploy this "
                "version first"
            )
        if payload.get("error"):
            raise StepFailed(f"function {function}: {payload['error']}")
        landed = list(payload.get("objects") or [])
        bucket = self.outputs["bucket"]
        expected = f"s3://{bucket}/{SMOKE_PREFIX}"
        if not landed or not all(each.startswith(expected) for each in landed):
            raise StepFailed(f"function {function} landed {landed!r}, not under {expected}")
        s3 = self.clients("s3")
        for location in landed:
            s3.head_object(Bucket=bucket, Key=location[len(f"s3://{bucket}/") :])
        self._remove_smoke_objects()
        self.invoked = False
        return (
            f"{self.symbol}: {payload.get('rows', 0)} rows landed at {landed[0]} "
            "(removed); the secret resolved and the API answered"
        )

    def create_staging(self) -> str:
        self.staging_run = self.run_id
        return self._job_run("create_staging")

    def drop_staging(self) -> str:
        detail = self._job_run("drop_staging")
        self.staging_run = None
        return detail

    def query(self) -> str:
        athena = self.clients("athena")
        execution_id = athena.start_query_execution(
            QueryString=FRESHNESS_SQL.read_text(encoding="utf-8"),
            QueryExecutionContext={"Database": self.outputs["database"]},
            WorkGroup=self.outputs["analytics_workgroup"],
        )["QueryExecutionId"]
        execution = self._wait(
            lambda: athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"],
            lambda e: e["Status"]["State"] in QUERY_ENDED,
        )
        if execution is None:
            raise StepFailed(f"query {execution_id} still running after {self.timeout_seconds:g} s")
        scanned = _megabytes((execution.get("Statistics") or {}).get("DataScannedInBytes", 0))
        status = execution["Status"]
        if status["State"] != "SUCCEEDED":
            reason = status.get("StateChangeReason", "")
            if "TABLE_NOT_FOUND" in reason or "does not exist" in reason:
                # A new stack right after its first `up` (the deploy workflow smoke-tests
                # it): Athena, the workgroup and the database answered, and nothing has
                # published yet, which the freshness alarm covers from the first schedule on.
                return (
                    f"daily_prices not published yet (a new stack): the workgroup and the "
                    f"database answer, freshness not checked; {scanned} scanned"
                )
            raise StepFailed(f"query {execution_id} {status['State']}: {reason}")
        rows = athena.get_query_results(QueryExecutionId=execution_id)["ResultSet"]["Rows"]
        newest, count = (cell.get("VarCharValue") for cell in rows[1]["Data"])
        if not count or int(count) == 0 or not newest:
            raise StepFailed(f"daily_prices is empty ({scanned} scanned)")
        age = (self.today - date.fromisoformat(newest[:10])).days
        if age > self.freshness_max_age_days:
            raise StepFailed(
                f"newest trade_date {newest} is {age} days old, more than "
                f"{NAMESPACE}:{FRESHNESS_MAX_AGE_DAYS}={self.freshness_max_age_days} "
                f"({scanned} scanned): see the workflow's last runs"
            )
        return f"daily_prices: {count} rows, newest {newest} ({age} days old); {scanned} scanned"

    def grafana(self) -> str:
        url = str(self.outputs["grafana_url"]).rstrip("/")
        token = self.outputs.get("grafana_token")
        if not token:
            raise StepFailed(
                "the stack exports no grafana_token: `pulumi up` this version, and read the "
                "outputs with --show-secrets"
            )
        headers = {"Authorization": f"Bearer {token}"}
        try:
            listing = requests.get(
                f"{url}/api/datasources", headers=headers, timeout=HTTP_TIMEOUT_SECONDS
            )
            if listing.status_code in (401, 403):
                raise StepFailed(f"Grafana refused the stack's token (HTTP {listing.status_code})")
            if listing.status_code != 200:
                raise StepFailed(f"{url}/api/datasources answered HTTP {listing.status_code}")
            sources = [
                each
                for each in listing.json()
                if each.get("type") == ATHENA_PLUGIN
                and (each.get("jsonData") or {}).get("database") == self.outputs["database"]
            ]
            if not sources:
                raise StepFailed(f"{url} has no Athena data source for {self.outputs['database']}")
            uid = sources[0]["uid"]
            health = requests.get(
                f"{url}/api/datasources/uid/{uid}/health",
                headers=headers,
                timeout=HTTP_TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            raise StepFailed(f"{url} does not answer: {type(error).__name__}") from None
        try:
            body = health.json()
        except ValueError:
            body = {}
        if health.status_code != 200 or body.get("status") != "OK":
            raise StepFailed(f"data source {uid} is unhealthy: {body.get('message', health.text)}")
        return f"data source {uid}: {body.get('message', 'OK')}"

    # -- helpers --------------------------------------------------------------------------

    def _job_run(self, step: str) -> str:
        glue = self.clients("glue")
        job = self.jobs[step]
        run = glue.start_job_run(JobName=job, Arguments={"--run-id": self.run_id})["JobRunId"]
        ended = self._wait(
            lambda: glue.get_job_run(JobName=job, RunId=run)["JobRun"],
            lambda r: r["JobRunState"] in JOB_ENDED,
        )
        if ended is None:
            raise StepFailed(
                f"{job} run {run} still running after {self.timeout_seconds:g} s: left running "
                "(stopping it would alert); the next smoke or workflow run drops its staging"
            )
        if ended["JobRunState"] != JOB_SUCCEEDED:
            raise StepFailed(
                f"{job} run {run} {ended['JobRunState']}: {ended.get('ErrorMessage', '')} "
                "(see the job's log)"
            )
        return f"{job} run {run} of run id {self.run_id} succeeded"

    def _wait(self, read: Callable[[], dict], done: Callable[[dict], bool]) -> dict | None:
        """Poll until `done`, or None after the timeout; nothing is cancelled."""
        deadline = self.clock() + self.timeout_seconds
        while True:
            state = read()
            if done(state):
                return state
            if self.clock() >= deadline:
                return None
            self.sleep(self.poll_seconds)

    def _remove_smoke_objects(self) -> int:
        s3 = self.clients("s3")
        bucket = self.outputs["bucket"]
        removed = 0
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=SMOKE_PREFIX
        ):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                removed += len(keys)
        return removed

    def cleanup(self) -> None:
        """Undo what an interrupted or failed run left: smoke objects, its staging."""
        try:
            if self.invoked:
                self._remove_smoke_objects()
                self.invoked = False
            if self.staging_run is not None and "drop_staging" in self.jobs:
                self._print(f"cleanup: dropping the staging of run id {self.staging_run}")
                self._wait_for_running("create_staging")
                self._step("cleanup drop_staging", self.drop_staging)
        except (ClientError, BotoCoreError) as error:
            self._print(f"cleanup failed: {error}; the next smoke removes what is left")

    def _wait_for_running(self, step: str) -> None:
        glue = self.clients("glue")
        job = self.jobs[step]
        runs = glue.get_job_runs(JobName=job, MaxResults=10).get("JobRuns", [])
        for run in runs:
            if (run.get("Arguments") or {}).get("--run-id") == self.run_id and run[
                "JobRunState"
            ] not in JOB_ENDED:
                self._wait(
                    lambda run=run: glue.get_job_run(JobName=job, RunId=run["Id"])["JobRun"],
                    lambda r: r["JobRunState"] in JOB_ENDED,
                )


def _megabytes(count: int) -> str:
    return f"{count / 1_000_000:.2f} MB"


class OutputsError(Exception):
    """The stack's outputs cannot be read; the message says which step and what to do."""


def read_outputs(stack: str, outputs_file: Path | None) -> dict[str, Any]:
    """The stack's outputs: the file, else `pulumi stack output --json --show-secrets`."""
    if outputs_file is not None:
        try:
            outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
        except OSError as error:
            raise OutputsError(f"--outputs {outputs_file}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise OutputsError(f"--outputs {outputs_file} is not JSON: {error}") from None
    else:
        cli = shutil.which("pulumi")
        if cli is None:
            raise OutputsError(
                "the pulumi CLI is not installed: install it, or pass --outputs FILE written "
                f"by `pulumi stack output --json --show-secrets --stack {stack}`"
            )
        completed = subprocess.run(  # noqa: S603 (the pulumi CLI, fixed arguments)
            [cli, "stack", "output", "--json", "--show-secrets", "--stack", stack],
            capture_output=True,
            text=True,
            check=False,
            cwd=PROJECT_ROOT,
        )
        if completed.returncode != 0:
            reason = (completed.stderr.strip().splitlines() or ["no message"])[-1]
            raise OutputsError(f"pulumi stack output --stack {stack} failed: {reason}")
        outputs = json.loads(completed.stdout or "{}")
    if not isinstance(outputs, dict) or not outputs:
        raise OutputsError(f"stack {stack} has no outputs yet: run `pulumi up --stack {stack}`")
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise OutputsError(
            f"stack {stack}'s outputs lack {', '.join(missing)}: `pulumi up` this version"
        )
    return outputs


def stack_file_settings(stack: str, project_dir: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Pulumi.<stack>.yaml's `config` (empty when there is no such file, as in CI's checkout
    of a stack configured elsewhere); StackFileError, one line, when it is unreadable."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return {}
    return stack_file_config(path)


def freshness_max_age(settings: dict[str, Any]) -> int:
    """The stack's freshnessMaxAgeDays (the freshness alarm's), else the default."""
    value = settings.get(f"{NAMESPACE}:{FRESHNESS_MAX_AGE_DAYS}")
    return int(value) if value is not None else DEFAULT_FRESHNESS_MAX_AGE_DAYS


def _interrupt_on_sigterm() -> None:
    """A CI runner cancels with SIGTERM: clean up as for Ctrl-C."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(
    argv: list[str] | None = None, clients: ClientFactory | None = None, out: Any = None
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.smoke",
        description=(
            "Check a deployed stack end to end without touching production data: invoke "
            "ingestion in smoke mode, run create_staging and drop_staging with a smoke_ run id, "
            "query daily_prices, check Grafana's data source. One line per step with its "
            "duration; exit 1 naming the first broken link."
        ),
    )
    parser.add_argument("stack", help="the deployed stack, e.g. dev")
    parser.add_argument(
        "--outputs",
        type=Path,
        help="the stack's outputs as `pulumi stack output --json --show-secrets` writes them "
        "(default: ask the pulumi CLI)",
    )
    parser.add_argument("--symbol", default=DEFAULT_SYMBOL, help="the one symbol to ingest")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds to wait for each job run and the query (nothing is cancelled after)",
    )
    args = parser.parse_args(argv)
    out = out or sys.stdout
    began = time.monotonic()
    try:
        outputs = read_outputs(args.stack, args.outputs)
    except OutputsError as error:
        print(f"FAIL outputs: {error} ({time.monotonic() - began:.1f} s)", file=out)
        print("smoke failed at outputs", file=out)
        return 1
    print(f"ok   outputs: stack {args.stack} ({time.monotonic() - began:.1f} s)", file=out)
    try:
        settings = stack_file_settings(args.stack, PROJECT_ROOT)
    except StackFileError as error:
        print(f"FAIL stack file: {error}", file=out)
        print("smoke failed at stack file", file=out)
        return 1
    if clients is None:
        _interrupt_on_sigterm()
        # The stack's region where the file names it, else the environment's.
        clients = boto3.session.Session(region_name=settings.get("aws:region")).client
    smoke = Smoke(
        stack=args.stack,
        outputs=outputs,
        clients=clients,
        symbol=args.symbol.strip().upper(),
        timeout_seconds=args.timeout,
        freshness_max_age_days=freshness_max_age(settings),
        out=out,
    )
    return smoke.run()


if __name__ == "__main__":
    sys.exit(main())
