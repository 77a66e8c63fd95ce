"""The small interface every write-audit-publish step is written against.

Steps never know which engine they run on. Everything engine-specific lives behind these
verbs; the differences the steps must plan around are class flags, never name checks.

Conventions every engine follows:

- SQL handed to `execute`, `fetchall` and `ctas` is Athena (Trino) dialect with unqualified
  table names; the engine resolves them in its database/catalog and transpiles in `render`.
- Table names are lower-case identifiers (`[a-z_][a-z0-9_]*`), validated by the steps.
- A *location* is an opaque string from `location()` (`s3://bucket/prefix/` on Athena, an
  absolute directory path on DuckDB). Every location of a prefix ends with "/"; the location
  of one object (`list_objects`, `read_text`, `write_text`) does not, and is exactly what the
  raw tables' `"$path"` column holds for the rows read from it.
- Partitioned tables have exactly one partition column (`year` for `daily_prices`, `run_id`
  for `dq_results`); partition values are passed and returned as strings (`"2024"`).
- Catalog-only verbs (`drop_table`, `create_table_like`, `replace_partitions`,
  `drop_partitions`, `set_table_properties`) never touch data files; only `delete_location`
  deletes data, and `copy_location` writes copies (never links), so deleting its source
  cannot affect them.
- Every failure is raised as `EngineError` whose message names the query or table and
  carries the engine's own reason. Engines retry only what is safe to repeat (throttling, a
  catalog call refused for a concurrent modification, a query the engine marks retryable,
  each retry of a CTAS at a fresh location); a query that failed for its SQL never is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class EngineError(RuntimeError):
    """A query or catalog call failed; the message names the query/table and the reason."""


class ConcurrentWriteError(EngineError):
    """A versioned table write found the table at another version: another writer changed
    it since the version was read. Nothing was written."""


@dataclass(frozen=True)
class StoredObject:
    """One object (file) in storage."""

    #: Its full location, as the raw tables' `"$path"` column shows it.
    location: str
    #: Changes whenever the object's content is replaced (S3: the ETag; locally: size and
    #: modification time), so a re-landed object is seen as new.
    fingerprint: str
    #: Bytes, when the listing says (S3 and local files do).
    size: int | None = None


@dataclass(frozen=True)
class QueryScan:
    """One query an engine ran and the bytes it read: Athena's
    `Statistics.DataScannedInBytes`, DuckDB's profiled `io.total_bytes_read`."""

    name: str
    bytes_read: int


@dataclass(frozen=True)
class QueryResult:
    """Rows of a SELECT as Python values.

    Values are typed by the result column type: varchar -> str, bigint/integer -> int,
    double -> float, boolean -> bool, date -> datetime.date,
    timestamp -> datetime.datetime (naive, UTC), NULL -> None.
    """

    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def scalar(self) -> Any:
        """The single value of a one-row, one-column result (None when there is no row)."""
        return self.rows[0][0] if self.rows else None


