"""The raw zone is the system of record: a same-day rerun adds objects, never replaces them.

The issue's case: a full backfill lands two years of bars, then the daily compact run of
the same day lands its 100; both objects stay, so no landed bar is lost before the
write-audit-publish flow runs. Real HTTP against the SampleServer, moto for S3.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from runtime.ingest.handler import handler
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import SampleServer
from tests.runtime.ingest.conftest import (
    FakeLambdaContext,
    csv_rows,
    lake_files,
    local_settings,
    object_rows,
    raw_keys,
    records_fresh,
    run,
    sample_rows,
)

MARKET = SampleMarket(seed=11, end=date(2024, 6, 7), years=2.0)
FULL_BARS = 503  # the NYSE trading days of the two years up to 2024-06-07
FIRST, SECOND = "2024-06-10T21:05:00Z", "2024-06-10T22:05:00Z"


@pytest.fixture
def server() -> Iterator[SampleServer]:
    with SampleServer(MARKET) as running:
        yield running


def assert_both_runs_kept(landed: list[list[list[str]]]) -> None:
    full, compact = landed
    assert full == sample_rows(MARKET, "NVDA", FIRST, count=FULL_BARS)
    assert compact == sample_rows(MARKET, "NVDA", SECOND)
    trade_dates = {row[1] for rows in landed for row in rows}
    assert len(trade_dates) == len(MARKET.bars("NVDA")) == FULL_BARS


@pytest.mark.aws
def test_s3_a_compact_run_after_a_full_backfill_the_same_day_loses_no_bar(
    server, s3, clock, lambda_env
):
    lambda_env(SYMBOLS="NVDA", ALPHAVANTAGE_URL=server.url)
    records_fresh(s3, "NVDA")  # no split record call moves the second run's landing time

    handler({"outputsize": "full"}, FakeLambdaContext(clock))
    clock.sleep(3600)
    handler({}, FakeLambdaContext(clock))

    keys = raw_keys(s3, "NVDA")
    assert keys == [
        "raw/dt=2024-06-10/NVDA-20240610T210500000000Z.csv",
        "raw/dt=2024-06-10/NVDA-20240610T220500000000Z.csv",
    ]
    assert_both_runs_kept([object_rows(s3, key) for key in keys])


def test_local_a_compact_run_after_a_full_backfill_the_same_day_loses_no_bar(
    server, tmp_path, clock
):
    settings = local_settings(server, tmp_path, SYMBOLS="NVDA")
    (tmp_path / "ingest_state").mkdir()
    (tmp_path / "ingest_state" / "splits_refreshed.json").write_text('{"NVDA": "2024-06-10"}')

    run(settings, clock, {"outputsize": "full"})
    clock.sleep(3600)
    run(settings, clock)

    files = lake_files(tmp_path, "NVDA")
    assert [path.name for path in files] == [
        "NVDA-20240610T210500000000Z.csv",
        "NVDA-20240610T220500000000Z.csv",
    ]
    assert_both_runs_kept([csv_rows(path.read_text(encoding="utf-8")) for path in files])
