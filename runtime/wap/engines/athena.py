"""The production engine: SQL on Athena, tables and partitions in Glue, data files in S3.

Runs on Glue Python shell (Python 3.9, boto3 only). Everything AWS-specific the
write-audit-publish steps need stays here: CTAS properties, query polling, result paging and
typing, retries of what is safe to repeat, Glue catalog calls, the partition swap (atomic per
partition) and the table versions that keep publishes from overwriting each other.
"""

from __future__ import annotations

import copy
import logging
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from runtime.wap.engines.base import (
    ConcurrentWriteError,
    Engine,
    EngineError,
    QueryResult,
    QueryScan,
    StoredObject,
)

logger = logging.getLogger(__name__)

#: Builds a boto3 client for a service name ("athena", "glue", "s3"); tests pass moto's.
ClientFactory = Callable[[str], Any]

# Error codes AWS returns when it rejected a request without doing anything, so sending the
# same request again is safe. Anything else is reported, not retried.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
#: Glue refused a request because another writer changed the same entity meanwhile. Nothing
#: was applied, so the same request is safe to send again, except an update computed from
#: what was read before (set_table_properties re-reads instead).
CONFLICT_CODE = "ConcurrentModificationException"
#: Athena's AthenaError.ErrorCategory of a query that failed for its SQL (1 system, 3 other).
USER_ERROR_CATEGORY = 2

# Glue and S3 per-request limits.
GLUE_PARTITION_BATCH = 100
GLUE_DELETE_PARTITION_BATCH = 25
S3_DELETE_BATCH = 1000
#: The largest object one CopyObject call copies (5 GiB); Athena's CTAS files are far smaller.
S3_COPY_OBJECT_MAX_BYTES = 5 * 1024**3

# The keys of a Glue get_table answer that TableInput accepts (the rest is read-only).
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
    "ViewDefinition",
)
_PARTITION_INPUT_KEYS = (
    "Values",
    "LastAccessTime",
    "StorageDescriptor",
    "Parameters",
    "LastAnalyzedTime",
)

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\Z")

_RAISE = object()
#: Glue's and S3's answers for a table or object that does not exist.
_NOT_FOUND_CODES = frozenset({"EntityNotFoundException", "NoSuchKey"})


class AthenaEngine(Engine):
    """Athena in one workgroup and one Glue database, data under one S3 bucket.

    Query results go to the workgroup's configured result location, so the workgroup must
    have one. `client_factory` builds the boto3 clients (default: a session in `region`);
    `sleep` is what waits between status polls and throttling retries (tests pass a recorder).
    """

    DIALECT = "athena"
    MAX_PARTITIONS_PER_WRITE = 100

    #: Status polling: first wait, growth per poll, longest wait (seconds).
    POLL_FIRST_DELAY = 0.5
    POLL_BACKOFF = 1.5
    POLL_MAX_DELAY = 10.0
    #: Throttled calls. Athena answers TooManyRequestsException for as long as the account's
    #: active-query quota is full, which can outlast botocore's own few quick retries.
    THROTTLE_ATTEMPTS = 8
    THROTTLE_FIRST_DELAY = 1.0
    THROTTLE_MAX_DELAY = 30.0
    #: Rows per get_query_results call (Athena's maximum).
    RESULT_PAGE_SIZE = 1000
    #: Queries that FAILED with AthenaError.Retryable (and not for their SQL): attempts in
    #: all, and the wait before the second (doubling).
    QUERY_ATTEMPTS = 3
    QUERY_RETRY_FIRST_DELAY = 2.0

    def __init__(
        self,
        database: str,
        workgroup: str,
        data_bucket: str,
        region: str | None = None,
        client_factory: ClientFactory | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_seconds: float = 3600.0,
    ) -> None:
        for option, value in (("database", database), ("workgroup", workgroup)):
            if not value or not value.strip():
                raise EngineError(f"Athena engine: {option} is not set")
        if not data_bucket or not _BUCKET_NAME.match(data_bucket):
            raise EngineError(
                f"Athena engine: data_bucket {data_bucket!r} is not an S3 bucket name; "
                "give the bare name (e.g. 'stockpipe-dev-data'), not an s3:// URL or a path"
            )
        self.database = database
        self.workgroup = workgroup
        self.data_bucket = data_bucket
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        self._owns_clients = client_factory is None
        if client_factory is None:
            client_factory = boto3.session.Session(region_name=region).client
        self._athena = client_factory("athena")
        self._glue = client_factory("glue")
        self._s3 = client_factory("s3")

    def check_ready(self) -> None:
        what = f"checking Athena workgroup {self.workgroup}"
        found = self._call(what, self._athena.get_work_group, WorkGroup=self.workgroup)
        workgroup = found["WorkGroup"]
        configuration = workgroup.get("Configuration", {})
        if configuration.get("EnforceWorkGroupConfiguration"):
            raise EngineError(
                f"Athena workgroup {self.workgroup} enforces its configuration "
                "(EnforceWorkGroupConfiguration = true, 'Override client-side settings'), and "
                "Athena then fails every CTAS that names an external_location, as every write "
                "of this job does: run the job in an ETL workgroup that does not enforce its "
                "configuration and has a query result location"
            )
        if not configuration.get("ResultConfiguration", {}).get("OutputLocation"):
            raise EngineError(
                f"Athena workgroup {self.workgroup} has no query result location "
                "(ResultConfiguration.OutputLocation): set one, the job's queries write their "
                "results there"
            )
        if workgroup.get("State", "ENABLED") != "ENABLED":
            raise EngineError(f"Athena workgroup {self.workgroup} is {workgroup['State']}")

    # -- SQL ---------------------------------------------------------------------------

    def render(self, sql: str) -> str:
        """The SQL is already Athena's: only trim blanks and trailing semicolons (a query
        execution is exactly one statement)."""
        return sql.strip().rstrip(";").rstrip()

    def execute(self, sql: str, name: str = "query") -> None:
        self._run(sql, name)

    def fetchall(self, sql: str, name: str = "query") -> QueryResult:
        return self._results(self._run(sql, name), name)

    # -- tables --------------------------------------------------------------------------

    def table_exists(self, table: str) -> bool:
        return self._get_table(table) is not None

    def ctas(
        self,
        table: str,
        select_sql: str,
        location: str,
        partitioned_by: str | None = None,
        name: str = "ctas",
    ) -> None:
        _check_identifier(table, f"{name}: table name")
        self._s3_parts(location, f"{name}: external_location")
        if partitioned_by is not None:
            _check_identifier(partitioned_by, f"{name}: partition column")
        select_sql = self.render(select_sql)
        attempt = 1
        target = location
        while True:
            # Athena fails a CTAS into a non-empty location only after running the whole
            # SELECT (HIVE_PATH_ALREADY_EXISTS); checking first is cheaper and says what to do.
            bucket, prefix = self._s3_parts(target, f"{name}: external_location")
            existing = self._first_key(f"{name}: checking that {target} is empty", bucket, prefix)
            if existing is not None:
                raise EngineError(
                    f"{name}: cannot create {self.database}.{table} at {target}: the location "
                    f"already holds data (e.g. s3://{bucket}/{existing}); "
                    "an Athena CTAS needs an empty external_location, so delete that prefix "
                    "first or write to a fresh one"
                )
            try:
                self._run_once(_ctas_sql(table, select_sql, target, partitioned_by), name)
                return
            except _FailedQuery as failure:
                self._before_query_retry(failure, attempt, name)
            # The failed attempt may have left part of its files (and, rarely, its table):
            # the next one writes to a fresh child prefix nothing reads.
            self.drop_table(table)
            attempt += 1
            target = f"{location}attempt-{attempt}/"

    def drop_table(self, table: str) -> None:
        self._call(
            f"dropping table {self.database}.{table}",
            self._glue.delete_table,
            not_found=None,
            DatabaseName=self.database,
            Name=table,
        )

    def tables(self) -> list[str]:
        names: list[str] = []
        request: dict[str, Any] = {"DatabaseName": self.database}
        while True:
            page = self._call(
                f"listing the tables of {self.database}", self._glue.get_tables, **request
            )
            names.extend(table["Name"] for table in page.get("TableList", []))
            if not page.get("NextToken"):
                return sorted(names)
            request["NextToken"] = page["NextToken"]

    def create_table_like(self, table: str, like: str, location: str) -> None:
        _check_identifier(table, "table name")
        self._s3_parts(location, f"creating table {self.database}.{table}: location")
        source = self._require_table(like, f"creating table {self.database}.{table} like {like}")
        storage = copy.deepcopy(source["StorageDescriptor"])
        storage["Location"] = location
        # A CTAS table's Parameters hold only format metadata Athena wrote (compression,
        # classification); keep them so the new table reads the same way.
        parameters = dict(source.get("Parameters", {}))
        parameters["EXTERNAL"] = "TRUE"
        self._call(
            f"creating table {self.database}.{table}",
            self._glue.create_table,
            DatabaseName=self.database,
            TableInput={
                "Name": table,
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": storage,
                "PartitionKeys": copy.deepcopy(source.get("PartitionKeys", [])),
                "Parameters": parameters,
            },
        )

    # -- partitions (the swap) -------------------------------------------------------------

    def partitions(self, table: str) -> dict[str, str]:
        return {
            _partition_value(partition, table): _as_prefix(
                partition["StorageDescriptor"]["Location"]
            )
            for partition in self._glue_partitions(table)
        }

    def replace_partitions(self, table: str, partitions: dict[str, str]) -> None:
        if not partitions:
            return
        what = f"replacing partitions of {self.database}.{table}"
        for value, location in partitions.items():
            self._s3_parts(location, f"{what}: location of partition {value!r}")
        storage = self._require_table(table, what)["StorageDescriptor"]
        before = {_partition_value(p, table): p for p in self._glue_partitions(table)}

        def new_partition(value: str) -> dict:
            partition_storage = copy.deepcopy(storage)
            partition_storage["Location"] = partitions[value]
            return {"Values": [value], "StorageDescriptor": partition_storage}

        to_create = sorted(value for value in partitions if value not in before)
        to_update = sorted(value for value in partitions if value in before)
        attempted_creates: list[str] = []
        attempted_updates: list[str] = []
        try:
            for batch in _chunks(to_create, GLUE_PARTITION_BATCH):
                attempted_creates.extend(batch)
                response = self._call(
                    f"{what}: creating {', '.join(batch)}",
                    self._glue.batch_create_partition,
                    DatabaseName=self.database,
                    TableName=table,
                    PartitionInputList=[new_partition(value) for value in batch],
                )
                _raise_entry_errors(response, f"{what}: creating partitions")
            for batch in _chunks(to_update, GLUE_PARTITION_BATCH):
                attempted_updates.extend(batch)
                response = self._call(
                    f"{what}: repointing {', '.join(batch)}",
                    self._glue.batch_update_partition,
                    DatabaseName=self.database,
                    TableName=table,
                    Entries=[
                        {"PartitionValueList": [value], "PartitionInput": new_partition(value)}
                        for value in batch
                    ],
                )
                _raise_entry_errors(response, f"{what}: repointing partitions")
        except EngineError as error:
            raise self._roll_back_partitions(
                table, attempted_creates, [before[value] for value in attempted_updates], error
            ) from error
        logger.info(
            "%s: created %d and repointed %d partitions", what, len(to_create), len(to_update)
        )

    def drop_partitions(self, table: str, values: list[str]) -> None:
        what = f"dropping partitions of {self.database}.{table}"
        for batch in _chunks(sorted(values), GLUE_DELETE_PARTITION_BATCH):
            response = self._call(
                f"{what}: {', '.join(batch)}",
                self._glue.batch_delete_partition,
                DatabaseName=self.database,
                TableName=table,
                PartitionsToDelete=[{"Values": [value]} for value in batch],
            )
            _raise_entry_errors(response, what, ignore=("EntityNotFoundException",))

    # -- table properties and versions (the publish lock) -----------------------------------

    def table_properties(self, table: str) -> dict[str, str]:
        found = self._require_table(table, f"reading properties of {self.database}.{table}")
        return dict(found.get("Parameters", {}))

    def table_version(self, table: str) -> str:
        found = self._require_table(table, f"reading the version of {self.database}.{table}")
        return str(found.get("VersionId", ""))

    def set_table_properties(
        self, table: str, properties: dict[str, str], expected_version: str | None = None
    ) -> None:
        what = f"setting properties of {self.database}.{table}"
        for key, value in properties.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise EngineError(f"{what}: {key!r}={value!r} is not a string pair")
        delay = self.THROTTLE_FIRST_DELAY
        attempt = 1
        while True:
            current = self._require_table(table, what)
            version = str(current.get("VersionId", ""))
            if expected_version is not None and version != expected_version:
                raise ConcurrentWriteError(
                    f"{what}: the table is at version {version}, not {expected_version}: "
                    "another writer changed it"
                )
            table_input = {key: current[key] for key in _TABLE_INPUT_KEYS if key in current}
            table_input["Parameters"] = {**current.get("Parameters", {}), **properties}
            try:
                # VersionId: Glue refuses the update if another writer updated the table since
                # it was read. SkipArchive: a property change needs no archived table version.
                self._call(
                    what,
                    self._glue.update_table,
                    retry_conflicts=False,
                    DatabaseName=self.database,
                    TableInput=table_input,
                    VersionId=version,
                    SkipArchive=True,
                )
                return
            except ConcurrentWriteError:
                if expected_version is not None or attempt >= self.THROTTLE_ATTEMPTS:
                    raise
            logger.warning("%s: changed meanwhile, merging again in %.1f s", what, delay)
            self._sleep(delay)
            delay = min(delay * 2, self.THROTTLE_MAX_DELAY)
            attempt += 1

    def table_location(self, table: str) -> str:
        found = self._require_table(table, f"reading the location of {self.database}.{table}")
        return _as_prefix(found["StorageDescriptor"]["Location"])

    # -- storage -------------------------------------------------------------------------

    def location(self, relative: str) -> str:
        parts = [part for part in relative.split("/") if part]
        if any(part in (".", "..") for part in parts):
            raise EngineError(f"location {relative!r}: '.' and '..' are not allowed")
        path = "".join(f"{part}/" for part in parts)
        return f"s3://{self.data_bucket}/{path}"

    def list_locations(self, location: str) -> list[str]:
        bucket, prefix = self._s3_parts(location, "listing locations")
        children: list[str] = []
        for page in self._s3_pages(
            f"listing {location}", Bucket=bucket, Prefix=prefix, Delimiter="/"
        ):
            children.extend(
                f"s3://{bucket}/{common['Prefix']}" for common in page.get("CommonPrefixes", [])
            )
        return sorted(children)

    def list_objects(self, location: str) -> list[StoredObject]:
        bucket, prefix = self._s3_parts(location, "listing objects")
        objects = [
            StoredObject(f"s3://{bucket}/{item['Key']}", item["ETag"], item.get("Size"))
            for page in self._s3_pages(f"listing {location}", Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        return sorted(objects, key=lambda stored: stored.location)

    def read_text(self, location: str) -> str | None:
        bucket, key = self._object_parts(location, "reading an object")
        response = self._call(
            f"reading {location}", self._s3.get_object, not_found=None, Bucket=bucket, Key=key
        )
        if response is None:
            return None
        try:
            return response["Body"].read().decode("utf-8")
        except (BotoCoreError, UnicodeDecodeError) as error:
            raise EngineError(f"reading {location}: {error}") from error

    def write_text(self, location: str, text: str) -> None:
        bucket, key = self._object_parts(location, "writing an object")
        self._call(
            f"writing {location}",
            self._s3.put_object,
            Bucket=bucket,
            Key=key,
            Body=text.encode("utf-8"),
            ContentType="application/json",
        )

    def copy_location(self, source: str, target: str) -> None:
        what = f"copying {source} to {target}"
        source_bucket, source_prefix = self._s3_parts(source, f"{what}: source")
        target_bucket, target_prefix = self._s3_parts(target, f"{what}: target")
        if target_bucket != self.data_bucket or not target_prefix:
            raise EngineError(
                f"{what}: the target must be a prefix under the data bucket "
                f"s3://{self.data_bucket}/"
            )
        checking = f"{what}: checking that the target is empty"
        if self._first_key(checking, target_bucket, target_prefix) is not None:
            raise EngineError(f"{what}: the target already holds data")
        copied = 0
        for page in self._s3_pages(
            f"{what}: listing the source", Bucket=source_bucket, Prefix=source_prefix
        ):
            for item in page.get("Contents", []):
                key = item["Key"]
                if item.get("Size", 0) > S3_COPY_OBJECT_MAX_BYTES:
                    raise EngineError(
                        f"{what}: s3://{source_bucket}/{key} is larger than the 5 GiB one "
                        "CopyObject call can copy"
                    )
                # Server-side: the object's bytes never leave S3.
                self._call(
                    f"{what}: copying s3://{source_bucket}/{key}",
                    self._s3.copy_object,
                    Bucket=target_bucket,
                    Key=target_prefix + key[len(source_prefix) :],
                    CopySource={"Bucket": source_bucket, "Key": key},
                )
                copied += 1
        if not copied:
            raise EngineError(f"{what}: the source holds no data")
        logger.info("copied %d objects from %s to %s", copied, source, target)

    def delete_location(self, location: str) -> None:
        bucket, prefix = self._s3_parts(location, "deleting a location")
        if bucket != self.data_bucket:
            raise EngineError(
                f"refusing to delete {location}: it is outside the data bucket "
                f"s3://{self.data_bucket}/"
            )
        if not prefix:
            raise EngineError(
                f"refusing to delete {location}: it is the data root; "
                "delete_location takes a prefix under it"
            )
        deleted = 0
        for page in self._s3_pages(f"listing {location}", Bucket=bucket, Prefix=prefix):
            keys = [item["Key"] for item in page.get("Contents", [])]
            for batch in _chunks(keys, S3_DELETE_BATCH):
                response = self._call(
                    f"deleting {location}",
                    self._s3.delete_objects,
                    Bucket=bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
                errors = response.get("Errors", [])
                if errors:
                    sample = "; ".join(
                        f"{e.get('Key')}: {e.get('Code')}: {e.get('Message')}" for e in errors[:5]
                    )
                    raise EngineError(
                        f"deleting {location}: S3 kept {len(errors)} object(s): {sample}"
                    )
                deleted += len(batch)
        logger.info("deleted %d objects under %s", deleted, location)

    def close(self) -> None:
        if self._owns_clients:
            for client in (self._athena, self._glue, self._s3):
                client.close()

    # -- Athena queries ------------------------------------------------------------------

    def _run(self, sql: str, name: str) -> str:
        """Run one statement (again, as a new query, while it fails retryably); return its
        query execution id."""
        attempt = 1
        while True:
            try:
                return self._run_once(sql, name)
            except _FailedQuery as failure:
                self._before_query_retry(failure, attempt, name)
            attempt += 1

    def _before_query_retry(self, failure: _FailedQuery, attempt: int, name: str) -> None:
        """Wait before retrying a failed query, or raise `failure` when it must not be."""
        if not failure.retryable:
            raise failure
        if attempt >= self.QUERY_ATTEMPTS:
            raise EngineError(f"{failure} (after {attempt} attempts)") from failure
        delay = self.QUERY_RETRY_FIRST_DELAY * 2 ** (attempt - 1)
        logger.warning(
            "%s: Athena marked the failure retryable; attempt %d in %.1f s: %s",
            name,
            attempt + 1,
            delay,
            failure,
        )
        self._sleep(delay)

    def _run_once(self, sql: str, name: str) -> str:
        """Start one statement, wait for it, return its query execution id."""
        query = self.render(sql)
        logger.debug("%s SQL:\n%s", name, query)
        started = self._call(
            f"{name}: starting the Athena query",
            self._athena.start_query_execution,
            QueryString=query,
            WorkGroup=self.workgroup,
            QueryExecutionContext={"Database": self.database},
            # The same token on a throttled retry makes Athena start the query at most once.
            ClientRequestToken=str(uuid.uuid4()),
        )
        query_id = started["QueryExecutionId"]
        logger.info("%s: Athena query %s started in workgroup %s", name, query_id, self.workgroup)
        self._wait(query_id, name)
        return query_id

    def _wait(self, query_id: str, name: str) -> None:
        delay = self.POLL_FIRST_DELAY
        waited = 0.0
        while True:
            execution = self._call(
                f"{name}: checking Athena query {query_id}",
                self._athena.get_query_execution,
                QueryExecutionId=query_id,
            )["QueryExecution"]
            status = execution["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                statistics = execution.get("Statistics", {})
                self.query_scans.append(
                    QueryScan(name, int(statistics.get("DataScannedInBytes", 0)))
                )
                logger.info(
                    "%s: Athena query %s succeeded in %d ms, scanned %d bytes",
                    name,
                    query_id,
                    statistics.get("TotalExecutionTimeInMillis", 0),
                    statistics.get("DataScannedInBytes", 0),
                )
                return
            if state in ("FAILED", "CANCELLED"):
                error = status.get("AthenaError", {})
                reason = (
                    status.get("StateChangeReason")
                    or error.get("ErrorMessage")
                    or f"Athena gave no reason (state {state})"
                )
                raise _FailedQuery(
                    f"{name} failed: {reason} "
                    f"(Athena query {query_id}, {state}, workgroup {self.workgroup})",
                    retryable=state == "FAILED"
                    and error.get("Retryable") is True
                    and error.get("ErrorCategory") != USER_ERROR_CATEGORY,
                )
            # QUEUED or RUNNING; Athena may also move a query back to QUEUED after a transient
            # error and retry it itself, so keep waiting.
            if waited >= self.max_wait_seconds:
                self._cancel(query_id, name)
                raise EngineError(
                    f"{name} did not finish within {self.max_wait_seconds:g} s "
                    f"(Athena query {query_id} was still {state}; cancelled it)"
                )
            self._sleep(delay)
            waited += delay
            delay = min(delay * self.POLL_BACKOFF, self.POLL_MAX_DELAY)

    def _cancel(self, query_id: str, name: str) -> None:
        try:
            self._call(
                f"{name}: cancelling Athena query {query_id}",
                self._athena.stop_query_execution,
                QueryExecutionId=query_id,
            )
        except EngineError:
            # The timeout is what gets reported; a query that could not be stopped is logged.
            logger.exception("%s: could not cancel Athena query %s", name, query_id)

    def _results(self, query_id: str, name: str) -> QueryResult:
        columns: list[str] = []
        converters: list[Callable[[str], Any]] = []
        rows: list[tuple[Any, ...]] = []
        request: dict[str, Any] = {
            "QueryExecutionId": query_id,
            "MaxResults": self.RESULT_PAGE_SIZE,
        }
        first_page = True
        while True:
            page = self._call(
                f"{name}: reading the results of Athena query {query_id}",
                self._athena.get_query_results,
                **request,
            )
            result_set = page["ResultSet"]
            values = [
                [cell.get("VarCharValue") for cell in row.get("Data", [])]
                for row in result_set.get("Rows", [])
            ]
            if first_page:
                info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                columns = [column["Name"] for column in info]
                converters = [_converter(column["Type"]) for column in info]
                # A SELECT's first result row repeats the column labels.
                labels = [column.get("Label", column["Name"]) for column in info]
                if values and values[0] == labels:
                    values = values[1:]
                first_page = False
            rows.extend(_typed_row(row, columns, converters, name) for row in values)
            if not page.get("NextToken"):
                return QueryResult(columns=columns, rows=rows)
            request["NextToken"] = page["NextToken"]

    # -- Glue ----------------------------------------------------------------------------

    def _get_table(self, table: str) -> dict | None:
        found = self._call(
            f"looking up table {self.database}.{table}",
            self._glue.get_table,
            not_found=None,
            DatabaseName=self.database,
            Name=table,
        )
        return None if found is None else found["Table"]

    def _require_table(self, table: str, what: str) -> dict:
        found = self._get_table(table)
        if found is None:
            raise EngineError(f"{what}: table {self.database}.{table} does not exist")
        return found

    def _glue_partitions(self, table: str) -> Iterator[dict]:
        request: dict[str, Any] = {"DatabaseName": self.database, "TableName": table}
        while True:
            page = self._call(
                f"listing partitions of {self.database}.{table}",
                self._glue.get_partitions,
                **request,
            )
            yield from page.get("Partitions", [])
            if not page.get("NextToken"):
                return
            request["NextToken"] = page["NextToken"]

    def _roll_back_partitions(
        self,
        table: str,
        created: Sequence[str],
        previous: Sequence[dict],
        error: EngineError,
    ) -> EngineError:
        """Undo a failed swap (repoint updated partitions back, delete created ones) and
        return the error to raise: whether the table is as it was, or what to fix by hand.

        Every attempted entry is undone, including the failing batch: Glue may have applied
        part of a batch that reported errors, and restoring a previous value is harmless.
        """
        problems: list[str] = []
        for batch in _chunks(list(previous), GLUE_PARTITION_BATCH):
            try:
                response = self._call(
                    "restoring partitions",
                    self._glue.batch_update_partition,
                    DatabaseName=self.database,
                    TableName=table,
                    Entries=[
                        {
                            "PartitionValueList": partition["Values"],
                            "PartitionInput": {
                                key: partition[key]
                                for key in _PARTITION_INPUT_KEYS
                                if key in partition
                            },
                        }
                        for partition in batch
                    ],
                )
                _raise_entry_errors(response, "restoring partitions")
            except EngineError as restore_error:
                problems.append(str(restore_error))
        for batch in _chunks(list(created), GLUE_DELETE_PARTITION_BATCH):
            try:
                response = self._call(
                    "removing created partitions",
                    self._glue.batch_delete_partition,
                    DatabaseName=self.database,
                    TableName=table,
                    PartitionsToDelete=[{"Values": [value]} for value in batch],
                )
                _raise_entry_errors(
                    response, "removing created partitions", ignore=("EntityNotFoundException",)
                )
            except EngineError as delete_error:
                problems.append(str(delete_error))
        what = f"replacing partitions of {self.database}.{table}"
        if problems:
            previous_locations = ", ".join(
                f"{p['Values'][0]} -> {p['StorageDescriptor']['Location']}" for p in previous
            )
            return EngineError(
                f"{what} failed ({error}) and the rollback failed too ({'; '.join(problems)}). "
                f"Repoint these partitions by hand: {previous_locations or 'none'}; "
                f"and delete these if present: {', '.join(created) or 'none'}"
            )
        return EngineError(f"{what} failed and was rolled back, the table is as it was: {error}")

    # -- S3 ------------------------------------------------------------------------------

    def _s3_parts(self, location: str, what: str) -> tuple[str, str]:
        """(bucket, key prefix) of an s3://bucket/prefix/ location, or a helpful EngineError."""
        if not isinstance(location, str) or not location.startswith("s3://"):
            raise EngineError(
                f"{what}: {location!r} is not an S3 location; expected s3://bucket/prefix/ "
                "(build it with engine.location(...))"
            )
        bucket, _, prefix = location[len("s3://") :].partition("/")
        if not _BUCKET_NAME.match(bucket):
            raise EngineError(f"{what}: {location!r} does not name a valid S3 bucket")
        if not location.endswith("/") or "//" in prefix or "'" in location:
            raise EngineError(
                f"{what}: {location!r} must be a prefix ending with '/', "
                "without empty path segments or quotes"
            )
        return bucket, prefix

    def _object_parts(self, location: str, what: str) -> tuple[str, str]:
        """(bucket, key) of an s3://bucket/key object location under the data bucket."""
        bucket, key = "", ""
        if isinstance(location, str) and location.startswith("s3://"):
            bucket, _, key = location[len("s3://") :].partition("/")
        if bucket != self.data_bucket or not key or key.endswith("/"):
            raise EngineError(
                f"{what}: {location!r} is not an object under s3://{self.data_bucket}/"
            )
        return bucket, key

    def _first_key(self, what: str, bucket: str, prefix: str) -> str | None:
        """Some object key under `prefix`, or None when the prefix is empty."""
        listing = self._call(
            what, self._s3.list_objects_v2, Bucket=bucket, Prefix=prefix, MaxKeys=1
        )
        contents = listing.get("Contents") or []
        return contents[0]["Key"] if contents else None

    def _s3_pages(self, what: str, **request: Any) -> Iterator[dict]:
        while True:
            page = self._call(what, self._s3.list_objects_v2, **request)
            yield page
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]

    # -- every AWS call ------------------------------------------------------------------

    def _call(
        self,
        what: str,
        method: Callable[..., dict],
        not_found: Any = _RAISE,
        retry_conflicts: bool = True,
        **kwargs,
    ):
        """Call AWS, retrying (bounded, with backoff) only what was refused without effect:
        throttling and, unless `retry_conflicts` is False, Glue's concurrent-modification
        refusal. Errors become EngineError naming `what` (ConcurrentWriteError for a conflict).

        With `not_found` given, a missing Glue entity or S3 object returns it instead of raising.
        """
        delay = self.THROTTLE_FIRST_DELAY
        attempt = 1
        while True:
            try:
                return method(**kwargs)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code in _NOT_FOUND_CODES and not_found is not _RAISE:
                    return not_found
                retryable = code in THROTTLING_CODES or (code == CONFLICT_CODE and retry_conflicts)
                if retryable and attempt < self.THROTTLE_ATTEMPTS:
                    logger.warning(
                        "%s: refused (%s), retry %d in %.1f s", what, code, attempt, delay
                    )
                    self._sleep(delay)
                    delay = min(delay * 2, self.THROTTLE_MAX_DELAY)
                    attempt += 1
                    continue
                message = error.response.get("Error", {}).get("Message", str(error))
                failure = ConcurrentWriteError if code == CONFLICT_CODE else EngineError
                raise failure(f"{what}: {code}: {message}") from error
            except BotoCoreError as error:
                raise EngineError(f"{what}: {error}") from error


class _FailedQuery(EngineError):
    """A query that ended FAILED or CANCELLED; `retryable` when Athena says running it again
    may succeed and it did not fail for its SQL."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def _ctas_sql(table: str, select_sql: str, location: str, partitioned_by: str | None) -> str:
    properties = [
        "format = 'PARQUET'",
        "write_compression = 'SNAPPY'",
        f"external_location = '{location}'",
    ]
    if partitioned_by is not None:
        properties.append(f"partitioned_by = ARRAY['{partitioned_by}']")
    with_clause = ",\n    ".join(properties)
    return f"CREATE TABLE {table}\nWITH (\n    {with_clause}\n)\nAS\n{select_sql}"


def _check_identifier(name: str, what: str) -> None:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise EngineError(f"{what} {name!r} must be a lower-case identifier ([a-z_][a-z0-9_]*)")


def _as_prefix(location: str) -> str:
    return location if location.endswith("/") else location + "/"


def _partition_value(partition: dict, table: str) -> str:
    values = partition["Values"]
    if len(values) != 1:
        raise EngineError(
            f"table {table} has a partition with values {values}; "
            "the write-audit-publish tables have exactly one partition column"
        )
    return values[0]


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _raise_entry_errors(response: dict, what: str, ignore: Sequence[str] = ()) -> None:
    """Glue batch calls answer 200 and list the entries they refused; those are failures."""
    errors = [
        error
        for error in response.get("Errors", [])
        if error.get("ErrorDetail", {}).get("ErrorCode") not in ignore
    ]
    if errors:
        details = "; ".join(
            "{}: {}: {}".format(
                "/".join(error.get("PartitionValues") or error.get("PartitionValueList") or []),
                error.get("ErrorDetail", {}).get("ErrorCode"),
                error.get("ErrorDetail", {}).get("ErrorMessage"),
            )
            for error in errors
        )
        raise EngineError(f"{what}: Glue refused {len(errors)} partition(s): {details}")


# -- typing result values ----------------------------------------------------------------


def _boolean(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"not a boolean: {text!r}")
    return text == "true"


def _timestamp(text: str) -> datetime:
    """Athena's `2024-06-07 21:05:00.000` (UTC, no zone) as a naive datetime."""
    match = _TIMESTAMP.match(text)
    if not match:
        raise ValueError(f"not a timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    microsecond = int((fraction or "0").ljust(6, "0")[:6])
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond
    )


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "tinyint": int,
    "smallint": int,
    "integer": int,
    "int": int,
    "bigint": int,
    "double": float,
    "float": float,
    "real": float,
    "decimal": Decimal,
    "boolean": _boolean,
    "date": date.fromisoformat,
    "timestamp": _timestamp,
}


def _converter(athena_type: str) -> Callable[[str], Any]:
    """How to type a result value of this column type; unknown types stay strings."""
    return _CONVERTERS.get(athena_type.lower().split("(")[0].strip(), str)


def _typed_row(
    values: list[str | None],
    columns: list[str],
    converters: list[Callable[[str], Any]],
    name: str,
) -> tuple[Any, ...]:
    typed = []
    for column, convert, value in zip(columns, converters, values):
        if value is None:
            typed.append(None)
            continue
        try:
            typed.append(convert(value))
        except (ValueError, ArithmeticError) as error:
            raise EngineError(
                f"{name}: column {column} has a value Athena typed but Python cannot read: {error}"
            ) from error
    return tuple(typed)
