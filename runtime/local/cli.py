"""`python -m runtime.local`: run, query and report on a local lake.

Exit status: 0 success; 1 when the audit blocked publication or the work failed (a corrupt
file, a failed query, no symbol landed); 2 for usage and configuration errors. Every
failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import sqlglot
from sqlglot import exp

from runtime.ingest.errors import IngestError
from runtime.ingest.settings import DEFAULT_SYMBOLS, SERVICE_NAME
from runtime.local.console import Console
from runtime.local.formatting import format_rows
from runtime.local.options import (
    UsageError,
    build_parser,
    parse_as_of,
    parse_symbols,
    parse_window,
    writable_dir,
)
from runtime.local.pipeline import (
    RunRequest,
    default_source,
    holds_sample_data,
    lake_dir,
    run_pipeline,
)
from runtime.local.report import ReportError, write_report
from runtime.wap.engines.base import EngineError
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from runtime.wap.steps import WapError

REPORT_FILE = "report.html"
MAX_SAMPLE_YEARS = 50


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    console = Console()
    _quiet_runtime_logs()
    try:
        args = build_parser().parse_args(argv)
        console.quiet = args.quiet
        command = {"run": _run, "query": _query, "report": _report}[args.command]
        return command(args, console, environ)
    except UsageError as error:
        console.error(str(error))
        return 2
    except (EngineError, WapError, ReportError, IngestError) as error:
        console.error(str(error))
        return 1
    except KeyboardInterrupt:
        console.error("interrupted; what was already published is unchanged")
        return 130


def _run(args, console: Console, environ: Mapping[str, str]) -> int:
    symbols = parse_symbols(args.symbols) if args.symbols is not None else DEFAULT_SYMBOLS
    today = date.today()
    as_of = parse_as_of(args.as_of, today) if args.as_of else today
    window = parse_window(args)
    data_dir = writable_dir(args.data_dir)
    request = RunRequest(
        data_dir=data_dir,
        symbols=symbols,
        source=args.source or default_source(environ),
        outputsize=args.outputsize,
        sample_years=_sample_years(args.sample_years),
        as_of=as_of,
        today=today,
        report_path=(
            _report_path(args.report, "--report") if args.report else data_dir / REPORT_FILE
        ),
        report_window=window,
    )
    return run_pipeline(request, console, environ)


def _query(args, console: Console, environ: Mapping[str, str]) -> int:
    _require_select(args.sql)
    engine = DuckDBEngine(lake_dir(_existing_data_dir(args.data_dir)))
    try:
        result = engine.fetchall(args.sql, name="query")
    finally:
        engine.close()
    console.summary(format_rows(result.columns, result.rows, args.format))
    return 0


def _report(args, console: Console, environ: Mapping[str, str]) -> int:
    window = parse_window(args)
    data_dir = _existing_data_dir(args.data_dir)
    out = _report_path(args.out, "--out") if args.out else data_dir / REPORT_FILE
    failures = []
    engine = DuckDBEngine(lake_dir(data_dir))
    try:
        with console.step("report"):
            write_report(
                engine,
                out,
                time_from=window.time_from,
                time_to=window.time_to,
                whole_history=window.whole_history,
                sample_data=holds_sample_data(lake_dir(data_dir)),
                on_panel_error=failures.append,
            )
    finally:
        engine.close()
    for failure in failures:
        console.error(f"report panel {failure.title!r} failed: {failure.error}")
    console.summary(f"report: {out}")
    return 1 if failures else 0


def _report_path(text: str, flag: str) -> Path:
    """Checked before any work, so a bad path never fails a run after it published."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise UsageError(f"{flag} {text} is a directory; give a file name such as report.html")
    writable_dir(str(path.parent), f"{flag} {text}: its directory")
    return path


def _sample_years(years: float) -> float:
    if not 0 < years <= MAX_SAMPLE_YEARS:
        raise UsageError(f"--sample-years {years:g} must be above 0 and at most {MAX_SAMPLE_YEARS}")
    return years


def _require_select(sql: str) -> None:
    """`query` reads: one SELECT (or WITH ... SELECT), nothing that could write to the lake."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except sqlglot.errors.SqlglotError as error:
        raise UsageError(f"query: not valid Athena SQL: {error}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(type(s).__name__.upper() for s in statements) or "nothing"
        raise UsageError(f"query runs one SELECT statement; got {kinds}")


def _existing_data_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not lake_dir(path).is_dir():
        raise UsageError(
            f"--data-dir {text}: no local lake there yet; run `python -m runtime.local run` first"
        )
    return path


def _quiet_runtime_logs() -> None:
    """The CLI prints its own progress; the runtime's structured logs are for CloudWatch."""
    logging.getLogger(SERVICE_NAME).setLevel(logging.CRITICAL)
    logging.getLogger("runtime").addHandler(logging.NullHandler())
