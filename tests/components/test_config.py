"""The stack configuration: defaults, validation messages, the derived Lambda timeout."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pulumi
import pytest

from components.config import (
    DEFAULT_SYMBOLS,
    StackConfig,
    StackConfigError,
    lambda_timeout_seconds,
    load_stack_config,
    schedule_problem,
)
from components.plan import configure
from tests.components.conftest import TEST_API_KEY

KEY = "stockpipe:alphaVantageApiKey"


@pytest.fixture
def load() -> Iterator[Callable[..., StackConfig]]:
    """Load the configuration of a stack given as `pulumi config` would pass it."""

    def run(stack: str = "dev", *, secret: bool = True, **keys: str) -> StackConfig:
        config = {KEY: TEST_API_KEY, **{f"stockpipe:{k}": v for k, v in keys.items()}}
        config = {k: v for k, v in config.items() if v is not None}
        configure(stack, config, [KEY] if secret else [])
        return load_stack_config(pulumi.Config("stockpipe"), stack)

    yield run
    configure("dev", {}, [])


def test_only_the_key_is_required_and_the_defaults_are_the_documented_ones(load):
    config = load()

    assert (
        config.symbols,
        config.schedule,
        config.schedule_timezone,
        config.ingestion_sink,
        config.calls_per_minute,
        config.output_size,
        config.alert_email,
        config.log_retention_days,
        config.protect_data,
    ) == (DEFAULT_SYMBOLS, "cron(0 22 ? * MON-FRI *)", "UTC", "s3", 5, "compact", None, 30, False)
    assert ",".join(DEFAULT_SYMBOLS) == "AMD,NVDA,INTC,MU,QCOM,TXN,AMAT,AVGO,LSCC,KLAC"


def test_data_is_protected_by_default_on_prod_only(load):
    assert load("prod").protect_data is True
    assert load("staging").protect_data is False
    assert load("prod", protectData="false").protect_data is False
    assert load("dev", protectData="TRUE").protect_data is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NVDA,amd, INTC", ("NVDA", "AMD", "INTC")),
        ('["NVDA", "brk.b", "NVDA"]', ("NVDA", "BRK.B")),
        ("MU", ("MU",)),
    ],
)
def test_symbols_are_a_yaml_list_or_a_comma_string(load, raw, expected):
    assert load(symbols=raw).symbols == expected


def test_several_bad_keys_are_reported_together_naming_key_value_and_choices(load):
    with pytest.raises(StackConfigError) as raised:
        load(
            symbols="NVDA,not a ticker",
            ingestionSink="kafka",
            callsPerMinute="0",
            outputSize="huge",
            logRetentionDays="10",
            scheduleTimezone="Mars/Olympus",
            alertEmail="ops-at-example",
            protectData="maybe",
        )

    message = str(raised.value)
    for expected in (
        "stockpipe:symbols: 'not a ticker' is not a ticker",
        "stockpipe:ingestionSink='kafka' must be one of s3, firehose",
        "stockpipe:callsPerMinute='0' must be a whole number of at least 1",
        "stockpipe:outputSize='huge' must be one of compact, full",
        "stockpipe:logRetentionDays='10' must be one of the values CloudWatch Logs accepts: 1, 3,",
        "stockpipe:scheduleTimezone='Mars/Olympus' must be an IANA time zone",
        "stockpipe:alertEmail='ops-at-example' must be an email address",
        "stockpipe:protectData='maybe' must be true or false",
    ):
        assert expected in message
    assert message.startswith("invalid stack configuration for stack 'dev':")


def test_a_key_set_in_clear_text_is_refused_without_echoing_it(load):
    with pytest.raises(StackConfigError) as raised:
        load(secret=False)

    message = str(raised.value)
    assert "stockpipe:alphaVantageApiKey is set in clear text; it must be a secret" in message
    assert "pulumi config set --secret stockpipe:alphaVantageApiKey" in message
    assert TEST_API_KEY not in message


def test_a_missing_key_says_how_to_set_it(load):
    with pytest.raises(StackConfigError, match="alphaVantageApiKey is required: pulumi config"):
        load(alphaVantageApiKey=None)


def test_a_misspelt_key_is_reported_with_the_right_name(load):
    with pytest.raises(StackConfigError) as raised:
        load(alphavantageApiKey="x", callPerMinute="5")

    message = str(raised.value)
    for typo, key in (
        ("alphavantageApiKey", "alphaVantageApiKey"),
        ("callPerMinute", "callsPerMinute"),
    ):
        assert (
            f"stockpipe:{typo} is not a stockpipe setting (did you mean stockpipe:{key}?)"
        ) in message


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 22 ? * MON-FRI *)",
        "cron(30 21 ? * 2-6 *)",
        "cron(0 18 ? * MON,WED,FRI 2026-2030)",
        "cron(0/15 * * * ? *)",
        "cron(0 10 L * ? *)",
        "cron(0 10 ? * 6#3 *)",
        "rate(1 day)",
        "rate(12 hours)",
    ],
)
def test_valid_schedules_are_accepted(load, expression):
    assert schedule_problem(expression) is None
    assert load(schedule=expression).schedule == expression


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 22 * * MON-FRI", "must be cron(minutes hours day-of-month month day-of-week year)"),
        ("cron(0 22 * * MON-FRI)", "a cron expression has 6 fields, this one has 5"),
        ("cron(0 22 * * MON-FRI *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 22 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 25 ? * MON-FRI *)", "cron field hours '25' is not valid (values 0-23)"),
        ("cron(0 22 ? * MON-FRY *)", "cron field day-of-week 'MON-FRY' is not valid"),
        ("cron(60 22 ? * MON-FRI *)", "cron field minutes '60' is not valid"),
        ("rate(1 days)", "write 'rate(1 day)' for one"),
        ("rate(5 minute)", "plural units for more"),
        ("rate(0 hours)", "a rate must be at least 1"),
    ],
)
def test_invalid_schedules_fail_with_the_reason(load, expression, problem):
    assert problem in schedule_problem(expression)
    with pytest.raises(StackConfigError, match="stockpipe:schedule="):
        load(schedule=expression)


@pytest.mark.parametrize(
    ("calls", "calls_per_minute", "seconds"),
    [(10, 5, 300), (1, 5, 240), (5, 5, 240), (6, 5, 300), (20, 5, 420), (10, 75, 180)],
)
def test_the_timeout_follows_the_call_count_and_the_pace(calls, calls_per_minute, seconds):
    assert lambda_timeout_seconds(calls, calls_per_minute) == seconds


def test_the_stack_timeout_counts_prices_and_split_records_up_to_the_budget(load):
    assert load().lambda_timeout_seconds == 420  # 10 symbols: 20 fetches
    assert load(symbols="NVDA").lambda_timeout_seconds == 240  # 2 fetches
    # 12 symbols would make 24 fetches; a budget of 15 stops a run at 15 calls.
    twelve = ",".join(f"S{i}" for i in range(12))
    assert load(symbols=twelve, apiDailyCallBudget="15").lambda_timeout_seconds == 360
    assert load(symbols=twelve, apiDailyCallBudget="0").lambda_timeout_seconds == 480


def test_the_budget_and_refresh_cycle_defaults_and_validation(load):
    config = load()
    assert (config.call_budget, config.splits_refresh_days) == (25, 7)
    assert load(apiDailyCallBudget="0", splitsRefreshDays="30").call_budget == 0

    with pytest.raises(StackConfigError) as raised:
        load(apiDailyCallBudget="-1", splitsRefreshDays="0")

    assert "stockpipe:apiDailyCallBudget='-1' must be a whole number" in str(raised.value)
    assert "stockpipe:splitsRefreshDays='0' must be a whole number of days from 1 to 365" in (
        str(raised.value)
    )


def test_symbols_whose_daily_calls_exceed_the_budget_name_the_knobs(load):
    twenty_one = ",".join(f"S{i}" for i in range(21))
    assert load(symbols=twenty_one).call_budget == 25  # 21 prices + 3 records a day

    twenty_two = ",".join(f"S{i}" for i in range(22))
    with pytest.raises(StackConfigError) as raised:
        load(symbols=twenty_two)

    assert (
        "stockpipe:symbols lists 22 symbols, whose prices and split refresh cycle "
        "(stockpipe:splitsRefreshDays=7) need 26 API calls a day, more than "
        "stockpipe:apiDailyCallBudget=25: list at most 21 symbols"
    ) in str(raised.value)


def test_symbols_that_cannot_fit_in_lambdas_limit_name_the_knobs(load):
    thirty = ",".join(f"S{i}" for i in range(30))
    assert load(symbols=thirty, apiDailyCallBudget="0").lambda_timeout_seconds == 900

    thirty_one = ",".join(f"S{i}" for i in range(31))
    with pytest.raises(StackConfigError) as raised:
        load(symbols=thirty_one, apiDailyCallBudget="0")

    assert (
        "stockpipe:symbols lists 31 symbols, whose prices and split records make up to 62 API "
        "calls a run, which at stockpipe:callsPerMinute=5 need a 960 s Lambda timeout, more "
        "than Lambda's 900 s: list at most 30 symbols, or raise stockpipe:callsPerMinute to "
        "at least 6"
    ) in str(raised.value)


LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:18"


def test_a_pinned_powertools_layer_arn_is_read_and_absent_means_the_lookup(load):
    assert load(powertoolsLayerArn=LAYER).powertools_layer_arn == LAYER
    assert load().powertools_layer_arn is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("AWSLambdaPowertoolsPythonV3-python312-arm64:18", "must be a Lambda layer version ARN"),
        (LAYER.rsplit(":", 1)[0], "must be a Lambda layer version ARN"),  # no version
        (LAYER.replace("us-east-1", "eu-west-1"), "in region eu-west-1; a function in us-east-1"),
    ],
)
def test_a_bad_powertools_layer_arn_fails_preview_naming_the_setting(value, message):
    configure("dev", {KEY: TEST_API_KEY, "aws:region": "us-east-1",
                      "stockpipe:powertoolsLayerArn": value}, [KEY])  # fmt: skip
    try:
        with pytest.raises(StackConfigError) as raised:
            load_stack_config(pulumi.Config("stockpipe"), "dev")
    finally:
        configure("dev", {}, [])

    (line,) = [line for line in str(raised.value).splitlines() if "powertoolsLayerArn" in line]
    assert line.startswith(f"  - stockpipe:powertoolsLayerArn={value!r} ")
    assert message in line


def test_a_stack_name_aws_cannot_carry_fails_preview_with_the_rule_it_breaks(load):
    with pytest.raises(StackConfigError) as raised:
        load("Feature_X")

    message = str(raised.value)
    assert "stack name 'Feature_X' does not fit the S3 bucket name" in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    "key", ["symbols", "schedule", "alertEmail", "scheduleTimezone", "callsPerMinute"]
)
def test_a_key_set_to_an_empty_value_is_refused_not_read_as_the_default(load, key):
    with pytest.raises(StackConfigError) as raised:
        load(**{key: ""})

    assert f"stockpipe:{key} is set but empty" in str(raised.value)
    assert f"pulumi config rm stockpipe:{key}" in str(raised.value)


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("cron(0 22 ? * 8 *)", "values 1-7 or SUN-SAT"),
        ("cron(0 22 ? 13 MON *)", "values 1-12 or JAN-DEC"),
        ("cron(0 24 ? * MON *)", "(values 0-23)"),
    ],
)
def test_a_bad_cron_field_names_every_spelling_it_accepts(expression, allowed):
    assert allowed in schedule_problem(expression)
