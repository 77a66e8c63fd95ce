"""The Glue Python-shell job script of write-audit-publish; `--step` picks the step.

The four Glue jobs of the workflow run this one script with different `--step` arguments.
The run id comes from the workflow run (run property `run_id` if set, else the
WORKFLOW_RUN_ID Glue passes), from `--run-id`, or is generated for a run started by hand.
Exit status 1 with one message on stderr when the step fails; for `audit`, the message lists
the failed error-level checks (the workflow's conditional trigger then never starts publish).

Production path: Python 3.9 and boto3 only (the DuckDB engine is imported only when asked
for with `--engine duckdb`).

By hand, on a local lake:
    python -m runtime.wap.job --step create_staging --engine duckdb --lake-dir .stockpipe/lake
    python -m runtime.wap.job --step audit --engine duckdb --lake-dir ... --run-id <printed id>
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from runtime.wap import metrics, scan_metrics, steps, store
from runtime.wap.config import ConfigError, WapConfig, new_run_id, normalize_run_id
from runtime.wap.engines import ENGINE_KINDS, create_engine
from runtime.wap.engines.base import Engine, EngineError

logger = logging.getLogger("runtime.wap.job")

STEPS = ("drop_staging", "create_staging", "audit", "publish")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A workflow run property that, when set (e.g. by whoever starts the run), names the run.
RUN_ID_PROPERTY = "run_id"
_STEPS_THAT_START_A_RUN = ("drop_staging", "create_staging")

ClientFactory = Callable[[str], Any]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.wap.job",
        description="Run one write-audit-publish step.",
        allow_abbrev=False,
    )
    parser.add_argument("--step", required=True, choices=STEPS)
    parser.add_argument("--engine", default="athena", choices=ENGINE_KINDS)
    parser.add_argument("--database", default="", help="Glue database (athena)")
    parser.add_argument("--workgroup", default="", help="Athena workgroup (athena)")
    parser.add_argument("--data-bucket", default="", help="data lake bucket (athena)")
    parser.add_argument("--region", default="", help="AWS region (default: the environment's)")
    parser.add_argument("--lake-dir", default="", help="local lake directory (duckdb)")
    parser.add_argument("--raw-prefix", default="raw/", help="raw zone prefix (duckdb)")
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=60.0,
        help="seconds to wait for another writer of the local lake (duckdb)",
    )
    parser.add_argument("--staging-prefix", default="staging/")
    parser.add_argument("--prod-prefix", default="prod/")
    parser.add_argument("--symbols", default="", help="expected symbols, comma-separated")
    parser.add_argument("--max-daily-move", default="", help="warning threshold, e.g. 0.3")
    parser.add_argument("--keep-versions", default="", help="publish versions kept")
    parser.add_argument("--metrics-namespace", default=metrics.DEFAULT_NAMESPACE)
    parser.add_argument(
        "--metrics",
        choices=("cloudwatch", "log"),
        default=None,
        help="where publish sends freshness metrics (default: cloudwatch on athena, else log)",
    )
    parser.add_argument("--run-id", default="")
    parser.add_argument("--as-of", default="", help="run date YYYY-MM-DD (default: today UTC)")
    # Passed by Glue when the job runs inside a workflow.
    parser.add_argument("--WORKFLOW_NAME", default="")
    parser.add_argument("--WORKFLOW_RUN_ID", default="")
    args, _glue_arguments = parser.parse_known_args(argv)
    return args


def main(
    argv: Sequence[str] | None = None,
    client_factory: ClientFactory | None = None,
    now: datetime | None = None,
) -> int:
    """Run the step the arguments name; 0 on success, 1 with a message on stderr otherwise."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            stream=sys.stdout,
        )
    args = parse_args(argv)
    moment = now or datetime.now(timezone.utc)
    clients = client_factory or _boto3_clients(args.region)
    engine: Engine | None = None
    try:
        config = WapConfig.from_values(
            symbols=args.symbols,
            max_daily_move=args.max_daily_move,
            keep_versions=args.keep_versions,
            staging_prefix=args.staging_prefix,
            prod_prefix=args.prod_prefix,
        )
        as_of = _parse_date("--as-of", args.as_of) if args.as_of else moment.date()
        run_id = resolve_run_id(args, clients, moment)
        logger.info("step %s of run %s on %s", args.step, run_id, args.engine)
        engine = build_engine(args, clients)
        engine.check_ready()
        with _local_writer_lock(args):
            status = run_step(args, engine, config, run_id, as_of, moment, clients)
        emit_scans(args, engine.query_scans, moment, clients)
        return status
    except (ConfigError, EngineError, steps.WapError, store.StoreError) as error:
        print(f"stockpipe wap {args.step} failed: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        # The job's own AWS calls (workflow run properties, metrics); the engine wraps its own.
        print(f"stockpipe wap {args.step} failed: an AWS call failed: {error}", file=sys.stderr)
        return 1
    finally:
        if engine is not None:
            engine.close()


def resolve_run_id(args: argparse.Namespace, clients: ClientFactory, now: datetime) -> str:
    """--run-id, else the Glue workflow run's id, else a new one for the first steps."""
    if args.run_id:
        return normalize_run_id(args.run_id)
    if args.WORKFLOW_NAME and args.WORKFLOW_RUN_ID:
        response = clients("glue").get_workflow_run_properties(
            Name=args.WORKFLOW_NAME, RunId=args.WORKFLOW_RUN_ID
        )
        properties = response.get("RunProperties") or {}
        return normalize_run_id(properties.get(RUN_ID_PROPERTY) or args.WORKFLOW_RUN_ID)
    if args.step in _STEPS_THAT_START_A_RUN:
        run_id = new_run_id(now)
        print(f"run id: {run_id} (pass --run-id {run_id} to the next steps)")
        return run_id
    raise ConfigError(
        f"--run-id is required for {args.step} outside a Glue workflow "
        "(use the run id create_staging printed)"
    )


def build_engine(args: argparse.Namespace, clients: ClientFactory) -> Engine:
    if args.engine == "duckdb":
        if not args.lake_dir:
            raise ConfigError("--lake-dir is required with --engine duckdb")
        if not os.path.isdir(args.lake_dir):
            # A typo must not start a new, empty lake beside the real one.
            raise ConfigError(
                f"--lake-dir {args.lake_dir}: no such directory (a local lake is made by "
                "`python -m runtime.local run`, or by ingestion's local sink)"
            )
        return create_engine("duckdb", lake_dir=args.lake_dir, raw_prefix=args.raw_prefix)
    missing = [
        flag
        for flag, value in (
            ("--database", args.database),
            ("--workgroup", args.workgroup),
            ("--data-bucket", args.data_bucket),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"{', '.join(missing)} required with --engine athena")
    return create_engine(
        "athena",
        database=args.database,
        workgroup=args.workgroup,
        data_bucket=args.data_bucket,
        client_factory=clients,
    )


def _local_writer_lock(args: argparse.Namespace) -> contextlib.AbstractContextManager[None]:
    """A local lake takes one writer at a time (an OS file lock, local_catalog); on Glue the
    workflow runs one step at a time, so nothing is held."""
    if args.engine != "duckdb":
        return contextlib.nullcontext()
    from runtime.wap.engines import local_catalog

    return local_catalog.writer_lock(
        Path(args.lake_dir),
        f"wap.job --step {args.step}",
        wait_seconds=args.lock_wait,
        keep_generation=True,
    )


def run_step(
    args: argparse.Namespace,
    engine: Engine,
    config: WapConfig,
    run_id: str,
    as_of: date,
    now: datetime,
    clients: ClientFactory,
) -> int:
    if args.step == "drop_staging":
        steps.drop_staging(engine, config, run_id)
        return 0
    if args.step == "create_staging":
        steps.create_staging(engine, config, run_id, today=now.date())
        return 0
    if args.step == "audit":
        result = steps.audit(engine, config, run_id, as_of=as_of, checked_at=now)
        if not result.ok:
            print(result.failure_message(), file=sys.stderr)
            return 1
        return 0
    published = steps.publish(engine, config, run_id, now=now)
    emit_freshness(args, published.latest_trade_dates, as_of, now, clients)
    return 0


def emit_freshness(
    args: argparse.Namespace,
    latest: dict,
    as_of: date,
    now: datetime,
    clients: ClientFactory,
) -> list[str]:
    """Send (cloudwatch) or print (log) the freshness metrics; returns the EMF lines."""
    lines = metrics.emf_lines(args.metrics_namespace, latest, as_of, now)
    _send(args, metrics.metric_data(latest, as_of), lines, clients)
    return lines


def emit_scans(
    args: argparse.Namespace, scans: list, now: datetime, clients: ClientFactory
) -> list[str]:
    """Log the bytes the step's queries read, and send (cloudwatch) or print (log) them as
    metrics; returns the EMF line."""
    logger.info(scan_metrics.describe(args.step, scans))
    lines = [scan_metrics.emf_line(args.metrics_namespace, args.step, scans, now)]
    _send(args, scan_metrics.metric_data(args.step, scans), lines, clients)
    return lines


def _send(
    args: argparse.Namespace, data: list[dict], lines: list[str], clients: ClientFactory
) -> None:
    sink = args.metrics or ("cloudwatch" if args.engine == "athena" else "log")
    if sink == "cloudwatch":
        metrics.put_metrics(clients("cloudwatch"), args.metrics_namespace, data)
    else:
        for line in lines:
            print(line)


def _boto3_clients(region: str) -> ClientFactory:
    def client(service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=region or None)

    return client


def _parse_date(flag: str, text: str) -> date:
    # fromisoformat alone would also take 20261201 on newer Pythons (not on Glue's 3.9).
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag} must be a date YYYY-MM-DD, got {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())
