"""Athena for the end-to-end tests: the engine's queries run on DuckDB over moto's S3 objects.

`AthenaDouble(aws, workdir)` hooks the engine's Athena client of a `FakeAws` through botocore's
public event hooks (test process only). Each query the engine starts is parsed as Athena SQL,
its tables are looked up in moto's Glue, their objects read from moto's S3 (through moto's
backends, each content downloaded once), and it runs on DuckDB, transpiled by sqlglot
(`read="athena"`, `write="duckdb"`) as the DuckDB engine does. What it does as Athena does:

- A SELECT's result is stored as moto's result of that execution, so GetQueryResults pages it
  (FakeAws cuts the pages): the column labels as the first row, then every value as the text
  Athena sends (doubles as Java prints them, timestamps with milliseconds, NULL as an empty
  cell), with Athena's type names in ColumnInfo.
- CTAS writes Snappy Parquet under `external_location`, one `column=value/` folder per
  partition (`__HIVE_DEFAULT_PARTITION__` for NULL), without the partition column in the
  files, then creates the Glue table and its partitions. It fails, writing nothing, where
  Athena fails: the table exists, the location holds an object, partition columns not last,
  more than 100 partitions, a column type Athena cannot store (and FakeAws fails a CTAS that
  names `external_location` in a workgroup that enforces its configuration).
- Parquet tables are read from their Glue partitions' locations (the partition value comes
  from the catalog, not the path), every object below at any depth, skipping names starting
  with `_` or `.`; a file whose column type differs from the table's fails the query.
- Text tables: LazySimpleSerDe (`field.delim`, no quoting, `\\N` is NULL, a missing trailing
  field is NULL, `skip.header.line.count`) and the OpenX JSON SerDe (keys matched without
  case, a malformed line fails the query), gzip by `.gz`, with Athena's `"$path"` column.
  Partition projection reads the `dt=` folders under the table location whose names are
  dates of the projected range (up to `NOW`, the wall clock).
- A failed query ends FAILED with Athena's error text in StateChangeReason and AthenaError
  (category USER, not retryable), and leaves nothing written; a query text longer than
  262,144 bytes is refused by StartQueryExecution itself (InvalidRequestException).

What it does not reproduce is listed in README ("What the Athena test double does not show").
"""

from __future__ import annotations

import gzip
import json
import math
import posixpath
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from botocore.awsrequest import AWSResponse
from moto.athena.models import QueryResults
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from sqlglot import exp

from runtime.schema import RAW_COLUMNS
from tests.runtime.wap.fake_aws import (
    DATA_BUCKET,
    DATABASE,
    PARQUET_STORAGE,
    REGION,
    FakeAws,
)

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
CSV_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: Athena's CTAS and INSERT INTO limit.
MAX_PARTITIONS_PER_QUERY = 100
#: The longest QueryString StartQueryExecution accepts.
MAX_QUERY_BYTES = 262_144
PATH_COLUMN = "$path"

#: Glue column type -> the DuckDB type a file or a result must have for it.
_GLUE_TO_DUCKDB = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
_DUCKDB_TO_GLUE = {
    "VARCHAR": "string",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    # DuckDB widens sum(bigint) to 128 bits where Trino keeps bigint.
    "HUGEINT": "bigint",
    "FLOAT": "float",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
#: DuckDB result type -> Athena's ColumnInfo type.
_DUCKDB_TO_ATHENA = {
    "VARCHAR": "varchar",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "bigint",
    "FLOAT": "real",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    '"NULL"': "unknown",
}
#: Integer and floating types Athena reads from a Parquet file declared with a wider type.
_WIDENINGS = {
    ("TINYINT", "SMALLINT"),
    ("TINYINT", "INTEGER"),
    ("TINYINT", "BIGINT"),
    ("SMALLINT", "INTEGER"),
    ("SMALLINT", "BIGINT"),
    ("INTEGER", "BIGINT"),
    ("FLOAT", "DOUBLE"),
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)\Z")
#: DuckDB's timestamps of other precisions (sqlglot writes Athena's timestamp(3) literals
#: as TIMESTAMP_MS): all are Athena's timestamp.
_TIMESTAMPS = ("TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
#: (bucket, key, ETag) of one S3 object.
S3Object = tuple[str, str, str]
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class QueryFailed(Exception):
    """Athena would end the query FAILED with this error text."""


@dataclass(frozen=True)
class ExecutedQuery:
    query_id: str
    #: The SQL as the engine sent it.
    sql: str
    #: Athena's error text when the query failed, else None.
    error: str | None


#: The raw tables as the stack defines them (README, "The Athena engine (production)"):
#: name -> (prefix, SerDe).
RAW_TABLES = {
    "raw_daily_prices": ("raw/", CSV_SERDE),
    "raw_firehose_daily_prices": ("raw_firehose/", JSON_SERDE),
}


def create_raw_table(aws: FakeAws, name: str) -> None:
    """A raw table as the stack creates it (components/wap_workflow.py): all columns string,
    partition projection on `dt`; CSV by LazySimpleSerDe with one header line, or JSON lines
    by the OpenX SerDe."""
    prefix, serde = RAW_TABLES[name]
    location = f"s3://{DATA_BUCKET}/{prefix}"
    parameters = {
        "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": "2000-01-01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "storage.location.template": f"{location}dt=${{dt}}/",
        "classification": "json",
    }
    serde_parameters = {}
    if serde == CSV_SERDE:
        parameters["classification"] = "csv"
        parameters["skip.header.line.count"] = "1"
        serde_parameters = {"field.delim": ",", "serialization.format": ","}
    aws.glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": {
                "Columns": [{"Name": column, "Type": "string"} for column in RAW_COLUMNS],
                "Location": location,
                "InputFormat": TEXT_INPUT,
                "OutputFormat": TEXT_OUTPUT,
                "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_parameters},
            },
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            "Parameters": parameters,
        },
    )


class AthenaDouble:
    """Answers the Athena queries of `aws`'s engine clients by running them on DuckDB."""

    def __init__(self, aws: FakeAws, workdir: Path) -> None:
        self.aws = aws
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.executed: list[ExecutedQuery] = []
        self._backend = get_backend("athena")[DEFAULT_ACCOUNT_ID][REGION]
        # Reads go to moto's backends straight (quicker than through botocore).
        self._s3 = get_backend("s3")[DEFAULT_ACCOUNT_ID]["global"]
        self._glue = get_backend("glue")[DEFAULT_ACCOUNT_ID][REGION]
        self._errors: dict[str, str] = {}
        #: Objects by ETag (an S3 copy keeps it): downloaded once.
        self._downloads: dict[str, Path] = {}
        self._file_types: dict[Path, dict[str, str]] = {}
        self._text_rows: dict[tuple[str, str, str], list[tuple[str | None, ...]]] = {}
        self._connection = duckdb.connect()
        events = aws.client("athena").meta.events
        events.register("before-call.athena.StartQueryExecution", self._refuse_long_query)
        # After FakeAws's own hooks: a query FakeAws already failed is not run.
        events.register("after-call.athena.StartQueryExecution", self._answer)
        events.register("after-call.athena.GetQueryExecution", self._report_error)

    def close(self) -> None:
        self._connection.close()

    @property
    def failures(self) -> list[ExecutedQuery]:
        return [query for query in self.executed if query.error is not None]

    # -- the hooks -----------------------------------------------------------------------

    @staticmethod
    def _refuse_long_query(params: dict, **_: Any) -> tuple[AWSResponse, dict] | None:
        """Athena refuses a query text longer than its API allows (botocore does not check)."""
        query = json.loads(params["body"] or b"{}").get("QueryString", "")
        if len(query.encode()) <= MAX_QUERY_BYTES:
            return None
        message = f"QueryString is {len(query.encode())} bytes, more than {MAX_QUERY_BYTES}"
        error = {"Code": "InvalidRequestException", "Message": message}
        http = AWSResponse("https://athena-double.invalid/", 400, {}, None)
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    def _answer(self, parsed: dict, **_: Any) -> None:
        query_id = parsed.get("QueryExecutionId")
        if not query_id:
            return
        execution = self._backend.executions[query_id]
        if execution.status == "FAILED":
            return
        database = (execution.context or {}).get("Database", DATABASE)
        error = None
        results = QueryResults(rows=[], column_info=[])
        try:
            if execution.workgroup is None:
                raise QueryFailed("InvalidRequestException: the workgroup does not exist")
            results = self._run(query_id, execution.query, database, execution.workgroup)
        except QueryFailed as failure:
            error = str(failure)
            execution.status = "FAILED"
            self._errors[query_id] = error
        self._backend.query_results[query_id] = results
        self.executed.append(ExecutedQuery(query_id, execution.query, error))

    def _report_error(self, parsed: dict, **_: Any) -> None:
        execution = parsed.get("QueryExecution", {})
        error = self._errors.get(execution.get("QueryExecutionId", ""))
        if error is not None:
            execution["Status"]["StateChangeReason"] = error
            execution["Status"]["AthenaError"] = {
                "ErrorCategory": 2,
                "ErrorType": 1000,
                "Retryable": False,
                "ErrorMessage": error,
            }

    # -- one query -----------------------------------------------------------------------

    def _run(self, query_id: str, sql: str, database: str, workgroup: Any) -> QueryResults:
        try:
            statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
        except sqlglot.errors.SqlglotError as error:
            raise QueryFailed(f"SYNTAX_ERROR: {error}") from None
        if len(statements) != 1:
            raise QueryFailed("SYNTAX_ERROR: a query execution runs exactly one statement")
        tree = statements[0]
        if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
            self._ctas(query_id, tree, database, workgroup)
            return QueryResults(rows=[], column_info=[])
        if isinstance(tree, exp.Query):
            self._prepare_views(tree, database)
            return self._select(tree)
        raise QueryFailed(
            f"NOT_SUPPORTED: the Athena test double runs SELECT and CTAS only, not {tree.key}"
        )

    def _select(self, tree: exp.Query) -> QueryResults:
        cursor = self._execute(tree.sql(dialect="duckdb"))
        names = [column[0] for column in cursor.description]
        types = [_normal(column[1]) for column in cursor.description]
        athena_types = [_athena_type(name, t) for name, t in zip(names, types, strict=True)]
        rows = [{"Data": [{"VarCharValue": name} for name in names]}]
        try:
            values = cursor.fetchall()
        except duckdb.Error as error:
            raise QueryFailed(f"the query failed on DuckDB: {error}") from None
        rows.extend({"Data": [_cell(value) for value in row]} for row in values)
        column_info = []
        for name, duck_type, athena_type in zip(names, types, athena_types, strict=True):
            precision, scale = _precision_scale(duck_type)
            column_info.append(
                {
                    "CatalogName": "hive",
                    "SchemaName": "",
                    "TableName": "",
                    "Name": name,
                    "Label": name,
                    "Type": athena_type,
                    "Precision": precision,
                    "Scale": scale,
                    "Nullable": "UNKNOWN",
                    "CaseSensitive": athena_type == "varchar",
                }
            )
        return QueryResults(rows=rows, column_info=column_info)

    def _execute(self, sql: str) -> Any:
        try:
            return self._connection.execute(sql)
        except duckdb.Error as error:
            raise QueryFailed(f"the query failed on DuckDB: {error}") from None

    # -- CTAS ----------------------------------------------------------------------------

    def _ctas(self, query_id: str, tree: exp.Create, database: str, workgroup: Any) -> None:
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        name = target.name.lower()
        database = target.db or database
        properties = _ctas_properties(tree)
        partitioned_by = [column.lower() for column in properties.pop("partitioned_by", [])]
        if properties.pop("format", "PARQUET").upper() != "PARQUET":
            raise QueryFailed("NOT_SUPPORTED: the Athena test double writes Parquet only")
        compression = properties.pop("write_compression", "GZIP").upper()
        location = properties.pop("external_location", None)
        if properties:
            raise QueryFailed(
                f"NOT_SUPPORTED: the Athena test double ignores no CTAS property: {properties}"
            )
        if self._glue_table(database, name) is not None:
            raise QueryFailed(
                f"TABLE_ALREADY_EXISTS: Table 'awsdatacatalog.{database}.{name}' already exists"
            )
        # (FakeAws fails an external_location in a workgroup that enforces its configuration.)
        if location is None:
            output = workgroup.configuration["ResultConfiguration"]["OutputLocation"]
            location = f"{output.rstrip('/')}/tables/{query_id}/"
        bucket, prefix = _s3_parts(location)
        if self.aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("Contents"):
            raise QueryFailed(
                f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{database}.{name}' "
                f"already exists: {location}"
            )
        self._prepare_views(tree.expression, database)
        staged = f"ctas_{uuid.uuid4().hex}"
        self._execute(f"CREATE TEMP TABLE {staged} AS {tree.expression.sql(dialect='duckdb')}")
        try:
            description = self._execute(f"SELECT * FROM {staged} LIMIT 0").description
            columns = [column[0].lower() for column in description]
            duck_types = [_normal(column[1]) for column in description]
            if len(set(columns)) != len(columns):
                raise QueryFailed(f"DUPLICATE_COLUMN_NAME: CTAS columns {columns} repeat a name")
            if partitioned_by and columns[-len(partitioned_by) :] != partitioned_by:
                raise QueryFailed(
                    "HIVE_COLUMN_ORDER_MISMATCH: Partition keys must be the last columns in the "
                    f"table and in the same order as the table properties: {partitioned_by}"
                )
            glue_types = [_glue_type(c, t) for c, t in zip(columns, duck_types, strict=True)]
            files = self._write_parquet(staged, description, partitioned_by, compression)
        finally:
            self._connection.execute(f"DROP TABLE {staged}")
        for relative, body in files:
            self.aws.s3.put_object(Bucket=bucket, Key=prefix + relative, Body=body)
        folders = sorted({relative.rpartition("/")[0] for relative, _ in files} - {""})
        self._register_ctas_table(
            database, name, location, columns, glue_types, partitioned_by, folders
        )

    def _write_parquet(
        self, staged: str, description: list, partitioned_by: list[str], compression: str
    ) -> list[tuple[str, bytes]]:
        """The CTAS output files, (path under the location, content), written by DuckDB."""
        out = self.workdir / f"ctas-{uuid.uuid4().hex}"
        # HUGEINT is DuckDB's widening, not Athena's: store it as the bigint Trino has.
        stored = {"HUGEINT": "BIGINT", "TIMESTAMP": "TIMESTAMP"}
        casts = ", ".join(
            f'CAST("{name}" AS {stored[_normal(duck_type)]}) AS "{name.lower()}"'
            if _normal(duck_type) in stored
            else f'"{name}" AS "{name.lower()}"'
            for name, duck_type, *_ in description
        )
        if partitioned_by:
            keys = ", ".join(f'"{column}"' for column in partitioned_by)
            [(count,)] = self._execute(
                f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {staged})"
            ).fetchall()
            if count > MAX_PARTITIONS_PER_QUERY:
                raise QueryFailed(
                    "HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of "
                    f"{MAX_PARTITIONS_PER_QUERY} open writers for partitions/buckets "
                    f"({count} partitions)"
                )
            self._execute(
                f"COPY (SELECT {casts} FROM {staged}) TO '{out}' "
                f"(FORMAT parquet, COMPRESSION {compression}, PARTITION_BY ({keys}))"
            )
        elif self._execute(f"SELECT count(*) FROM {staged}").fetchall()[0][0]:
            out.mkdir(parents=True)
            self._execute(
                f"COPY (SELECT {casts} FROM {staged}) TO '{out / 'data_0.parquet'}' "
                f"(FORMAT parquet, COMPRESSION {compression})"
            )
        if not out.is_dir():
            return []
        files = []
        stamp = f"{datetime.now(UTC):%Y%m%d_%H%M%S}"
        for index, file in enumerate(sorted(p for p in out.rglob("*") if p.is_file())):
            folder = file.parent.relative_to(out).as_posix()
            # Athena names its files by query and writer, with no extension.
            name = f"{stamp}_{index:05d}_{uuid.uuid4()}"
            files.append((name if folder == "." else f"{folder}/{name}", file.read_bytes()))
        return files

    def _register_ctas_table(
        self,
        database: str,
        name: str,
        location: str,
        columns: list[str],
        glue_types: list[str],
        partitioned_by: list[str],
        folders: list[str],
    ) -> None:
        """The Glue table (and partitions, one per `column=value` folder) a CTAS leaves."""
        typed = [{"Name": c, "Type": t} for c, t in zip(columns, glue_types, strict=True)]
        data_columns = [column for column in typed if column["Name"] not in partitioned_by]
        keys = [column for column in typed if column["Name"] in partitioned_by]
        storage = {**PARQUET_STORAGE, "Columns": data_columns, "Location": location}
        self.aws.glue.create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": storage,
                "PartitionKeys": keys,
                "Parameters": {
                    "EXTERNAL": "TRUE",
                    "has_encrypted_data": "false",
                    "parquet.compression": "SNAPPY",
                },
            },
        )
        partitions = []
        for folder in folders:
            values = [part.split("=", 1)[1] for part in folder.split("/")]
            # A partition location without the trailing slash (the engine must add it).
            partitions.append(
                {"Values": values, "StorageDescriptor": {**storage, "Location": location + folder}}
            )
        for start in range(0, len(partitions), 100):
            response = self.aws.glue.batch_create_partition(
                DatabaseName=database,
                TableName=name,
                PartitionInputList=partitions[start : start + 100],
            )
            assert not response.get("Errors"), response["Errors"]

    # -- tables as DuckDB views ----------------------------------------------------------

    def _prepare_views(self, query: exp.Expression, database: str) -> None:
        """A DuckDB view of each catalog table the query names, over its objects now."""
        ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
        names = sorted(
            {
                (table.db or database, table.name.lower())
                for table in query.find_all(exp.Table)
                if table.name and table.name.lower() not in ctes
            }
        )
        for table_database, name in names:
            table = self._glue_table(table_database, name)
            if table is None:
                raise QueryFailed(
                    f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{table_database}.{name}' "
                    "does not exist"
                )
            view = self._view(table)
            self._connection.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {view}')

    def _view(self, table: dict) -> str:
        storage = table["StorageDescriptor"]
        serde = storage["SerdeInfo"]["SerializationLibrary"]
        columns = [(c["Name"].lower(), c["Type"].lower()) for c in storage["Columns"]]
        keys = [(k["Name"].lower(), k["Type"].lower()) for k in table.get("PartitionKeys", [])]
        partitions = self._files(list(self._partitions(table, keys)))
        if serde == PARQUET_SERDE:
            return self._parquet_view(table["Name"], columns, keys, partitions)
        if serde in (CSV_SERDE, JSON_SERDE):
            return self._text_view(table, serde, columns, keys, partitions)
        raise QueryFailed(f"NOT_SUPPORTED: the Athena test double does not read {serde}")

    def _partitions(self, table: dict, keys: list[tuple[str, str]]) -> Iterator[tuple[list, str]]:
        """(partition values, location) of every partition Athena would read."""
        location = table["StorageDescriptor"]["Location"]
        parameters = table.get("Parameters", {})
        if not keys:
            yield [], location
        elif parameters.get("projection.enabled") == "true":
            yield from self._projected(table["Name"], location, keys, parameters)
        else:
            for found in self._glue.get_partitions(table["DatabaseName"], table["Name"], ""):
                partition = found.as_dict()
                yield partition["Values"], partition["StorageDescriptor"]["Location"]

    def _projected(
        self, name: str, location: str, keys: list[tuple[str, str]], parameters: dict
    ) -> Iterator[tuple[list, str]]:
        """The partitions projection gives: each date of the range whose location (the
        storage.location.template, by default `<location><key>=<value>/`) holds a folder."""
        [(key, _)] = keys
        settings = {
            setting: parameters.get(f"projection.{key}.{setting}")
            for setting in ("type", "format", "range", "interval", "interval.unit")
        }
        supported = {"type": "date", "format": "yyyy-MM-dd", "interval": "1"}
        if any(settings[s] not in (v, None) for s, v in supported.items()):
            raise QueryFailed(
                f"NOT_SUPPORTED: the Athena test double projects daily yyyy-MM-dd dates only "
                f"({name}: {settings})"
            )
        first, _, last = (settings["range"] or "").partition(",")
        start = date.fromisoformat(first.strip())
        end = datetime.now(UTC).date() if last.strip() == "NOW" else date.fromisoformat(last)
        template = (
            parameters.get("storage.location.template")
            or f"{_as_prefix(location)}{key}=${{{key}}}/"
        )
        head, _, tail = template.partition(f"${{{key}}}")
        tail = _as_prefix(tail)
        bucket, head_prefix = _s3_parts(head)
        parent = head_prefix[: head_prefix.rfind("/") + 1]
        for common in self._common_prefixes(bucket, parent):
            found = f"s3://{bucket}/{common['Prefix']}"
            value = found[len(head) : len(found) - len(tail)] if found.startswith(head) else ""
            try:
                day = datetime.strptime(value, "%Y-%m-%d").date()
            except ValueError:
                continue
            # Projection generates each value and reads exactly its templated location.
            if f"{head}{day.isoformat()}{tail}" == found and start <= day <= end:
                yield [value], found

    def _parquet_view(
        self,
        name: str,
        columns: list[tuple[str, str]],
        keys: list[tuple[str, str]],
        partitions: list[tuple[list, str]],
    ) -> str:
        # One scan of every file, each row given its file's partition values (a file may
        # be in several partitions: copies with the same ETag are downloaded once).
        files: dict[str, Path] = {}
        owners: list[tuple[str, list]] = []
        for values, objects in partitions:
            for bucket, key, etag in objects:
                file = self._download(bucket, key, etag)
                self._check_parquet_types(file, f"s3://{bucket}/{key}", columns)
                files[str(file)] = file
                owners.append((str(file), values))
        if not files:
            return _empty_select([*columns, *keys])
        mapping = f"partitions_of_{name}"
        self._connection.register(
            mapping,
            pa.table(
                {
                    "file": pa.array([file for file, _ in owners], pa.string()),
                    **{
                        f"value_{i}": pa.array([values[i] for _, values in owners], pa.string())
                        for i in range(len(keys))
                    },
                }
            ),
        )
        data = [f'f."{column}"' for column, _ in columns]
        constants = [
            f'{_partition_value(f"p.value_{i}", key_type)} AS "{key_name}"'
            for i, (key_name, key_type) in enumerate(keys)
        ]
        file_list = ", ".join(f"'{file}'" for file in files)
        return (
            f"SELECT {', '.join(data + constants)} "
            f"FROM read_parquet([{file_list}], filename = true, hive_partitioning = false) AS f "
            f"JOIN {mapping} AS p ON f.filename = p.file"
        )

    def _check_parquet_types(self, file: Path, url: str, columns: list[tuple[str, str]]) -> None:
        if file not in self._file_types:
            self._file_types[file] = {
                field.name.lower(): _arrow_type(field.type) for field in pq.read_schema(file)
            }
        found = self._file_types[file]
        for column, glue_type in columns:
            wanted = _duckdb_type(glue_type)
            have = found.get(column)
            if have is None:
                raise QueryFailed(
                    f"HIVE_BAD_DATA: the Athena test double reads no Parquet file without the "
                    f"column {column} ({url})"
                )
            if have != wanted and (have, wanted) not in _WIDENINGS:
                raise QueryFailed(
                    f"HIVE_BAD_DATA: Field {column}'s type {have} in parquet file {url} is "
                    f"incompatible with type {glue_type} defined in table schema"
                )

    def _text_view(
        self,
        table: dict,
        serde: str,
        columns: list[tuple[str, str]],
        keys: list[tuple[str, str]],
        partitions: list[tuple[list, str]],
    ) -> str:
        if any(t != "string" for _, t in [*columns, *keys]):
            raise QueryFailed("NOT_SUPPORTED: the Athena test double reads text as strings only")
        storage = table["StorageDescriptor"]
        settings = {
            **storage["SerdeInfo"].get("Parameters", {}),
            **table.get("Parameters", {}),
        }
        names = [column for column, _ in columns]
        rows: list[tuple[str | None, ...]] = []
        for values, objects in partitions:
            for bucket, key, etag in objects:
                cache_key = (f"s3://{bucket}/{key}", etag, serde)
                if cache_key not in self._text_rows:
                    body = self._download(bucket, key, etag).read_bytes()
                    if key.endswith(".gz"):
                        body = gzip.decompress(body)
                    text = body.decode("utf-8", errors="replace")
                    parse = _csv_rows if serde == CSV_SERDE else _json_rows
                    self._text_rows[cache_key] = [
                        (*row, *values, f"s3://{bucket}/{key}")
                        for row in parse(text, names, settings, f"s3://{bucket}/{key}")
                    ]
                rows.extend(self._text_rows[cache_key])
        all_names = [*names, *(k for k, _ in keys), PATH_COLUMN]
        arrow = pa.table(
            {
                name: pa.array([row[i] for row in rows], pa.string())
                for i, name in enumerate(all_names)
            }
        )
        registered = f"text_{table['Name']}"
        self._connection.register(registered, arrow)
        quoted = ", ".join(f'"{name}"' for name in all_names)
        return f"SELECT {quoted} FROM {registered}"

    # -- S3 ------------------------------------------------------------------------------

    def _files(self, partitions: list[tuple[list, str]]) -> list[tuple[list, list[S3Object]]]:
        """Each partition's values with the objects Athena reads at its location: any depth,
        no folder markers, no name (file or folder) starting with `_` or `.`. One listing of
        the prefix the locations share."""
        prefixes = [_s3_parts(_as_prefix(location)) for _, location in partitions]
        listed: dict[str, list[tuple[str, str]]] = {}
        for bucket in {bucket for bucket, _ in prefixes}:
            common = posixpath.commonpath([p for b, p in prefixes if b == bucket])
            keys, _, _, _ = self._s3.list_objects(
                self._s3.get_bucket(bucket), f"{common}/" if common else "", None, None, None
            )
            listed[bucket] = sorted((key.name, key.etag) for key in keys)
        found = []
        for (values, _), (bucket, prefix) in zip(partitions, prefixes, strict=True):
            objects = []
            for key, etag in listed[bucket]:
                relative = key[len(prefix) :] if key.startswith(prefix) else ""
                if not relative or relative.endswith("/"):
                    continue
                if any(part.startswith(("_", ".")) for part in relative.split("/")):
                    continue
                objects.append((bucket, key, etag))
            found.append((values, objects))
        return found

    def _common_prefixes(self, bucket: str, prefix: str) -> list[dict]:
        paginator = self.aws.s3.get_paginator("list_objects_v2")
        return [
            common
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
            for common in page.get("CommonPrefixes", [])
        ]

    def _download(self, bucket: str, key: str, etag: str) -> Path:
        if etag not in self._downloads:
            path = self.workdir / "objects" / uuid.uuid4().hex
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self._s3.get_object(bucket, key).value)
            self._downloads[etag] = path
        return self._downloads[etag]

    def _glue_table(self, database: str, name: str) -> dict | None:
        try:
            return self.aws.glue.get_table(DatabaseName=database, Name=name)["Table"]
        except self.aws.glue.exceptions.EntityNotFoundException:
            return None


