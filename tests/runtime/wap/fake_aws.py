"""An in-process AWS account for the Athena engine tests, built on moto.

`FakeAws()` (inside `mock_aws`) holds a data bucket, a Glue database and an Athena
workgroup (an ETL one: it does not enforce its configuration, and has a result location).
The clients it hands to the engine record every call (so tests can assert the exact SQL
sent, like SQLMesh's `to_sql_calls`) and add the Athena/Glue behaviour moto does not model,
through botocore's public event hooks:

- failed queries with a StateChangeReason and an AthenaError (`fail_queries`), and a CTAS
  naming an external_location failed in a workgroup that enforces its configuration,
- Glue's optimistic concurrency: an UpdateTable whose VersionId is not the table's current
  one is refused with ConcurrentModificationException (moto ignores VersionId),
- result and partition listings cut into pages the way the services page them,
- refused calls, e.g. throttling (`refuse`), per-entry batch errors (`report_entry_error`),
  and actions run just before a call reaches moto (`before`), e.g. another writer or reader.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from botocore.awsrequest import AWSResponse
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

from runtime.schema import PROD_COLUMNS, PROD_PARTITION_COLUMN
from runtime.wap.engines.athena import AthenaEngine

REGION = "us-east-1"
DATABASE = "stockpipe_test"
WORKGROUP = "stockpipe-test"
DATA_BUCKET = "stockpipe-test-data"
RESULTS_BUCKET = "stockpipe-test-athena-results"

#: How the engine's Parquet tables are stored (what an Athena CTAS registers in Glue).
PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}

#: The production columns as Glue stores them (Athena's varchar is Glue's string), without
#: the partition column `year`.
DAILY_PRICES_COLUMNS = tuple(
    (name, "string" if athena_type == "varchar" else athena_type)
    for name, athena_type in PROD_COLUMNS
    if name != PROD_PARTITION_COLUMN
)

#: Glue answers get_partitions in pages; moto answers everything at once.
GLUE_PARTITION_PAGE = 100
_ATHENA_EXECUTION = "athena::execution"


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict


@dataclass
class _Refusal:
    code: str
    message: str
    status: int
    skip: int
    times: int


@dataclass
class _Failure:
    containing: str
    reason: str
    error: dict
    times: int | None


@dataclass
class _EntryError:
    value: str
    code: str
    message: str
    reported: bool = False


class FakeAws:
    """One moto account: bucket, Glue database, Athena workgroup, recorded engine clients."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.sleeps: list[float] = []
        self._clients: dict[str, Any] = {}
        self._failing: list[_Failure] = []
        self._reasons: dict[str, tuple[str, dict]] = {}
        self._before: dict[str, list[Callable[[dict], None]]] = {}
        self._refusals: dict[str, list[_Refusal]] = {}
        self._entry_errors: dict[str, list[_EntryError]] = {}
        self._counts: dict[str, int] = {}
        self._session = _shared_session()
        # The fixture's own clients are not recorded: `calls` holds only what the engine sent.
        self.s3 = self._session.client("s3")
        self.glue = self._session.client("glue")
        self.athena = self._session.client("athena")
        for bucket in (DATA_BUCKET, RESULTS_BUCKET):
            self.s3.create_bucket(Bucket=bucket)
        self.glue.create_database(DatabaseInput={"Name": DATABASE})
        self.create_workgroup(WORKGROUP)

    def create_workgroup(self, name: str, enforce: bool = False, results: bool = True) -> None:
        """An Athena workgroup; `enforce`: it overrides client-side settings, so (as in
        Athena) every CTAS that names an external_location fails in it."""
        configuration: dict[str, Any] = {"EnforceWorkGroupConfiguration": enforce}
        if results:
            output = f"s3://{RESULTS_BUCKET}/results/{name}/"
            configuration["ResultConfiguration"] = {"OutputLocation": output}
        self.athena.create_work_group(Name=name, Configuration=configuration)

    # -- the engine and what it sent ---------------------------------------------------

    def engine(self, **options: Any) -> AthenaEngine:
        """An AthenaEngine on this account whose waits are recorded in `sleeps`, not slept."""
        settings = {
            "database": DATABASE,
            "workgroup": WORKGROUP,
            "data_bucket": DATA_BUCKET,
            "client_factory": self.client,
            "sleep": self.sleeps.append,
        }
        settings.update(options)
        return AthenaEngine(**settings)

    def client(self, service: str) -> Any:
        """A recorded client with the fake's hooks (one per service)."""
        if service not in self._clients:
            client = self._session.client(service)
            events = client.meta.events
            events.register(f"before-parameter-build.{service}", self._record)
            # One handler per stage, in this order (botocore calls handlers of a more
            # specific event name first, whatever their registration order).
            events.register(f"before-call.{service}", self._run_before)
            events.register(f"before-call.{service}", self._check_table_version)
            events.register(f"before-call.{service}", self._maybe_refuse)
            events.register(f"after-call.{service}", self._maybe_report_entry_errors)
            if service == "athena":
                events.register("after-call.athena.StartQueryExecution", self._maybe_fail)
                events.register("after-call.athena.GetQueryExecution", self._add_reason)
                events.register("after-call.athena.GetQueryResults", self._page_results)
            if service == "glue":
                events.register("after-call.glue.GetPartitions", self._page_partitions)
            self._clients[service] = client
        return self._clients[service]

    def calls_to(self, operation: str) -> list[dict]:
        """The parameters of every call the engine made to `operation`, in order."""
        return [call.params for call in self.calls if call.operation == operation]

    def sql_calls(self) -> list[str]:
        """The exact SQL of every query the engine started, in order."""
        return [params["QueryString"] for params in self.calls_to("StartQueryExecution")]

    # -- Athena behaviour ----------------------------------------------------------------

    def seed_results(
        self, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str | None]]
    ) -> None:
        """Queue the result of the next query started, as Athena returns a SELECT's result:
        the column names as the first row, then every value as a string (None is NULL)."""
        header = [{"VarCharValue": name} for name, _ in columns]
        data = [
            {"Data": [{} if value is None else {"VarCharValue": value} for value in row]}
            for row in rows
        ]
        column_info = [
            {"Name": name, "Label": name, "Type": type_, "Nullable": "UNKNOWN"}
            for name, type_ in columns
        ]
        response = requests.post(
            "http://motoapi.amazonaws.com/moto-api/static/athena/query-results",
            json={
                "account_id": DEFAULT_ACCOUNT_ID,
                "region": REGION,
                "results": [{"rows": [{"Data": header}, *data], "column_info": column_info}],
            },
            timeout=10,
        )
        assert response.status_code == 201, response.text

    def fail_queries(
        self,
        containing: str,
        reason: str,
        *,
        retryable: bool = False,
        category: int = 2,
        times: int | None = None,
    ) -> None:
        """Queries whose SQL contains `containing` end FAILED with this StateChangeReason and
        an AthenaError (`category`: 1 system, 2 user, 3 other); the first `times` such
        queries only when given (None: all of them)."""
        error = {
            "ErrorCategory": category,
            "ErrorType": 1001 if category == 2 else 401,
            "Retryable": retryable,
            "ErrorMessage": reason,
        }
        self._failing.append(_Failure(containing, reason, error, times))

    @staticmethod
    @contextmanager
    def hold_queries(polls: int) -> Iterator[None]:
        """Keep each query in every state for `polls` status checks (a context manager)."""
        state_manager.set_transition(_ATHENA_EXECUTION, {"progression": "manual", "times": polls})
        try:
            yield
        finally:
            state_manager.unset_transition(_ATHENA_EXECUTION)

    def query_state(self, query_id: str) -> str:
        return self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"][
            "Status"
        ]["State"]

    # -- refusals ------------------------------------------------------------------------

    def refuse(
        self,
        operation: str,
        code: str,
        message: str = "refused by the test",
        *,
        status: int = 400,
        skip: int = 0,
        times: int = 1,
    ) -> None:
        """Answer `operation` with an error `times` times, after letting `skip` calls through.
        A refused call never reaches moto, so it changes nothing."""
        self._refusals.setdefault(operation, []).append(
            _Refusal(code, message, status, skip, times)
        )

    def before(self, operation: str, action: Callable[[dict], None]) -> None:
        """Run `action(params)` just before every engine call to `operation` reaches moto
        (after it was recorded): another writer, or a reader looking at Glue mid-swap.
        `action` uses the fixture's own clients (`self.glue`, ...), which are not hooked."""
        self._before.setdefault(operation, []).append(action)

    def report_entry_error(self, operation: str, value: str, code: str, message: str) -> None:
        """After Glue applied a batch call that includes partition `value`, list that entry in
        the response's Errors anyway (Glue's batch calls are not atomic)."""
        self._entry_errors.setdefault(operation, []).append(_EntryError(value, code, message))

    # -- S3 ------------------------------------------------------------------------------

    def put_object(self, key: str, body: bytes = b"PAR1") -> str:
        self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
        return f"s3://{DATA_BUCKET}/{key}"

    def keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=DATA_BUCKET, Prefix=prefix
        ):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    # -- Glue ----------------------------------------------------------------------------

    def create_table(
        self,
        name: str,
        location: str,
        columns: Sequence[tuple[str, str]] = DAILY_PRICES_COLUMNS,
        partition_key: str | None = "year",
        partitions: dict[str, str] | None = None,
        parameters: dict[str, str] | None = None,
    ) -> None:
        """A Parquet table as an Athena CTAS leaves it, with `partitions` value -> location."""
        storage = {
            **copy.deepcopy(PARQUET_STORAGE),
            "Columns": [{"Name": column, "Type": type_} for column, type_ in columns],
            "Location": location,
        }
        self.glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": storage,
                "PartitionKeys": [{"Name": partition_key, "Type": "int"}] if partition_key else [],
                "Parameters": parameters or {},
            },
        )
        items = sorted((partitions or {}).items())
        for start in range(0, len(items), 100):
            response = self.glue.batch_create_partition(
                DatabaseName=DATABASE,
                TableName=name,
                PartitionInputList=[
                    {"Values": [value], "StorageDescriptor": {**storage, "Location": where}}
                    for value, where in items[start : start + 100]
                ],
            )
            assert not response.get("Errors"), response["Errors"]

    def table(self, name: str) -> dict:
        return self.glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]

    def glue_partitions(self, table: str) -> dict[str, dict]:
        """Partition value -> the partition's StorageDescriptor, straight from Glue."""
        partitions = self.glue.get_partitions(DatabaseName=DATABASE, TableName=table)
        return {p["Values"][0]: p["StorageDescriptor"] for p in partitions["Partitions"]}

    # -- hooks -----------------------------------------------------------------------------

    def _record(self, params: dict, model: Any, context: dict, **_: Any) -> None:
        context["fake_aws_params"] = params
        service = model.service_model.service_name
        self.calls.append(Call(service, model.name, copy.deepcopy(params)))

    def _run_before(self, model: Any, context: dict, **_: Any) -> None:
        for action in self._before.get(model.name, []):
            action(context.get("fake_aws_params", {}))

    def _check_table_version(
        self, model: Any, context: dict, **_: Any
    ) -> tuple[AWSResponse, dict] | None:
        params = context.get("fake_aws_params", {})
        expected = params.get("VersionId")
        if model.name != "UpdateTable" or expected is None:
            return None
        name = params["TableInput"]["Name"]
        current = self.glue.get_table(DatabaseName=params["DatabaseName"], Name=name)["Table"]
        if current.get("VersionId") == expected:
            return None
        message = (
            f"Update table failed due to concurrent modifications: table {name} is at version "
            f"{current.get('VersionId')}, the update was for version {expected}"
        )
        return _error_response("ConcurrentModificationException", message, 400)

    def _maybe_refuse(self, model: Any, **_: Any) -> tuple[AWSResponse, dict] | None:
        count = self._counts.get(model.name, 0)
        self._counts[model.name] = count + 1
        for refusal in self._refusals.get(model.name, []):
            if refusal.skip <= count < refusal.skip + refusal.times:
                return _error_response(refusal.code, refusal.message, refusal.status)
        return None

    def _maybe_report_entry_errors(
        self, model: Any, parsed: dict, context: dict, http_response: AWSResponse, **_: Any
    ) -> None:
        if http_response.status_code >= 300:
            return
        params = context.get("fake_aws_params", {})
        entries = params.get("PartitionInputList") or params.get("Entries") or []
        for entry_error in self._entry_errors.get(model.name, []):
            values = [(entry.get("PartitionInput") or entry).get("Values", []) for entry in entries]
            if [entry_error.value] in values and not entry_error.reported:
                entry_error.reported = True
                key = (
                    "PartitionValueList"
                    if model.name == "BatchUpdatePartition"
                    else "PartitionValues"
                )
                parsed.setdefault("Errors", []).append(
                    {
                        key: [entry_error.value],
                        "ErrorDetail": {
                            "ErrorCode": entry_error.code,
                            "ErrorMessage": entry_error.message,
                        },
                    }
                )

    def _maybe_fail(self, parsed: dict, context: dict, **_: Any) -> None:
        params = context.get("fake_aws_params", {})
        query = params.get("QueryString", "")
        query_id = parsed.get("QueryExecutionId")
        if not query_id:
            return
        backend = get_backend("athena")[DEFAULT_ACCOUNT_ID][REGION]
        workgroup = params.get("WorkGroup", "primary")
        configuration = backend.work_groups[workgroup].configuration
        failure = next(
            (
                each
                for each in self._failing
                if each.containing in query and (each.times is None or each.times > 0)
            ),
            None,
        )
        if configuration.get("EnforceWorkGroupConfiguration") and "external_location" in query:
            reason = (
                "INVALID_TABLE_PROPERTY: external_location cannot be set in a workgroup that "
                f"enforces its configuration ({workgroup})"
            )
            error = {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False}
            failure = _Failure("", reason, {**error, "ErrorMessage": reason}, None)
        elif failure is not None and failure.times is not None:
            failure.times -= 1
        if failure is not None:
            backend.executions[query_id].status = "FAILED"
            self._reasons[query_id] = (failure.reason, failure.error)

    def _add_reason(self, parsed: dict, **_: Any) -> None:
        execution = parsed.get("QueryExecution", {})
        found = self._reasons.get(execution.get("QueryExecutionId", ""))
        if found is not None:
            execution["Status"]["StateChangeReason"] = found[0]
            execution["Status"]["AthenaError"] = dict(found[1])

    def _page_results(self, parsed: dict, context: dict, **_: Any) -> None:
        params = context.get("fake_aws_params", {})
        _cut_page(parsed, parsed.get("ResultSet", {}), "Rows", params, 1000)

    def _page_partitions(self, parsed: dict, context: dict, **_: Any) -> None:
        params = context.get("fake_aws_params", {})
        _cut_page(parsed, parsed, "Partitions", params, GLUE_PARTITION_PAGE)


@functools.cache
def _shared_session() -> boto3.session.Session:
    """One session for every test: it loads each service model once (clients stay per test)."""
    return boto3.session.Session(region_name=REGION)


def _error_response(code: str, message: str, status: int) -> tuple[AWSResponse, dict]:
    """What a before-call handler returns to answer a call with an AWS error."""
    http = AWSResponse("https://fake-aws.invalid/", status, {}, None)
    return http, {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def _cut_page(parsed: dict, holder: dict, key: str, params: dict, default_size: int) -> None:
    """Keep one page of `holder[key]`, the one NextToken/MaxResults ask for."""
    if key not in holder:
        return
    start = int(params.get("NextToken") or 0)
    size = params.get("MaxResults") or default_size
    items = holder[key]
    holder[key] = items[start : start + size]
    if start + size < len(items):
        parsed["NextToken"] = str(start + size)
    else:
        parsed.pop("NextToken", None)
