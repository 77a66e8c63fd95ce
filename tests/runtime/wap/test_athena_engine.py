"""The Athena engine against moto: queries, Glue catalog, the partition swap, S3 locations."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import unquote

import boto3
import pytest
from botocore.stub import ANY, Stubber

from runtime.schema import RAW_COLUMNS
from runtime.wap import job, raw_zone, store
from runtime.wap.config import WapConfig
from runtime.wap.engines import EngineError, create_engine
from runtime.wap.engines.athena import AthenaEngine
from runtime.wap.engines.base import QueryScan
from tests.conftest import PROJECT_ROOT
from tests.runtime.wap.fake_aws import DATA_BUCKET, DATABASE, WORKGROUP, FakeAws

pytestmark = pytest.mark.aws

PROD = f"s3://{DATA_BUCKET}/prod/daily_prices/"


def version(name: str, year: str) -> str:
    return f"{PROD}v={name}/year={year}/"


# -- queries -------------------------------------------------------------------------------


def test_fetchall_runs_in_the_workgroup_and_types_every_value(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.seed_results(
        [
            ("symbol", "varchar"),
            ("trade_date", "date"),
            ("close", "double"),
            ("volume", "bigint"),
            ("passed", "boolean"),
            ("ingested_at", "timestamp"),
            ("price", "decimal"),
            ("sample_keys", "varchar"),
        ],
        [
            [
                "NVDA",
                "2024-06-07",
                "1208.88",
                "41238580",
                "true",
                "2024-06-07 21:05:00.000",
                "1197.7000",
                None,
            ],
            ["AMD", "2024-06-06", "1.5E-4", "0", "false", "2024-06-07 21:05:00.123", "0.0001", ""],
        ],
    )

    result = engine.fetchall("SELECT * FROM daily_prices;\n", name="report.latest")

    assert result.columns == [
        "symbol",
        "trade_date",
        "close",
        "volume",
        "passed",
        "ingested_at",
        "price",
        "sample_keys",
    ]
    assert result.rows == [
        (
            "NVDA",
            date(2024, 6, 7),
            1208.88,
            41238580,
            True,
            datetime(2024, 6, 7, 21, 5),
            Decimal("1197.7000"),
            None,
        ),
        (
            "AMD",
            date(2024, 6, 6),
            0.00015,
            0,
            False,
            datetime(2024, 6, 7, 21, 5, 0, 123000),
            Decimal("0.0001"),
            "",
        ),
    ]
    (start,) = aws.calls_to("StartQueryExecution")
    assert start["QueryString"] == "SELECT * FROM daily_prices"
    assert start["WorkGroup"] == WORKGROUP
    assert start["QueryExecutionContext"] == {"Database": DATABASE}


def test_fetchall_reads_every_result_page(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.seed_results(
        [("symbol", "varchar"), ("n", "integer")],
        [["NVDA", str(n)] for n in range(2500)],
    )

    result = engine.fetchall("SELECT symbol, n FROM t", name="many")

    assert [row[1] for row in result.rows] == list(range(2500))
    pages = aws.calls_to("GetQueryResults")
    assert [page.get("NextToken") for page in pages] == [None, "1000", "2000"]
    assert {page["MaxResults"] for page in pages} == {1000}


def test_a_query_with_no_rows_has_columns_and_no_rows(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.seed_results([("failed_rows", "bigint")], [])

    result = engine.fetchall("SELECT failed_rows FROM dq_results WHERE false")

    assert result.columns == ["failed_rows"]
    assert result.rows == []
    assert result.scalar() is None


def test_failed_query_names_the_query_and_athenas_reason(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    reason = (
        "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.stockpipe_test.staging' does not exist"
    )
    aws.fail_queries("FROM staging", reason)

    with pytest.raises(EngineError) as raised:
        engine.fetchall("SELECT count(*) FROM staging", name="audit.not_null_keys")

    message = str(raised.value)
    assert message.startswith("audit.not_null_keys failed: ")
    assert reason in message
    # A failed query is reported, never run again, and has no results to read.
    assert len(aws.calls_to("StartQueryExecution")) == 1
    assert aws.calls_to("GetQueryResults") == []


def test_polls_with_growing_waits_until_the_query_finishes(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    with aws.hold_queries(polls=3):
        engine.execute("MSCK REPAIR TABLE raw_daily_prices", name="repair")

    statuses = aws.calls_to("GetQueryExecution")
    assert len(statuses) > 3
    assert aws.sleeps[0] == AthenaEngine.POLL_FIRST_DELAY
    assert aws.sleeps == sorted(aws.sleeps)
    assert aws.sleeps[-1] > aws.sleeps[0]
    assert len(aws.sleeps) == len(statuses) - 1


def test_a_query_running_past_the_limit_is_cancelled(aws: FakeAws) -> None:
    engine = aws.engine(max_wait_seconds=20)

    with aws.hold_queries(polls=1_000_000), pytest.raises(EngineError) as raised:
        engine.execute("SELECT * FROM huge", name="publish.merge")

    assert "publish.merge did not finish within 20 s" in str(raised.value)
    (start_id,) = {call["QueryExecutionId"] for call in aws.calls_to("GetQueryExecution")}
    assert aws.calls_to("StopQueryExecution") == [{"QueryExecutionId": start_id}]
    assert aws.query_state(start_id) == "CANCELLED"
    assert max(aws.sleeps) <= AthenaEngine.POLL_MAX_DELAY
    assert sum(aws.sleeps) >= 20


def test_throttled_start_is_retried_with_the_same_request_token(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.refuse("StartQueryExecution", "TooManyRequestsException", "Rate exceeded", times=2)

    engine.execute("SELECT 1", name="probe")

    starts = aws.calls_to("StartQueryExecution")
    assert len(starts) == 3
    assert len({start["ClientRequestToken"] for start in starts}) == 1
    assert aws.sleeps == [1.0, 2.0]


def test_throttling_that_never_ends_is_reported(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.refuse("StartQueryExecution", "ThrottlingException", "Rate exceeded", times=100)

    with pytest.raises(EngineError, match=r"probe: starting the Athena query: ThrottlingException"):
        engine.execute("SELECT 1", name="probe")

    assert len(aws.calls_to("StartQueryExecution")) == AthenaEngine.THROTTLE_ATTEMPTS


def test_other_aws_errors_are_not_retried(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.refuse("StartQueryExecution", "InvalidRequestException", "WorkGroup is disabled")

    with pytest.raises(EngineError, match=r"probe: .*InvalidRequestException: WorkGroup is"):
        engine.execute("SELECT 1", name="probe")

    assert len(aws.calls_to("StartQueryExecution")) == 1
    assert aws.sleeps == []


# -- tables ---------------------------------------------------------------------------------


def test_table_exists_and_drop_table_go_through_glue_and_keep_data(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.create_table("daily_prices", PROD, partitions={"2024": version("1", "2024")})
    data_file = "prod/daily_prices/v=1/year=2024/part-0.parquet"
    aws.put_object(data_file)

    assert engine.table_exists("daily_prices")
    assert not engine.table_exists("dq_results")

    engine.drop_table("daily_prices")
    engine.drop_table("daily_prices")  # safe when absent

    assert not engine.table_exists("daily_prices")
    assert aws.keys("prod/") == [data_file]
    assert aws.sql_calls() == []


def test_glue_errors_other_than_not_found_are_raised(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.refuse("GetTable", "AccessDeniedException", "not authorized to perform glue:GetTable")

    with pytest.raises(EngineError, match="AccessDeniedException: not authorized"):
        engine.table_exists("daily_prices")


@pytest.mark.parametrize(
    ("partitioned_by", "properties"),
    [
        ("year", ",\n    partitioned_by = ARRAY['year']"),
        (None, ""),
    ],
)
def test_ctas_sends_a_parquet_ctas_at_the_given_location(
    aws: FakeAws, engine: AthenaEngine, partitioned_by: str | None, properties: str
) -> None:
    location = engine.location("staging/daily_prices/run_id=r1")

    engine.ctas(
        "daily_prices_staging_r1",
        "SELECT symbol, close, year\nFROM raw_daily_prices;\n",
        location,
        partitioned_by=partitioned_by,
        name="create_staging",
    )

    assert aws.sql_calls() == [
        "CREATE TABLE daily_prices_staging_r1\n"
        "WITH (\n"
        "    format = 'PARQUET',\n"
        "    write_compression = 'SNAPPY',\n"
        f"    external_location = 's3://{DATA_BUCKET}/staging/daily_prices/run_id=r1/'"
        f"{properties}\n"
        ")\n"
        "AS\n"
        "SELECT symbol, close, year\n"
        "FROM raw_daily_prices"
    ]


def test_ctas_refuses_a_location_that_already_holds_data(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.put_object("staging/daily_prices/run_id=r1/year=2024/leftover.parquet")

    with pytest.raises(EngineError) as raised:
        engine.ctas(
            "daily_prices_staging_r1",
            "SELECT 1 AS x",
            engine.location("staging/daily_prices/run_id=r1/"),
            name="create_staging",
        )

    message = str(raised.value)
    assert message.startswith("create_staging: ")
    assert "staging/daily_prices/run_id=r1/year=2024/leftover.parquet" in message
    assert "empty" in message
    assert aws.sql_calls() == []


@pytest.mark.parametrize(
    ("location", "complaint"),
    [
        ("staging/daily_prices/", "is not an S3 location"),
        (f"s3://{DATA_BUCKET}/staging/daily_prices", "must be a prefix ending with '/'"),
        ("s3://Not_A_Bucket/staging/", "does not name a valid S3 bucket"),
        (f"s3://{DATA_BUCKET}/it's/", "quotes"),
    ],
)
def test_ctas_rejects_a_location_that_is_not_an_s3_prefix(
    aws: FakeAws, engine: AthenaEngine, location: str, complaint: str
) -> None:
    with pytest.raises(EngineError, match="create_staging: external_location") as raised:
        engine.ctas("t", "SELECT 1 AS x", location, name="create_staging")

    assert complaint in str(raised.value)
    assert aws.sql_calls() == []


def test_ctas_rejects_a_table_name_that_is_not_an_identifier(engine: AthenaEngine) -> None:
    with pytest.raises(EngineError, match="must be a lower-case identifier"):
        engine.ctas("t; DROP TABLE daily_prices", "SELECT 1", engine.location("staging/x/"))


def test_create_table_like_copies_the_schema_with_its_own_location(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.create_table(
        "daily_prices_publish_r1",
        f"s3://{DATA_BUCKET}/prod/daily_prices/v=1/",
        partitions={"2024": version("1", "2024")},
        parameters={"parquet.compression": "SNAPPY"},
    )

    engine.create_table_like("daily_prices", "daily_prices_publish_r1", PROD)

    created = aws.table("daily_prices")
    source = aws.table("daily_prices_publish_r1")
    assert created["StorageDescriptor"] == {**source["StorageDescriptor"], "Location": PROD}
    assert created["PartitionKeys"] == [{"Name": "year", "Type": "int"}]
    assert created["TableType"] == "EXTERNAL_TABLE"
    assert created["Parameters"] == {"parquet.compression": "SNAPPY", "EXTERNAL": "TRUE"}
    assert engine.partitions("daily_prices") == {}


def test_create_table_like_refuses_an_existing_table(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.create_table("daily_prices", PROD)
    aws.create_table("daily_prices_publish_r1", f"{PROD}v=1/")

    with pytest.raises(EngineError, match=r"creating table stockpipe_test\.daily_prices"):
        engine.create_table_like("daily_prices", "daily_prices_publish_r1", PROD)


# -- partitions and the atomic publish ------------------------------------------------------


def test_partitions_lists_every_page_with_prefix_locations(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    years = [str(year) for year in range(1800, 2050)]
    # Glue may store a location without the trailing slash; the engine always adds it.
    aws.create_table("daily_prices", PROD, partitions={y: version("1", y)[:-1] for y in years})

    assert engine.partitions("daily_prices") == {year: version("1", year) for year in years}
    assert len(aws.calls_to("GetPartitions")) == 3


def test_partitions_of_a_missing_table_is_an_error(engine: AthenaEngine) -> None:
    with pytest.raises(EngineError, match=r"stockpipe_test\.daily_prices.*EntityNotFound"):
        engine.partitions("daily_prices")


def test_replace_partitions_creates_new_and_repoints_existing(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.create_table(
        "daily_prices",
        PROD,
        partitions={"2022": version("1", "2022"), "2023": version("1", "2023")},
    )

    engine.replace_partitions(
        "daily_prices", {"2023": version("2", "2023"), "2024": version("2", "2024")}
    )

    assert engine.partitions("daily_prices") == {
        "2022": version("1", "2022"),
        "2023": version("2", "2023"),
        "2024": version("2", "2024"),
    }
    table_storage = aws.table("daily_prices")["StorageDescriptor"]
    new_storage = aws.glue_partitions("daily_prices")["2024"]
    assert new_storage == {**table_storage, "Location": version("2", "2024")}


def test_during_a_swap_readers_see_each_partition_old_or_new_never_missing(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    old = {str(year): version("1", str(year)) for year in range(1875, 2025)}
    aws.create_table("daily_prices", PROD, partitions=old)
    new = {str(year): version("2", str(year)) for year in range(1875, 2100)}
    seen: list[dict[str, str]] = []

    def reader(_: dict) -> None:
        seen.append(
            {value: sd["Location"] for value, sd in aws.glue_partitions("daily_prices").items()}
        )

    for operation in ("BatchCreatePartition", "BatchUpdatePartition"):
        aws.before(operation, reader)

    engine.replace_partitions("daily_prices", new)
    reader({})

    assert len(seen) == 4  # before 1 create batch and 2 update batches, and after
    for snapshot in seen:
        assert set(old) <= set(snapshot)
        assert all(location in (old.get(value), new[value]) for value, location in snapshot.items())
    # Not all at once: Glue shows some years new and others old while the swap runs.
    mixed = [
        snapshot
        for snapshot in seen
        if any(old.get(value) == location for value, location in snapshot.items())
        and any(new[value] == location for value, location in snapshot.items())
    ]
    assert mixed
    assert seen[-1] == new


def swap_fails_in_a_later_update_batch(aws: FakeAws) -> None:
    aws.refuse("BatchUpdatePartition", "InternalServiceException", "try later", skip=1)


def swap_fails_creating(aws: FakeAws) -> None:
    aws.refuse("BatchCreatePartition", "ResourceNumberLimitExceededException", "too many")


def glue_reports_one_entry_failed_after_applying(aws: FakeAws) -> None:
    aws.report_entry_error("BatchUpdatePartition", "1950", "InternalServiceException", "hiccup")


@pytest.mark.parametrize(
    "fault",
    [
        swap_fails_in_a_later_update_batch,
        swap_fails_creating,
        glue_reports_one_entry_failed_after_applying,
    ],
)
def test_a_failed_swap_leaves_glue_exactly_as_it_was(
    aws: FakeAws, engine: AthenaEngine, fault
) -> None:
    old = {str(year): version("1", str(year)) for year in range(1900, 2020)}
    aws.create_table("daily_prices", PROD, partitions=old)
    before = aws.glue_partitions("daily_prices")
    new = {str(year): version("2", str(year)) for year in range(1900, 2025)}
    fault(aws)

    with pytest.raises(EngineError) as raised:
        engine.replace_partitions("daily_prices", new)

    assert "rolled back, the table is as it was" in str(raised.value)
    assert aws.glue_partitions("daily_prices") == before


def test_a_failed_rollback_says_what_to_fix_by_hand(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.create_table("daily_prices", PROD, partitions={"2023": version("1", "2023")})
    aws.refuse("BatchUpdatePartition", "InternalServiceException", "Glue is down", times=2)

    with pytest.raises(EngineError) as raised:
        engine.replace_partitions(
            "daily_prices", {"2023": version("2", "2023"), "2024": version("2", "2024")}
        )

    message = str(raised.value)
    assert "the rollback failed too" in message
    assert f"2023 -> {version('1', '2023')}" in message
    # The created partition could still be removed.
    assert "2024" not in aws.glue_partitions("daily_prices")


# -- table properties -----------------------------------------------------------------------


def test_set_table_properties_merges_into_glue_parameters(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.create_table(
        "daily_prices",
        PROD,
        partitions={"2024": version("1", "2024")},
        parameters={"parquet.compression": "SNAPPY", "stockpipe.watermark_dt": "2024-06-06"},
    )
    storage_before = aws.table("daily_prices")["StorageDescriptor"]

    engine.set_table_properties(
        "daily_prices",
        {"stockpipe.watermark_dt": "2024-06-07", "stockpipe.watermark_run_id": "r2"},
    )

    assert engine.table_properties("daily_prices") == {
        "parquet.compression": "SNAPPY",
        "stockpipe.watermark_dt": "2024-06-07",
        "stockpipe.watermark_run_id": "r2",
    }
    assert aws.table("daily_prices")["StorageDescriptor"] == storage_before
    assert engine.partitions("daily_prices") == {"2024": version("1", "2024")}


def test_properties_of_a_missing_table_are_an_error(engine: AthenaEngine) -> None:
    with pytest.raises(EngineError, match=r"stockpipe_test\.daily_prices does not exist"):
        engine.table_properties("daily_prices")
    with pytest.raises(EngineError, match=r"stockpipe_test\.daily_prices does not exist"):
        engine.set_table_properties("daily_prices", {"stockpipe.watermark_dt": "2024-06-07"})


# -- the workgroup ------------------------------------------------------------------------


def test_an_etl_workgroup_with_a_result_location_is_ready(engine: AthenaEngine) -> None:
    engine.check_ready()


@pytest.mark.parametrize(
    ("enforce", "results", "complaint"),
    [
        (True, True, "enforces its configuration (EnforceWorkGroupConfiguration = true"),
        (False, False, "has no query result location (ResultConfiguration.OutputLocation)"),
    ],
)
def test_a_workgroup_the_job_cannot_write_in_is_refused_before_any_work(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], enforce: bool, results: bool, complaint: str
) -> None:
    aws.create_workgroup("analysts", enforce=enforce, results=results)
    argv = [
        "--step", "create_staging", "--engine", "athena", "--database", DATABASE,
        "--workgroup", "analysts", "--data-bucket", DATA_BUCKET, "--run-id", "r1",
    ]  # fmt: skip

    status = job.main(argv, client_factory=aws.client)

    error = capsys.readouterr().err.strip()
    assert status == 1
    assert error.startswith("stockpipe wap create_staging failed: Athena workgroup analysts ")
    assert complaint in error
    assert [call.operation for call in aws.calls] == ["GetWorkGroup"]


def test_the_enforcing_workgroup_message_says_the_fix(aws: FakeAws) -> None:
    aws.create_workgroup("analysts", enforce=True)

    with pytest.raises(EngineError) as raised:
        aws.engine(workgroup="analysts").check_ready()

    assert "run the job in an ETL workgroup that does not enforce its configuration" in str(
        raised.value
    )


def test_a_ctas_naming_its_location_fails_in_an_enforcing_workgroup_as_in_athena(
    aws: FakeAws,
) -> None:
    aws.create_workgroup("analysts", enforce=True)
    engine = aws.engine(workgroup="analysts")

    with pytest.raises(EngineError, match="INVALID_TABLE_PROPERTY: external_location cannot"):
        engine.ctas("t", "SELECT 1 AS x", engine.location("staging/t/"), name="create_staging")

    assert len(aws.sql_calls()) == 1


# -- storage --------------------------------------------------------------------------------


def test_location_is_a_prefix_in_the_data_bucket(engine: AthenaEngine) -> None:
    assert engine.location("staging/daily_prices/run_id=r1") == (
        f"s3://{DATA_BUCKET}/staging/daily_prices/run_id=r1/"
    )
    assert engine.location("") == f"s3://{DATA_BUCKET}/"
    with pytest.raises(EngineError, match=r"'\.\.' are not allowed"):
        engine.location("staging/../prod/")


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"data_bucket": f"s3://{DATA_BUCKET}"}, "give the bare name"),
        ({"data_bucket": ""}, "is not an S3 bucket name"),
        ({"workgroup": " "}, "workgroup is not set"),
        ({"database": ""}, "database is not set"),
    ],
)
def test_bad_settings_are_refused_with_one_clear_message(
    aws: FakeAws, options: dict, complaint: str
) -> None:
    with pytest.raises(EngineError, match=complaint):
        aws.engine(**options)


def test_list_locations_lists_child_prefixes(aws: FakeAws, engine: AthenaEngine) -> None:
    for key in (
        "prod/daily_prices/v=2/year=2024/part-0.parquet",
        "prod/daily_prices/v=1/year=2023/part-0.parquet",
        "prod/daily_prices/v=1/year=2024/part-0.parquet",
        "prod/daily_prices_old/v=9/year=2024/part-0.parquet",
    ):
        aws.put_object(key)

    assert engine.list_locations(PROD) == [f"{PROD}v=1/", f"{PROD}v=2/"]
    assert engine.list_locations(f"{PROD}v=1/") == [version("1", "2023"), version("1", "2024")]
    assert engine.list_locations(engine.location("staging/")) == []


def test_delete_location_removes_only_that_prefix(aws: FakeAws, engine: AthenaEngine) -> None:
    staging = "staging/daily_prices/run_id=r1/"
    for n in range(1001):
        aws.s3.put_object(Bucket=DATA_BUCKET, Key=f"{staging}year=2024/part-{n}.parquet", Body=b"")
    kept = [
        aws.put_object("staging/daily_prices/run_id=r10/year=2024/part-0.parquet"),
        aws.put_object("raw/dt=2024-06-07/NVDA.csv", b"symbol,trade_date\nNVDA,2024-06-07\n"),
    ]

    engine.delete_location(engine.location(staging))
    engine.delete_location(engine.location(staging))  # safe when absent

    assert [f"s3://{DATA_BUCKET}/{key}" for key in sorted(aws.keys())] == sorted(kept)
    assert len(aws.calls_to("DeleteObjects")) == 2


@pytest.mark.parametrize(
    ("location", "complaint"),
    [
        (f"s3://{DATA_BUCKET}/", "it is the data root"),
        ("s3://someone-elses-bucket/staging/", "outside the data bucket"),
    ],
)
def test_delete_location_refuses_the_root_and_other_buckets(
    aws: FakeAws, engine: AthenaEngine, location: str, complaint: str
) -> None:
    aws.put_object("raw/dt=2024-06-07/NVDA.csv")

    with pytest.raises(EngineError, match=complaint):
        engine.delete_location(location)

    assert aws.keys() == ["raw/dt=2024-06-07/NVDA.csv"]


def test_copy_location_copies_every_object_server_side_and_keeps_the_source(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    staged = "staging/daily_prices/run_id=r1/year=2024/"
    bodies = {f"{staged}part-{n}.parquet": f"PAR1 {n}".encode() for n in range(3)}
    for key, body in bodies.items():
        aws.put_object(key, body)
    target = f"{PROD}v=1/copy/year=2024/"

    engine.copy_location(engine.location(staged), target)
    engine.delete_location(engine.location("staging/"))

    copies = aws.keys("prod/")
    assert copies == [f"prod/daily_prices/v=1/copy/year=2024/part-{n}.parquet" for n in range(3)]
    assert [
        aws.s3.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read() for key in copies
    ] == list(bodies.values())
    # botocore sends CopySource as a quoted "bucket/key".
    assert [unquote(call["CopySource"]) for call in aws.calls_to("CopyObject")] == [
        f"{DATA_BUCKET}/{key}" for key in bodies
    ]
    assert aws.calls_to("GetObject") == aws.calls_to("PutObject") == []


@pytest.mark.parametrize(
    ("source", "target", "complaint"),
    [
        ("staging/run_id=r1/year=2024/", "prod/v=1/year=2024/", "already holds data"),
        ("staging/run_id=r1/year=2023/", "prod/v=2/year=2023/", "source holds no data"),
        ("staging/run_id=r1/year=2024/", "s3://someone-elses-bucket/v=2/", "data bucket"),
    ],
)
def test_copy_location_refuses_what_would_lose_or_mix_data(
    aws: FakeAws, engine: AthenaEngine, source: str, target: str, complaint: str
) -> None:
    kept = [
        aws.put_object("staging/run_id=r1/year=2024/part-0.parquet", b"new"),
        aws.put_object("prod/v=1/year=2024/part-0.parquet", b"live"),
    ]
    if not target.startswith("s3://"):
        target = engine.location(target)

    with pytest.raises(EngineError, match=complaint):
        engine.copy_location(engine.location(source), target)

    remaining = aws.keys()
    assert sorted(f"s3://{DATA_BUCKET}/{key}" for key in remaining) == sorted(kept)
    assert (
        aws.s3.get_object(Bucket=DATA_BUCKET, Key="prod/v=1/year=2024/part-0.parquet")[
            "Body"
        ].read()
        == b"live"
    )


def test_a_failed_copy_names_the_object_and_the_reason(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.put_object("staging/run_id=r1/year=2024/part-0.parquet")
    aws.refuse("CopyObject", "AccessDenied", "not authorized to perform s3:PutObject")

    with pytest.raises(EngineError, match=r"part-0\.parquet: AccessDenied: not authorized"):
        engine.copy_location(
            engine.location("staging/run_id=r1/year=2024/"), f"{PROD}v=1/year=2024/"
        )


def test_table_location_is_the_glue_location_as_a_prefix(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.create_table("raw_daily_prices", f"s3://{DATA_BUCKET}/raw", columns=[("symbol", "string")])

    assert engine.table_location("raw_daily_prices") == f"s3://{DATA_BUCKET}/raw/"
    with pytest.raises(EngineError, match="does not exist"):
        engine.table_location("daily_prices")


# -- packaging ------------------------------------------------------------------------------


def test_create_engine_builds_the_athena_engine(aws: FakeAws) -> None:
    engine = create_engine(
        "athena",
        database=DATABASE,
        workgroup=WORKGROUP,
        data_bucket=DATA_BUCKET,
        region="us-east-1",
    )

    assert isinstance(engine, AthenaEngine)
    assert not engine.table_exists("daily_prices")
    engine.close()


def test_the_athena_engine_imports_neither_duckdb_nor_sqlglot() -> None:
    probe = (
        "import sys, runtime.wap.engines.athena; "
        "print(sorted(m for m in ('duckdb', 'sqlglot') if m in sys.modules))"
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter and a fixed probe)
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


# -- objects and the raw zone ----------------------------------------------------------------


def test_list_objects_lists_every_object_below_with_its_etag(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    for n in range(1001):
        aws.s3.put_object(Bucket=DATA_BUCKET, Key=f"raw/dt=2024-06-07/S{n:04}-1.csv", Body=b"")
    aws.put_object("raw/dt=2024-06-07/deeper/NVDA-1.csv", b"symbol\n")
    aws.put_object("raw_firehose/dt=2024-06-07/x", b"{}")

    listed = engine.list_objects(engine.location("raw/"))

    assert len(listed) == 1002
    assert listed[0].location == f"s3://{DATA_BUCKET}/raw/dt=2024-06-07/S0000-1.csv"
    assert listed[-1].location == f"s3://{DATA_BUCKET}/raw/dt=2024-06-07/deeper/NVDA-1.csv"
    head = aws.s3.head_object(Bucket=DATA_BUCKET, Key="raw/dt=2024-06-07/deeper/NVDA-1.csv")
    assert listed[-1].fingerprint == head["ETag"]


def test_write_text_and_read_text_round_trip_one_object(aws: FakeAws, engine: AthenaEngine) -> None:
    location = f"s3://{DATA_BUCKET}/prod/_raw_consumed/v1/raw_objects.json"

    assert engine.read_text(location) is None
    engine.write_text(location, '{"objects": {"raw/dt=2024-06-07/NVDA-1.csv": "e"}}')

    assert engine.read_text(location) == '{"objects": {"raw/dt=2024-06-07/NVDA-1.csv": "e"}}'
    with pytest.raises(EngineError, match="not an object under"):
        engine.write_text("s3://someone-elses-bucket/x.json", "{}")


def test_the_raw_zone_on_s3_names_objects_as_athenas_path_column_does(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.create_table(
        "raw_daily_prices",
        f"s3://{DATA_BUCKET}/raw/",
        columns=[(c, "string") for c in RAW_COLUMNS],
        partition_key="dt",
    )
    consumed = aws.put_object("raw/dt=2024-06-06/NVDA-1.csv", b"a")
    aws.put_object("raw/dt=2024-06-07/NVDA-2.csv", b"b")
    aws.put_object("raw/dt=2024-06-07/AMD-2.csv", b"c")
    new = aws.put_object("raw/dt=2024-06-06/AMD-3.csv", b"d")
    aws.put_object("raw/dt=2024-6-8/AMD-3.csv", b"e")
    aws.put_object("raw/dt=2024-06-06/", b"")  # a console "folder"
    listing = raw_zone.list_raw(engine, date(2024, 6, 8))
    etag = next(o.fingerprint for o in listing.objects if o.location == consumed)

    objects = raw_zone.unconsumed(listing, {"raw/dt=2024-06-06/NVDA-1.csv": etag})

    assert listing.misplaced == ("raw/dt=2024-6-8/AMD-3.csv",)
    assert raw_zone.rows_sql(listing, objects).endswith(
        f"""WHERE dt IN ('2024-06-07') OR (dt IN ('2024-06-06') AND "$path" IN ('{new}'))\n"""
    )


def test_the_consumed_raw_record_round_trips_through_s3_and_glue(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.create_table("daily_prices", PROD, parameters={"parquet.compression": "SNAPPY"})
    config = WapConfig()
    first = {"raw/dt=2024-06-06/NVDA-1.csv": '"e1"'}
    second = {"raw/dt=2024-06-07/NVDA-2.csv": '"e2"'}

    store.record_consumed(engine, config, first, "r1", datetime(2024, 6, 6, 22))
    store.record_consumed(engine, config, second, "r2", datetime(2024, 6, 7, 22))

    assert store.consumed_raw(engine) == {**first, **second}
    assert store.published_run(engine) == "r2"
    parameters = aws.table("daily_prices")["Parameters"]
    assert parameters["parquet.compression"] == "SNAPPY"
    assert parameters["stockpipe.consumed_raw"] == (
        "prod/_raw_consumed/20240607T220000000000Z_r2/raw_objects.json"
    )


def test_every_query_records_the_bytes_athena_says_it_scanned() -> None:
    clients = {
        name: boto3.client(
            name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        for name in ("athena", "glue", "s3")
    }
    stub = Stubber(clients["athena"])
    for query_id, scanned in (("q1", 12_345), ("q2", 0)):
        stub.add_response(
            "start_query_execution", {"QueryExecutionId": query_id}, {
                "QueryString": ANY, "WorkGroup": WORKGROUP,
                "QueryExecutionContext": {"Database": DATABASE}, "ClientRequestToken": ANY,
            },
        )  # fmt: skip
        stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "QueryExecutionId": query_id,
                    "Status": {"State": "SUCCEEDED"},
                    "Statistics": {"DataScannedInBytes": scanned},
                }
            },
            {"QueryExecutionId": query_id},
        )
    engine = AthenaEngine(DATABASE, WORKGROUP, DATA_BUCKET, client_factory=clients.__getitem__)

    with stub:
        engine.execute("SELECT 1", name="probe")
        engine.execute("CREATE TABLE t AS SELECT 1", name="ddl-like")

    assert engine.query_scans == [QueryScan("probe", 12_345), QueryScan("ddl-like", 0)]
