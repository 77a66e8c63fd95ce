"""The four write-audit-publish steps, written once against the Engine interface.

drop_staging -> create_staging -> audit -> publish. Each step can be rerun on its own; the
whole run can be rerun; neither duplicates nor loses a row of `daily_prices`.

Exact increments: a run reads exactly the raw objects publishes have not consumed yet,
wherever they landed (any `dt`, in any order: replays, late partitions, a same-day second
ingestion, a re-landed object), from both raw tables; publish records them as consumed (see
`store`), so nothing is read twice. Misplaced raw objects are never read and fail the audit.

Staging holds every row publish must write: raw bars that are new or differ from their
published bar, and published bars whose daily_return changes because the bar before them
did. Publish merges staging into each touched `year` (staged rows replace published ones
with the same key; the replaced rows go to `daily_prices_replaced`), swaps the years in
atomically per partition (`store`), refreshes `symbol_summary` for them, then records the
consumed raw objects. A year with no published rows yet is exactly its staged partition,
whose files are copied (no re-encoding).

One publisher at a time: staging records the daily_prices version it read; publish swaps
and records only while daily_prices is still at that version, so a stale run (one started
by hand while another published) is refused by name and never overwrites the other's rows
or properties. drop_staging also sweeps what killed runs left (`store.sweep`).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from runtime.wap import queries, raw_zone, store
from runtime.wap.checks import CHECKS, ERROR, WARNING, Check
from runtime.wap.config import (
    DQ_TABLE,
    PROD_TABLE,
    RAW_SPLITS_TABLE,
    REPLACED_TABLE,
    SUMMARY_TABLE,
    ConfigError,
    WapConfig,
    new_run_id,
    normalize_run_id,
)
from runtime.wap.engines.base import ConcurrentWriteError, Engine

logger = logging.getLogger(__name__)

#: How far back published closes are read to find a new bar's previous close. A symbol that
#: did not trade for longer gets a NULL daily_return on its first bar back.
PREVIOUS_CLOSE_LOOKBACK = timedelta(days=370)

# Staging table properties: what the audit needs from the raw listing, and its verdict.
#: JSON list of the raw objects no raw table reads where they are.
MISPLACED_RAW_PROPERTY = "stockpipe.misplaced_raw"
#: Raw keys not published as they are, counted when staging is empty (else the staged rows).
UNPUBLISHED_RAW_KEYS_PROPERTY = "stockpipe.unpublished_raw_keys"
AUDIT_PROPERTY = "stockpipe.audit"
#: The daily_prices version staging was built on ("" before the first publish): publish
#: commits only on that version.
PLANNED_VERSION_PROPERTY = "stockpipe.planned_on_version"
#: symbol_summary property: year -> the daily_prices partition location it summarises.
SUMMARY_SOURCES_PROPERTY = "stockpipe.summary_of"
#: symbol_summary is one partition: a daily run reads one summary file, not one per year.
SUMMARY_PARTITION_COLUMN = "summary"
SUMMARY_PARTITION = "all"
SUMMARY_COLUMNS = (
    ("symbol", "varchar"),
    ("first_trade_date", "date"),
    ("last_trade_date", "date"),
    ("bars", "bigint"),
    ("year", "integer"),
)
#: raw_splits_source.sql's columns.
SPLIT_SOURCE_COLUMNS = tuple(
    (name, "varchar") for name in ("symbol", "effective_date", "split_factor", "source_object")
)
#: Every table the store writes: drop_staging sweeps their temporary tables and versions.
STORE_TABLES = (PROD_TABLE, DQ_TABLE, SUMMARY_TABLE, REPLACED_TABLE)

_STAGING_RUN_PREFIX = "run_id="
_NUMBER = re.compile(r"^[0-9.]+$")


class WapError(RuntimeError):
    """A step cannot go on; the message says which run, what is wrong and what to do."""


@dataclass(frozen=True)
class StagingSummary:
    staged_rows: int
    first_year: int | None
    last_year: int | None


@dataclass(frozen=True)
class StagingResult:
    run_id: str
    table: str
    #: How many raw objects (not consumed before) staging read, and from which dt partitions.
    raw_objects: int
    raw_partitions: tuple[str, ...]
    staged_rows: int
    #: Raw objects no raw table reads where they are (the audit fails on them).
    misplaced_raw: tuple[str, ...]
    #: Raw objects not consumed yet that this run left for the next (query size limit).
    raw_objects_deferred: int = 0


@dataclass(frozen=True)
class RawWindow:
    """What a run's raw objects hold: rows per object location, trade-date span."""

    rows_by_object: dict[str, int] = field(default_factory=dict)
    first_trade_date: date | None = None
    last_trade_date: date | None = None

    @property
    def years(self) -> tuple[int, int] | None:
        if self.first_trade_date is None or self.last_trade_date is None:
            return None
        return (self.first_trade_date.year, self.last_trade_date.year)


@dataclass(frozen=True)
class CheckResult:
    check_name: str
    severity: str
    passed: bool
    failed_rows: int
    sample_keys: tuple[str, ...]

    def describe(self) -> str:
        sample = ", ".join(self.sample_keys)
        return f"{self.check_name} ({self.severity}, {self.failed_rows} rows: {sample})"


@dataclass(frozen=True)
class AuditResult:
    run_id: str
    results: tuple[CheckResult, ...]

    @property
    def failed_errors(self) -> list[CheckResult]:
        return [r for r in self.results if r.severity == ERROR and not r.passed]

    @property
    def failed_warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.severity == WARNING and not r.passed]

    @property
    def ok(self) -> bool:
        return not self.failed_errors

    def result(self, check_name: str) -> CheckResult:
        for result in self.results:
            if result.check_name == check_name:
                return result
        raise KeyError(check_name)

    def failure_message(self) -> str:
        failed = "; ".join(r.describe() for r in self.failed_errors)
        return f"audit of run {self.run_id} failed, nothing was published: {failed}"


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    #: Rows with a key that was not published before, and published rows staging replaced
    #: (restated bars and the neighbours whose daily_return they changed).
    rows_added: int
    rows_replaced: int
    years: tuple[int, ...]
    raw_objects_recorded: int
    latest_trade_dates: dict[str, date]
    #: True when this run had published already: nothing was written again.
    already_published: bool = False


@dataclass(frozen=True)
class RunResult:
    run_id: str
    staging: StagingResult
    audit: AuditResult
    publish: PublishResult | None


def staging_table(run_id: str) -> str:
    return queries.identifier(f"{PROD_TABLE}_staging_{run_id}")


def staging_location(engine: Engine, config: WapConfig, run_id: str) -> str:
    return engine.location(f"{config.staging_prefix}{PROD_TABLE}/{_STAGING_RUN_PREFIX}{run_id}/")


# -- step 1 ------------------------------------------------------------------------------


def drop_staging(engine: Engine, config: WapConfig, run_id: str) -> list[str]:
    """Drop this run's staging table and data, any left behind by earlier runs, and the
    temporary tables and unreferenced version prefixes a killed run left (`store.sweep`).

    Safe when absent. Returns the run ids whose staging was dropped. Workflow runs are
    sequential (one at a time); a run started by hand while another is between its steps
    drops that one's staging, which is then refused at publish (it never swaps from a staging
    that was dropped), and loses nothing.
    """
    run_ids = [run_id]
    root = engine.location(f"{config.staging_prefix}{PROD_TABLE}/")
    for location in engine.list_locations(root):
        name = location.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith(_STAGING_RUN_PREFIX):
            try:
                leftover = normalize_run_id(name[len(_STAGING_RUN_PREFIX) :])
            except ConfigError:
                continue
            if leftover not in run_ids:
                run_ids.append(leftover)
    for each in run_ids:
        _drop_run_staging(engine, config, each)
    logger.info("drop_staging: dropped staging of runs %s", ", ".join(run_ids))
    swept = store.sweep(engine, config, (*STORE_TABLES, f"{PROD_TABLE}_staging"))
    if swept:
        logger.warning("drop_staging: removed what earlier runs left: %s", ", ".join(swept))
    return run_ids


def _drop_run_staging(engine: Engine, config: WapConfig, run_id: str) -> None:
    engine.drop_table(staging_table(run_id))
    engine.delete_location(staging_location(engine, config, run_id))


# -- step 2 ------------------------------------------------------------------------------


