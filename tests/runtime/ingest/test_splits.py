"""Split records: fetched after the prices when due, landed whole under raw_splits/, and never
a reason for the price run to fail. The fake API (responses) answers SPLITS; moto is S3."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import boto3
import pytest

from runtime.local.alphavantage_bodies import FAILURE_BODIES
from tests.runtime.ingest.conftest import (
    BUCKET,
    INGESTED_AT,
    LANDING,
    FakeClock,
    json_body,
    landed_keys,
    make_settings,
    raw_keys,
    records_fresh,
    rows_dated,
    run,
    splits_body,
    utc,
)

SPLITS_HEADER = ["symbol", "effective_date", "split_factor", "ingested_at"]


def split_rows(s3, symbol: str, ingest_date: str = "2024-06-10") -> list[list[str]]:
    """The rows of the one split record object a symbol has in the partition."""
    (key,) = landed_keys(s3, f"raw_splits/dt={ingest_date}/{symbol}-")
    rows = list(
        csv.reader(io.StringIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()))
    )
    assert rows[0] == SPLITS_HEADER
    return rows[1:]


def refreshed(s3) -> dict[str, str]:
    body = s3.get_object(Bucket=BUCKET, Key="ingest_state/splits_refreshed.json")["Body"]
    return json.loads(body.read())


def test_the_first_ingestion_lands_each_record_with_a_marker_for_no_split(api, s3, clock):
    api.split_records["NVDA"] = splits_body(
        "NVDA", ("2024-06-10", "10.0000"), ("2021-07-20", "4.0000")
    )

    result = run(make_settings(), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert api.split_calls == ["AMD", "NVDA", "INTC"]
    assert landed_keys(s3, "raw_splits/") == [
        f"raw_splits/dt=2024-06-10/{symbol}-{LANDING}.csv" for symbol in ("AMD", "INTC", "NVDA")
    ]
    assert split_rows(s3, "NVDA") == [
        ["NVDA", "2024-06-10", "10.0000", INGESTED_AT],
        ["NVDA", "2021-07-20", "4.0000", INGESTED_AT],
    ]
    # No split is a fact too: a record the provider withdraws must not survive as data.
    assert split_rows(s3, "AMD") == [["AMD", "", "", INGESTED_AT]]
    assert refreshed(s3) == {"AMD": "2024-06-10", "NVDA": "2024-06-10", "INTC": "2024-06-10"}
    assert list(result["splits"]["landed"]) == ["AMD", "NVDA", "INTC"]


@pytest.mark.shared_data
def test_the_real_nvda_record_lands_row_for_row(api, s3, clock, nvda_splits):
    record = json.loads(nvda_splits.read_text())
    api.split_records["NVDA"] = nvda_splits.read_text()

    result = run(make_settings(SYMBOLS="NVDA"), clock)

    assert result["splits"]["landed"] == {"NVDA": "first ingestion of the symbol: 6 splits"}
    assert split_rows(s3, "NVDA") == [
        ["NVDA", item["effective_date"], item["split_factor"], INGESTED_AT]
        for item in record["data"]
    ]
    assert len(split_rows(s3, "NVDA")) == 6


def one_split(**item: str) -> dict:
    return {"data": [item]}


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        (one_split(effective_date="2024-06-10", split_factor="0"), "data[0].split_factor '0'"),
        (one_split(effective_date="2024-06-10", split_factor="abc"), "data[0].split_factor 'abc'"),
        (one_split(effective_date="2024-06-10", split_factor="-2"), "data[0].split_factor '-2'"),
        (one_split(split_factor="2.0000"), "data[0].effective_date is missing"),
        (one_split(effective_date="10/06/2024", split_factor="2"), "data[0].effective_date '10/"),
        (one_split(effective_date="2024-02-30", split_factor="2"), "data[0].effective_date '2024-"),
        ({"data": {"effective_date": "2024-06-10"}}, "field 'data' is not a list"),
        ({"symbol": "NVDA"}, "field 'data' is missing"),
    ],
)
def test_a_malformed_record_is_one_line_naming_the_symbol_and_field(api, s3, clock, answer, field):
    api.script_splits("NVDA", {"symbol": "NVDA", **answer})

    result = run(make_settings(), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    (reason,) = result["splits"]["failed"].values()
    assert list(result["splits"]["failed"]) == ["NVDA"]
    assert reason.startswith(f"SPLITS answer for NVDA: {field}")
    assert "\n" not in reason
    assert landed_keys(s3, "raw_splits/dt=2024-06-10/NVDA") == []
    assert len(raw_keys(s3, "NVDA")) == 1  # the prices landed regardless
    assert "NVDA" not in refreshed(s3)  # asked for again on the next run


def test_a_quota_body_during_the_records_stops_calling_and_keeps_the_prices(api, s3, clock):
    api.script_splits("NVDA", FAILURE_BODIES["daily_quota"])

    result = run(make_settings(), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert api.split_calls == ["AMD", "NVDA"]  # INTC is not asked for after the quota body
    assert list(result["splits"]["landed"]) == ["AMD"]
    assert list(result["splits"]["deferred"]) == ["NVDA", "INTC"]
    assert "daily request quota is spent" in result["splits"]["deferred"]["INTC"]
    assert [len(raw_keys(s3, symbol)) for symbol in ("AMD", "NVDA", "INTC")] == [1, 1, 1]


def test_a_burst_body_during_a_record_backs_off_and_lands_it(api, s3, clock):
    api.script_splits("AMD", FAILURE_BODIES["burst"])

    result = run(make_settings(), clock)

    assert api.split_calls == ["AMD", "AMD", "NVDA", "INTC"]
    assert list(result["splits"]["landed"]) == ["AMD", "NVDA", "INTC"]
    assert split_rows(s3, "AMD") == [["AMD", "", "", INGESTED_AT]]


def test_a_premium_or_unavailable_endpoint_is_a_warning_not_a_failed_run(api, s3, clock):
    for symbol in ("AMD", "NVDA", "INTC"):
        api.script_splits(symbol, FAILURE_BODIES["premium_endpoint"])

    result = run(make_settings(), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert result["failed"] == {}
    assert result["splits"]["failed"]["NVDA"].startswith("SPLITS is premium-only for this key")


def test_with_firehose_the_records_still_land_in_the_bucket(api, s3, clock):
    boto3.client("firehose", region_name="us-east-1").create_delivery_stream(
        DeliveryStreamName="stream",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "Prefix": "raw_firehose/",
        },
    )
    settings = make_settings(SINK="firehose", FIREHOSE_STREAM_NAME="stream", SYMBOLS="NVDA")
    api.split_records["NVDA"] = splits_body("NVDA", ("2024-06-10", "10.0000"))

    result = run(settings, clock)

    assert result["succeeded"] == ["NVDA"]
    assert split_rows(s3, "NVDA") == [["NVDA", "2024-06-10", "10.0000", INGESTED_AT]]
    assert landed_keys(s3, "raw/") == []


def test_the_refresh_cycle_spreads_records_over_days_and_none_gets_older(api, s3):
    symbols = "AMD,NVDA,INTC,MU,QCOM,TXN,AMAT"  # 7 symbols, 3-day cycle: 3 records a day
    settings = make_settings(SYMBOLS=symbols, SPLITS_REFRESH_DAYS="3")
    asked: list[list[str]] = []
    for day in range(8):
        before = len(api.split_calls)
        run(settings, FakeClock(utc(2024, 6, 10, 21, 5) + timedelta(days=day)))
        asked.append(api.split_calls[before:])
        today = date(2024, 6, 10) + timedelta(days=day)
        ages = [(today - date.fromisoformat(d)).days for d in refreshed(s3).values()]
        assert max(ages) <= 3

    assert asked[0] == symbols.split(",")  # the first ingestion asks for every record
    assert [len(calls) for calls in asked[1:]] == [3] * 7  # then a share a day
    assert sorted(set().union(*asked[1:4])) == sorted(symbols.split(","))


def test_a_second_run_the_same_day_asks_for_no_record(api, s3, clock):
    run(make_settings(), clock)
    clock.sleep(3600)

    result = run(make_settings(), clock)

    assert api.split_calls == ["AMD", "NVDA", "INTC"]
    assert result["splits"] == {"landed": {}, "failed": {}, "deferred": {}}


def test_a_split_sized_overnight_move_asks_for_the_record_at_once(api, s3, clock):
    records_fresh(s3, "AMD", "NVDA", "INTC", day="2024-06-09")
    # NVDA's 10:1 split: 1208.88 at the close, 120.90 at the next open.
    rows = (
        ("2024-06-10", "120.9000", "123.1000", "117.0100", "121.7900", "314162700"),
        *rows_dated("2024-06-07"),
    )
    api.script("NVDA", json_body("NVDA", rows=rows))
    api.split_records["NVDA"] = splits_body("NVDA", ("2024-06-10", "10.0000"))

    result = run(make_settings(), FakeClock(utc(2024, 6, 10, 21, 5)))

    assert api.split_calls[0] == "NVDA"
    assert result["splits"]["landed"]["NVDA"].startswith(
        "a split-sized overnight move on 2024-06-10"
    )
    assert split_rows(s3, "NVDA") == [["NVDA", "2024-06-10", "10.0000", INGESTED_AT]]


def test_an_unreadable_refresh_record_is_a_warning_per_symbol_and_the_prices_stand(api, s3, clock):
    key = "ingest_state/splits_refreshed.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"{not json")

    result = run(make_settings(), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert api.split_calls == []
    assert list(result["splits"]["failed"]) == ["AMD", "NVDA", "INTC"]
    assert result["splits"]["failed"]["AMD"].startswith(
        f"not fetched: the days split records were last fetched are unreadable (could not read "
        f"s3://{BUCKET}/{key}"
    )
