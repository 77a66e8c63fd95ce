"""The sinks: local lake and S3 (write-once), Firehose (batched, failed records resent)."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

from runtime.ingest.bars import Bar
from runtime.ingest.errors import IngestionFailed, SinkError
from runtime.ingest.sinks import FirehoseSink
from tests.runtime.ingest.conftest import (
    BUCKET,
    INGESTED_AT,
    LANDING,
    RUN_STARTED,
    SAMPLE_ROWS,
    FakeClock,
    csv_rows,
    expected_raw_rows,
    json_body,
    lake_files,
    lake_rows,
    landed_keys,
    make_settings,
    raw_rows,
    run,
)

STREAM = "stockpipe-raw"
FIREHOSE_PREFIX = "raw_firehose/"


def test_the_local_sink_writes_the_raw_layout_and_a_rerun_adds_to_it(api, clock, tmp_path):
    settings = make_settings(SINK="local", LAKE_DIR=str(tmp_path), DATA_BUCKET=None)
    run(settings, clock)
    api.script("AMD", json_body("AMD", rows=SAMPLE_ROWS[:1]))
    later = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    result = run(settings, clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    raw = tmp_path / "raw"
    files = sorted(p.relative_to(tmp_path).as_posix() for p in raw.rglob("*") if p.is_file())
    second_landing = later.replace("-", "").replace(":", "").replace("Z", "000000Z")
    assert files == [
        f"raw/dt=2024-06-10/{symbol}-{landing}.csv"
        for symbol in ("AMD", "INTC", "NVDA")
        for landing in ("20240610T210500000000Z", second_landing)
    ]
    first, second = lake_files(tmp_path, "AMD")
    assert csv_rows(first.read_text()) == expected_raw_rows("AMD")
    assert csv_rows(second.read_text()) == expected_raw_rows("AMD", SAMPLE_ROWS[:1], later)


def test_an_existing_local_file_is_never_replaced_and_no_temp_file_is_left(api, clock, tmp_path):
    taken = tmp_path / "raw" / "dt=2024-06-10" / f"NVDA-{LANDING}.csv"
    taken.parent.mkdir(parents=True)
    taken.write_text("landed before\n")
    settings = make_settings(SINK="local", LAKE_DIR=str(tmp_path), DATA_BUCKET=None)

    result = run(settings, clock)

    assert result["succeeded"] == ["AMD", "INTC"]
    assert result["failed"]["NVDA"] == (
        f"{taken} already exists: raw objects are written once and never replaced"
    )
    assert taken.read_text() == "landed before\n"
    assert lake_rows(tmp_path, "AMD") == expected_raw_rows("AMD")
    assert sorted(p.name for p in taken.parent.iterdir()) == [
        f"{symbol}-{LANDING}.csv" for symbol in ("AMD", "INTC", "NVDA")
    ]


def test_a_failed_local_write_fails_the_symbols_with_the_location(api, clock, tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "dt=2024-06-10").write_text("a file where the partition should be")
    settings = make_settings(SINK="local", LAKE_DIR=str(tmp_path), DATA_BUCKET=None)

    with pytest.raises(IngestionFailed) as raised:
        run(settings, clock)

    failed = raised.value.result["failed"]
    target = tmp_path / "raw" / "dt=2024-06-10" / f"AMD-{LANDING}.csv"
    assert failed["AMD"].startswith(f"could not write {target}: ")


def test_an_existing_s3_object_is_never_replaced(api, s3, clock):
    key = f"raw/dt=2024-06-10/NVDA-{LANDING}.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"landed before\n")

    result = run(make_settings(), clock)

    assert result["failed"] == {
        "NVDA": f"s3://{BUCKET}/{key} already exists: raw objects are written once and "
        "never replaced"
    }
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"landed before\n"
    assert raw_rows(s3, "AMD") == expected_raw_rows("AMD")


def test_a_missing_bucket_fails_every_symbol_with_the_location(api, aws, clock):
    with pytest.raises(IngestionFailed) as raised:
        run(make_settings(), clock)

    failed = raised.value.result["failed"]
    # The day's call count, read before the first call, is the first object it misses.
    assert list(failed) == ["AMD", "NVDA", "INTC"]
    for reason in failed.values():
        assert reason.startswith(
            "could not count the call against the day's budget: could not read "
            f"s3://{BUCKET}/ingest_state/api_calls/dt=2024-06-10.json: "
        )
        assert "NoSuchBucket" in reason
    assert api.calls == []


def _bar(day: int) -> Bar:
    return Bar(
        "NVDA", date.fromordinal(730000 + day), Decimal("1.2500"), Decimal("2.0000"),
        Decimal("1.0000"), Decimal("1.5000"), 1000 + day,
    )  # fmt: skip


def test_firehose_batches_stay_within_the_record_and_byte_limits():
    by_count = FirehoseSink(STREAM, client=object(), sleep=FakeClock().sleep)
    by_bytes = FirehoseSink(STREAM, client=object(), sleep=FakeClock().sleep, max_bytes=1000)
    small = [b"%d" % n for n in range(1200)]
    mixed = [b"x" * 300] * 7 + [b"y" * 10] * 80

    assert [len(batch) for batch in by_count.batches(small)] == [500, 500, 200]
    assert [r for batch in by_count.batches(small) for r in batch] == small
    assert [sum(map(len, batch)) for batch in by_bytes.batches(mixed)] == [900, 900, 1000, 100]
    assert [r for batch in by_bytes.batches(mixed) for r in batch] == mixed


def test_a_record_over_the_firehose_limit_fails_the_symbol():
    sink = FirehoseSink(STREAM, client=object(), sleep=FakeClock().sleep, max_bytes=100)

    with pytest.raises(SinkError, match="a record of 101 bytes exceeds Firehose's limit"):
        sink.batches([b"z" * 101])


@pytest.mark.shared_data
def test_the_nvda_csv_through_firehose_lands_as_json_lines(api, s3, clock, nvda_csv):
    firehose = boto3.client("firehose", region_name="us-east-1")
    firehose.create_delivery_stream(
        DeliveryStreamName=STREAM,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "Prefix": FIREHOSE_PREFIX,
        },
    )
    api.always["NVDA"] = nvda_csv.read_text()
    settings = make_settings(
        SYMBOLS="NVDA", SINK="firehose", FIREHOSE_STREAM_NAME=STREAM, DATATYPE="csv"
    )

    result = run(settings, clock)

    assert result["rows"] == 6190
    objects = [
        s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        for key in landed_keys(s3, FIREHOSE_PREFIX)
    ]
    # moto writes one object per PutRecordBatch: 12 full batches and the rest.
    assert sorted(len(text.splitlines()) for text in objects) == [190] + [500] * 12
    landed = sorted(
        (json.loads(line) for text in objects for line in text.splitlines()),
        key=lambda record: record["trade_date"],
        reverse=True,
    )
    with nvda_csv.open(newline="") as handle:
        expected = [
            dict(
                zip(
                    ("trade_date", "open", "high", "low", "close", "volume"),
                    row,
                    strict=True,
                ),
                symbol="NVDA",
                ingested_at=INGESTED_AT,
            )
            for row in list(csv.reader(handle))[1:]
        ]
    assert landed == expected


def _batch_request(records: list[bytes]) -> dict:
    return {"DeliveryStreamName": STREAM, "Records": [{"Data": data} for data in records]}


def test_firehose_resends_only_the_records_it_reported_failed(aws):
    client = boto3.client("firehose", region_name="us-east-1")
    clock = FakeClock()
    sink = FirehoseSink(STREAM, client=client, sleep=clock.sleep)
    bars = [_bar(day) for day in range(3)]
    records = [(json.dumps(_record(bar), separators=(",", ":")) + "\n").encode() for bar in bars]
    with Stubber(client) as stub:
        stub.add_response(
            "put_record_batch",
            {
                "FailedPutCount": 1,
                "RequestResponses": [
                    {"RecordId": "a"},
                    {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."},
                    {"RecordId": "c"},
                ],
            },
            _batch_request(records),
        )
        stub.add_response(
            "put_record_batch",
            {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "b"}]},
            _batch_request(records[1:2]),
        )

        sink.write("NVDA", date(2024, 6, 10), bars, RUN_STARTED)

        stub.assert_no_pending_responses()
    assert clock.sleeps == [0.5]


def _record(bar: Bar) -> dict:
    return {
        "symbol": bar.symbol,
        "trade_date": bar.trade_date.isoformat(),
        "open": str(bar.open),
        "high": str(bar.high),
        "low": str(bar.low),
        "close": str(bar.close),
        "volume": str(bar.volume),
        "ingested_at": INGESTED_AT,
    }


def test_firehose_gives_up_after_bounded_attempts_with_the_error(aws):
    client = boto3.client("firehose", region_name="us-east-1")
    sink = FirehoseSink(STREAM, client=client, sleep=FakeClock().sleep, max_attempts=3)
    failing = {
        "FailedPutCount": 1,
        "RequestResponses": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"}],
    }
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response("put_record_batch", failing)

        with pytest.raises(SinkError, match=r"1 of 1 records still failing after 3 attempts"):
            sink.write("NVDA", date(2024, 6, 10), [_bar(0)], RUN_STARTED)


def test_the_s3_sink_is_what_the_default_settings_use(api, s3, clock):
    run(make_settings(), clock)

    assert raw_rows(s3, "AMD") == expected_raw_rows("AMD")
