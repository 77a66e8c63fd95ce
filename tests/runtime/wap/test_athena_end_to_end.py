"""The whole write-audit-publish run on the Athena engine: the four steps through `job.py
--engine athena` on moto's Glue and S3, each query answered by the Athena double (DuckDB over
the objects in the moto bucket, see athena_double.py). The scenarios of the DuckDB end-to-end
tests, asserted on the Parquet objects in S3, the Glue partitions and the job's exit codes."""

from __future__ import annotations

import gzip
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from runtime.ingest.bars import Bar, bar_record, bars_to_csv
from runtime.local.sample_market import SampleMarket
from runtime.wap import job
from runtime.wap.engines.athena import AthenaEngine
from tests.runtime.wap.athena_double import AthenaDouble, create_raw_table
from tests.runtime.wap.builders import (
    bar,
    expected_rows,
    ingested_at,
    production,
    production_snapshot,
)
from tests.runtime.wap.fake_aws import DATA_BUCKET, DATABASE, REGION, WORKGROUP, FakeAws

pytestmark = [pytest.mark.aws, pytest.mark.duckdb]

MON, TUE, WED = date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 5)
STEPS = ("drop_staging", "create_staging", "audit", "publish")


@dataclass
class RawBucket:
    """The raw zone in the moto bucket, landed as the sinks land it."""

    aws: FakeAws

    def write(self, dt: date, bars: Iterable[Bar], at: str | None = None) -> list[str]:
        """One CSV object per symbol under raw/dt=.../ (like RawLake.write)."""
        at = at or ingested_at(dt)
        by_symbol: dict[str, list[Bar]] = defaultdict(list)
        for each in bars:
            by_symbol[each.symbol].append(each)
        stamp = at.replace("-", "").replace(":", "")
        return [
            self.put(f"raw/dt={dt.isoformat()}/{symbol}-{stamp}.csv", bars_to_csv(rows, at))
            for symbol, rows in by_symbol.items()
        ]

    def write_firehose(self, dt: date, records: list[dict], name: str) -> str:
        """One Firehose delivery: JSON lines under raw_firehose/dt=.../, gzip when `.gz`."""
        body = "".join(f"{json.dumps(record)}\n" for record in records).encode()
        if name.endswith(".gz"):
            body = gzip.compress(body)
        return self.put(f"raw_firehose/dt={dt.isoformat()}/{name}", body)

    def put(self, key: str, body: str | bytes) -> str:
        self.aws.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
        return key


@dataclass
class Job:
    """`python -m runtime.wap.job --engine athena` on the fake account."""

    aws: FakeAws
    capsys: pytest.CaptureFixture[str]
    symbols: str = "AMD,NVDA"
    #: The stderr of the last step run.
    err: str = ""

    def step(self, step: str, run_id: str, day: date, minute: int = 0) -> tuple[int, str]:
        """(exit status, stderr) of one step of run `run_id` on the evening of `day`."""
        argv = [
            "--step", step, "--engine", "athena", "--database", DATABASE,
            "--workgroup", WORKGROUP, "--data-bucket", DATA_BUCKET, "--symbols", self.symbols,
            "--run-id", run_id, "--as-of", day.isoformat(),
        ]  # fmt: skip
        self.capsys.readouterr()
        now = datetime(day.year, day.month, day.day, 22, minute)
        status = job.main(argv, client_factory=self.aws.client, now=now)
        self.err = self.capsys.readouterr().err
        return status, self.err

    def run(self, run_id: str, day: date, minute: int = 0) -> list[int]:
        """The exit status of each step, in order, stopping at the first that fails."""
        statuses = []
        for step in STEPS:
            status, err = self.step(step, run_id, day, minute)
            statuses.append(status)
            if status:
                print(f"{step} of run {run_id} exited {status}: {err}")
                break
        return statuses


@pytest.fixture
def aws(aws: FakeAws) -> FakeAws:
    create_raw_table(aws, "raw_daily_prices")
    return aws


@pytest.fixture
def athena(aws: FakeAws, tmp_path: Path) -> Iterator[AthenaDouble]:
    double = AthenaDouble(aws, tmp_path / "athena")
    yield double
    double.close()
    assert double.failures == [], "a query failed on the Athena double"


@pytest.fixture
def raw(aws: FakeAws) -> RawBucket:
    return RawBucket(aws)


@pytest.fixture
def wap_job(aws: FakeAws, athena: AthenaDouble, capsys: pytest.CaptureFixture[str]) -> Job:
    return Job(aws, capsys)


@pytest.fixture
def reader(aws: FakeAws, athena: AthenaDouble) -> AthenaEngine:
    """An Athena engine to read production with, through the double's queries."""
    return aws.engine()


@dataclass(frozen=True)
class Published:
    """Production as readers see it (rows, partitions, properties), and its objects."""

    snapshot: tuple
    keys: list[str]