def create_staging(
    engine: Engine, config: WapConfig, run_id: str, today: date | None = None
) -> StagingResult:
    """CTAS the run's staging table from the raw objects not consumed yet.

    `today` (default: today, UTC) bounds the raw `dt` folders: a later one is misplaced.
    """
    table = staging_table(run_id)
    location = staging_location(engine, config, run_id)
    _drop_run_staging(engine, config, run_id)
    # Read before anything of production is: publish commits only on this version.
    planned_on = store.table_version(engine, PROD_TABLE)
    listing = raw_zone.list_raw(engine, today or datetime.now(timezone.utc).date())
    objects, deferred = raw_zone.within_query_limit(
        listing, raw_zone.unconsumed(listing, store.consumed_raw(engine))
    )
    if deferred:
        logger.warning(
            "create_staging: %s more raw objects not consumed yet are left for the next run "
            "(at most %s are named in one query)",
            len(deferred),
            raw_zone.MAX_NAMED_OBJECTS,
        )
    raw_rows = raw_zone.rows_sql(listing, objects)
    published = engine.table_exists(PROD_TABLE)
    # The raw rows are read before staging only where something needs them: their trade-date
    # span (the previous-close lookback, once something is published; the years of a
    # sliced write), else only the objects small enough to hold no row.
    needs_span = published or engine.MAX_PARTITIONS_PER_WRITE is not None
    counted = [each for each in objects if needs_span or each.may_yield_no_row]
    window = _raw_window(engine, raw_zone.rows_sql(listing, counted)) if counted else RawWindow()
    yielding = {each.location for each in objects} - {each.location for each in counted}
    yielding.update(window.rows_by_object)
    # An object that yields no row was not read where it is: as misplaced as a bad folder.
    misplaced = (
        *listing.misplaced,
        *(each.key for each in objects if each.location not in yielding),
    )
    for key in misplaced:
        logger.warning("create_staging: %s is misplaced, no raw table reads it (raw_layout)", key)
    # Published closes are needed only back to the window's oldest trade date.
    lookback = date(9999, 12, 31)
    if published and window.first_trade_date is not None:
        lookback = window.first_trade_date - PREVIOUS_CLOSE_LOOKBACK
    select_sql = queries.render(
        "staging",
        raw_rows=raw_rows,
        published=_published_relation(engine),
        lookback_year=lookback.year,
        lookback_date=lookback.isoformat(),
        split_rows=_split_rows(engine),
        run_id=run_id,
        # A first backfill skips the dedupe window (its sort); see staging.sql.
        one_copy_per_key=_sql_bool(not published and raw_zone.one_object_per_symbol(objects)),
    )
    _write_staging(engine, config, run_id, select_sql, window.years)
    summary = _staging_summary(engine, table)
    # Counted only when staging is empty: that is when the audit needs it.
    unpublished = summary.staged_rows
    if not summary.staged_rows and objects:
        unpublished = engine.fetchall(
            queries.render(
                "raw_unpublished_keys", raw_rows=raw_rows, published=_published_relation(engine)
            ),
            name="raw_unpublished_keys",
        ).scalar()
    store.stage_objects(engine, location, {each.key: each.fingerprint for each in objects})
    engine.set_table_properties(
        table,
        {
            MISPLACED_RAW_PROPERTY: json.dumps(list(misplaced)),
            UNPUBLISHED_RAW_KEYS_PROPERTY: str(unpublished),
            PLANNED_VERSION_PROPERTY: planned_on,
        },
    )
    result = StagingResult(
        run_id=run_id,
        table=table,
        raw_objects=len(objects),
        raw_partitions=tuple(sorted({each.dt for each in objects})),
        staged_rows=summary.staged_rows,
        misplaced_raw=misplaced,
        raw_objects_deferred=len(deferred),
    )
    logger.info(
        "create_staging: %s rows staged in %s from %s raw objects not consumed before (dt %s)",
        result.staged_rows,
        table,
        result.raw_objects,
        ", ".join(result.raw_partitions) or "none",
    )
    return result


def _raw_window(engine: Engine, raw_rows: str) -> RawWindow:
    rows = engine.fetchall(
        queries.render("raw_window", raw_rows=raw_rows), name="raw_window"
    ).records()
    firsts = [row["first_trade_date"] for row in rows if row["first_trade_date"] is not None]
    lasts = [row["last_trade_date"] for row in rows if row["last_trade_date"] is not None]
    return RawWindow(
        rows_by_object={row["source_object"]: int(row["raw_rows"]) for row in rows},
        first_trade_date=min(firsts, default=None),
        last_trade_date=max(lasts, default=None),
    )