# -- reading text like the SerDes ------------------------------------------------------


def _lines(text: str) -> list[str]:
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _csv_rows(
    text: str, names: list[str], settings: dict, url: str
) -> Iterator[tuple[str | None, ...]]:
    """LazySimpleSerDe: split on the delimiter, no quoting; missing trailing fields are NULL,
    extra ones dropped; `\\N` (serialization.null.format) is NULL."""
    delimiter = settings.get("field.delim") or settings.get("serialization.format") or "\x01"
    null = settings.get("serialization.null.format", "\\N")
    skip = int(settings.get("skip.header.line.count", "0"))
    for line in _lines(text)[skip:]:
        fields = line.split(delimiter)
        yield tuple(
            None if i >= len(fields) or fields[i] == null else fields[i] for i in range(len(names))
        )


def _json_rows(
    text: str, names: list[str], settings: dict, url: str
) -> Iterator[tuple[str | None, ...]]:
    """OpenX JSON SerDe: one object per line, keys without case; numbers keep their text."""
    ignore_malformed = settings.get("ignore.malformed.json") == "true"
    for line in _lines(text):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=str, parse_int=str)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            if ignore_malformed:
                yield tuple(None for _ in names)
                continue
            raise QueryFailed(
                f"HIVE_CURSOR_ERROR: Row is not a valid JSON Object - JSONException: {error} "
                f"(file {url})"
            ) from None
        lowered = {key.lower(): value for key, value in record.items()}
        yield tuple(_json_text(lowered.get(name)) for name in names)


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


