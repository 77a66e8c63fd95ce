"""The function's environment is exactly what runtime/ingest reads, and it validates there."""

from __future__ import annotations

import pytest

from runtime.ingest import handler, settings
from runtime.ingest.settings import Settings

# Powertools reads this one itself (the handler also passes the same name explicitly).
POWERTOOLS_SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
# What settings.py reads but the stack leaves to the runtime's default, and why.
LEFT_TO_DEFAULT = {
    settings.API_KEY_ENV: "the key reaches the function through its secret only",
    settings.API_URL_ENV: "the real Alpha Vantage endpoint is the default",
    settings.LAKE_DIR_ENV: "the local sink only",
    settings.DATATYPE_ENV: "json, the default, is what the raw zone is tested with",
    settings.CONCURRENCY_ENV: "one request at a time suits the default 5-a-minute budget",
    settings.MIN_CALL_INTERVAL_ENV: "derived from CALLS_PER_MINUTE by the runtime",
    settings.REQUEST_TIMEOUT_ENV: "the runtime's 30 s is what the Lambda timeout assumes",
    settings.LAMBDA_FUNCTION_ENV: "the Lambda runtime sets it in every function itself",
}
SINK_ONLY = {
    "s3": {settings.FIREHOSE_STREAM_ENV: "the firehose sink only"},
    # DATA_BUCKET is set for both sinks: split records, the day's call count and a smoke
    # run's object live in the bucket.
    "firehose": {settings.RAW_PREFIX_ENV: "the s3 sink only"},
}


def names_the_runtime_reads() -> set[str]:
    """Every environment variable name runtime/ingest/settings.py and the handler read."""
    names = {
        value
        for name, value in vars(settings).items()
        if name.endswith("_ENV") and isinstance(value, str)
    }
    return names | {handler.METRICS_NAMESPACE_ENV, POWERTOOLS_SERVICE_ENV}


@pytest.mark.parametrize("sink", ["s3", "firehose"])
def test_the_keys_are_exactly_those_read_minus_the_documented_defaults(deployed, sink):
    environment = deployed(sink).environment

    expected = names_the_runtime_reads() - set(LEFT_TO_DEFAULT) - set(SINK_ONLY[sink])

    assert set(environment) == expected


@pytest.mark.parametrize("sink", ["s3", "firehose"])
def test_the_runtime_accepts_the_environment_as_the_stack_meant_it(deployed, sink):
    runs = deployed(sink)
    environment = runs.environment

    parsed = Settings.from_env(environment)

    assert ",".join(parsed.symbols) == "AMD,NVDA,INTC,MU,QCOM,TXN,AMAT,AVGO,LSCC,KLAC"
    assert (parsed.sink, parsed.calls_per_minute, parsed.output_size) == (sink, 5, "compact")
    assert (parsed.call_budget, parsed.splits_refresh_days) == (25, 7)
    # Split records and the day's call count live in the bucket with either sink.
    assert parsed.data_bucket == runs.graph.one("aws:s3/bucket:Bucket").outputs["bucket"]
    assert parsed.api_key is None
    assert parsed.secret_arn == runs.graph.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    if sink == "s3":
        assert parsed.raw_prefix == settings.DEFAULT_RAW_PREFIX
    else:
        stream = runs.graph.one("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
        assert parsed.firehose_stream_name == stream.outputs["name"]
    assert environment[POWERTOOLS_SERVICE_ENV] == settings.SERVICE_NAME