def _write_staging(
    engine: Engine,
    config: WapConfig,
    run_id: str,
    select_sql: str,
    years: tuple[int, int] | None,
) -> None:
    """CTAS staging partitioned by year, in slices of at most MAX_PARTITIONS_PER_WRITE years
    (`years`: the raw rows' first and last year, known whenever the engine has that limit).
    The last slice is open-ended: a recomputed neighbour may fall in the year after."""
    table = staging_table(run_id)
    location = staging_location(engine, config, run_id)
    limit = engine.MAX_PARTITIONS_PER_WRITE
    if limit is None or years is None or years[1] - years[0] < limit - 1:
        engine.ctas(table, select_sql, location, partitioned_by="year", name="create_staging")
        return
    firsts = list(range(years[0], years[1] + 2, limit))
    selects = [
        queries.render(
            "staging_years",
            staging_rows=select_sql,
            first_year=first,
            last_year=first + limit - 1 if first != firsts[-1] else 9999,
            with_unknown_year="true" if first == years[0] else "false",
        )
        for first in firsts
    ]
    store.write_parts(engine, table, location, location, "year", selects, {}, None, run_id)


# -- step 3 ------------------------------------------------------------------------------


def audit(
    engine: Engine,
    config: WapConfig,
    run_id: str,
    as_of: date | None = None,
    checked_at: datetime | None = None,
) -> AuditResult:
    """Run every check on staging, record the results in dq_results, return them.

    The results replace this run's `dq_results` partition (a rerun does not duplicate them).
    `as_of` (default: today, UTC) is the latest valid trade date.
    """
    table = _require_staging(engine, run_id)
    moment = _utc(checked_at)
    as_of = as_of or moment.date()
    properties = engine.table_properties(table)
    summary = _staging_summary(engine, table)
    published = _published_relation(engine)
    staged_years = _staged_years(engine, table)
    params = {
        "staging": table,
        "as_of": as_of.isoformat(),
        "unpublished_raw_keys": int(properties.get(UNPUBLISHED_RAW_KEYS_PROPERTY) or 0),
        "misplaced_raw": queries.string_list(
            json.loads(properties.get(MISPLACED_RAW_PROPERTY) or "[]")
        ),
        "expected_symbols": queries.string_list(config.symbols),
        "max_daily_move": repr(float(config.max_daily_move)),
        "published": published,
        "merged": queries.render(
            "merged_years", published=published, staging=table, years=queries.in_list(staged_years)
        ),
        "first_year": summary.first_year or 0,
        "last_year": summary.last_year or 0,
    }
    summaries = "\nUNION ALL\n".join(
        [
            queries.render(
                "check_summary",
                check_name=check.name,
                severity=check.severity,
                check_sql=queries.render(check.sql_name, **params),
            )
            for check in CHECKS
            if not check.per_row
        ]
        + [_row_checks_sql([check for check in CHECKS if check.per_row], params)]
    )
    select_sql = queries.render(
        "audit_results",
        check_summaries=summaries,
        checked_at=f"{moment:%Y-%m-%d %H:%M:%S}",
        run_id=run_id,
    )
    store.write_partitions(engine, config, DQ_TABLE, "run_id", [select_sql], run_id, moment)
    result = AuditResult(run_id=run_id, results=tuple(_run_results(engine, run_id)))
    engine.set_table_properties(table, {AUDIT_PROPERTY: "passed" if result.ok else "failed"})
    for check in result.failed_warnings:
        logger.warning("audit warning: %s", check.describe())
    if result.ok:
        logger.info("audit: run %s passed every error-level check", run_id)
    else:
        logger.error(result.failure_message())
    return result


def _row_checks_sql(checks: list[Check], params: dict[str, Any]) -> str:
    """The row checks' summaries from one pass over staging (`sql/row_checks.sql`)."""
    aggregates, failed_rows, sample_keys, check_list = [], [], [], []
    for position, check in enumerate(checks):
        parts = queries.row_check(check.sql_name)
        predicate = parts.predicate.format_map(params)
        key = parts.failure_key.format_map(params)
        # A constant rank orders nothing (and DuckDB refuses to order by a literal).
        order = key if _NUMBER.match(parts.sample_rank) else f"{parts.sample_rank} DESC, {key}"
        aggregates += [
            f"count(*) FILTER (WHERE {predicate}) AS failed_rows_{position}",
            f"coalesce(array_join(slice(array_agg({key} ORDER BY {order.format_map(params)}) "
            f"FILTER (WHERE {predicate}), 1, 10), ','), '') AS sample_keys_{position}",
        ]
        failed_rows.append(f"WHEN {position} THEN per_check.failed_rows_{position}")
        sample_keys.append(f"WHEN {position} THEN per_check.sample_keys_{position}")
        check_list.append(
            f"({position}, CAST('{check.name}' AS varchar), CAST('{check.severity}' AS varchar))"
        )
    return queries.render(
        "row_checks",
        staging=params["staging"],
        aggregates=",\n        ".join(aggregates),
        failed_rows=f"CASE checks.position {' '.join(failed_rows)} END",
        sample_keys=f"CASE checks.position {' '.join(sample_keys)} END",
        check_list=", ".join(check_list),
    )


def _run_results(engine: Engine, run_id: str) -> list[CheckResult]:
    rows = engine.fetchall(queries.render("run_results", run_id=run_id), name="run_results")
    return [
        CheckResult(
            check_name=row["check_name"],
            severity=row["severity"],
            passed=bool(row["passed"]),
            failed_rows=int(row["failed_rows"]),
            sample_keys=tuple(key for key in (row["sample_keys"] or "").split(",") if key),
        )
        for row in rows.records()
    ]


# -- step 4 ------------------------------------------------------------------------------


def publish(
    engine: Engine, config: WapConfig, run_id: str, now: datetime | None = None
) -> PublishResult:
    """Merge the audited staging rows into production and record the raw objects read.

    Creates daily_prices on the first run. Atomic per partition: the touched years are
    written (merged years) or copied from staging (years with no published rows) to a fresh
    prefix and swapped in; a failure before or during the swap leaves production as it
    was, and a rerun completes it. A second publish of a run that published is a no-op.

    Swap and record happen only while daily_prices is at the version staging was built on:
    if another run published since, this one is refused (WapError naming that run) and any
    of its swap undone, so neither run's rows or properties are lost.
    """
    table = _require_staging(engine, run_id)
    staging_properties = engine.table_properties(table)
    verdict = staging_properties.get(AUDIT_PROPERTY)
    if verdict != "passed":
        reason = "failed its audit" if verdict == "failed" else "has not been audited"
        raise WapError(
            f"run {run_id} {reason}: publish refused (run the audit step and fix its errors)"
        )
    if store.published_run(engine) == run_id:
        return _already_published(engine, run_id)
    lock = store.TableLock(
        PROD_TABLE,
        staging_properties.get(PLANNED_VERSION_PROPERTY, store.table_version(engine, PROD_TABLE)),
        requires=(table,),
    )
    try:
        store.check_lock(engine, lock)
    except ConcurrentWriteError as conflict:
        raise _stale(engine, run_id, conflict) from None
    moment = _utc(now)
    published_years: set[int] = set()
    if engine.table_exists(PROD_TABLE):
        published_years = {int(value) for value in engine.partitions(PROD_TABLE)}
    staged_years = _staged_years(engine, table)
    merging = [year for year in staged_years if year in published_years]
    counts = engine.fetchall(
        queries.render(
            "staged_rows_by_year",
            staging=table,
            published=_published_relation(engine),
            years=queries.in_list(merging),
        ),
        name="staged_rows_by_year",
    ).records()
    replaced = sum(int(row["replaced_rows"]) for row in counts)
    staged_partitions = engine.partitions(table)
    # A year with no published rows gets exactly its staged rows.
    copies = {
        str(year): staged_partitions[str(year)]
        for year in staged_years
        if year not in published_years
    }
    if replaced:
        _keep_replaced_rows(engine, config, table, merging, run_id, moment)
    consumed = store.staged_objects(engine, staging_location(engine, config, run_id))
    try:
        if staged_years:
            limit = engine.MAX_PARTITIONS_PER_WRITE or max(len(merging), 1)
            selects = [
                queries.render(
                    "merged_years",
                    published=PROD_TABLE,
                    staging=table,
                    years=queries.in_list(merging[start : start + limit]),
                )
                for start in range(0, len(merging), limit)
            ]
            store.write_partitions(
                engine,
                config,
                PROD_TABLE,
                "year",
                selects,
                run_id,
                moment,
                copies,
                template_sql=f"SELECT * FROM {queries.empty_relation()} AS empty_daily_prices",
                lock=lock,
            )
        if engine.table_exists(PROD_TABLE):
            refresh_summary(engine, config, run_id, moment)
        # A run that read nothing new (and swapped nothing) leaves the record and its run
        # as they were.
        if (consumed or lock.swapped) and engine.table_exists(PROD_TABLE):
            store.record_consumed(engine, config, consumed, run_id, moment, lock)
    except ConcurrentWriteError as conflict:
        return _lost_race(engine, config, lock, run_id, moment, conflict)
    if engine.table_exists(PROD_TABLE):
        store.prune_table(engine, config, PROD_TABLE)
    result = PublishResult(
        run_id=run_id,
        rows_added=sum(int(row["staged_rows"]) - int(row["published_rows"]) for row in counts),
        rows_replaced=replaced,
        years=tuple(staged_years),
        raw_objects_recorded=len(consumed),
        latest_trade_dates=latest_trade_dates(engine),
    )
    logger.info(
        "publish: run %s added %s rows and replaced %s in years %s; recorded %s raw objects",
        run_id,
        result.rows_added,
        result.rows_replaced,
        list(result.years),
        result.raw_objects_recorded,
    )
    return result


def _already_published(engine: Engine, run_id: str) -> PublishResult:
    logger.info("publish: run %s has published already; nothing to do", run_id)
    return PublishResult(
        run_id=run_id,
        rows_added=0,
        rows_replaced=0,
        years=(),
        raw_objects_recorded=0,
        latest_trade_dates=latest_trade_dates(engine),
        already_published=True,
    )


def _stale(engine: Engine, run_id: str, conflict: ConcurrentWriteError) -> WapError:
    other = store.published_run(engine)
    who = f"run {other}" if other else "another run"
    return WapError(
        f"publish of run {run_id} refused: {who} published {PROD_TABLE} after this run's "
        f"staging read it ({conflict}); nothing of run {run_id} is published, and {who}'s "
        "rows and records are kept: start a new run (drop_staging, create_staging, audit, "
        "publish) for whatever is still unpublished"
    )


def _lost_race(
    engine: Engine,
    config: WapConfig,
    lock: store.TableLock,
    run_id: str,
    moment: datetime,
    conflict: ConcurrentWriteError,
) -> PublishResult:
    """Another publish committed while this one was swapping: undo this one's swap where it
    still shows, repair symbol_summary, then report (or, when the other publish was of this
    same run, it already did the work: a no-op)."""
    undone = store.undo_swap(engine, lock)
    logger.warning("publish: run %s lost the race; put back partitions %s", run_id, undone)
    if engine.table_exists(PROD_TABLE):
        # A version of its own: the one this publish's refresh wrote is taken.
        later = max(_utc(None), moment + timedelta(microseconds=1))
        refresh_summary(engine, config, run_id, later)
    if store.published_run(engine) == run_id:
        return _already_published(engine, run_id)
    if engine.table_exists(REPLACED_TABLE):
        engine.drop_partitions(REPLACED_TABLE, [run_id])
    raise _stale(engine, run_id, conflict)


def _keep_replaced_rows(
    engine: Engine,
    config: WapConfig,
    staging: str,
    years: list[int],
    run_id: str,
    moment: datetime,
) -> None:
    """Keep the published rows this publish replaces, before the swap replaces them."""
    select_sql = queries.render(
        "replaced_rows",
        published=PROD_TABLE,
        staging=staging,
        years=queries.in_list(years),
        run_id=run_id,
    )
    store.write_partitions(engine, config, REPLACED_TABLE, "run_id", [select_sql], run_id, moment)


def refresh_summary(engine: Engine, config: WapConfig, run_id: str, moment: datetime) -> list[int]:
    """Rewrite symbol_summary when daily_prices partitions changed since they were summarised
    (after a crash between the two swaps too); returns the years summarised again.

    The summary is one partition (`summary = 'all'`, one file): the unchanged years' rows are
    carried over from the current summary, so a daily run reads one summary file and the
    years it touched, never every year. A summary in the older layout (a partition per year)
    is replaced whole.
    """
    # Relative to the data root, so a lake moved to another directory is not all stale.
    root = engine.location("")
    current = {
        year: location[len(root) :] if location.startswith(root) else location
        for year, location in engine.partitions(PROD_TABLE).items()
    }
    sources: dict[str, str] = {}
    kept = queries.empty_relation(SUMMARY_COLUMNS)
    if engine.table_exists(SUMMARY_TABLE):
        if set(engine.partitions(SUMMARY_TABLE)) <= {SUMMARY_PARTITION}:
            sources = json.loads(
                engine.table_properties(SUMMARY_TABLE).get(SUMMARY_SOURCES_PROPERTY) or "{}"
            )
            kept = SUMMARY_TABLE
        else:
            logger.warning("publish: %s has a partition per year; rewriting it", SUMMARY_TABLE)
            engine.drop_table(SUMMARY_TABLE)
    stale = sorted(int(year) for year, location in current.items() if sources.get(year) != location)
    if not stale:
        return []
    select_sql = queries.render("symbol_summary", kept=kept, years=queries.in_list(stale))
    store.write_partitions(
        engine, config, SUMMARY_TABLE, SUMMARY_PARTITION_COLUMN, [select_sql], run_id, moment
    )
    engine.set_table_properties(
        SUMMARY_TABLE, {SUMMARY_SOURCES_PROPERTY: json.dumps(current, sort_keys=True)}
    )
    return stale


def latest_trade_dates(engine: Engine) -> dict[str, date]:
    """Latest published trade date per symbol (from symbol_summary)."""
    if not engine.table_exists(SUMMARY_TABLE):
        return {}
    rows = engine.fetchall(queries.render("latest_trade_dates"), name="latest_trade_dates")
    return {symbol: latest for symbol, latest in rows.rows}


# -- the whole run -----------------------------------------------------------------------


def run_all(
    engine: Engine,
    config: WapConfig,
    run_id: str | None = None,
    as_of: date | None = None,
    now: datetime | None = None,
) -> RunResult:
    """All four steps in order; stops before publish when an error-level check failed."""
    run_id = normalize_run_id(run_id) if run_id else new_run_id(now)
    drop_staging(engine, config, run_id)
    staging = create_staging(engine, config, run_id, today=_utc(now).date())
    audit_result = audit(engine, config, run_id, as_of=as_of, checked_at=now)
    if not audit_result.ok:
        return RunResult(run_id, staging, audit_result, None)
    return RunResult(run_id, staging, audit_result, publish(engine, config, run_id, now=now))


# -- shared ------------------------------------------------------------------------------


def _require_staging(engine: Engine, run_id: str) -> str:
    table = staging_table(run_id)
    if not engine.table_exists(table):
        raise WapError(f"run {run_id} has no staging table {table}: run create_staging first")
    return table


def _staging_summary(engine: Engine, table: str) -> StagingSummary:
    row = engine.fetchall(
        queries.render("staging_summary", staging=table), name="staging_summary"
    ).records()[0]
    return StagingSummary(
        staged_rows=int(row["staged_rows"]),
        first_year=None if row["first_year"] is None else int(row["first_year"]),
        last_year=None if row["last_year"] is None else int(row["last_year"]),
    )


def _staged_years(engine: Engine, staging: str) -> list[int]:
    return sorted(int(year) for year in engine.partitions(staging) if year.lstrip("-").isdigit())


def _published_relation(engine: Engine) -> str:
    """daily_prices, or an empty relation of its shape before the first publish."""
    if engine.table_exists(PROD_TABLE):
        return PROD_TABLE
    return queries.empty_relation()


def _split_rows(engine: Engine) -> str:
    """The split records' rows, or no rows where the catalog has no raw_splits table (a
    stack deployed before split records): returns are then as traded."""
    if engine.table_exists(RAW_SPLITS_TABLE):
        return queries.render("raw_splits_source", raw_splits_table=RAW_SPLITS_TABLE)
    return "SELECT * FROM " + queries.empty_relation(SPLIT_SOURCE_COLUMNS)


def _sql_bool(value: bool) -> str:
    return "true" if value else "false"


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment
