"""The embedded engine: the same Athena SQL on local files, through DuckDB.

The lake directory mirrors the S3 layout (`raw/dt=YYYY-MM-DD/*.csv`,
`raw_firehose/dt=YYYY-MM-DD/*`, `prod/...`, `staging/...`); `{lake}/_catalog.json` mirrors
Glue (tables, columns, partitions with their locations and files, properties). The catalog
is rewritten whole with os.replace, so a swap of any number of partitions is atomic (Glue's
is atomic per partition only), and each table's version is a counter in it. Every catalog
table is a view, and so are the two raw tables (read straight from their files with hive
partitioning, with Athena's `"$path"` column), so any caller can run Athena-dialect SELECTs
over the lake with `fetchall`.

Local only: no httpfs, no network. The catalog's reading, writing, kept generations and the
lake's one-writer lock live in `local_catalog`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import duckdb
import sqlglot
from sqlglot import exp

from runtime.files import write_text_atomically
from runtime.schema import RAW_COLUMNS, RAW_SPLITS_COLUMNS
from runtime.wap.config import RAW_FIREHOSE_TABLE, RAW_SPLITS_TABLE, RAW_TABLE
from runtime.wap.engines import local_catalog
from runtime.wap.engines.base import (
    ConcurrentWriteError,
    Engine,
    EngineError,
    QueryResult,
    QueryScan,
    StoredObject,
)

#: Athena's pseudo-column naming the object a row was read from.
PATH_COLUMN = "$path"

_CSV_LINE_ERROR = re.compile(r"CSV Error on Line: (\d+)")
_CSV_FIELD_COUNT = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_CSV_ADVICE = ("Possible fixes", "Possible Solution", "* ")
_FILE_IN_ERROR = (
    re.compile(r"""[Ff]ile ['"]([^'"]+)['"]"""),
    re.compile(r"^\s*file = (.+?)\s*$", re.MULTILINE),
)


@dataclass(frozen=True)
class Scan:
    """One file scan of one query, from DuckDB's profile (when `profile=True`)."""

    query: str
    function: str
    files_read: int
    files_total: int
    #: DuckDB names at most five files; `files_read` is the full count.
    filenames: tuple[str, ...]


