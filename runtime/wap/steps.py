"""The four write-audit-publish steps, written once against the Engine interface.

drop_staging -> create_staging -> audit -> publish. Each step can be rerun on its own; the
whole run can be rerun; neither duplicates nor loses a row of `daily_prices`.

Watermark: `daily_prices` carries the table property `stockpipe.watermark_dt`, the newest raw
`dt` partition a publish has consumed. A run reads raw partitions with `dt >= watermark`
(inclusive), so objects rewritten or added to the watermark's own partition after it was
published (a same-day rerun of ingestion, a symbol retried late) are still picked up; rows
already published are filtered out by key at publish. Ingestion always writes `dt` = the
ingest day, so bars arriving late for old trade dates land in a new partition and are read.
The watermark moves only forward, and only after the publish swap succeeded; a run whose
audit fails leaves it where it was, so the next run reads the (fixed) partitions again.
Cost: each run re-reads the watermark's partition once more (one day of ingestion in steady
state; after a backfill, the backfill partition, once).

Staging has production's columns and is partitioned by `year` like it. Publish is a
partition swap: each touched `year` that already has published rows is rewritten in full
(published rows + new keys) to a fresh version prefix; a year with no published rows yet is
exactly its staged partition, whose files are copied there instead (no re-encoding; a copy,
so dropping staging never affects production). Then every new partition is repointed in the
catalog in one all-or-nothing call. Production data is never modified in place; the last
`keep_versions` version prefixes (and any still referenced) are kept for rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from runtime.wap import queries
from runtime.wap.checks import CHECKS, ERROR, WARNING
from runtime.wap.config import (
    DQ_TABLE,
    PROD_TABLE,
    RAW_TABLE,
    WATERMARK_PROPERTY,
    WATERMARK_RUN_PROPERTY,
    ConfigError,
    WapConfig,
    new_run_id,
    normalize_run_id,
)
from runtime.wap.engines.base import Engine, EngineError

logger = logging.getLogger(__name__)

#: Sorts before every `dt`: the window start of a run with no watermark yet.
NO_WATERMARK = "0000-00-00"
#: How far back published closes are read to find a new bar's previous close. A symbol that
#: did not trade for longer gets a NULL daily_return on its first bar back.
PREVIOUS_CLOSE_LOOKBACK = timedelta(days=370)

# Staging table properties: the raw window it was built from, and its audit verdict.
WINDOW_FROM_PROPERTY = "stockpipe.window_from_dt"
WINDOW_LAST_PROPERTY = "stockpipe.window_last_dt"
#: Raw rows in the window when staging is empty (counted then), else the staged row count:
#: all the staging_not_empty check needs.
WINDOW_RAW_ROWS_PROPERTY = "stockpipe.window_raw_rows"
AUDIT_PROPERTY = "stockpipe.audit"

_STAGING_RUN_PREFIX = "run_id="
_RAW_PARTITION_PREFIX = "dt="


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
    watermark: str | None
    window_last_dt: str | None
    staged_rows: int


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
    rows_added: int
    years: tuple[int, ...]
    watermark: str | None
    latest_trade_dates: dict[str, date]


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


def read_watermark(engine: Engine) -> str | None:
    """The newest raw dt a publish consumed, None before the first publish."""
    if not engine.table_exists(PROD_TABLE):
        return None
    return engine.table_properties(PROD_TABLE).get(WATERMARK_PROPERTY) or None


# -- step 1 ------------------------------------------------------------------------------


def drop_staging(engine: Engine, config: WapConfig, run_id: str) -> list[str]:
    """Drop this run's staging table and data, and any left behind by earlier runs.

    Safe when absent. Returns the run ids whose staging was dropped. Workflow runs are
    sequential (one at a time), so no other run is using an older staging table.
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
    return run_ids


def _drop_run_staging(engine: Engine, config: WapConfig, run_id: str) -> None:
    engine.drop_table(staging_table(run_id))
    engine.delete_location(staging_location(engine, config, run_id))


# -- step 2 ------------------------------------------------------------------------------


def create_staging(engine: Engine, config: WapConfig, run_id: str) -> StagingResult:
    """CTAS the run's staging table from the raw partitions at or after the watermark."""
    table = staging_table(run_id)
    _drop_run_staging(engine, config, run_id)
    watermark = read_watermark(engine)
    window_from = queries.string_literal(watermark or NO_WATERMARK)
    # Listed before staging reads raw, so the watermark never passes a partition it did not
    # read (one that lands meanwhile is at or after it, and read next time).
    window_last = _newest_raw_dt(engine, watermark or NO_WATERMARK)
    # Published closes are needed only back to the window's oldest trade date; before the
    # first publish there are none, and the raw window is not read twice (unless the engine
    # must know the window's years to split the staging write).
    lookback = date(9999, 12, 31)
    years: tuple[int, int] | None = None
    published = engine.table_exists(PROD_TABLE)
    if published or engine.MAX_PARTITIONS_PER_WRITE:
        window = engine.fetchall(
            queries.render("raw_window", watermark=window_from), name="raw_window"
        ).records()[0]
        if window["first_trade_date"] is not None:
            if published:
                lookback = window["first_trade_date"] - PREVIOUS_CLOSE_LOOKBACK
            years = (int(window["first_year"]), int(window["last_year"]))
    select_sql = queries.render(
        "staging",
        watermark=window_from,
        published=_published_relation(engine),
        lookback_year=lookback.year,
        lookback_date=lookback.isoformat(),
        run_id=run_id,
    )
    _write_staging(engine, config, run_id, select_sql, years)
    summary = _staging_summary(engine, table)
    # Raw rows are counted only when staging is empty: that is when the audit needs them.
    raw_rows = summary.staged_rows
    if not summary.staged_rows:
        raw_rows = engine.fetchall(
            queries.render("raw_rows", watermark=window_from), name="raw_rows"
        ).scalar()
    engine.set_table_properties(
        table,
        {
            WINDOW_FROM_PROPERTY: watermark or NO_WATERMARK,
            WINDOW_LAST_PROPERTY: window_last or "",
            WINDOW_RAW_ROWS_PROPERTY: str(raw_rows),
        },
    )
    result = StagingResult(
        run_id=run_id,
        table=table,
        watermark=watermark,
        window_last_dt=window_last,
        staged_rows=summary.staged_rows,
    )
    logger.info(
        "create_staging: %s rows staged from raw dt >= %s (newest dt %s) in %s",
        result.staged_rows,
        watermark or NO_WATERMARK,
        result.window_last_dt,
        table,
    )
    return result


def _newest_raw_dt(engine: Engine, window_from: str) -> str | None:
    """The newest raw `dt` partition at or after `window_from`, from the partition listing
    (reading the raw rows for it would cost another full pass over the window)."""
    values = [
        name[len(_RAW_PARTITION_PREFIX) :]
        for name in (
            location.rstrip("/").rsplit("/", 1)[-1]
            for location in engine.list_locations(engine.table_location(RAW_TABLE))
        )
        if name.startswith(_RAW_PARTITION_PREFIX)
    ]
    return max((value for value in values if value >= window_from), default=None)


def _write_staging(
    engine: Engine,
    config: WapConfig,
    run_id: str,
    select_sql: str,
    years: tuple[int, int] | None,
) -> None:
    """CTAS staging partitioned by year, in slices of at most MAX_PARTITIONS_PER_WRITE years
    (`years`: the window's first and last year, known whenever the engine has that limit)."""
    table = staging_table(run_id)
    location = staging_location(engine, config, run_id)
    limit = engine.MAX_PARTITIONS_PER_WRITE
    if limit is None or years is None or years[1] - years[0] < limit:
        engine.ctas(table, select_sql, location, partitioned_by="year", name="create_staging")
        return
    selects = [
        queries.render(
            "staging_years",
            staging_rows=select_sql,
            first_year=first,
            last_year=min(first + limit - 1, years[1]),
            with_unknown_year="true" if first == years[0] else "false",
        )
        for first in range(years[0], years[1] + 1, limit)
    ]
    _write_parts(engine, table, location, location, "year", selects, {}, None, run_id)


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
    params = {
        "staging": table,
        "as_of": as_of.isoformat(),
        "watermark": queries.string_literal(properties.get(WINDOW_FROM_PROPERTY, NO_WATERMARK)),
        "window_raw_rows": int(properties.get(WINDOW_RAW_ROWS_PROPERTY) or 0),
        "expected_symbols": queries.string_list(config.symbols),
        "max_daily_move": repr(float(config.max_daily_move)),
        "published": _published_relation(engine),
        "first_year": summary.first_year or 0,
        "last_year": summary.last_year or 0,
    }
    summaries = "\nUNION ALL\n".join(
        queries.render(
            "check_summary",
            check_name=check.name,
            severity=check.severity,
            check_sql=queries.render(check.sql_name, **params),
        )
        for check in CHECKS
    )
    select_sql = queries.render(
        "audit_results",
        check_summaries=summaries,
        checked_at=f"{moment:%Y-%m-%d %H:%M:%S}",
        run_id=run_id,
    )
    _write_partitions(engine, config, DQ_TABLE, "run_id", [select_sql], run_id, moment)
    result = AuditResult(run_id=run_id, results=tuple(_run_results(engine, run_id)))
    engine.set_table_properties(table, {AUDIT_PROPERTY: "passed" if result.ok else "failed"})
    for check in result.failed_warnings:
        logger.warning("audit warning: %s", check.describe())
    if result.ok:
        logger.info("audit: run %s passed every error-level check", run_id)
    else:
        logger.error(result.failure_message())
    return result


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
    """Add the audited staging rows whose (symbol, trade_date) is not published yet.

    Creates daily_prices on the first run. Atomic: the touched year partitions are written
    (merged years) or copied from staging (years with no published rows) to a fresh prefix
    and swapped in with one all-or-nothing catalog call; a failure before or during the swap
    leaves production as it was.
    """
    table = _require_staging(engine, run_id)
    staging_properties = engine.table_properties(table)
    verdict = staging_properties.get(AUDIT_PROPERTY)
    if verdict != "passed":
        reason = "failed its audit" if verdict == "failed" else "has not been audited"
        raise WapError(
            f"run {run_id} {reason}: publish refused (run the audit step and fix its errors)"
        )
    moment = _utc(now)
    staged_by_year = {
        int(year): int(count)
        for year, count in engine.fetchall(
            queries.render("staged_rows_by_year", staging=table), name="staged_rows_by_year"
        ).rows
    }
    published_years: set[int] = set()
    if engine.table_exists(PROD_TABLE):
        published_years = {int(value) for value in engine.partitions(PROD_TABLE)}
    # A year with no published rows gets exactly its staged rows: restated keys need a
    # published row, so they only fall in years that have some.
    new_by_year = {
        year: count for year, count in staged_by_year.items() if year not in published_years
    }
    staged_partitions = engine.partitions(table)
    copies = {str(year): staged_partitions[str(year)] for year in new_by_year}
    merging = sorted(year for year in staged_by_year if year in published_years)
    if merging:
        rows = engine.fetchall(
            queries.render(
                "new_rows_by_year",
                staging=table,
                published=PROD_TABLE,
                years=", ".join(str(year) for year in merging),
            ),
            name="new_rows_by_year",
        )
        new_by_year.update({int(year): int(count) for year, count in rows.rows})
    merged = sorted(year for year in new_by_year if str(year) not in copies)
    limit = engine.MAX_PARTITIONS_PER_WRITE or max(len(merged), 1)
    selects = [
        queries.render(
            "merged_years",
            published=PROD_TABLE,
            staging=table,
            years=", ".join(str(year) for year in merged[start : start + limit]),
        )
        for start in range(0, len(merged), limit)
    ]
    years = sorted(new_by_year)
    if years:
        _write_partitions(
            engine,
            config,
            PROD_TABLE,
            "year",
            selects,
            run_id,
            moment,
            copies,
            template_sql=queries.render("empty_daily_prices"),
        )
    watermark = _advance_watermark(
        engine, staging_properties.get(WINDOW_LAST_PROPERTY) or None, run_id
    )
    result = PublishResult(
        run_id=run_id,
        rows_added=sum(new_by_year.values()),
        years=tuple(years),
        watermark=watermark,
        latest_trade_dates=latest_trade_dates(engine),
    )
    logger.info(
        "publish: run %s added %s rows in years %s; watermark %s",
        run_id,
        result.rows_added,
        list(result.years),
        watermark,
    )
    return result


def latest_trade_dates(engine: Engine) -> dict[str, date]:
    """Latest published trade date per symbol (recent two years of partitions)."""
    if not engine.table_exists(PROD_TABLE):
        return {}
    years = [int(value) for value in engine.partitions(PROD_TABLE)]
    if not years:
        return {}
    rows = engine.fetchall(
        queries.render("latest_trade_dates", since_year=max(years) - 1),
        name="latest_trade_dates",
    )
    return {symbol: latest for symbol, latest in rows.rows}


def _advance_watermark(engine: Engine, window_last: str | None, run_id: str) -> str | None:
    current = read_watermark(engine)
    if not window_last or not engine.table_exists(PROD_TABLE):
        return current
    if current is not None and current >= window_last:
        return current
    engine.set_table_properties(
        PROD_TABLE, {WATERMARK_PROPERTY: window_last, WATERMARK_RUN_PROPERTY: run_id}
    )
    return window_last


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
    staging = create_staging(engine, config, run_id)
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


def _published_relation(engine: Engine) -> str:
    """daily_prices, or an empty relation of its shape before the first publish."""
    if engine.table_exists(PROD_TABLE):
        return PROD_TABLE
    return queries.subquery("empty_daily_prices")


def _write_partitions(
    engine: Engine,
    config: WapConfig,
    table: str,
    partition_column: str,
    selects: Sequence[str],
    run_id: str,
    moment: datetime,
    copies: dict[str, str] | None = None,
    template_sql: str | None = None,
) -> dict[str, str]:
    """Write each SELECT's partitions, and copy each of `copies` (partition value -> location
    holding exactly its data, in `table`'s layout), under one fresh version prefix, then swap
    them all in.

    The SELECTs' last column is `partition_column`. Creates `table` when it does not exist
    yet, like the first write or, when there are only copies, like `template_sql` (an empty
    SELECT of its shape). Returns the swapped-in partitions.
    """
    table_location = engine.location(f"{config.prod_prefix}{table}/")
    version = f"{table_location}{moment:%Y%m%dT%H%M%S%f}Z_{run_id}/"
    written = _write_parts(
        engine,
        table,
        table_location,
        version,
        partition_column,
        selects,
        copies or {},
        template_sql,
        run_id,
    )
    _prune_versions(engine, config, table)
    return written


def _write_parts(
    engine: Engine,
    table: str,
    table_location: str,
    root: str,
    partition_column: str,
    selects: Sequence[str],
    copies: dict[str, str],
    template_sql: str | None,
    run_id: str,
) -> dict[str, str]:
    """CTAS each SELECT to `{root}part-N/`, copy each partition of `copies` to
    `{root}copy/{column}={value}/`, then point `table` at all of them in one swap (creating
    it at `table_location` when absent)."""
    written: dict[str, str] = {}
    temps: list[str] = []
    try:
        for index, select_sql in enumerate(selects):
            temp = queries.identifier(f"{table}_write_{run_id}_{index}")
            engine.drop_table(temp)
            temps.append(temp)
            engine.ctas(
                temp,
                select_sql,
                f"{root}part-{index}/",
                partitioned_by=partition_column,
                name=f"write {table} part {index}",
            )
            written.update(engine.partitions(temp))
        for value, source in sorted(copies.items()):
            target = f"{root}copy/{partition_column}={value}/"
            engine.copy_location(source, target)
            written[value] = target
        if not engine.table_exists(table):
            if not temps:
                # Only copies: model the table on an empty CTAS of its shape (the copies'
                # own staging table carries the run's properties, which must not leak).
                if template_sql is None:
                    raise WapError(f"cannot create {table}: nothing was written to model it on")
                template = queries.identifier(f"{table}_template_{run_id}")
                engine.drop_table(template)
                temps.append(template)
                engine.ctas(
                    template,
                    template_sql,
                    f"{root}template/",
                    partitioned_by=partition_column,
                    name=f"create {table}",
                )
            engine.create_table_like(table, temps[0], table_location)
        engine.replace_partitions(table, written)
    finally:
        for temp in temps:
            try:
                engine.drop_table(temp)
            except EngineError:
                logger.exception("could not drop the temporary table %s", temp)
    return written


def _prune_versions(engine: Engine, config: WapConfig, table: str) -> list[str]:
    """Delete version prefixes older than the newest `keep_versions` that nothing points at."""
    live = list(engine.partitions(table).values())
    versions = engine.list_locations(engine.location(f"{config.prod_prefix}{table}/"))
    stale = [
        version
        for version in versions[: -config.keep_versions]
        if not any(location.startswith(version) for location in live)
    ]
    for version in stale:
        engine.delete_location(version)
    return stale


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment
