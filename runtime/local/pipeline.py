"""`run`: ingest, then drop_staging, create_staging, audit and publish, on one machine.

The same ingestion run, API client, write-audit-publish steps and SQL as production; the
local lake directory stands in for S3 and DuckDB for Athena.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from runtime.ingest.errors import ApiKeyRejected, ApiKeyUnavailable, ConfigurationError
from runtime.ingest.run import (
    DEFERRED,
    FAILED,
    LANDED,
    SUCCEEDED,
    SplitsOutcome,
    SymbolOutcome,
    call_counts,
    run_ingestion,
)
from runtime.ingest.settings import (
    API_KEY_ENV,
    API_URL_ENV,
    CALL_BUDGET_ENV,
    CALLS_PER_MINUTE_ENV,
    CONCURRENCY_ENV,
    LAKE_DIR_ENV,
    MIN_CALL_INTERVAL_ENV,
    OUTPUT_SIZE_ENV,
    SINK_ENV,
    SPLITS_REFRESH_DAYS_ENV,
    SYMBOLS_ENV,
    Settings,
)
from runtime.local import athena_bill, retention
from runtime.local.console import Console
from runtime.local.damage import name_damaged_file
from runtime.local.options import ReportWindow, UsageError
from runtime.local.report import PanelFailure, write_report
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import SampleServer
from runtime.wap import steps
from runtime.wap.config import WapConfig, new_run_id
from runtime.wap.engines.duckdb_engine import DuckDBEngine

SAMPLE = "sample"
ALPHAVANTAGE = "alphavantage"
# Nothing kills a local run, so the ingestion's time budget is simply generous.
LOCAL_TIME_BUDGET_MS = 24 * 3600 * 1000
# Which source filled a lake, so generated and real prices never mix in one.
SOURCE_MARKER = "_source"
# Why ingestion left a bar out (runtime/ingest/run.py): it may still change.
SESSION_OPEN = "its session had not closed yet in New York"
AFTER_TODAY = "dated after today in New York"


@dataclass(frozen=True)
class RunRequest:
    data_dir: Path
    symbols: tuple[str, ...]
    source: str
    outputsize: str
    sample_years: float
    as_of: date
    today: date
    report_path: Path
    report_window: ReportWindow = field(default_factory=ReportWindow)
    #: None: API_DAILY_CALL_BUDGET or its default (--source alphavantage only).
    call_budget: int | None = None
    #: None: SPLITS_REFRESH_DAYS or its default.
    splits_refresh_days: int | None = None


def lake_dir(data_dir: Path) -> Path:
    return data_dir / "lake"


def default_source(environ: Mapping[str, str]) -> str:
    return ALPHAVANTAGE if environ.get(API_KEY_ENV, "").strip() else SAMPLE


def holds_sample_data(lake: Path) -> bool:
    marker = lake / SOURCE_MARKER
    return marker.is_file() and marker.read_text().strip() == SAMPLE


def run_pipeline(request: RunRequest, console: Console, environ: Mapping[str, str]) -> int:
    """Run everything; return the exit status (0 published, 1 blocked or failed)."""
    started = time.perf_counter()
    lake = lake_dir(request.data_dir)
    _check_lake_source(lake, request.source)
    if request.source == SAMPLE and request.call_budget is not None:
        raise UsageError(
            "--call-budget applies to --source alphavantage: the bundled sample server has "
            "no daily quota"
        )
    if request.source == SAMPLE:
        console.progress(
            "source: the bundled sample server (GENERATED SAMPLE DATA, not market data)"
        )
    else:
        url = environ.get(API_URL_ENV) or "https://www.alphavantage.co/query"
        console.progress(f"source: Alpha Vantage at {url}")

    outcomes: list[SymbolOutcome] = []
    records: list[SplitsOutcome] = []
    with console.step("ingest", f"{len(request.symbols)} symbols for {request.as_of}"):
        try:
            result = _ingest(request, lake, console, environ, outcomes.append, records.append)
        finally:
            # Only a lake that received data belongs to a source: a run refused for a missing
            # key leaves a fresh directory free for either.
            if any(lake.glob("raw/dt=*/*.csv")):
                (lake / SOURCE_MARKER).write_text(f"{request.source}\n")
    # After ingestion, not as they come: when no symbol landed or the key was refused, the
    # run's one error line says it for every symbol.
    for outcome in outcomes:
        if outcome.status == FAILED:
            console.error(f"{outcome.symbol} failed: {outcome.reason}")
    landed = len(result[SUCCEEDED])
    calls = call_counts([*outcomes, *records])
    console.summary(
        f"symbols: {landed} landed, {len(result['failed'])} failed, "
        f"{len(result['skipped'])} skipped ({result['rows']:,} bars fetched in "
        f"{calls['calls']:,} API calls: {calls['throttled']:,} throttled, "
        f"{calls['retried']:,} retried)"
    )
    for line in _left_out_summary(outcomes):
        console.summary(line)
    console.summary(_splits_summary(result))
    budget = result["call_budget"]
    if budget["limit"]:
        console.summary(
            f"call budget: {budget['used'] or 0} of {budget['limit']} calls made on "
            f"{budget['day']}; {result['calls_deferred']} deferred to the next day"
        )
    if not landed:
        console.error("no symbol landed, nothing to publish (reasons above)")
        return 1

    engine = DuckDBEngine(lake)
    try:
        return _write_audit_publish(request, engine, console, started)
    finally:
        engine.close()


def _check_lake_source(lake: Path, source: str) -> None:
    marker = lake / SOURCE_MARKER
    if marker.is_file() and marker.read_text().strip() != source:
        raise UsageError(
            f"{lake} holds {marker.read_text().strip()} data; give --data-dir a fresh "
            f"directory for {source} data so generated and real prices never mix"
        )


def _splits_summary(result: dict) -> str:
    splits = result["splits"]
    return (
        f"split records: {len(splits[LANDED])} landed, {len(splits[FAILED])} failed, "
        f"{len(splits[DEFERRED])} deferred (daily returns use them; prices stay as traded)"
    )


def _ingest(
    request: RunRequest,
    lake: Path,
    console: Console,
    environ: Mapping[str, str],
    record: Callable[[SymbolOutcome], None],
    record_splits: Callable[[SplitsOutcome], None],
):
    def on_symbol(outcome: SymbolOutcome) -> None:
        record(outcome)
        if outcome.status != FAILED:  # failures are errors, printed once the run goes on
            console.progress(_describe(outcome))

    def on_split_record(outcome: SplitsOutcome) -> None:
        record_splits(outcome)
        if outcome.status == LANDED:
            console.progress(f"  {outcome.symbol:<6} split record landed ({outcome.reason})")
        else:
            # One line, and the prices stand: a split record is asked for again later.
            console.progress(
                f"  warning: {outcome.symbol} split record {outcome.status}: {outcome.reason}"
            )

    event = {"ingest_date": request.as_of.isoformat()}
    with _source_environment(request, lake, environ) as env:
        try:
            settings = Settings.from_env(env)
            return run_ingestion(
                settings,
                event,
                lambda: LOCAL_TIME_BUDGET_MS,
                on_symbol,
                calls_day=request.as_of,
                on_split_record=on_split_record,
            )
        except (ConfigurationError, ApiKeyUnavailable, ApiKeyRejected) as error:
            raise UsageError(str(error)) from None


@contextmanager
def _source_environment(
    request: RunRequest, lake: Path, environ: Mapping[str, str]
) -> Iterator[dict[str, str]]:
    """The ingestion's environment: the local sink, plus the sample server when asked for."""
    env = {
        SYMBOLS_ENV: ",".join(request.symbols),
        SINK_ENV: "local",
        LAKE_DIR_ENV: str(lake),
        OUTPUT_SIZE_ENV: request.outputsize,
    }
    if request.splits_refresh_days is not None:
        env[SPLITS_REFRESH_DAYS_ENV] = str(request.splits_refresh_days)
    if request.source == ALPHAVANTAGE:
        if request.call_budget is not None:
            env[CALL_BUDGET_ENV] = str(request.call_budget)
        yield {**environ, **env}
        return
    market = SampleMarket(end=request.as_of, years=request.sample_years)
    with SampleServer(market) as server:
        yield {
            **env,
            API_KEY_ENV: "local-sample",
            API_URL_ENV: server.url,
            # The sample server has no rate limit: no reason to wait between calls.
            CALLS_PER_MINUTE_ENV: "6000",
            MIN_CALL_INTERVAL_ENV: "0",
            CONCURRENCY_ENV: "4",
            # The sample server has no daily quota either.
            CALL_BUDGET_ENV: "0",
        }


def _describe(outcome: SymbolOutcome) -> str:
    if outcome.status == SUCCEEDED:
        notes = []
        if outcome.fell_back_to_compact:
            notes.append("full history is premium-only for this key: got compact")
        if outcome.left_out_open:
            notes.append(f"left out {_dates(outcome.left_out_open)}: {SESSION_OPEN}")
        if outcome.left_out_future:
            notes.append(f"left out {_dates(outcome.left_out_future)}: {AFTER_TODAY}")
        if outcome.attempts > 1:
            notes.append(f"{outcome.attempts} attempts")
        extra = f" ({'; '.join(notes)})" if notes else ""
        return f"  {outcome.symbol:<6} landed {outcome.rows:,} bars{extra}"
    return f"  {outcome.symbol:<6} {outcome.status}: {outcome.reason}"


def _left_out_summary(outcomes: list[SymbolOutcome]) -> list[str]:
    """One line per reason bars were left out, for the whole run (not one per symbol)."""
    lines = []
    for reason, field_name, advice in (
        (SESSION_OPEN, "left_out_open", "they may still change; a run after the close gets them"),
        (AFTER_TODAY, "left_out_future", "no session has closed on them yet"),
    ):
        left_out = [(o.symbol, day) for o in outcomes for day in getattr(o, field_name)]
        if left_out:
            symbols = ", ".join(dict.fromkeys(symbol for symbol, _ in left_out))
            days = _dates(sorted({day for _, day in left_out}))
            lines.append(
                f"left out {len(left_out)} bar(s) dated {days} ({symbols}): {reason}; {advice}"
            )
    return lines


