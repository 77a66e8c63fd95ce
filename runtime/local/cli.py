"""`python -m runtime.local`: run, query and report on a local lake, and restore its catalog.

Exit status: 0 success; 1 when the audit blocked publication or the work failed (a corrupt
file or catalog, a failed query or report panel, no symbol landed, a full or read-only
disk); 2 for usage and configuration errors, and when another run holds the lake. Every
failure is one line on stderr, never a traceback.

Writers (`run`, `rebuild`, `catalog restore`) hold the lake's writer lock for their whole work
(runtime/wap/engines/local_catalog.py); `query` and `report` read without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from runtime.ingest.errors import IngestError
from runtime.ingest.settings import DEFAULT_SYMBOLS, SERVICE_NAME
from runtime.local.console import Console
from runtime.local.damage import name_damaged_file
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
from runtime.local.rebuild import rebuild
from runtime.local.report import ReportError, is_report, write_report
from runtime.wap.config import (
    DQ_TABLE,
    PROD_TABLE,
    RAW_FIREHOSE_TABLE,
    RAW_TABLE,
    REPLACED_TABLE,
    SUMMARY_TABLE,
)
from runtime.wap.engines import local_catalog
from runtime.wap.engines.base import EngineError
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from runtime.wap.steps import WapError
from runtime.wap.store import StoreError

REPORT_FILE = "report.html"
#: The tables runs write: before the first publish (or audit) they do not exist yet.
PUBLISHED_TABLES = (PROD_TABLE, SUMMARY_TABLE, DQ_TABLE, REPLACED_TABLE)
MAX_SAMPLE_YEARS = 50


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    console = Console()
    _quiet_runtime_logs()
    try:
        args = build_parser().parse_args(argv)
        console.quiet = args.quiet
        commands = {
            "run": _run,
            "query": _query,
            "report": _report,
            "catalog": _catalog,
            "rebuild": _rebuild,
        }
        return commands[args.command](args, console, environ)
    except (UsageError, local_catalog.LakeBusy) as error:
        console.error(str(error))
        return 2
    except local_catalog.CatalogError as error:
        console.error(str(error))
        return 1
    except EngineError as error:
        console.error(name_damaged_file(str(error), lake_dir(Path(args.data_dir).expanduser())))
        return 1
    except (WapError, ReportError, IngestError, StoreError) as error:
        console.error(str(error))
        return 1
    except OSError as error:
        # A full disk, a read-only folder: the environment, not a bug. What was published
        # stays as it was (every write goes to a fresh place before the catalog swap).
        where = f" ({error.filename})" if error.filename else ""
        console.error(
            f"{error.strerror or error}{where}: stopped; what was already published is unchanged"
        )
        return 1
    except RecursionError:
        console.error("the work nested too deeply to finish (a query nested thousands deep?)")
        return 1
    except KeyboardInterrupt:
        console.error("interrupted; what was already published is unchanged")
        return 130


def _run(args, console: Console, environ: Mapping[str, str]) -> int:
    symbols = parse_symbols(args.symbols) if args.symbols is not None else DEFAULT_SYMBOLS
    today = date.today()
    as_of = parse_as_of(args.as_of, today) if args.as_of else today
    window = parse_window(args)
    wait = _wait_seconds(args.wait)
    data_dir = writable_dir(args.data_dir)
    request = RunRequest(
        data_dir=data_dir,
        symbols=symbols,
        source=args.source or default_source(environ),
        outputsize=args.outputsize,
        sample_years=_sample_years(args.sample_years),
        as_of=as_of,
        today=today,
        report_path=_report_path(args.report or str(data_dir / REPORT_FILE), "--report", data_dir),
        report_window=window,
        call_budget=args.call_budget,
        splits_refresh_days=args.splits_refresh_days,
    )
    with local_catalog.writer_lock(
        lake_dir(data_dir), "run", wait_seconds=wait, keep_generation=True
    ):
        # A lost or damaged catalog stops the run before it fetches anything.
        local_catalog.read_catalog(lake_dir(data_dir))
        return run_pipeline(request, console, environ)


def _query(args, console: Console, environ: Mapping[str, str]) -> int:
    statement = _require_select(args.sql)
    lake = lake_dir(_existing_data_dir(args.data_dir)).resolve()
    engine = DuckDBEngine(lake, connection_factory=lambda: _sandboxed_connection(lake))
    try:
        _require_lake_tables(statement, engine, args.data_dir)
        result = engine.fetchall(args.sql, name="query")
    finally:
        engine.close()
    console.summary(format_rows(result.columns, result.rows, args.format))
    return 0


def _report(args, console: Console, environ: Mapping[str, str]) -> int:
    window = parse_window(args)
    data_dir = _existing_data_dir(args.data_dir)
    out = _report_path(args.out or str(data_dir / REPORT_FILE), "--out", data_dir)
    # A lost or damaged catalog is one error, not a report of failed panels over a good one.
    local_catalog.read_catalog(lake_dir(data_dir))
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
    if failures:
        titles = ", ".join(failure.title for failure in failures)
        message = f"{len(failures)} report panel(s) failed ({titles}); see {out}"
        console.error(name_damaged_file(message, lake_dir(data_dir)))
        return 1
    return 0


def _catalog(args, console: Console, environ: Mapping[str, str]) -> int:
    lake = lake_dir(_existing_data_dir(args.data_dir))
    if args.action == "list":
        return _list_generations(lake, console)
    with local_catalog.writer_lock(lake, "catalog restore", wait_seconds=_wait_seconds(args.wait)):
        restored = local_catalog.restore_generation(lake, args.generation)
    console.summary(
        f"restored the catalog of {lake} from generation {restored.name} "
        f"(last published run: {restored.published_run or 'none'}); the catalog it replaced "
        "is kept as a generation"
    )
    return 0


def _rebuild(args, console: Console, environ: Mapping[str, str]) -> int:
    lake = lake_dir(_existing_data_dir(args.data_dir))
    return rebuild(lake, console, wait_seconds=_wait_seconds(args.wait))


def _list_generations(lake: Path, console: Console) -> int:
    generations = local_catalog.list_generations(lake)
    if not generations:
        console.summary(f"no catalog generation is kept in {lake} yet (a run keeps one)")
        return 0
    try:
        current = local_catalog.catalog_path(lake).read_text(encoding="utf-8")
    except OSError:
        current = None
    rows = [
        (
            generation.name,
            f"{generation.saved_at:%Y-%m-%d %H:%M:%S}",
            generation.tables,
            generation.published_run or "",
            "yes" if generation.path.read_text(encoding="utf-8") == current else "",
        )
        for generation in generations
    ]
    columns = ["generation", "saved (UTC)", "tables", "last published run", "current"]
    console.summary(format_rows(columns, rows, "table"))
    return 0


def _report_path(text: str, flag: str, data_dir: Path) -> Path:
    """Checked before any work, so a bad path never fails a run after it published: never
    inside the lake, never over a file that is not an earlier report."""
    path = Path(text).expanduser()
    lake = lake_dir(data_dir).resolve()
    if path.resolve() == lake or lake in path.resolve().parents:
        raise UsageError(
            f"{flag} {text} is inside the lake {lake}: write the report outside it "
            "(the lake holds only what the pipeline writes)"
        )
    if path.is_dir():
        raise UsageError(f"{flag} {text} is a directory; give a file name such as report.html")
    if path.exists() and not is_report(path):
        raise UsageError(
            f"{flag} {text} exists and is not a stockpipe report: give a new file name "
            "(only an earlier report is replaced)"
        )
    writable_dir(str(path.parent), f"{flag} {text}: its directory")
    return path


def _wait_seconds(seconds: float) -> float:
    if not 0 <= seconds <= 24 * 3600:
        raise UsageError(f"--wait {seconds:g} must be from 0 to 86400 seconds")
    return seconds


def _sample_years(years: float) -> float:
    if not 0 < years <= MAX_SAMPLE_YEARS:
        raise UsageError(f"--sample-years {years:g} must be above 0 and at most {MAX_SAMPLE_YEARS}")
    return years


def _require_select(sql: str) -> exp.Query:
    """`query` reads: one SELECT (or WITH ... SELECT), nothing that could write to the lake."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except sqlglot.errors.SqlglotError as error:
        raise UsageError(f"query: not valid Athena SQL: {error}") from None
    except RecursionError:
        raise UsageError("query: nested too deeply to parse; flatten it") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(type(s).__name__.upper() for s in statements) or "nothing"
        raise UsageError(f"query runs one SELECT statement; got {kinds}")
    return statements[0]