@pytest.fixture
def monday(aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine) -> Published:
    """Monday's bars of AMD and NVDA, published by run `monday`."""
    raw.write(MON, day_bars(MON))
    assert wap_job.run("monday", MON) == [0, 0, 0, 0]
    return Published(production_snapshot(reader), aws.keys("prod/daily_prices/"))


def day_bars(day: date, amd: str = "100.0000", nvda: str = "120.0000") -> list[Bar]:
    return [bar("AMD", day, amd), bar("NVDA", day, nvda)]


def parquet_rows(aws: FakeAws, location: str) -> list[dict]:
    """The rows of every object under an s3:// location, read straight from the bucket."""
    prefix = location.removeprefix(f"s3://{DATA_BUCKET}/").rstrip("/") + "/"
    rows = []
    for key in aws.keys(prefix):
        body = aws.s3.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return rows


# -- first run and next day --------------------------------------------------------------


def test_a_backfill_then_the_next_days_compact_fetch_publish_exactly_what_changed(
    aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine
) -> None:
    symbols = ("AMD", "INTC", "NVDA")
    wap_job.symbols = ",".join(symbols)
    backfill = [b for s in symbols for b in SampleMarket(seed=3, end=MON, years=2).bars(s)]
    raw.write(MON, backfill)

    assert wap_job.run("backfill", MON) == [0, 0, 0, 0]

    # The next compact fetch: the latest 100 bars, 99 known and one new per symbol, and
    # one known NVDA bar comes back restated.
    compact = [b for s in symbols for b in SampleMarket(seed=3, end=TUE, years=2).bars(s)[:100]]
    old = next(b for b in compact if b.symbol == "NVDA" and b.trade_date == date(2024, 5, 29))
    restated = bar("NVDA", old.trade_date, str(old.close + Decimal("1.5000")))
    compact = [restated if b == old else b for b in compact]
    raw.write(TUE, compact)

    assert wap_job.run("daily", TUE) == [0, 0, 0, 0]

    new = [b for b in compact if b.trade_date == TUE]
    # The restated bar's next trading day: its daily_return is recomputed.
    after = min(
        b.trade_date for b in backfill if b.symbol == "NVDA" and b.trade_date > old.trade_date
    )
    bars = [restated if b == old else b for b in backfill] + new
    ingested = {(b.symbol, b.trade_date): ingested_at(MON) for b in backfill}
    for key in [(b.symbol, TUE) for b in new] + [("NVDA", old.trade_date), ("NVDA", after)]:
        ingested[key] = ingested_at(TUE)
    assert production(reader) == expected_rows(bars, ingested)
    written = reader.fetchall(
        "SELECT symbol, trade_date FROM daily_prices WHERE run_id = 'daily' "
        "ORDER BY symbol, trade_date"
    ).rows
    assert written == [
        ("AMD", TUE),
        ("INTC", TUE),
        ("NVDA", old.trade_date),
        ("NVDA", after),
        ("NVDA", TUE),
    ]
    # The published rows they replaced are kept, as they were.
    before = expected_rows(backfill, {(b.symbol, b.trade_date): ingested_at(MON) for b in backfill})
    replaced = reader.fetchall(
        "SELECT trade_date, close, daily_return, published_run_id FROM daily_prices_replaced "
        "WHERE run_id = 'daily' ORDER BY trade_date"
    ).rows
    assert replaced == [
        (day, before[("NVDA", day)][3], before[("NVDA", day)][6], "backfill")
        for day in (old.trade_date, after)
    ]

    # In the bucket: one Glue partition per year, each at Parquet files Athena wrote
    # (CTAS: without the partition column), the backfill's years copied, 2024 merged anew.
    partitions = {year: sd["Location"] for year, sd in aws.glue_partitions("daily_prices").items()}
    assert sorted(partitions) == ["2022", "2023", "2024"]
    prod = f"s3://{DATA_BUCKET}/prod/daily_prices/"
    assert all(location.startswith(prod) for location in partitions.values())
    assert "_backfill/copy/year=2022" in partitions["2022"]
    assert "_daily/part-0/year=2024" in partitions["2024"]
    stored = {year: parquet_rows(aws, location) for year, location in partitions.items()}
    assert {year: len(rows) for year, rows in stored.items()} == {
        year: sum(1 for b in bars if str(b.trade_date.year) == year) for year in partitions
    }
    assert all("year" not in row for rows in stored.values() for row in rows)
    staged = aws.glue_partitions("daily_prices_staging_daily")
    assert {year: sd["Location"].rstrip("/") for year, sd in staged.items()} == {
        "2024": f"s3://{DATA_BUCKET}/staging/daily_prices/run_id=daily/year=2024"
    }

    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    latest = cloudwatch.get_metric_statistics(
        Namespace="stockpipe",
        MetricName="LatestPublishedTradeDate",
        Dimensions=[{"Name": "Symbol", "Value": "INTC"}],
        StartTime=datetime(2024, 1, 1),
        EndTime=datetime(2100, 1, 1),
        Period=86400 * 365,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert [point["Maximum"] for point in latest] == [(TUE - date(1970, 1, 1)).days * 86400]


# -- blocked, rerun, crashed ---------------------------------------------------------------


def test_a_bad_bar_is_blocked_by_the_audit_and_production_stays_as_it_was(
    aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine, monday: Published
) -> None:
    raw.write(TUE, [bar("AMD", TUE, "101.0000"), bar("NVDA", TUE, "121.0000", volume=-5)])

    assert wap_job.run("blocked", TUE) == [0, 0, 1]
    audit_err = wap_job.err
    status, publish_err = wap_job.step("publish", "blocked", TUE)

    assert audit_err.startswith("audit of run blocked failed, nothing was published: ")
    assert "positive_values (error, 1 rows: NVDA@2024-06-04)" in audit_err
    assert status == 1
    assert "failed its audit" in publish_err
    assert production_snapshot(reader) == monday.snapshot
    assert aws.keys("prod/daily_prices/") == monday.keys
    recorded = reader.fetchall(
        "SELECT check_name, passed, failed_rows FROM dq_results "
        "WHERE run_id = 'blocked' AND NOT passed"
    ).rows
    assert recorded == [("positive_values", False, 1)]


def test_a_rerun_publishes_nothing_new_then_a_late_object_of_a_published_day_is_read_alone(
    aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine, monday: Published
) -> None:
    # The publish job started again (a retried Glue job run): the run has published.
    assert wap_job.step("publish", "monday", MON, minute=15)[0] == 0
    # The whole run again, the next workflow run of the same day.
    assert wap_job.run("monday_again", MON, minute=30) == [0, 0, 0, 0]

    staged = reader.fetchall("SELECT count(*) FROM daily_prices_staging_monday_again").scalar()
    assert staged == 0
    assert production_snapshot(reader) == monday.snapshot
    assert aws.keys("prod/daily_prices/") == monday.keys

    # A second ingestion lands in Monday's partition, which was consumed: the next run reads
    # that object by its "$path" and publishes its newer bar.
    raw.write(MON, [bar("AMD", MON, "100.5000")], at="2024-06-03T22:30:00Z")
    assert wap_job.run("late", MON, minute=45) == [0, 0, 0, 0]

    staged = reader.fetchall("SELECT symbol, close FROM daily_prices_staging_late").rows
    assert staged == [("AMD", 100.5)]
    assert production(reader)[("AMD", MON)][3] == 100.5


def test_a_crash_between_audit_and_publish_then_the_next_run_publishes_once(
    aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine, monday: Published
) -> None:
    raw.write(TUE, day_bars(TUE, "101.0000", "121.0000"))
    for step in ("drop_staging", "create_staging", "audit"):
        assert wap_job.step(step, "crashed", TUE)[0] == 0
    # ... the job dies here; the next workflow run starts from the top.

    assert wap_job.run("rerun", TUE, minute=30) == [0, 0, 0, 0]

    bars = day_bars(MON) + day_bars(TUE, "101.0000", "121.0000")
    ingested = {(b.symbol, b.trade_date): ingested_at(b.trade_date) for b in bars}
    assert production(reader) == expected_rows(bars, ingested)
    assert not reader.table_exists("daily_prices_staging_crashed")
    assert reader.list_locations(reader.location("staging/daily_prices/")) == [
        reader.location("staging/daily_prices/run_id=rerun/")
    ]


# -- the raw zone --------------------------------------------------------------------------


def test_misplaced_raw_objects_fail_raw_layout_by_name_until_they_are_moved(
    aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine, monday: Published
) -> None:
    # A folder projection never reads, and an object below a dt folder (which Athena does
    # read with its partition, so the audit must stop the run).
    misplaced = ["raw/dt=2024-06-04/backfill/AMD-1.csv", "raw/dt=2024-6-4/AMD-1.csv"]
    for key in misplaced:
        raw.put(key, "symbol,trade_date,open,high,low,close,volume,ingested_at\n")
    raw.write(TUE, day_bars(TUE, "101.0000", "121.0000"))

    assert wap_job.run("blocked", TUE) == [0, 0, 1]

    assert f"raw_layout (error, 2 rows: {', '.join(misplaced)})" in wap_job.err
    assert wap_job.err.count("(error,") == 1
    for key in misplaced:
        aws.s3.delete_object(Bucket=DATA_BUCKET, Key=key)
    assert wap_job.run("fixed", TUE, minute=30) == [0, 0, 0, 0]
    assert len(production(reader)) == 4


def test_an_object_before_the_projection_range_is_never_consumed_in_silence(
    aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine, monday: Published
) -> None:
    # A real date, but before the raw table's projection starts: Athena reads nothing there.
    raw.write(date(1999, 12, 31), [bar("AMD", date(1999, 12, 31), "10.0000")])

    assert wap_job.run("early", TUE) == [0, 0, 1]

    assert "raw_layout (error, 1 rows: raw/dt=1999-12-31/AMD-" in wap_job.err
    assert "early" not in str(aws.table("daily_prices")["Parameters"])


def test_firehose_deliveries_are_read_with_the_csv_objects_and_deduplicated(
    aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine
) -> None:
    create_raw_table(aws, "raw_firehose_daily_prices")
    raw.write(MON, [bar("AMD", MON, "100.0000")])
    records = [
        bar_record(bar(symbol, TUE, close), ingested_at(TUE))
        for symbol, close in (("AMD", "101.0000"), ("NVDA", "121.0000"))
    ]
    # At least once: a whole batch delivered twice, once compressed.
    raw.write_firehose(TUE, records, "stockpipe-raw-1-2024-06-04-22-00-00-a")
    raw.write_firehose(TUE, records, "stockpipe-raw-1-2024-06-04-22-01-00-b.gz")

    assert wap_job.run("mixed", TUE) == [0, 0, 0, 0]

    bars = [bar("AMD", MON, "100.0000"), bar("AMD", TUE, "101.0000"), bar("NVDA", TUE, "121.0000")]
    ingested = {(b.symbol, b.trade_date): ingested_at(b.trade_date) for b in bars}
    assert production(reader) == expected_rows(bars, ingested)
    snapshot = production_snapshot(reader)
    assert wap_job.run("again", WED) == [0, 0, 0, 0]
    assert production_snapshot(reader) == snapshot


def test_what_the_engine_reads_back_is_typed_as_athena_types_it(
    aws: FakeAws, reader: AthenaEngine, athena: AthenaDouble
) -> None:
    result = reader.fetchall(
        "SELECT CAST('NVDA' AS varchar) AS symbol, DATE '2024-06-07' AS trade_date, "
        "CAST(0.00015 AS double) AS small, CAST(12345678.5 AS double) AS large, "
        "CAST(41238580 AS bigint) AS volume, CAST(2024 AS integer) AS year, "
        "1 = 1 AS passed, TIMESTAMP '2024-06-07 21:05:00.123' AS ingested_at, "
        "CAST(1197.7 AS decimal(10, 4)) AS price, CAST(NULL AS varchar) AS nothing"
    )

    assert result.rows == [
        (
            "NVDA",
            date(2024, 6, 7),
            0.00015,
            12345678.5,
            41238580,
            2024,
            True,
            datetime(2024, 6, 7, 21, 5, 0, 123000),
            Decimal("1197.7000"),
            None,
        )
    ]
    [query] = athena.executed
    sent = get_backend("athena")[DEFAULT_ACCOUNT_ID][REGION].query_results[query.query_id]
    assert [cell.get("VarCharValue") for cell in sent.rows[1]["Data"]][2:4] == [
        "1.5E-4",
        "1.23456785E7",
    ]
    assert [column["Type"] for column in sent.column_info] == [
        "varchar", "date", "double", "double", "bigint", "integer", "boolean", "timestamp",
        "decimal", "varchar",
    ]  # fmt: skip


def test_a_backfill_of_more_than_100_years_is_written_in_ctas_of_at_most_100_partitions(
    aws: FakeAws, raw: RawBucket, wap_job: Job, reader: AthenaEngine
) -> None:
    wap_job.symbols = "NVDA"
    # The first weekday of each year from 1923.
    days = [date(year, 1, 2) for year in range(1923, 2025)]
    days = [day + timedelta(days={5: 2, 6: 1}.get(day.weekday(), 0)) for day in days]
    bars = [bar("NVDA", day, f"{100 + n}.0000") for n, day in enumerate(days)]
    raw.write(MON, bars)

    assert wap_job.run("century", MON) == [0, 0, 0, 0]

    ingested = {(b.symbol, b.trade_date): ingested_at(MON) for b in bars}
    assert production(reader) == expected_rows(bars, ingested)
    staged = aws.glue_partitions("daily_prices_staging_century")
    assert len(staged) == len(days)
    assert "/part-0/year=1923" in staged["1923"]["Location"]
    assert "/part-1/year=2024" in staged["2024"]["Location"]
    assert len(aws.glue_partitions("daily_prices")) == len(days)
    # The summary is one partition (one file to read) with a row per symbol and year.
    assert set(aws.glue_partitions("symbol_summary")) == {"all"}
    assert reader.fetchall("SELECT count(*) FROM symbol_summary").scalar() == len(days)