class DuckDBEngine(Engine):
    DIALECT = "duckdb"

    def __init__(
        self,
        lake_dir: str | os.PathLike[str],
        raw_prefix: str = "raw/",
        connection_factory: Callable[[], Any] | None = None,
        profile: bool = False,
        raw_firehose_prefix: str = "raw_firehose/",
        raw_splits_prefix: str = "raw_splits/",
    ) -> None:
        """`lake_dir`: the local lake root; `raw_prefix` / `raw_firehose_prefix`: where the raw
        CSVs and the Firehose JSON lines live under it.

        `connection_factory` returns a DuckDB connection (default: in-memory
        `duckdb.connect()`). Every query's bytes read go to `query_scans`, as Athena's
        DataScannedInBytes do. With `profile=True` every query's file scans are also
        appended to `self.scans`, so callers can see which raw partitions a step read.
        """
        self.lake_dir = Path(lake_dir).resolve()
        self.raw_root = self.lake_dir / raw_prefix
        self.raw_firehose_root = self.lake_dir / raw_firehose_prefix
        self.raw_splits_root = self.lake_dir / raw_splits_prefix
        self.profile = profile
        self.scans: list[Scan] = []
        self._connection_factory = connection_factory or duckdb.connect
        self._connection: Any = None
        self._views: dict[str, str] = {}
        self._catalog_cache: tuple[tuple[int, int, int], dict] | None = None

    # -- SQL ---------------------------------------------------------------------------

    def render(self, sql: str) -> str:
        return self._compile(sql, "query")[0]

    def execute(self, sql: str, name: str = "query") -> None:
        rendered, tables = self._compile(sql, name)
        self._prepare_views(tables, name)
        self._run(rendered, name)
        self._record_scans(name)

    def fetchall(self, sql: str, name: str = "query") -> QueryResult:
        rendered, tables = self._compile(sql, name)
        self._prepare_views(tables, name)
        cursor = self._run(rendered, name)
        try:
            columns = [column[0] for column in cursor.description]
            rows = [tuple(row) for row in cursor.fetchall()]
        except duckdb.Error as error:
            raise EngineError(_failure(name, error)) from error
        self._record_scans(name)
        return QueryResult(columns=columns, rows=rows)

    def _compile(self, sql: str, name: str) -> tuple[str, frozenset[str]]:
        """Transpile Athena SQL to DuckDB and list the tables it names."""
        try:
            count, rendered, tables = _transpile(sql, self.DIALECT)
        except sqlglot.errors.SqlglotError as error:
            raise EngineError(f"{name}: not valid Athena SQL: {error}") from error
        if count != 1:
            raise EngineError(f"{name}: expected one SQL statement, got {count}")
        return rendered, tables

    def _run(self, rendered: str, name: str) -> Any:
        try:
            return self._conn().execute(rendered)
        except duckdb.Error as error:
            raise EngineError(_failure(name, error)) from error

    def _conn(self) -> Any:
        if self._connection is None:
            self._connection = self._connection_factory()
            # DuckDB 2.0 pushes TRY_CAST into the CSV reader as a strict cast, so one bad
            # raw value would fail the query instead of becoming NULL for the audit to catch.
            self._connection.execute("SET disabled_optimizers = 'type_pushdown'")
            # Always on: the bytes each query reads are counted from the profile.
            self._connection.execute("PRAGMA enable_profiling = 'no_output'")
        return self._connection

    def _record_scans(self, name: str) -> None:
        """Count the last query's bytes read (DuckDB 2.0's `io.total_bytes_read`: what the
        readers fetched from the files, after column and row-group pruning, as Athena
        counts the bytes it scans) and, with `profile`, its file scans."""
        profile = json.loads(self._conn().get_profiling_information(format="json"))
        self.query_scans.append(
            QueryScan(name, int(profile.get("io", {}).get("total_bytes_read", 0)))
        )
        if not self.profile:
            return
        pending = list(profile.get("operator", []))
        while pending:
            node = pending.pop()
            pending.extend(node.get("children", []))
            info = node.get("extra_info", {})
            if "Total Files Read" not in info:
                continue
            total = str(info.get("Scanning Files", "")).rpartition("/")[2]
            names = str(info.get("Filename(s)", ""))
            self.scans.append(
                Scan(
                    query=name,
                    function=str(info.get("Function", "")),
                    files_read=int(info["Total Files Read"]),
                    files_total=int(total) if total.isdigit() else int(info["Total Files Read"]),
                    filenames=tuple(n for n in names.split(", ") if n and n != "..."),
                )
            )

    # -- views over the lake -------------------------------------------------------------

    def _prepare_views(self, tables: frozenset[str], name: str) -> None:
        catalog = self._catalog()["tables"]
        for table in sorted(tables):
            if table == RAW_TABLE:
                view = self._raw_csv_view()
            elif table == RAW_FIREHOSE_TABLE:
                view = self._raw_firehose_view()
            elif table == RAW_SPLITS_TABLE:
                view = self._raw_csv_view(self.raw_splits_root, RAW_SPLITS_COLUMNS)
            elif table in catalog:
                view = self._table_view(catalog[table])
            elif table in self._views:
                self._run(f'DROP VIEW IF EXISTS "{table}"', name)
                del self._views[table]
                continue
            else:
                continue
            if self._views.get(table) != view:
                self._run(f'CREATE OR REPLACE TEMP VIEW "{table}" AS {view}', name)
                self._views[table] = view

    def _raw_csv_view(
        self, root: Path | None = None, columns: tuple[str, ...] = RAW_COLUMNS
    ) -> str:
        # No quoting, like Athena's LazySimpleSerDe over the raw zone (ingestion never quotes).
        # It also keeps DuckDB 2.0 from silently skipping the rest of a file at an unterminated
        # quote when it reads many files: here such a line is a column-count error naming the file.
        return self._raw_view(
            self.raw_root if root is None else root,
            "*.csv",
            "read_csv",
            "header = true, delim = ',', quote = '', escape = '', auto_detect = false",
            columns,
        )

    def _raw_firehose_view(self) -> str:
        # Firehose names its objects itself (and adds .gz when it compresses them).
        return self._raw_view(
            self.raw_firehose_root,
            "*",
            "read_json",
            "format = 'newline_delimited', compression = 'auto_detect'",
        )

    def _raw_view(
        self,
        root: Path,
        name_pattern: str,
        reader: str,
        options: str,
        fields: tuple[str, ...] = RAW_COLUMNS,
    ) -> str:
        """All string columns, `dt` from the folder name and `"$path"`, as Athena shows them."""
        columns = [(column, "VARCHAR") for column in fields]
        names = _column_list([*columns, ("dt", "VARCHAR")])
        if next(iter(root.glob(f"dt=*/{name_pattern}")), None) is None:
            return _empty_select([*columns, ("dt", "VARCHAR"), (PATH_COLUMN, "VARCHAR")])
        types = ", ".join(f"'{column}': 'VARCHAR'" for column, _ in columns)
        pattern = _literal(f"{root}/dt=*/{name_pattern}")
        return (
            f'SELECT {names}, filename AS "{PATH_COLUMN}" FROM {reader}({pattern}, '
            f"columns = {{{types}}}, {options}, filename = true, "
            "hive_partitioning = true, hive_types = {'dt': 'VARCHAR'})"
        )

    def _table_view(self, entry: dict) -> str:
        columns = [tuple(column) for column in entry["columns"]]
        partition_column = entry["partitioned_by"]
        if partition_column:
            # DuckDB binds the schema from the first file it is given: the newest partition
            # first, the one a daily run reads anyway, so old years' files stay unopened.
            partitions = sorted(entry["partitions"].items(), reverse=True)
            files = [f for _, part in partitions for f in part["files"]]
        else:
            files = entry["files"]
        if not files:
            return _empty_select(columns)
        file_list = ", ".join(_literal(str(self.lake_dir / f)) for f in files)
        if not partition_column:
            return f"SELECT {_column_list(columns)} FROM read_parquet([{file_list}])"
        partition_type = dict(columns)[partition_column]
        return (
            f"SELECT {_column_list(columns)} FROM read_parquet([{file_list}], "
            f"hive_partitioning = true, hive_types = {{'{partition_column}': '{partition_type}'}})"
        )

    # -- tables --------------------------------------------------------------------------

    def table_exists(self, table: str) -> bool:
        return (
            table in (RAW_TABLE, RAW_FIREHOSE_TABLE, RAW_SPLITS_TABLE)
            or table in self._catalog()["tables"]
        )

    def ctas(
        self,
        table: str,
        select_sql: str,
        location: str,
        partitioned_by: str | None = None,
        name: str = "ctas",
    ) -> None:
        if self.table_exists(table):
            raise EngineError(f"{name}: table {table} already exists")
        target = self._local_path(location)
        if target.exists() and any(target.iterdir()):
            raise EngineError(f"{name}: location {location} is not empty")
        rendered, tables = self._compile(select_sql, name)
        self._prepare_views(tables, name)
        described = self._run(f"DESCRIBE {rendered}", name).fetchall()
        columns = [[row[0], row[1]] for row in described]
        if partitioned_by and columns[-1][0] != partitioned_by:
            raise EngineError(f"{name}: partition column {partitioned_by} must come last")
        target.mkdir(parents=True, exist_ok=True)
        entry = _new_entry(self._relative(target), columns, partitioned_by)
        if partitioned_by:
            self._run(
                f"COPY ({rendered}) TO {_literal(str(target))} "
                f"(FORMAT parquet, COMPRESSION snappy, PARTITION_BY ({partitioned_by}))",
                name,
            )
            prefix = f"{partitioned_by}="
            for child in sorted(target.iterdir()):
                if child.is_dir() and child.name.startswith(prefix):
                    entry["partitions"][child.name[len(prefix) :]] = {
                        "location": self._relative(child),
                        "files": self._parquet_files(child),
                    }
        else:
            data_file = target / "data_0.parquet"
            self._run(
                f"COPY ({rendered}) TO {_literal(str(data_file))} "
                "(FORMAT parquet, COMPRESSION snappy)",
                name,
            )
            entry["files"] = [self._relative(data_file).rstrip("/")]
        self._record_scans(name)
        self._update_catalog(lambda catalog: catalog["tables"].__setitem__(table, entry))

    def drop_table(self, table: str) -> None:
        def drop(catalog: dict) -> None:
            catalog["tables"].pop(table, None)

        if table in self._catalog()["tables"]:
            self._update_catalog(drop)

    def tables(self) -> list[str]:
        return sorted(self._catalog()["tables"])

    def create_table_like(self, table: str, like: str, location: str) -> None:
        source = self._entry(like)
        if self.table_exists(table):
            raise EngineError(f"cannot create {table}: it already exists")
        entry = _new_entry(
            self._relative(self._local_path(location)),
            source["columns"],
            source["partitioned_by"],
        )
        self._update_catalog(lambda catalog: catalog["tables"].__setitem__(table, entry))

    # -- partitions ----------------------------------------------------------------------

    def partitions(self, table: str) -> dict[str, str]:
        entry = self._entry(table)
        return {
            value: self._absolute(part["location"]) for value, part in entry["partitions"].items()
        }

    def replace_partitions(self, table: str, partitions: dict[str, str]) -> None:
        column = self._entry(table)["partitioned_by"]
        if not column:
            raise EngineError(f"cannot replace partitions of {table}: it is not partitioned")
        updates = {}
        for value, location in partitions.items():
            path = self._local_path(location)
            if path.name != f"{column}={value}":
                raise EngineError(
                    f"partition {column}={value} of {table}: location {location} must end "
                    f"with {column}={value}/ (the local engine reads partition values from paths)"
                )
            if not path.is_dir():
                raise EngineError(f"partition {column}={value} of {table}: {location} is absent")
            updates[value] = {
                "location": self._relative(path),
                "files": self._parquet_files(path),
            }

        def swap(catalog: dict) -> None:
            catalog["tables"][table]["partitions"].update(updates)

        self._update_catalog(swap)

    def drop_partitions(self, table: str, values: list[str]) -> None:
        self._entry(table)

        def drop(catalog: dict) -> None:
            for value in values:
                catalog["tables"][table]["partitions"].pop(value, None)

        self._update_catalog(drop)

    # -- properties ----------------------------------------------------------------------

    def table_properties(self, table: str) -> dict[str, str]:
        return dict(self._entry(table)["properties"])

    def table_version(self, table: str) -> str:
        return str(self._entry(table).get("version", 0))

    def set_table_properties(
        self, table: str, properties: dict[str, str], expected_version: str | None = None
    ) -> None:
        self._entry(table)

        def merge(catalog: dict) -> None:
            entry = catalog["tables"][table]
            version = str(entry.get("version", 0))
            if expected_version is not None and version != expected_version:
                raise ConcurrentWriteError(
                    f"setting properties of {table}: the table is at version {version}, "
                    f"not {expected_version}: another writer changed it"
                )
            entry["properties"].update(properties)
            entry["version"] = int(version) + 1

        self._update_catalog(merge)

    def table_location(self, table: str) -> str:
        if table == RAW_TABLE:
            return self._absolute(self._relative(self.raw_root))
        if table == RAW_FIREHOSE_TABLE:
            return self._absolute(self._relative(self.raw_firehose_root))
        if table == RAW_SPLITS_TABLE:
            return self._absolute(self._relative(self.raw_splits_root))
        return self._absolute(self._entry(table)["location"])

    # -- storage -------------------------------------------------------------------------

    def location(self, relative: str) -> str:
        if relative.startswith("/") or ".." in Path(relative).parts:
            raise EngineError(f"location {relative!r} must be relative to the lake, without '..'")
        return self._absolute(relative)

    def list_locations(self, location: str) -> list[str]:
        path = self._local_path(location)
        if not path.is_dir():
            return []
        return [f"{child}/" for child in sorted(path.iterdir()) if child.is_dir()]

    def list_objects(self, location: str) -> list[StoredObject]:
        path = self._local_path(location)
        if not path.is_dir():
            return []
        objects = []
        for each in sorted(path.rglob("*")):
            if each.is_file():
                stat = each.stat()
                objects.append(
                    StoredObject(str(each), f"{stat.st_size}:{stat.st_mtime_ns}", stat.st_size)
                )
        return objects

    def read_text(self, location: str) -> str | None:
        path = self._local_path(location)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise EngineError(f"cannot read {location}: {error}") from None

    def write_text(self, location: str, text: str) -> None:
        try:
            write_text_atomically(self._local_path(location), text)
        except OSError as error:
            raise EngineError(f"cannot write {location}: {error}") from None

    def copy_location(self, source: str, target: str) -> None:
        source_path = self._local_path(source)
        target_path = self._local_path(target)
        files = sorted(f for f in source_path.rglob("*") if f.is_file())
        if not files:
            raise EngineError(f"cannot copy {source}: it holds no data")
        if target_path.exists() and any(target_path.iterdir()):
            raise EngineError(f"cannot copy {source} to {target}: the target is not empty")
        for each in files:
            destination = target_path / each.relative_to(source_path)
            destination.parent.mkdir(parents=True, exist_ok=True)
            # A real copy, not a link: production must survive the staging being deleted.
            shutil.copyfile(each, destination)

    def delete_location(self, location: str) -> None:
        path = self._local_path(location)
        if path == self.lake_dir:
            raise EngineError(f"refusing to delete the whole lake at {location}")
        if path.is_dir() and local_catalog.protects(self.lake_dir, self._relative(path)):
            return  # a kept catalog generation still points here: restorable until it goes
        if path.is_dir():
            shutil.rmtree(path)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._views.clear()

    # -- catalog -------------------------------------------------------------------------

    @property
    def catalog_path(self) -> Path:
        return local_catalog.catalog_path(self.lake_dir)

    def _catalog(self) -> dict:
        """The catalog as on disk (see local_catalog: a lost or damaged one is an error)."""
        key = local_catalog.catalog_key(self.lake_dir)
        if self._catalog_cache is None or self._catalog_cache[0] != key:
            self._catalog_cache = (key, local_catalog.read_catalog(self.lake_dir))
        return self._catalog_cache[1]

    def _update_catalog(self, change: Callable[[dict], None]) -> None:
        """Apply `change` to a fresh copy of the catalog and replace the file atomically,
        holding the lake's writer lock (so no other process's update is lost)."""
        with local_catalog.writer_lock(self.lake_dir):
            catalog = json.loads(json.dumps(self._catalog()))
            change(catalog)
            local_catalog.write_catalog(self.lake_dir, catalog)
            self._catalog_cache = None

    def _entry(self, table: str) -> dict:
        entry = self._catalog()["tables"].get(table)
        if entry is None:
            raise EngineError(f"table {table} does not exist in {self.catalog_path}")
        return entry

    # -- paths ---------------------------------------------------------------------------

    def _local_path(self, location: str) -> Path:
        path = Path(location).resolve()
        if path != self.lake_dir and self.lake_dir not in path.parents:
            raise EngineError(f"location {location} is outside the lake {self.lake_dir}")
        return path

    def _relative(self, path: Path) -> str:
        return f"{path.relative_to(self.lake_dir).as_posix()}/"

    def _absolute(self, relative: str) -> str:
        return f"{(self.lake_dir / relative).as_posix().rstrip('/')}/"

    def _parquet_files(self, directory: Path) -> list[str]:
        return [self._relative(f).rstrip("/") for f in sorted(directory.glob("*.parquet"))]


def _new_entry(location: str, columns: list, partitioned_by: str | None) -> dict[str, Any]:
    """A catalog entry for a table with no data yet (the local counterpart of a Glue table)."""
    return {
        "location": location,
        "columns": columns,
        "partitioned_by": partitioned_by,
        "partitions": {},
        "files": [],
        "properties": {},
        "version": 0,
    }


@functools.lru_cache(maxsize=512)
def _transpile(sql: str, dialect: str) -> tuple[int, str, frozenset[str]]:
    """(statement count, the one statement in `dialect`, the tables it names); memoised, as
    the steps send the same statements again (every rerun, every test of a scenario)."""
    statements = [each for each in sqlglot.parse(sql, read="athena") if each is not None]
    if len(statements) != 1:
        return len(statements), "", frozenset()
    tree = statements[0]
    tables = frozenset(table.name.lower() for table in tree.find_all(exp.Table) if table.name)
    return 1, tree.sql(dialect=dialect), tables


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _column_list(columns: list[tuple[str, str]]) -> str:
    return ", ".join(f'"{name}"' for name, _ in columns)


def _empty_select(columns: list[tuple[str, str]]) -> str:
    casts = ", ".join(f'CAST(NULL AS {column_type}) AS "{name}"' for name, column_type in columns)
    return f"SELECT {casts} WHERE false"