# -- values and types as Athena shows them ---------------------------------------------


def _cell(value: Any) -> dict:
    if value is None:
        return {}
    return {"VarCharValue": _text(value)}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _java_double(value: float) -> str:
    """A double as Trino (Java's Double.toString) prints it: `120.0`, `1.5E-4`, `1.0E7`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else f"{text}.0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(str(d) for d in digits)
    mantissa = f"{text[0]}.{text[1:] or '0'}"
    return f"{'-' if sign else ''}{mantissa}E{exponent + len(text) - 1}"


def _arrow_type(arrow_type: pa.DataType) -> str:
    """The DuckDB name of a Parquet column's type, as read by pyarrow."""
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    names = {
        pa.string(): "VARCHAR",
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
    }
    return names.get(arrow_type, str(arrow_type))


def _normal(duck_type: Any) -> str:
    text = str(duck_type)
    return "TIMESTAMP" if text in _TIMESTAMPS else text


def _athena_type(name: str, duck_type: str) -> str:
    if _DECIMAL.match(duck_type):
        return "decimal"
    if duck_type not in _DUCKDB_TO_ATHENA:
        raise QueryFailed(
            f"NOT_SUPPORTED: the Athena test double returns no {duck_type} column ({name})"
        )
    return _DUCKDB_TO_ATHENA[duck_type]


def _precision_scale(duck_type: str) -> tuple[int, int]:
    match = _DECIMAL.match(duck_type)
    if match:
        return int(match.group(1)), int(match.group(2))
    return {"BIGINT": (19, 0), "INTEGER": (10, 0), "DOUBLE": (17, 0)}.get(duck_type, (0, 0))


def _glue_type(column: str, duck_type: str) -> str:
    match = _DECIMAL.match(duck_type)
    if match:
        return f"decimal({match.group(1)},{match.group(2)})"
    if duck_type == '"NULL"':
        raise QueryFailed(f"NOT_SUPPORTED: Unsupported Hive type: unknown (column {column})")
    if duck_type not in _DUCKDB_TO_GLUE:
        raise QueryFailed(
            f"NOT_SUPPORTED: Athena cannot store column {column} of DuckDB type {duck_type}"
        )
    return _DUCKDB_TO_GLUE[duck_type]


def _duckdb_type(glue_type: str) -> str:
    if glue_type.startswith("decimal"):
        return glue_type.upper().replace(" ", "")
    return _GLUE_TO_DUCKDB[glue_type]


def _partition_value(column: str, glue_type: str) -> str:
    """A partition value (text, from the catalog) as its column's type; Hive's default
    partition is NULL."""
    return (
        f"CAST(CASE WHEN {column} = '{HIVE_DEFAULT_PARTITION}' THEN NULL ELSE {column} END "
        f"AS {_duckdb_type(glue_type)})"
    )


def _empty_select(columns: list[tuple[str, str]]) -> str:
    casts = ", ".join(f'CAST(NULL AS {_duckdb_type(t)}) AS "{c}"' for c, t in columns)
    return f"SELECT {casts} WHERE false"


def _ctas_properties(tree: exp.Create) -> dict[str, Any]:
    found: dict[str, Any] = {}
    properties = tree.args.get("properties")
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.FileFormatProperty):
            found["format"] = prop.this.name
        elif isinstance(prop, exp.PartitionedByProperty):
            found["partitioned_by"] = [e.name for e in prop.this.expressions]
        elif isinstance(prop, exp.Property):
            found[prop.name.lower()] = prop.args["value"].name
        else:
            raise QueryFailed(f"NOT_SUPPORTED: the Athena test double reads no {prop.sql()}")
    return found


def _as_prefix(location: str) -> str:
    return location if location.endswith("/") else location + "/"


def _s3_parts(location: str) -> tuple[str, str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix
