"""Fixtures for the ingestion tests: a scripted fake API, fake time, moto S3, a fake context.

The fake API sits behind `responses` (the HTTP boundary); the sample-server tests use
the real SampleServer instead. Time is a FakeClock, so backoff and pacing cost nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import responses
from aws_lambda_powertools.metrics.provider.cold_start import reset_cold_start_flag
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from runtime.ingest import handler as handler_module
from runtime.ingest.run import run_ingestion
from runtime.ingest.settings import Settings

API_URL = "https://www.alphavantage.co/query"
API_KEY = "K3Y-7f3a9c1e5b"
BUCKET = "stockpipe-test-data"
RUN_STARTED = datetime(2024, 6, 10, 21, 5, tzinfo=UTC)
INGEST_DATE = "2024-06-10"
INGESTED_AT = "2024-06-10T21:05:00Z"
# RUN_STARTED as it names a run's raw objects: NVDA-20240610T210500000000Z.csv.
LANDING = "20240610T210500000000Z"

# Three real NVDA bars (newest first) as the API writes them; served for any symbol.
SAMPLE_ROWS = (
    ("2024-06-07", "1197.7000", "1216.9171", "1180.2200", "1208.8800", "41238580"),
    ("2024-06-06", "1240.4800", "1255.8700", "1183.2000", "1209.9800", "66469619"),
    ("2024-06-05", "1183.7100", "1224.4950", "1174.6800", "1224.4000", "52840178"),
)


def rows_dated(*days: str) -> tuple[tuple[str, ...], ...]:
    """SAMPLE_ROWS' values under other dates, in the order given (one day per row)."""
    return tuple((day, *row[1:]) for day, row in zip(days, SAMPLE_ROWS, strict=False))


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def json_body(symbol: str, rows=SAMPLE_ROWS, last_refreshed: str | None = None) -> dict:
    """A TIME_SERIES_DAILY success body as alphavantage.md shows it."""
    return {
        "Meta Data": {
            "1. Information": "Daily Prices (open, high, low, close) and Volumes",
            "2. Symbol": symbol,
            "3. Last Refreshed": last_refreshed or rows[0][0],
            "4. Output Size": "Compact",
            "5. Time Zone": "US/Eastern",
        },
        "Time Series (Daily)": {
            day: {
                "1. open": open_,
                "2. high": high,
                "3. low": low,
                "4. close": close,
                "5. volume": volume,
            }
            for day, open_, high, low, close, volume in rows
        },
    }


def csv_body(rows=SAMPLE_ROWS) -> str:
    lines = ["timestamp,open,high,low,close,volume", *(",".join(row) for row in rows)]
    return "\r\n".join(lines) + "\r\n"


def expected_raw_rows(symbol: str, rows=SAMPLE_ROWS, ingested_at: str = INGESTED_AT) -> list:
    """The raw-zone rows the served rows must become, built without the code under test."""
    return [[symbol, *row, ingested_at] for row in rows]


@dataclass(frozen=True)
class Call:
    symbol: str | None
    outputsize: str | None
    datatype: str | None
    apikey: str | None


def splits_body(symbol: str, *splits: tuple[str, str]) -> dict:
    """A SPLITS success body: (effective_date, split_factor) pairs, newest first."""
    return {
        "symbol": symbol,
        "data": [{"effective_date": day, "split_factor": factor} for day, factor in splits],
    }


@dataclass
class FakeApi:
    """TIME_SERIES_DAILY and SPLITS behind `responses`: scripted answers per symbol, then
    success (a split record with no split by default).

    An answer is a dict (sent as JSON), a str (sent as is), a (status, text) tuple, an
    exception instance (raised as the transport failure), or a function of the request
    returning one of those. `calls` are the TIME_SERIES_DAILY calls, `split_calls` the
    symbols of the SPLITS calls, in order.
    """

    scripts: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    always: dict[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    split_scripts: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    split_records: dict[str, Any] = field(default_factory=dict)
    split_calls: list[str] = field(default_factory=list)

    def script(self, symbol: str, *answers: Any) -> None:
        self.scripts[symbol].extend(answers)

    def script_splits(self, symbol: str, *answers: Any) -> None:
        self.split_scripts[symbol].extend(answers)

    def calls_for(self, symbol: str) -> list[Call]:
        return [call for call in self.calls if call.symbol == symbol]

    def answer(self, request: Any) -> tuple[int, dict, str]:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}
        call = Call(
            query.get("symbol"), query.get("outputsize"), query.get("datatype"), query.get("apikey")
        )
        symbol = call.symbol or ""
        if query.get("function") == "SPLITS":
            self.split_calls.append(symbol)
            if self.split_scripts[symbol]:
                answer = self.split_scripts[symbol].popleft()
            else:
                answer = self.split_records.get(symbol, splits_body(symbol))
        else:
            self.calls.append(call)
            answer = self._daily_answer(symbol, call)
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        if isinstance(body, dict):
            return status, {"Content-Type": "application/json"}, json.dumps(body, indent=4)
        return status, {"Content-Type": "text/plain"}, body

    def _daily_answer(self, symbol: str, call: Call) -> Any:
        if self.scripts[symbol]:
            return self.scripts[symbol].popleft()
        if symbol in self.always:
            return self.always[symbol]
        if call.datatype == "csv":
            return csv_body()
        return json_body(symbol)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    """moto's in-process AWS; started before `responses` so both intercept."""
    with mock_aws():
        yield


@pytest.fixture
def api(aws: None) -> Iterator[FakeApi]:
    fake = FakeApi()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, API_URL, callback=fake.answer)
        yield fake


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self, start: datetime = RUN_STARTED) -> None:
        self.start = start
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


