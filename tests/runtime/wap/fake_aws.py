"""An in-process AWS account for the Athena engine tests, built on moto.

`FakeAws()` (inside `mock_aws`) holds a data bucket, a Glue database and an Athena
workgroup. The clients it hands to the engine record every call (so tests can assert the exact
SQL sent, like SQLMesh's `to_sql_calls`) and add the Athena/Glue behaviour moto does not
model, through botocore's public event hooks:

- failed queries with a StateChangeReason (`fail_queries`),
- result and partition listings cut into pages the way the services page them,
- refused calls, e.g. throttling (`refuse`), and per-entry batch errors (`report_entry_error`).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from botocore.awsrequest import AWSResponse
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

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

#: The production columns (contracts.md), without the partition column `year`.
DAILY_PRICES_COLUMNS = (
    ("symbol", "string"),
    ("trade_date", "date"),
    ("open", "double"),
    ("high", "double"),
    ("low", "double"),
    ("close", "double"),
    ("volume", "bigint"),
    ("avg_price", "double"),
    ("daily_return", "double"),
    ("ingested_at", "timestamp"),
    ("run_id", "string"),
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
        self._failing: list[tuple[str, str]] = []
        self._reasons: dict[str, str] = {}
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
        self.athena.create_work_group(
            Name=WORKGROUP,
            Configuration={
                "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS_BUCKET}/results/"},
                "EnforceWorkGroupConfiguration": True,
            },
        )

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

    def fail_queries(self, containing: str, reason: str) -> None:
        """Queries whose SQL contains `containing` end FAILED with this StateChangeReason."""
        self._failing.append((containing, reason))

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

    def _maybe_refuse(self, model: Any, **_: Any) -> tuple[AWSResponse, dict] | None:
        count = self._counts.get(model.name, 0)
        self._counts[model.name] = count + 1
        for refusal in self._refusals.get(model.name, []):
            if refusal.skip <= count < refusal.skip + refusal.times:
                error = {"Code": refusal.code, "Message": refusal.message}
                http = AWSResponse("https://fake-aws.invalid/", refusal.status, {}, None)
                return http, {
                    "Error": error,
                    "ResponseMetadata": {"HTTPStatusCode": refusal.status},
                }
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
        query = context.get("fake_aws_params", {}).get("QueryString", "")
        query_id = parsed.get("QueryExecutionId")
        for containing, reason in self._failing:
            if query_id and containing in query:
                execution = get_backend("athena")[DEFAULT_ACCOUNT_ID][REGION].executions[query_id]
                execution.status = "FAILED"
                self._reasons[query_id] = reason
                return

    def _add_reason(self, parsed: dict, **_: Any) -> None:
        execution = parsed.get("QueryExecution", {})
        reason = self._reasons.get(execution.get("QueryExecutionId", ""))
        if reason is not None:
            execution["Status"]["StateChangeReason"] = reason

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
