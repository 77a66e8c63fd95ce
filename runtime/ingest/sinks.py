"""Where a symbol's bars land: S3, Firehose, or a local lake directory.

S3 and local write one CSV object per symbol per ingest date at
`{RAW_PREFIX}dt={ingest_date}/{SYMBOL}.csv`; a rerun of the same day replaces it
whole (S3 PUT is atomic; locally temp file + os.replace), so nothing is duplicated
and a failed write never leaves half a file. Firehose sends one JSON line per bar
with the same fields; Firehose itself decides the S3 object names under the
stream's configured prefix, and delivery is at least once (a rerun sends again).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from runtime.files import write_text_atomically
from runtime.ingest.bars import Bar, bar_record, bars_to_csv
from runtime.ingest.errors import SinkError

# PutRecordBatch limits: 500 records and 4 MiB per request, 1,000 KiB per record.
FIREHOSE_MAX_RECORDS = 500
FIREHOSE_MAX_BYTES = 4 * 1024 * 1024
FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024
FIREHOSE_MAX_ATTEMPTS = 5
FIREHOSE_BACKOFF_SECONDS = 0.5
FIREHOSE_RETRYABLE_ERRORS = ("ServiceUnavailableException", "ThrottlingException")


class Sink(Protocol):
    """Lands one symbol's bars for one ingest date; returns where, for the logs."""

    def write(
        self, symbol: str, ingest_date: date, bars: Sequence[Bar], ingested_at: str
    ) -> str: ...


def raw_key(raw_prefix: str, ingest_date: date, symbol: str) -> str:
    """The raw-zone object key (S3) or relative path (local) of one symbol and day."""
    return f"{raw_prefix}dt={ingest_date.isoformat()}/{symbol}.csv"


class S3Sink:
    """One CSV object per symbol per ingest date in the data bucket."""

    def __init__(self, bucket: str, raw_prefix: str, client: Any = None) -> None:
        self._bucket = bucket
        self._raw_prefix = raw_prefix
        self._client = client or boto3.client("s3")

    def write(self, symbol: str, ingest_date: date, bars: Sequence[Bar], ingested_at: str) -> str:
        key = raw_key(self._raw_prefix, ingest_date, symbol)
        location = f"s3://{self._bucket}/{key}"
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=bars_to_csv(bars, ingested_at).encode("utf-8"),
                ContentType="text/csv; charset=utf-8",
            )
        except (ClientError, BotoCoreError) as error:
            raise SinkError(f"could not write {location}: {error}") from None
        return location


class LocalSink:
    """The same layout as S3 under a lake directory, written atomically."""

    def __init__(self, lake_dir: Path, raw_prefix: str) -> None:
        self._lake_dir = lake_dir
        self._raw_prefix = raw_prefix

    def write(self, symbol: str, ingest_date: date, bars: Sequence[Bar], ingested_at: str) -> str:
        target = self._lake_dir / raw_key(self._raw_prefix, ingest_date, symbol)
        try:
            write_text_atomically(target, bars_to_csv(bars, ingested_at))
        except OSError as error:
            raise SinkError(f"could not write {target}: {error}") from None
        return str(target)


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

    def write(self, symbol: str, ingest_date: date, bars: Sequence[Bar], ingested_at: str) -> str:
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