def _require_lake_tables(statement: exp.Query, engine: DuckDBEngine, data_dir: str) -> None:
    """`query` reads the lake's tables only: no table function (read_csv, read_text, ...)
    and no file or other database named as a table."""
    known = {*engine.tables(), RAW_TABLE, RAW_FIREHOSE_TABLE}
    named = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise UsageError(
                f"query reads only the lake's tables: {table.this.sql(dialect='athena')} is "
                "refused (no table functions)"
            )
        name = table.name.lower()
        if not (table.db or table.catalog) and name in PUBLISHED_TABLES and name not in known:
            raise UsageError(
                f"query: nothing published yet: {name} is written by the first run that "
                f"publishes; run `python -m runtime.local run --data-dir {data_dir}` first"
            )
        if table.db or table.catalog or (name not in known and name not in named):
            raise UsageError(
                f"query reads only the lake's tables ({', '.join(sorted(known))}); "
                f"{table.sql(dialect='athena')} is not one"
            )


def _sandboxed_connection(lake: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can read files under the lake only (a second guard behind
    `_require_lake_tables`: nothing outside the lake, no ATTACH, no extension download)."""
    connection = duckdb.connect()
    quoted = str(lake).replace("'", "''")
    connection.execute(f"SET allowed_directories = ['{quoted}/']")
    connection.execute("SET enable_external_access = false")
    return connection


def _existing_data_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not lake_dir(path).is_dir():
        raise UsageError(
            f"--data-dir {text}: no local lake there yet; run `python -m runtime.local run` first"
        )
    return path


def _quiet_runtime_logs() -> None:
    """The CLI prints its own progress; the runtime's structured logs are for CloudWatch.

    The ingestion's Powertools child loggers set their own level, so a level on their parent
    does not stop them; a handler that drops their records keeps them from Python's
    last-resort printer (which wrote bare, symbol-less warnings to stderr).
    """
    for name in (SERVICE_NAME, "runtime"):
        runtime_logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in runtime_logger.handlers):
            runtime_logger.addHandler(logging.NullHandler())