def _dates(days: Iterable[date]) -> str:
    return ", ".join(day.isoformat() for day in days)


def _write_audit_publish(
    request: RunRequest, engine: DuckDBEngine, console: Console, started: float
) -> int:
    config = WapConfig(symbols=request.symbols)
    run_id = new_run_id()
    # (step, the queries it ran): printed after the steps, with their Athena bill.
    scans: list[tuple[str, list]] = []

    @contextmanager
    def step(name: str) -> Iterator[None]:
        first = len(engine.query_scans)
        with console.step(name):
            yield
        scans.append((name, engine.query_scans[first:]))

    with step("drop_staging"):
        steps.drop_staging(engine, config, run_id)
    with step("create_staging"):
        staging = steps.create_staging(engine, config, run_id)
    partitions = ", ".join(staging.raw_partitions) or "none"
    console.progress(
        f"  {staging.staged_rows:,} rows staged from {staging.raw_objects:,} raw objects "
        f"not read before (dt {partitions})"
    )
    with step("audit"):
        audit = steps.audit(engine, config, run_id, as_of=request.today)
    passed = sum(r.passed for r in audit.results)
    console.summary(
        f"checks: {passed} passed, {len(audit.failed_warnings)} warned, "
        f"{len(audit.failed_errors)} failed"
    )
    for warning in audit.failed_warnings:
        console.progress(f"  warning: {warning.describe()}")
    if audit.ok:
        with step("publish"):
            published = steps.publish(engine, config, run_id)
        years = ", ".join(str(year) for year in published.years) or "none"
        console.summary(
            f"published: {published.rows_added:,} new rows, {published.rows_replaced:,} "
            f"replaced (years: {years})"
        )
    retention.prune_old_runs(engine, config)
    failed_panels: list[str] = []

    def panel_failed(failure: PanelFailure) -> None:
        failed_panels.append(failure.title)
        console.error(f"report panel {failure.title!r} failed: {failure.error}")

    with step("report"):
        write_report(
            engine,
            request.report_path,
            time_from=request.report_window.time_from,
            time_to=request.report_window.time_to,
            whole_history=request.report_window.whole_history,
            sample_data=holds_sample_data(lake_dir(request.data_dir)),
            on_panel_error=panel_failed,
        )
    console.timing_summary(time.perf_counter() - started)
    for line in athena_bill.query_lines(scans):
        console.progress(line)
    console.summary(athena_bill.total_line(scans, athena_bill.athena_rate()))
    console.summary(f"run id: {run_id}")
    console.summary(f"lake: {lake_dir(request.data_dir)}")
    console.summary(f"report: {request.report_path}")
    if audit.ok and failed_panels:
        message = (
            f"run {run_id} published, but {len(failed_panels)} report panel(s) failed "
            f"({', '.join(failed_panels)}); see {request.report_path}"
        )
        console.error(name_damaged_file(message, lake_dir(request.data_dir)))
        return 1
    if audit.ok:
        return 0
    for failure in audit.failed_errors:
        console.summary(f"  error: {failure.describe()}")
    console.error(
        f"audit errors blocked publication of run {run_id}: "
        f"{', '.join(r.check_name for r in audit.failed_errors)}; nothing was published. "
        f"Sample keys: python -m runtime.local query "
        f"\"SELECT * FROM dq_results WHERE run_id = '{run_id}'\" --data-dir {request.data_dir}; "
        f"staged rows: {steps.staging_location(engine, config, run_id)}"
    )
    return 1
