"""Configuration: the environment contract of issue 2, event overrides, and clear errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from runtime.ingest.errors import ConfigurationError
from runtime.ingest.settings import Settings, plan_run
from tests.runtime.ingest.conftest import API_KEY

MINIMAL_ENV = {"ALPHAVANTAGE_API_KEY": API_KEY, "DATA_BUCKET": "lake"}
TODAY = date(2024, 6, 10)


def test_defaults_follow_the_documented_contract():
    settings = Settings.from_env(MINIMAL_ENV)

    assert settings.symbols == (
        "AMD", "NVDA", "INTC", "MU", "QCOM", "TXN", "AMAT", "AVGO", "LSCC", "KLAC",
    )  # fmt: skip
    assert settings.api_url == "https://www.alphavantage.co/query"
    assert (settings.sink, settings.data_bucket, settings.raw_prefix) == ("s3", "lake", "raw/")
    assert settings.calls_per_minute == 5
    assert (settings.output_size, settings.datatype) == ("compact", "json")
    # Free keys: about one request per second on top of the per-minute budget.
    assert settings.min_call_interval_seconds == 1.0
    # ... and 25 requests a day; a split record at most a week old.
    assert (settings.call_budget, settings.splits_refresh_days) == (25, 7)


def test_values_are_normalised():
    settings = Settings.from_env(
        {
            **MINIMAL_ENV,
            "SYMBOLS": " nvda, AMD ,,nvda, brk.b ",
            "RAW_PREFIX": "landing/raw",
            "OUTPUT_SIZE": "FULL",
            "SINK": "local",
            "LAKE_DIR": "/tmp/lake",
            "CALLS_PER_MINUTE": "75",
        }
    )

    assert settings.symbols == ("NVDA", "AMD", "BRK.B")
    assert settings.raw_prefix == "landing/raw/"
    assert settings.output_size == "full"
    assert settings.lake_dir == Path("/tmp/lake")
    # Above 60 per minute the calls are spaced evenly instead.
    assert settings.min_call_interval_seconds == pytest.approx(0.8)


def test_the_key_never_shows_in_the_settings_repr():
    assert API_KEY not in repr(Settings.from_env(MINIMAL_ENV))


@pytest.mark.parametrize(
    ("env", "message_part"),
    [
        pytest.param(
            {"DATA_BUCKET": "lake"},
            "exactly one of ALPHAVANTAGE_API_KEY (the key) or ALPHAVANTAGE_SECRET_ARN "
            "(a Secrets Manager secret holding it) must be set, neither is",
            id="no_key",
        ),
        pytest.param(
            {**MINIMAL_ENV, "ALPHAVANTAGE_SECRET_ARN": "arn:aws:secretsmanager:x"},
            "must be set, both are",
            id="both_keys",
        ),
        pytest.param({"ALPHAVANTAGE_API_KEY": API_KEY}, "DATA_BUCKET is required", id="bucket"),
        pytest.param(
            {**MINIMAL_ENV, "SINK": "firehose"},
            "FIREHOSE_STREAM_NAME is required when SINK=firehose",
            id="firehose_stream",
        ),
        pytest.param(
            {**MINIMAL_ENV, "SINK": "local"}, "LAKE_DIR is required when SINK=local", id="lake"
        ),
        pytest.param(
            {**MINIMAL_ENV, "SINK": "kafka"},
            "SINK='kafka' must be one of s3, firehose, local",
            id="sink",
        ),
        pytest.param(
            {**MINIMAL_ENV, "CALLS_PER_MINUTE": "five"},
            "CALLS_PER_MINUTE='five' is not a positive whole number",
            id="calls_per_minute",
        ),
        pytest.param(
            {**MINIMAL_ENV, "CALLS_PER_MINUTE": "0"}, "CALLS_PER_MINUTE='0'", id="zero_budget"
        ),
        pytest.param(
            {**MINIMAL_ENV, "OUTPUT_SIZE": "huge"},
            "OUTPUT_SIZE='huge' must be one of compact, full",
            id="output_size",
        ),
        pytest.param(
            {**MINIMAL_ENV, "SYMBOLS": "NVDA,AM D"}, "SYMBOLS: 'AM D' is not a ticker", id="ticker"
        ),
        pytest.param({**MINIMAL_ENV, "SYMBOLS": " , "}, "SYMBOLS lists no ticker", id="no_ticker"),
        pytest.param(
            {**MINIMAL_ENV, "ALPHAVANTAGE_URL": "www.alphavantage.co/query"},
            "ALPHAVANTAGE_URL='www.alphavantage.co/query' is not an http(s) URL",
            id="url",
        ),
        pytest.param(
            {**MINIMAL_ENV, "RAW_PREFIX": "/raw/"},
            "RAW_PREFIX='/raw/' must not start with '/'",
            id="prefix",
        ),
        pytest.param(
            {**MINIMAL_ENV, "CONCURRENCY": "8"},
            "CONCURRENCY=8 is more than CALLS_PER_MINUTE=5",
            id="concurrency",
        ),
        pytest.param(
            {**MINIMAL_ENV, "REQUEST_TIMEOUT_SECONDS": "0"},
            "REQUEST_TIMEOUT_SECONDS must be more than 0",
            id="timeout",
        ),
        pytest.param(
            {**MINIMAL_ENV, "MIN_CALL_INTERVAL_SECONDS": "nan"},
            "MIN_CALL_INTERVAL_SECONDS='nan' is not a number of seconds >= 0",
            id="interval",
        ),
        pytest.param(
            {**MINIMAL_ENV, "API_DAILY_CALL_BUDGET": "-1"},
            "API_DAILY_CALL_BUDGET='-1' is not a whole number >= 0",
            id="budget",
        ),
        pytest.param(
            {**MINIMAL_ENV, "SPLITS_REFRESH_DAYS": "0"},
            "SPLITS_REFRESH_DAYS='0' is not a positive whole number",
            id="refresh_days",
        ),
        pytest.param(
            {"ALPHAVANTAGE_API_KEY": API_KEY, "SINK": "firehose", "FIREHOSE_STREAM_NAME": "s"},
            "DATA_BUCKET is required when SINK=firehose",
            id="firehose_bucket",
        ),
    ],
)
def test_bad_configuration_is_one_clear_message(env, message_part):
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(env)

    assert str(raised.value).startswith("invalid ingestion configuration: ")
    assert message_part in str(raised.value)


def test_every_problem_is_named_at_once():
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"CALLS_PER_MINUTE": "-1", "SINK": "s3"})

    message = str(raised.value)
    assert "exactly one of ALPHAVANTAGE_API_KEY" in message
    assert "DATA_BUCKET is required" in message
    assert "CALLS_PER_MINUTE='-1'" in message


def test_the_event_overrides_symbols_outputsize_and_ingest_date():
    settings = Settings.from_env(MINIMAL_ENV)

    plan = plan_run(
        settings,
        {"symbols": ["nvda", "AMD"], "outputsize": "full", "ingest_date": "2024-06-03"},
        TODAY,
    )

    assert plan.symbols == ("NVDA", "AMD")
    assert plan.output_size == "full"
    assert plan.ingest_date == date(2024, 6, 3)
    assert plan.datatype == "json"


def test_an_ingest_date_of_today_is_accepted():
    plan = plan_run(Settings.from_env(MINIMAL_ENV), {"ingest_date": "2024-06-10"}, TODAY)

    assert plan.ingest_date == TODAY


def test_a_scheduled_event_changes_nothing():
    settings = Settings.from_env(MINIMAL_ENV)
    scheduled = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2024-06-10T21:05:00Z",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/stockpipe-daily"],
        "detail": {},
    }

    plan = plan_run(settings, scheduled, TODAY)

    assert (plan.symbols, plan.output_size, plan.ingest_date) == (
        settings.symbols,
        "compact",
        TODAY,
    )


@pytest.mark.parametrize(
    ("event", "message_part"),
    [
        ({"ingest_date": "2024-6-3"}, "event field 'ingest_date' must be a date YYYY-MM-DD"),
        ({"ingest_date": "2024-02-30"}, "got '2024-02-30'"),
        ({"ingest_date": 20240603}, "must be a date YYYY-MM-DD, got 20240603"),
        (
            {"ingest_date": "2024-06-11"},
            "event field 'ingest_date'='2024-06-11' is after today (2024-06-10, UTC): "
            "an ingest date cannot be in the future",
        ),
        ({"outputsize": "all"}, "event field 'outputsize'='all' must be one of compact, full"),
        ({"symbols": 7}, "event field 'symbols' must be a list of tickers"),
        ({"symbols": ["NVDA", "../etc"]}, "event field 'symbols': '../etc' is not a ticker"),
        ({"symbols": []}, "event field 'symbols' lists no ticker"),
    ],
)
def test_a_bad_event_is_one_clear_message(event, message_part):
    with pytest.raises(ConfigurationError, match=r"^invalid ingestion event: ") as raised:
        plan_run(Settings.from_env(MINIMAL_ENV), event, TODAY)

    assert message_part in str(raised.value)


@pytest.mark.parametrize(
    "secret", [{}, {"ALPHAVANTAGE_SECRET_ARN": "arn:aws:secretsmanager:x"}], ids=["alone", "both"]
)
def test_a_plaintext_key_inside_lambda_is_a_configuration_error(secret):
    env = {**MINIMAL_ENV, **secret, "AWS_LAMBDA_FUNCTION_NAME": "stockpipe-dev-ingest"}

    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(env)

    message = str(raised.value)
    assert "ALPHAVANTAGE_API_KEY is set in Lambda function stockpipe-dev-ingest" in message
    assert "set ALPHAVANTAGE_SECRET_ARN" in message
    assert API_KEY not in message


def test_inside_lambda_the_secret_arn_alone_is_accepted():
    settings = Settings.from_env(
        {
            "ALPHAVANTAGE_SECRET_ARN": "arn:aws:secretsmanager:x",
            "DATA_BUCKET": "lake",
            "AWS_LAMBDA_FUNCTION_NAME": "stockpipe-dev-ingest",
        }
    )

    assert (settings.api_key, settings.secret_arn) == (None, "arn:aws:secretsmanager:x")