def _failure(name: str, error: Exception) -> str:
    """One message naming the query, the unreadable file (when there is one) and the reason.

    A raw CSV that does not parse is the user's data, not the query: its message names the
    file, the line and what is wrong, in the raw zone's terms (no query name, no advice on
    DuckDB's reader options, which the raw tables fix).
    """
    text = str(error).strip()
    raw_csv = _raw_csv_failure(text)
    if raw_csv:
        return raw_csv
    reason = " ".join(line.strip() for line in text.split("\n\n")[0].splitlines() if line.strip())
    for pattern in _FILE_IN_ERROR:
        match = pattern.search(text)
        if match:
            return f"{name} failed reading {match.group(1)}: {reason}"
    return f"{name} failed: {reason}"


def _raw_csv_failure(text: str) -> str | None:
    """`file, line N: what is wrong` for DuckDB's CSV reader errors, or None."""
    line = _CSV_LINE_ERROR.search(text)
    path = _FILE_IN_ERROR[1].search(text)
    if not line or not path:
        return None
    details = text[line.end() : path.start()].splitlines()
    original = next(
        (d.split(":", 1)[1].strip() for d in details if d.startswith("Original Line:")), ""
    )
    count = _CSV_FIELD_COUNT.search(text)
    if count:
        what = f"{count.group(2)} comma-separated fields where a raw file has {count.group(1)}"
    else:
        what = " ".join(
            d.strip()
            for d in details
            if d.strip() and not d.startswith("Original Line:") and not d.startswith(_CSV_ADVICE)
        )
    shown = f" ({original[:120]})" if original else ""
    return (
        f"the raw zone failed reading {path.group(1)}, line {line.group(1)}: "
        f"{what or 'unreadable'}{shown}; move that object out of the raw zone (the next "
        "ingestion lands the symbol anew), then run again"
    )
