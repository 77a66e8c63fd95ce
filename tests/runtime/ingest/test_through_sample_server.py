"""The real client over real HTTP against the SampleServer (runtime/local/sample_server.py)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import date

import pytest

from runtime.ingest.errors import IngestionFailed
from runtime.ingest.pacing import SystemClock
from runtime.ingest.run import run_ingestion
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import RateLimit, SampleServer
from tests.runtime.ingest.conftest import (
    API_KEY,
    INGESTED_AT,
    lake_rows,
    local_settings,
    price_requests,
    run,
    sample_rows,
)

MARKET = SampleMarket(seed=11, end=date(2024, 6, 7), years=1.0)


@pytest.fixture
def server() -> Iterator[SampleServer]:
    with SampleServer(MARKET, stall_seconds=2.0) as running:
        yield running


def market_rows(symbol: str, ingested_at: str = INGESTED_AT, count: int = 100) -> list:
    return sample_rows(MARKET, symbol, ingested_at, count)


def kinds(server: SampleServer, symbol: str) -> list[str]:
    return [request.kind for request in price_requests(server) if request.symbol == symbol]


@pytest.mark.parametrize("datatype", ["json", "csv"])
def test_compact_series_land_exactly_as_the_market_holds_them(server, tmp_path, clock, datatype):
    result = run(local_settings(server, tmp_path, DATATYPE=datatype), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert result["rows"] == 300
    for symbol in ("AMD", "NVDA", "INTC"):
        assert lake_rows(tmp_path, symbol) == market_rows(symbol)
    assert {(r.outputsize, r.datatype) for r in price_requests(server)} == {("compact", datatype)}


def test_full_output_lands_every_bar(server, tmp_path, clock):
    result = run(local_settings(server, tmp_path, SYMBOLS="LSCC", OUTPUT_SIZE="full"), clock)

    bars = len(MARKET.bars("LSCC"))
    assert result["rows"] == bars > 100
    assert lake_rows(tmp_path, "LSCC") == market_rows("LSCC", count=bars)


def test_a_burst_throttle_is_retried_then_succeeds(server, tmp_path, clock):
    server.script("NVDA", "burst", "burst_legacy")

    result = run(local_settings(server, tmp_path), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert kinds(server, "NVDA") == ["burst", "burst_legacy", "ok"]
    assert lake_rows(tmp_path, "NVDA") == market_rows("NVDA")


@pytest.mark.parametrize(
    "kind", ["timeout", "connection_reset", "server_error", "non_json", "truncated"]
)
def test_transport_failures_are_retried_then_succeed(server, tmp_path, clock, kind):
    server.script("NVDA", kind)

    result = run(local_settings(server, tmp_path, REQUEST_TIMEOUT_SECONDS="0.3"), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert kinds(server, "NVDA") == [kind, "ok"]
    assert lake_rows(tmp_path, "NVDA") == market_rows("NVDA")


@pytest.mark.parametrize("concurrency", ["1", "3"])
def test_a_rate_limited_server_never_throttles_the_paced_client(tmp_path, concurrency):
    # 5 calls per second stands in for 5 per minute: the real clock, time scaled by 60.
    symbols = "AMD,NVDA,INTC,MU,QCOM,TXN,AMAT"
    env = {"SYMBOLS": symbols, "MIN_CALL_INTERVAL_SECONDS": "0", "CONCURRENCY": concurrency}
    with SampleServer(MARKET, rate_limit=RateLimit(5, 1.0)) as limited:
        settings = dataclasses.replace(
            local_settings(limited, tmp_path, **env), rate_period_seconds=1.0
        )
        result = run_ingestion(settings, {}, lambda: 900_000, clock=SystemClock())
        served = price_requests(limited)

    assert result["succeeded"] == symbols.split(",")
    assert [request.kind for request in served] == ["ok"] * 7
    ingest_date = result["ingest_date"]
    ingested_at = lake_rows(tmp_path, "AMD", ingest_date)[0][-1]  # set by the real clock
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", ingested_at)
    for symbol in symbols.split(","):
        assert lake_rows(tmp_path, symbol, ingest_date) == market_rows(symbol, ingested_at)


def test_the_daily_quota_stops_the_run_early(tmp_path, clock):
    with SampleServer(MARKET, daily_quota=2) as quota:
        result = run(local_settings(quota, tmp_path, SYMBOLS="AMD,NVDA,INTC,MU"), clock)
        served = [(r.symbol, r.kind) for r in quota.requests]

    assert result["succeeded"] == ["AMD", "NVDA"]
    assert list(result["skipped"]) == ["INTC", "MU"]
    assert served == [("AMD", "ok"), ("NVDA", "ok"), ("INTC", "daily_quota")]


def test_premium_full_falls_back_to_compact(server, tmp_path, clock):
    server.script("AMD", "premium_full")

    result = run(local_settings(server, tmp_path, OUTPUT_SIZE="full"), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert [(r.symbol, r.outputsize, r.kind) for r in price_requests(server)] == [
        ("AMD", "full", "premium_full"),
        ("AMD", "compact", "ok"),
        ("NVDA", "compact", "ok"),
        ("INTC", "compact", "ok"),
    ]
    assert lake_rows(tmp_path, "AMD") == market_rows("AMD")


def test_an_invalid_symbol_fails_alone(server, tmp_path, clock):
    server.script("NVDA", "invalid_symbol")

    result = run(local_settings(server, tmp_path), clock)

    assert result["succeeded"] == ["AMD", "INTC"]
    assert "unknown symbol?" in result["failed"]["NVDA"]


def test_the_demo_key_fails_the_run_before_any_data(server, tmp_path, clock):
    with pytest.raises(IngestionFailed, match="the demo API key only serves"):
        run(local_settings(server, tmp_path, ALPHAVANTAGE_API_KEY="demo"), clock)

    assert [r.kind for r in server.requests] == ["demo_key"]
    assert not (tmp_path / "raw").exists()


def test_the_key_stays_out_of_debug_logs_on_the_wire(server, tmp_path, clock, caplog):
    caplog.set_level("DEBUG")
    server.script("NVDA", "connection_reset")

    run(local_settings(server, tmp_path), clock)

    logged = [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert any("apikey=***" in line for line in logged)
    assert not [line for line in logged if API_KEY in line]