class Engine:
    """Runs Athena-dialect SQL and keeps a Glue-like catalog of tables, partitions, properties."""

    #: The sqlglot dialect `render` writes ("athena" means: no transpilation).
    DIALECT = "athena"

    #: Most partitions one CTAS may write (Athena refuses more than 100); None means no limit.
    #: The steps split a larger write into several CTAS at sibling locations and still swap
    #: all resulting partitions with one `replace_partitions` call.
    MAX_PARTITIONS_PER_WRITE: int | None = None

    # -- SQL ---------------------------------------------------------------------------

    @property
    def query_scans(self) -> list[QueryScan]:
        """Every query this engine ran (execute, fetchall, ctas), in order, with the bytes
        it read: what Athena bills, before its per-query minimum."""
        return self.__dict__.setdefault("_query_scans", [])

    def render(self, sql: str) -> str:
        """Athena SQL in this engine's dialect; the only place SQL is transpiled."""
        raise NotImplementedError

    def check_ready(self) -> None:
        """Raise EngineError, before any work, when the engine's environment cannot run the
        steps (the default has nothing to check).

        Athena: get_work_group; a workgroup that enforces its configuration fails every CTAS
        with an external_location, and one without a result location fails every query.
        """

    def execute(self, sql: str, name: str = "query") -> None:
        """Run one statement (no result wanted). `name` identifies it in logs and errors.

        Athena: start_query_execution in the configured workgroup with the configured
        database as QueryExecutionContext, poll get_query_execution with backoff until a final
        state; FAILED/CANCELLED -> EngineError(f"{name} failed: {StateChangeReason}").
        Throttling is retried, and so is a FAILED query whose AthenaError says Retryable (a
        bounded number of times, with backoff, as a new query); one that failed for its SQL
        (not retryable) never is.
        """
        raise NotImplementedError

    def fetchall(self, sql: str, name: str = "query") -> QueryResult:
        """Run one SELECT and return every row (all result pages), typed as in QueryResult."""
        raise NotImplementedError

    # -- tables --------------------------------------------------------------------------

    def table_exists(self, table: str) -> bool:
        """Whether the catalog has `table` (Glue get_table; EntityNotFound -> False)."""
        raise NotImplementedError

    def ctas(
        self,
        table: str,
        select_sql: str,
        location: str,
        partitioned_by: str | None = None,
        name: str = "ctas",
    ) -> None:
        """Create `table` as Parquet files at `location` from an Athena-dialect SELECT.

        `location` is empty (the steps always pass a fresh or just-deleted prefix) and
        `table` does not exist. With `partitioned_by`, that column is the SELECT's last
        column, the files go to `{location}{column}={value}/` and every written partition is
        registered on `table` (so `partitions(table)` lists them). Column names and types
        come from the SELECT, which casts everything explicitly.

        A retried attempt writes under a fresh child of `location` (`{location}attempt-N/`),
        never where a failed attempt may have left part of its files; `partitions(table)` and
        `table_location(table)` say where the data is, so callers never assume the path.

        Athena: `CREATE TABLE {table} WITH (format = 'PARQUET', write_compression = 'SNAPPY',
        external_location = '{location}'[, partitioned_by = ARRAY['{column}']]) AS {select}`.
        """
        raise NotImplementedError

    def drop_table(self, table: str) -> None:
        """Remove `table` (and its partitions) from the catalog; safe when absent.

        Never deletes data files (Athena/Glue external tables keep them).
        """
        raise NotImplementedError

    def tables(self) -> list[str]:
        """The names of every table in the catalog (database), sorted.

        Glue: get_tables, paginated.
        """
        raise NotImplementedError

    def create_table_like(self, table: str, like: str, location: str) -> None:
        """Create an empty `table` with the columns, partition column, format and SerDe of
        `like`, whose own location is `location`, with no partitions and no properties.

        Used once, on the first publish, to create `daily_prices` / `dq_results` from the
        run's CTAS table. Raises EngineError if `table` already exists.
        Glue: get_table(like) -> create_table with the same StorageDescriptor (Location
        replaced), PartitionKeys and TableType EXTERNAL_TABLE.
        """
        raise NotImplementedError

    # -- partitions (the swap) -------------------------------------------------------------

    def partitions(self, table: str) -> dict[str, str]:
        """Partition value -> location of every partition of `table` ({} when it has none).

        Glue: get_partitions, paginated.
        """
        raise NotImplementedError

    def replace_partitions(self, table: str, partitions: dict[str, str]) -> None:
        """Point each partition value of `table` at the given location.

        Creates the partitions that do not exist yet and repoints the ones that do
        (their StorageDescriptor copied from the table's, Location replaced). Values not in
        `partitions` are left untouched. On any failure the partitions already changed are
        restored to their previous state (repointed back / deleted) before EngineError is
        raised, so after the call the table has every new location, or (on EngineError) none.

        What a reader sees *during* the call is engine-specific, and only this is promised:
        each partition is at its old location or at its new one, never partial, and a
        partition that existed never disappears. On Glue the swap becomes visible partition
        by partition (Glue has no multi-partition transaction): a query running during a
        multi-year swap can read new 2022 next to old 2024. The DuckDB engine swaps every
        partition at once (one catalog file replace).
        Glue: batch_create_partition + batch_update_partition in batches of 100 (check the
        per-entry Errors lists in the responses), compensating calls on failure.
        """
        raise NotImplementedError

    def drop_partitions(self, table: str, values: list[str]) -> None:
        """Remove these partitions of `table` from the catalog (their data stays); values
        that do not exist are skipped. Glue: batch_delete_partition in batches of 25."""
        raise NotImplementedError

    # -- table properties and versions (the publish lock) -----------------------------------

    def table_properties(self, table: str) -> dict[str, str]:
        """The user properties of `table` (Glue Table.Parameters), {} when none."""
        raise NotImplementedError

    def table_version(self, table: str) -> str:
        """The table's version: an opaque token that every `set_table_properties` of `table`
        changes. Partition changes do not change it (nor do they on Glue).

        Glue: get_table -> VersionId; DuckDB: a counter in the table's catalog entry.
        """
        raise NotImplementedError

    def set_table_properties(
        self, table: str, properties: dict[str, str], expected_version: str | None = None
    ) -> None:
        """Merge `properties` into the table's properties (other keys are kept).

        With `expected_version`, the write happens only if the table is still at that version
        (from `table_version`); otherwise it raises ConcurrentWriteError and writes nothing.
        Without it, a concurrent change is never lost either: the merge is re-read and
        applied again on the current version. Either way the write changes the version.
        Glue: get_table -> update_table(VersionId=<the version read or expected>,
        SkipArchive=True, the same TableInput with merged Parameters); a
        ConcurrentModificationException is ConcurrentWriteError with `expected_version`, and
        a re-read and retry (bounded, with backoff) without it.
        """
        raise NotImplementedError

    def table_location(self, table: str) -> str:
        """Where the data of `table` lives, ending with "/" (its partitions may point
        elsewhere). For `raw_daily_prices`, the raw zone whose `dt=YYYY-MM-DD/` children are
        its partitions. Glue: get_table -> StorageDescriptor.Location.
        """
        raise NotImplementedError

    # -- storage -------------------------------------------------------------------------

    def location(self, relative: str) -> str:
        """The full location of a path relative to the data root, ending with "/".

        `location("staging/daily_prices/run_id=x/")` ->
        `s3://{data_bucket}/staging/daily_prices/run_id=x/` on Athena,
        `{lake_dir}/staging/daily_prices/run_id=x/` on DuckDB.
        """
        raise NotImplementedError

    def list_locations(self, location: str) -> list[str]:
        """Immediate child "directories" of `location`, full locations ending with "/",
        sorted by name ([] when absent). S3: list_objects_v2 with Delimiter="/", paginated.
        """
        raise NotImplementedError

    def list_objects(self, location: str) -> list[StoredObject]:
        """Every object under the prefix `location`, at any depth, sorted by location
        ([] when absent). S3: list_objects_v2 without a delimiter, paginated."""
        raise NotImplementedError

    def read_text(self, location: str) -> str | None:
        """The UTF-8 text of one object, None when it does not exist."""
        raise NotImplementedError

    def write_text(self, location: str, text: str) -> None:
        """Write one object whole (a reader sees the old content or the new, never a part)."""
        raise NotImplementedError

    def copy_location(self, source: str, target: str) -> None:
        """Copy every object under `source` to the same relative path under `target`.

        Used to publish a year whose staged partition already is exactly what production
        needs, without re-encoding it. `target` must be empty (the steps pass a fresh version
        prefix) and `source` must hold data; `source` is only read. The copies are
        independent of the source (deleting or rewriting the source never changes them).
        A failure can leave part of the copies at `target`, which nothing points at yet.
        S3: list_objects_v2 of `source` + server-side copy_object per object (no download).
        """
        raise NotImplementedError

    def delete_location(self, location: str) -> None:
        """Delete every object under `location` (a prefix ending with "/"); safe when absent.

        Must refuse (EngineError) the data root itself. S3: list_objects_v2 +
        delete_objects in batches of 1,000, checking each response's Errors.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the default has nothing to release."""
