"""A smoke run through the Lambda handler (`make smoke`): one symbol under `smoke/`, never
in the raw zone, no metric and no raised error a user caused (so no alarm)."""

from __future__ import annotations

import pytest

from runtime.ingest.handler import handler
from runtime.local.alphavantage_bodies import FAILURE_BODIES
from tests.runtime.ingest.conftest import (
    BUCKET,
    FakeLambdaContext,
    expected_raw_rows,
    landed_keys,
    object_rows,
)
from tests.runtime.ingest.test_handler import metric_values, output  # noqa: F401 (fixture)

pytestmark = pytest.mark.aws

SMOKE_KEY = "smoke/dt=2024-06-10/NVDA-20240610T210500000000Z.csv"


def test_a_smoke_run_lands_its_one_symbol_under_smoke_only(api, s3, clock, lambda_env, output):
    lambda_env()

    result = handler({"smoke": True, "symbols": ["NVDA"]}, FakeLambdaContext(clock))

    assert landed_keys(s3) == [SMOKE_KEY]
    assert object_rows(s3, SMOKE_KEY) == expected_raw_rows("NVDA")
    assert result["succeeded"] == ["NVDA"]
    assert result["objects"] == [f"s3://{BUCKET}/{SMOKE_KEY}"]
    assert [call.symbol for call in api.calls] == ["NVDA"]
    assert set(metric_values(output())) <= {"ColdStart"}


def test_a_smoke_run_lands_under_smoke_whatever_the_configured_sink(
    api, s3, clock, lambda_env
):
    lambda_env(SINK="firehose", FIREHOSE_STREAM_NAME="stockpipe-dev-stream")

    handler({"smoke": True, "symbols": ["NVDA"]}, FakeLambdaContext(clock))

    assert landed_keys(s3) == [SMOKE_KEY]


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
    assert landed_keys(s3) == [] and api.calls == []


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
