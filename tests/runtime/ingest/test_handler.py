"""The Lambda handler end to end: moto for AWS, the fake API for HTTP, fake time."""

from __future__ import annotations

import csv
import io
import json
import logging
import traceback
from collections.abc import Callable, Iterator

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities import parameters

from runtime.ingest import handler as handler_module
from runtime.ingest.errors import ApiKeyUnavailable, ConfigurationError, IngestionFailed
from runtime.ingest.handler import handler
from runtime.local.alphavantage_bodies import FAILURE_BODIES
from tests.runtime.ingest.conftest import (
    API_KEY,
    BUCKET,
    INGESTED_AT,
    SAMPLE_ROWS,
    FakeClock,
    FakeLambdaContext,
    emf_blobs,
    expected_raw_rows,
    json_body,
    landed_keys,
    object_rows,
    raw_rows,
    records_fresh,
    utc,
)

pytestmark = pytest.mark.aws

SECRET_NAME = "stockpipe/alphavantage"


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Everything the handler printed: its Powertools JSON log lines and EMF metrics."""
    logs = io.StringIO()
    copy = logging.StreamHandler(logs)
    copy.setFormatter(handler_module.logger.registered_formatter)
    handler_module.logger.addHandler(copy)
    printed: list[str] = []

    def read() -> str:
        printed.append(capsys.readouterr().out)
        return logs.getvalue() + "".join(printed)

    yield read
    handler_module.logger.removeHandler(copy)


def metric_values(stdout: str) -> dict[str, float]:
    """Metric name -> value over the invocation's EMF documents (each value sent once)."""
    values = {}
    for blob in emf_blobs(stdout):
        for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            assert metric["Name"] not in values, f"{metric['Name']} sent twice"
            (values[metric["Name"]],) = blob[metric["Name"]]
    return values


def nvda_file_rows(path) -> list[list[str]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["timestamp", "open", "high", "low", "close", "volume"]
    return rows[1:]


@pytest.mark.shared_data
def test_the_real_nvda_csv_lands_in_s3_row_for_row(api, s3, clock, lambda_env, nvda_csv):
    api.always["NVDA"] = nvda_csv.read_text()
    lambda_env(SYMBOLS="NVDA", DATATYPE="csv", OUTPUT_SIZE="full")

    result = handler({}, FakeLambdaContext(clock))

    expected = [["NVDA", *row, INGESTED_AT] for row in nvda_file_rows(nvda_csv)]
    assert len(expected) == 6190
    assert {key: result[key] for key in ("ingest_date", "succeeded", "failed", "skipped")} == {
        "ingest_date": "2024-06-10",
        "succeeded": ["NVDA"],
        "failed": {},
        "skipped": {},
    }
    assert result["rows"] == 6190
    assert raw_rows(s3, "NVDA") == expected
    assert [(c.outputsize, c.datatype) for c in api.calls] == [("full", "csv")]


def test_a_rerun_of_the_same_day_adds_objects_and_keeps_the_first_ones(api, s3, clock, lambda_env):
    lambda_env()
    records_fresh(s3, "AMD", "NVDA", "INTC")  # price calls only: landing times as paced
    handler({}, FakeLambdaContext(clock))

    # The second run sees a corrected NVDA answer (one bar fewer) an hour later.
    clock.sleep(3600)
    later = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    api.script("NVDA", json_body("NVDA", rows=SAMPLE_ROWS[:2]))
    result = handler({}, FakeLambdaContext(clock))

    first, second = "20240610T210500000000Z", "20240610T220502000000Z"
    assert landed_keys(s3) == [
        f"raw/dt=2024-06-10/{symbol}-{landing}.csv"
        for symbol in ("AMD", "INTC", "NVDA")
        for landing in (first, second)
    ]
    assert object_rows(s3, f"raw/dt=2024-06-10/NVDA-{first}.csv") == expected_raw_rows("NVDA")
    assert object_rows(s3, f"raw/dt=2024-06-10/NVDA-{second}.csv") == expected_raw_rows(
        "NVDA", SAMPLE_ROWS[:2], later
    )
    assert object_rows(s3, f"raw/dt=2024-06-10/AMD-{second}.csv") == expected_raw_rows(
        "AMD", ingested_at=later
    )
    assert result["rows"] == 8


def test_a_backfill_event_files_under_its_ingest_date(api, s3, clock, lambda_env):
    lambda_env()

    result = handler(
        {"symbols": ["MU"], "outputsize": "full", "ingest_date": "2024-06-03"},
        FakeLambdaContext(clock),
    )

    assert result["succeeded"] == ["MU"]
    assert landed_keys(s3) == ["raw/dt=2024-06-03/MU-20240610T210500000000Z.csv"]
    assert api.calls[0].outputsize == "full"


@pytest.mark.parametrize(
    ("ingest_date", "message"),
    [
        (
            "2099-01-01",
            "invalid ingestion event: event field 'ingest_date'='2099-01-01' is after today "
            "(2024-06-10, UTC): an ingest date cannot be in the future",
        ),
        (
            "2024-06-11",
            "invalid ingestion event: event field 'ingest_date'='2024-06-11' is after today "
            "(2024-06-10, UTC): an ingest date cannot be in the future",
        ),
        (
            "2024-6-3",
            "invalid ingestion event: event field 'ingest_date' must be a date YYYY-MM-DD, "
            "got '2024-6-3'",
        ),
    ],
)
def test_an_ingest_date_in_the_future_or_not_a_date_fails_the_run_loudly(
    api, s3, clock, lambda_env, output, ingest_date, message
):
    lambda_env()

    with pytest.raises(ConfigurationError) as raised:
        handler({"ingest_date": ingest_date}, FakeLambdaContext(clock))

    assert str(raised.value) == message
    printed = output()
    assert "Traceback" not in printed
    assert metric_values(printed)["RunFailed"] == 1
    assert api.calls == []
    assert landed_keys(s3) == []


def _create_secret(value: str) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return client.create_secret(Name=SECRET_NAME, SecretString=value)["ARN"]


def test_the_secret_is_read_once_per_cold_start(api, s3, clock, lambda_env):
    arn = _create_secret("first-key-111")
    lambda_env(ALPHAVANTAGE_API_KEY=None, ALPHAVANTAGE_SECRET_ARN=arn)
    secrets = boto3.client("secretsmanager", region_name="us-east-1")

    handler({}, FakeLambdaContext(clock))
    secrets.put_secret_value(SecretId=arn, SecretString="second-key-222")
    handler({}, FakeLambdaContext(clock))
    warm_calls = len(api.calls)
    parameters.clear_caches()  # a new execution environment starts with an empty cache
    handler({}, FakeLambdaContext(clock))

    assert warm_calls == 6
    assert {call.apikey for call in api.calls[:warm_calls]} == {"first-key-111"}
    assert {call.apikey for call in api.calls[warm_calls:]} == {"second-key-222"}


def test_a_rejected_cached_key_is_read_again_on_the_next_run(api, s3, clock, lambda_env):
    arn = _create_secret("revoked-key-666")
    lambda_env(ALPHAVANTAGE_API_KEY=None, ALPHAVANTAGE_SECRET_ARN=arn)
    api.script("AMD", FAILURE_BODIES["invalid_key"])
    with pytest.raises(IngestionFailed, match=f"rejected the API key from secret {arn}"):
        handler({}, FakeLambdaContext(clock))
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=arn, SecretString="rotated-key-777"
    )

    result = handler({}, FakeLambdaContext(clock))

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert [call.apikey for call in api.calls] == ["revoked-key-666"] + ["rotated-key-777"] * 3


def test_a_json_secret_holds_the_key_in_api_key(api, s3, clock, lambda_env):
    arn = _create_secret(json.dumps({"api_key": "json-key-333", "note": "rotated 2024-06"}))
    lambda_env(ALPHAVANTAGE_API_KEY=None, ALPHAVANTAGE_SECRET_ARN=arn)

    handler({}, FakeLambdaContext(clock))

    assert {call.apikey for call in api.calls} == {"json-key-333"}


@pytest.mark.parametrize(
    ("secret", "hidden", "message_part"),
    [
        ('{"apikey": "wrong-field-444"}', "wrong-field-444", 'without a string field "api_key"'),
        ('{"api_key": "broken-555"', "broken-555", "looks like JSON but does not parse"),
        ("   ", None, "is empty"),
    ],
)
def test_an_unusable_secret_fails_clearly_without_showing_it(
    api, s3, clock, lambda_env, output, secret, hidden, message_part
):
    arn = _create_secret(secret)
    lambda_env(ALPHAVANTAGE_API_KEY=None, ALPHAVANTAGE_SECRET_ARN=arn)

    with pytest.raises(ApiKeyUnavailable, match=message_part) as raised:
        handler({}, FakeLambdaContext(clock))

    assert arn in str(raised.value)
    assert api.calls == []
    if hidden:
        assert hidden not in str(raised.value) + output()


def test_a_missing_secret_names_the_secret(api, s3, clock, lambda_env):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    lambda_env(ALPHAVANTAGE_API_KEY=None, ALPHAVANTAGE_SECRET_ARN=arn)

    with pytest.raises(ApiKeyUnavailable, match=f"could not read the API key from secret {arn}"):
        handler({}, FakeLambdaContext(clock))


def test_the_key_never_appears_in_logs_errors_results_or_objects(
    api, s3, clock, lambda_env, output, caplog
):
    def unreachable(request):
        # What requests raises when the host is unreachable: the URL, key included.
        return requests.ConnectionError(f"Max retries exceeded with url: {request.url}")

    api.always["AMD"] = unreachable
    api.script("INTC", FAILURE_BODIES["invalid_key"])
    arn = _create_secret(json.dumps({"api_key": API_KEY}))
    lambda_env(ALPHAVANTAGE_API_KEY=None, ALPHAVANTAGE_SECRET_ARN=arn)
    caplog.set_level("DEBUG")  # after creating the secret: that request holds the key

    with pytest.raises(IngestionFailed) as raised:
        handler({}, FakeLambdaContext(clock))

    everything = [
        output(),
        caplog.text,
        *(json.dumps(record.__dict__, default=str) for record in caplog.records),
        "".join(traceback.format_exception(raised.value)),
        repr(raised.value.__context__),
        repr(raised.value.__cause__),
        json.dumps(raised.value.result),
        *(
            s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
            for key in landed_keys(s3, "")
        ),
    ]
    assert api.calls[0].apikey == API_KEY  # the key did go to the API ...
    assert not [text for text in everything if API_KEY in text]  # ... and nowhere else
    assert "apikey=***" in output()
    assert landed_keys(s3) == ["raw/dt=2024-06-10/NVDA-20240610T210500000000Z.csv"]


def test_a_partial_failure_returns_and_reports_metrics(api, s3, clock, lambda_env, output):
    api.script("NVDA", FAILURE_BODIES["invalid_symbol"])
    api.script("INTC", FAILURE_BODIES["burst"])
    lambda_env()

    result = handler({}, FakeLambdaContext(clock))

    assert result["succeeded"] == ["AMD", "INTC"]
    assert list(result["failed"]) == ["NVDA"]
    assert metric_values(output()) == {
        "SymbolsSucceeded": 2,
        "SymbolsFailed": 1,
        "SymbolsSkipped": 0,
        "RowsWritten": 6,
        "ApiCalls": 6,  # 4 for prices, 2 for the split records of AMD and INTC
        "ThrottledResponses": 1,
        "CallsDeferred": 0,
        "SplitRecordsLanded": 2,
        "SplitRecordsFailed": 0,
        "OutputSizeFallbacks": 0,
        "MovingBarsDropped": 0,
        "PartialFailure": 1,
        "RunFailed": 0,
        "ColdStart": 1,
    }


def test_a_clean_run_reports_no_partial_failure(api, s3, clock, lambda_env, output):
    lambda_env()

    handler({}, FakeLambdaContext(clock))

    metrics = metric_values(output())
    assert (metrics["PartialFailure"], metrics["RunFailed"], metrics["RowsWritten"]) == (0, 0, 9)


def test_bars_fetched_before_the_close_are_left_out_and_counted(
    api, s3, lambda_env, output, monkeypatch
):
    during_the_session = FakeClock(utc(2024, 6, 7, 18, 43, 40))  # 14:43:40 EDT, a Friday
    lambda_env()
    monkeypatch.setattr(handler_module, "clock", during_the_session)

    result = handler({}, FakeLambdaContext(during_the_session))

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert raw_rows(s3, "NVDA", "2024-06-07") == expected_raw_rows(
        "NVDA", SAMPLE_ROWS[1:], "2024-06-07T18:43:40Z"
    )
    metrics = metric_values(output())
    assert (metrics["MovingBarsDropped"], metrics["RowsWritten"]) == (3, 6)


def test_invalid_configuration_raises_one_message_and_counts_a_failed_run(
    api, s3, clock, lambda_env, output
):
    lambda_env(CALLS_PER_MINUTE="lots")

    with pytest.raises(ConfigurationError, match="CALLS_PER_MINUTE='lots' is not a positive"):
        handler({}, FakeLambdaContext(clock))

    printed = output()
    assert "Traceback" not in printed
    assert metric_values(printed)["RunFailed"] == 1
    assert api.calls == []


def test_symbols_not_reached_within_the_lambda_budget_are_skipped(
    api, s3, clock, lambda_env, output
):
    # 5 calls per minute and 100 s: five calls go at once (one per second), the sixth
    # would have to wait for a minute and then might need the full request timeout.
    lambda_env(SYMBOLS="AMD,NVDA,INTC,MU,QCOM,TXN,AMAT")
    context = FakeLambdaContext(clock, budget_seconds=100)

    result = handler({}, context)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC", "MU", "QCOM"]
    assert result["skipped"] == {
        "TXN": "not reached: the run's time budget ran out before this symbol",
        "AMAT": "not reached: the run's time budget ran out before this symbol",
    }
    assert len(api.calls) == 5
    assert context.get_remaining_time_in_millis() >= 10_000
    assert metric_values(output())["SymbolsSkipped"] == 2


def test_with_too_little_time_for_any_call_the_run_fails(api, s3, clock, lambda_env):
    lambda_env()

    with pytest.raises(IngestionFailed, match="no symbol succeeded") as raised:
        handler({}, FakeLambdaContext(clock, budget_seconds=20))

    assert list(raised.value.result["skipped"]) == ["AMD", "NVDA", "INTC"]
    assert api.calls == []


def test_a_retry_that_would_overrun_the_budget_is_not_attempted(api, s3, clock, lambda_env):
    api.always["NVDA"] = FAILURE_BODIES["burst"]
    lambda_env()

    result = handler({}, FakeLambdaContext(clock, budget_seconds=60))

    assert result["succeeded"] == ["AMD"]
    assert result["failed"]["NVDA"].startswith(
        "the run's time budget does not allow another call (last answer: throttled"
    )
    assert len(api.calls_for("NVDA")) == 2
    assert result["skipped"] == {
        "INTC": "not reached: the run's time budget ran out before this symbol"
    }
    assert clock.elapsed <= 50


# A smoke run (`make smoke`): one symbol under smoke/, never in the raw zone, no metric and
# no raised error a user caused (so no alarm).
SMOKE_KEY = "smoke/dt=2024-06-10/NVDA-20240610T210500000000Z.csv"


def test_a_smoke_run_lands_its_one_symbol_under_smoke_only(api, s3, clock, lambda_env, output):
    lambda_env()

    result = handler({"smoke": True, "symbols": ["NVDA"]}, FakeLambdaContext(clock))

    assert landed_keys(s3, "smoke/") == [SMOKE_KEY]
    assert landed_keys(s3, "raw") == []  # neither raw/ nor raw_splits/
    assert object_rows(s3, SMOKE_KEY) == expected_raw_rows("NVDA")
    assert result["succeeded"] == ["NVDA"]
    assert result["objects"] == [f"s3://{BUCKET}/{SMOKE_KEY}"]
    assert [call.symbol for call in api.calls] == ["NVDA"]
    assert set(metric_values(output())) <= {"ColdStart"}


def test_a_smoke_run_lands_under_smoke_whatever_the_configured_sink(api, s3, clock, lambda_env):
    lambda_env(SINK="firehose", FIREHOSE_STREAM_NAME="stockpipe-dev-stream")

    handler({"smoke": True, "symbols": ["NVDA"]}, FakeLambdaContext(clock))

    assert landed_keys(s3, "smoke/") == [SMOKE_KEY]
    assert landed_keys(s3, "raw") == []


@pytest.mark.parametrize(
    "event",
    [{"smoke": True}, {"smoke": True, "symbols": ["NVDA", "AMD"]}],
    ids=["no symbol named", "two symbols"],
)
def test_a_smoke_run_asks_for_exactly_one_symbol(api, s3, clock, lambda_env, event):
    lambda_env()

    result = handler(event, FakeLambdaContext(clock))

    assert result == {
        "smoke": True,
        "error": "invalid ingestion event: event field 'smoke' asks for exactly one symbol "
        "in field 'symbols'",
    }
    assert landed_keys(s3) == []
    assert api.calls == []


def test_a_failed_smoke_run_returns_the_reason_and_records_no_failure(
    api, s3, clock, lambda_env, output
):
    api.script("NVDA", FAILURE_BODIES["invalid_symbol"])
    lambda_env()

    result = handler({"smoke": True, "symbols": ["NVDA"]}, FakeLambdaContext(clock))

    assert result["smoke"] is True
    assert result["error"].startswith("no symbol succeeded (NVDA: ")
    assert landed_keys(s3) == []
    assert "RunFailed" not in metric_values(output())


def test_smoke_must_be_a_boolean(api, s3, clock, lambda_env):
    lambda_env()

    with pytest.raises(Exception, match="event field 'smoke' must be true or false, got 'yes'"):
        handler({"smoke": "yes", "symbols": ["NVDA"]}, FakeLambdaContext(clock))
    assert landed_keys(s3) == []
