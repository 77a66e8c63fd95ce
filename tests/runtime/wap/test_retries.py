"""Retries where they are safe, on moto: a query Athena marks retryable runs again as a new
query (a CTAS at a fresh location), a Glue call refused for a concurrent modification is sent
again; both bounded, with backoff. A query that failed for its SQL is never run again."""

from __future__ import annotations

import pytest

from runtime.wap.engines import EngineError
from runtime.wap.engines.athena import AthenaEngine
from tests.runtime.wap.fake_aws import DATA_BUCKET, FakeAws

pytestmark = pytest.mark.aws

PROD = f"s3://{DATA_BUCKET}/prod/daily_prices/"
PART = f"{PROD}20240607T220000000000Z_r1/part-0/"
TRANSIENT = "GENERIC_INTERNAL_ERROR: Amazon S3 service is slowing down (SlowDown)"


def test_a_query_athena_marks_retryable_runs_again_as_a_new_query(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.fail_queries("FROM staging", TRANSIENT, retryable=True, category=1, times=2)

    engine.execute("SELECT count(*) FROM staging", name="audit.not_null_keys")

    starts = aws.calls_to("StartQueryExecution")
    assert len(starts) == 3
    assert len({start["ClientRequestToken"] for start in starts}) == 3
    assert aws.sleeps == [
        AthenaEngine.QUERY_RETRY_FIRST_DELAY,
        2 * AthenaEngine.QUERY_RETRY_FIRST_DELAY,
    ]


def test_retries_of_a_query_are_bounded(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.fail_queries("FROM staging", TRANSIENT, retryable=True, category=1)

    with pytest.raises(EngineError) as raised:
        engine.execute("SELECT count(*) FROM staging", name="audit.not_null_keys")

    message = str(raised.value)
    assert message.startswith(f"audit.not_null_keys failed: {TRANSIENT}")
    assert message.endswith(f"(after {AthenaEngine.QUERY_ATTEMPTS} attempts)")
    assert len(aws.calls_to("StartQueryExecution")) == AthenaEngine.QUERY_ATTEMPTS


@pytest.mark.parametrize(
    ("retryable", "category"),
    [(False, 1), (False, 3), (True, 2)],
    ids=["not_retryable", "other_not_retryable", "user_error_marked_retryable"],
)
def test_a_query_that_failed_for_its_sql_or_not_retryably_is_never_run_again(
    aws: FakeAws, engine: AthenaEngine, retryable: bool, category: int
) -> None:
    reason = "COLUMN_NOT_FOUND: line 1:8: Column 'clsoe' cannot be resolved"
    aws.fail_queries("clsoe", reason, retryable=retryable, category=category)

    with pytest.raises(EngineError, match="COLUMN_NOT_FOUND"):
        engine.execute("SELECT clsoe FROM daily_prices", name="publish.merge")

    assert len(aws.calls_to("StartQueryExecution")) == 1
    assert aws.sleeps == []


def test_a_retried_ctas_writes_to_a_fresh_location_never_where_a_failed_one_wrote(
    aws: FakeAws, engine: AthenaEngine
) -> None:
    aws.fail_queries(
        "CREATE TABLE daily_prices_write_r1_0", TRANSIENT, retryable=True, category=1, times=1
    )
    partial = "prod/daily_prices/20240607T220000000000Z_r1/part-0/year=2024/torn.parquet"
    aws.before("StartQueryExecution", lambda _: aws.keys(partial) or aws.put_object(partial))

    engine.ctas(
        "daily_prices_write_r1_0", "SELECT * FROM merged", PART, "year", name="write part 0"
    )

    first, second = aws.sql_calls()
    assert f"external_location = '{PART}'" in first
    assert f"external_location = '{PART}attempt-2/'" in second
    # The table a failed CTAS may have registered is dropped before the retry.
    assert [call["Name"] for call in aws.calls_to("DeleteTable")] == ["daily_prices_write_r1_0"]
    assert aws.keys("prod/") == [partial]


@pytest.mark.parametrize("operation", ["BatchCreatePartition", "BatchUpdatePartition"])
def test_a_glue_call_refused_for_a_concurrent_modification_is_sent_again(
    aws: FakeAws, engine: AthenaEngine, operation: str
) -> None:
    aws.create_table("daily_prices", PROD, partitions={"2023": f"{PROD}v1/year=2023/"})
    aws.refuse(operation, "ConcurrentModificationException", "Glue is busy", times=2)
    new = {"2023": f"{PROD}v2/year=2023/", "2024": f"{PROD}v2/year=2024/"}

    engine.replace_partitions("daily_prices", new)

    assert engine.partitions("daily_prices") == new
    assert len(aws.calls_to(operation)) == 3
    assert aws.sleeps == [1.0, 2.0]


def test_a_glue_conflict_that_never_ends_is_reported(aws: FakeAws, engine: AthenaEngine) -> None:
    aws.create_table("daily_prices_write_r1_0", PROD)
    aws.refuse("DeleteTable", "ConcurrentModificationException", "Glue is busy", times=100)

    with pytest.raises(EngineError, match=r"dropping table .*ConcurrentModificationException"):
        engine.drop_table("daily_prices_write_r1_0")

    assert len(aws.calls_to("DeleteTable")) == AthenaEngine.THROTTLE_ATTEMPTS
