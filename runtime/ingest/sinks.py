"""Where a symbol's bars land: S3, Firehose, or a local lake directory; split records too.

S3 and local write one CSV object per symbol per run, named by the run's landing time:
`{RAW_PREFIX}dt={ingest_date}/{SYMBOL}-{YYYYMMDDTHHMMSSffffffZ}.csv` (UTC, microseconds,
so names sort by landing). The raw zone is the system of record, so an object is written
once and never replaced: a rerun of the same day adds its own objects next to the
earlier ones (the write-audit-publish staging keeps the latest `ingested_at` per key).
S3 refuses the write if the key exists (a conditional PUT), the local sink writes to a
hidden file and hard-links it into place (atomic, and it fails on an existing name), so
neither can overwrite nor leave half an object. Firehose sends one JSON line per bar
with the same fields; Firehose itself decides the S3 object names under the stream's
configured prefix, and delivery is at least once (a rerun sends again).

Split records land as objects under `raw_splits/` in the same layout, in S3 also when the
bars go through Firehose (`land_splits`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from runtime.files import write_text_atomically
from runtime.ingest.bars import Bar, bar_record, bars_to_csv, format_ingested_at
from runtime.ingest.errors import SinkError
from runtime.ingest.splits import SplitRecord, splits_to_csv

# PutRecordBatch limits: 500 records and 4 MiB per request, 1,000 KiB per record.
FIREHOSE_MAX_RECORDS = 500
FIREHOSE_MAX_BYTES = 4 * 1024 * 1024
FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024
FIREHOSE_MAX_ATTEMPTS = 5
FIREHOSE_BACKOFF_SECONDS = 0.5
FIREHOSE_RETRYABLE_ERRORS = ("ServiceUnavailableException", "ThrottlingException")

#: Split records land here, beside `raw/`, with the same layout and write-once rule.
RAW_SPLITS_PREFIX = "raw_splits/"

WRITE_ONCE = "raw objects are written once and never replaced"


class Sink(Protocol):
    """Lands one symbol's bars for one ingest date; returns where, for the logs.

    `landed_at` is the run's landing time (timezone-aware): the bars' `ingested_at` and,
    for the object sinks, part of the object's name.
    """

    def write(
        self, symbol: str, ingest_date: date, bars: Sequence[Bar], landed_at: datetime
    ) -> str: ...


def raw_key(raw_prefix: str, ingest_date: date, symbol: str, landed_at: datetime) -> str:
    """The raw-zone object key (S3) or relative path (local) of one symbol in one run."""
    landing_time = landed_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{raw_prefix}dt={ingest_date.isoformat()}/{symbol}-{landing_time}.csv"


class S3Sink:
    """One CSV object per symbol per run in the data bucket, never overwritten."""

    def __init__(self, bucket: str, raw_prefix: str, client: Any = None) -> None:
        self._bucket = bucket
        self._raw_prefix = raw_prefix
        self._client = client or boto3.client("s3")

    def write(
        self, symbol: str, ingest_date: date, bars: Sequence[Bar], landed_at: datetime
    ) -> str:
        text = bars_to_csv(bars, format_ingested_at(landed_at))
        return self.land(raw_key(self._raw_prefix, ingest_date, symbol, landed_at), text)

    def land(self, key: str, text: str) -> str:
        """Write `text` as the new object `key`; refuse if it exists."""
        location = f"s3://{self._bucket}/{key}"
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=text.encode("utf-8"),
                ContentType="text/csv; charset=utf-8",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise SinkError(f"{location} already exists: {WRITE_ONCE}") from None
            raise SinkError(f"could not write {location}: {error}") from None
        except BotoCoreError as error:
            raise SinkError(f"could not write {location}: {error}") from None
        return location


class LocalSink:
    """The same layout as S3 under a lake directory, written atomically and only once."""

    def __init__(self, lake_dir: Path, raw_prefix: str) -> None:
        self._lake_dir = lake_dir
        self._raw_prefix = raw_prefix

    def write(
        self, symbol: str, ingest_date: date, bars: Sequence[Bar], landed_at: datetime
    ) -> str:
        text = bars_to_csv(bars, format_ingested_at(landed_at))
        return self.land(raw_key(self._raw_prefix, ingest_date, symbol, landed_at), text)

    def land(self, key: str, text: str) -> str:
        """Write `text` as the new file `key` under the lake; refuse if it exists."""
        target = self._lake_dir / key
        # A hidden name no `dt=*/*.csv` reader matches, complete before it is linked.
        pending = target.with_name(f".{target.name}.landing")
        try:
            write_text_atomically(pending, text)
            try:
                os.link(pending, target)
            except FileExistsError:
                raise SinkError(f"{target} already exists: {WRITE_ONCE}") from None
        except OSError as error:
            raise SinkError(f"could not write {target}: {error}") from None
        finally:
            with contextlib.suppress(OSError):
                pending.unlink()
        return str(target)


class ObjectSink(Protocol):
    """Where whole documents land write-once (the S3 and local sinks)."""

    def land(self, key: str, text: str) -> str: ...


def land_splits(
    sink: ObjectSink, record: SplitRecord, ingest_date: date, landed_at: datetime
) -> str:
    """Land one symbol's split record under RAW_SPLITS_PREFIX (never inside `raw/`, whose
    layout check accepts price objects only); returns where."""
    text = splits_to_csv(record, format_ingested_at(landed_at))
    return sink.land(raw_key(RAW_SPLITS_PREFIX, ingest_date, record.symbol, landed_at), text)


class FirehoseSink:
    """One JSON line per bar, sent with PutRecordBatch within the API limits.

    Records Firehose reports as failed (FailedPutCount) are sent again, with backoff,
    up to `max_attempts` times; after that the symbol fails.
    """

    def __init__(
        self,
        stream_name: str,
        client: Any = None,
        *,
        sleep: Callable[[float], None],
        max_records: int = FIREHOSE_MAX_RECORDS,
        max_bytes: int = FIREHOSE_MAX_BYTES,
        max_attempts: int = FIREHOSE_MAX_ATTEMPTS,
    ) -> None:
        self._stream_name = stream_name
        self._client = client or boto3.client("firehose")
        self._sleep = sleep
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._max_attempts = max_attempts

    def write(
        self, symbol: str, ingest_date: date, bars: Sequence[Bar], landed_at: datetime
    ) -> str:
        ingested_at = format_ingested_at(landed_at)
        records = [
            (json.dumps(bar_record(bar, ingested_at), separators=(",", ":")) + "\n").encode()
            for bar in bars
        ]
        for batch in self.batches(records):
            self._put_with_retries(batch)
        return f"firehose://{self._stream_name} ({len(records)} records)"

    def batches(self, records: Sequence[bytes]) -> list[list[bytes]]:
        """Split records into PutRecordBatch requests within the record and byte limits."""
        batches: list[list[bytes]] = []
        current: list[bytes] = []
        size = 0
        for record in records:
            if len(record) > min(FIREHOSE_MAX_RECORD_BYTES, self._max_bytes):
                raise SinkError(f"a record of {len(record)} bytes exceeds Firehose's limit")
            if current and (
                len(current) == self._max_records or size + len(record) > self._max_bytes
            ):
                batches.append(current)
                current, size = [], 0
            current.append(record)
            size += len(record)
        if current:
            batches.append(current)
        return batches

    def _put_with_retries(self, batch: list[bytes]) -> None:
        pending = batch
        last_error = ""
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1:
                self._sleep(FIREHOSE_BACKOFF_SECONDS * 2 ** (attempt - 2))
            try:
                response = self._client.put_record_batch(
                    DeliveryStreamName=self._stream_name,
                    Records=[{"Data": data} for data in pending],
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in FIREHOSE_RETRYABLE_ERRORS:
                    raise SinkError(
                        f"could not send to Firehose stream {self._stream_name}: {error}"
                    ) from None
                last_error = code
                continue
            except BotoCoreError as error:
                last_error = str(error)
                continue
            if not response.get("FailedPutCount"):
                return
            answers = response["RequestResponses"]
            failed = [
                (data, answer)
                for data, answer in zip(pending, answers, strict=True)
                if "ErrorCode" in answer
            ]
            if not failed:
                return
            last_error = f"{failed[0][1]['ErrorCode']}: {failed[0][1].get('ErrorMessage', '')}"
            pending = [data for data, _ in failed]
        raise SinkError(
            f"Firehose stream {self._stream_name}: {len(pending)} of {len(batch)} records still "
            f"failing after {self._max_attempts} attempts ({last_error})"
        )