BASE_ENV = {
    "SYMBOLS": "AMD,NVDA,INTC",
    "ALPHAVANTAGE_API_KEY": API_KEY,
    "ALPHAVANTAGE_URL": API_URL,
    "DATA_BUCKET": BUCKET,
    "CALLS_PER_MINUTE": "5",
}


def make_settings(**env: str) -> Settings:
    """Settings from BASE_ENV plus overrides; a value of None removes the variable."""
    merged = {**BASE_ENV, **env}
    return Settings.from_env({k: v for k, v in merged.items() if v is not None})


def price_requests(server: Any) -> list:
    """The TIME_SERIES_DAILY calls a SampleServer served (not the SPLITS ones), in order."""
    return [request for request in server.requests if request.function == "TIME_SERIES_DAILY"]


def local_settings(server: Any, lake: Path, **env: str) -> Settings:
    """Settings for a run from a SampleServer into a local lake."""
    return make_settings(
        ALPHAVANTAGE_URL=server.url, SINK="local", LAKE_DIR=str(lake), DATA_BUCKET=None, **env
    )


def sample_rows(
    market: Any, symbol: str, ingested_at: str = INGESTED_AT, count: int = 100
) -> list[list[str]]:
    """The raw rows a sample market's newest `count` bars must become, from the market."""
    return [
        [
            bar.symbol,
            bar.trade_date.isoformat(),
            str(bar.open),
            str(bar.high),
            str(bar.low),
            str(bar.close),
            str(bar.volume),
            ingested_at,
        ]
        for bar in market.bars(symbol)[:count]
    ]


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


RAW_HEADER_LINE = ["symbol", "trade_date", "open", "high", "low", "close", "volume", "ingested_at"]


def csv_rows(text: str) -> list[list[str]]:
    """A raw object's rows (header checked and removed), read with the csv module."""
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == RAW_HEADER_LINE
    return rows[1:]


def landed_keys(s3_client: Any, prefix: str = "raw/") -> list[str]:
    """The keys under `prefix` (default: the price objects of the raw zone), sorted."""
    listing = s3_client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def records_fresh(s3_client: Any, *symbols: str, day: str = INGEST_DATE) -> None:
    """Record the symbols' split records as fetched on `day`: no run that day asks again."""
    s3_client.put_object(
        Bucket=BUCKET,
        Key="ingest_state/splits_refreshed.json",
        Body=json.dumps(dict.fromkeys(symbols, day)).encode(),
    )


def raw_keys(s3_client: Any, symbol: str, ingest_date: str = INGEST_DATE) -> list[str]:
    """The raw objects one symbol has in one partition, oldest landing first."""
    prefix = f"raw/dt={ingest_date}/{symbol}-"
    return [key for key in landed_keys(s3_client) if key.startswith(prefix)]


def object_rows(s3_client: Any, key: str) -> list[list[str]]:
    return csv_rows(s3_client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8"))


def raw_rows(s3_client: Any, symbol: str, ingest_date: str = INGEST_DATE) -> list[list[str]]:
    """The rows of the one raw object a symbol has in the partition."""
    (key,) = raw_keys(s3_client, symbol, ingest_date)
    return object_rows(s3_client, key)


def lake_files(lake: Path, symbol: str, ingest_date: str = INGEST_DATE) -> list[Path]:
    """The raw files one symbol has in one partition of a local lake, oldest landing first."""
    return sorted((lake / "raw" / f"dt={ingest_date}").glob(f"{symbol}-*.csv"))


def lake_rows(lake: Path, symbol: str, ingest_date: str = INGEST_DATE) -> list[list[str]]:
    """The rows of the one raw file a symbol has in the partition of a local lake."""
    (path,) = lake_files(lake, symbol, ingest_date)
    return csv_rows(path.read_text(encoding="utf-8"))


def remaining_ms_for(clock: FakeClock, seconds: float) -> Callable[[], int]:
    """A Lambda's remaining time, `seconds` from now, that shrinks as the fake clock moves."""
    started = clock.elapsed
    return lambda: int((seconds - (clock.elapsed - started)) * 1000)


def run(
    settings: Settings,
    clock: FakeClock,
    event: dict | None = None,
    *,
    budget_seconds: float = 900.0,
    on_symbol: Callable | None = None,
) -> dict:
    return run_ingestion(
        settings, event, remaining_ms_for(clock, budget_seconds), on_symbol, clock=clock
    )


@dataclass
class FakeLambdaContext:
    """The LambdaContext attributes Powertools and the handler read."""

    clock: FakeClock
    budget_seconds: float = 900.0
    function_name: str = "stockpipe-ingest"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:stockpipe-ingest"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def __post_init__(self) -> None:
        self.started = self.clock.elapsed

    def get_remaining_time_in_millis(self) -> int:
        return int((self.budget_seconds - (self.clock.elapsed - self.started)) * 1000)


@pytest.fixture(autouse=True)
def fresh_powertools_state() -> Iterator[None]:
    """Each test starts cold: no cached secret, no pending metrics."""
    parameters.clear_caches()
    handler_module.metrics.clear_metrics()
    reset_cold_start_flag()
    yield
    parameters.clear_caches()
    handler_module.metrics.clear_metrics()


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Callable[..., None]:
    """Set the handler's environment (BASE_ENV plus overrides) and its fake clock."""
    monkeypatch.setattr(handler_module, "clock", clock)

    def apply(**env: str | None) -> None:
        for name, value in {**BASE_ENV, **env}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    return apply


def emf_blobs(stdout: str) -> list[dict]:
    """The EMF metric documents among the JSON lines a handler printed."""
    blobs = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs
