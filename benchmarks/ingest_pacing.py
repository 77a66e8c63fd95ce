"""Pacing benchmark: stockpipe's request pacer against fixed sleeps, on a rate-limited server.

The SampleServer enforces RateLimit(5 calls per 1 s): the free key's 5 calls per
minute, time-scaled by 1/60. Each strategy ingests N symbols (compact JSON, local
sink) on a fresh server; the table shows wall time, its ratio to the lower bound the
limit allows, and how many calls the server answered with the burst-throttle body.

Lower bound: the server is a token bucket of `calls` tokens refilled at
calls / per_seconds, so N calls cannot all have started before
    max(0, N - calls) * per_seconds / calls
seconds (N=10: 1.0 s, N=50: 9.0 s); request time comes on top.

Strategies
- pacer: `run_ingestion` itself, CALLS_PER_MINUTE=5 with the minute scaled to 1 s.
- fixed sleep, reference: the system this replaces slept 15 s between calls at 5 calls
  per minute; scaled, pause = 15 s * per_seconds / 60 s = 0.25 s.
- fixed sleep, tight: the shortest fixed pause the limit allows, per_seconds / calls = 0.2 s.
- no pacing: call back to back and rely on stockpipe's throttle retry (backoff starting
  at per_seconds / calls, doubling).
Fixed-sleep and no-pacing runs use the same client (with its bounded retries) and sink.

    .venv/bin/python -m benchmarks.ingest_pacing [--sizes 10 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from itertools import product
from pathlib import Path
from string import ascii_uppercase

from runtime.ingest.alphavantage import AlphaVantageClient, RetryPolicy
from runtime.ingest.errors import ApiProblem
from runtime.ingest.pacing import SystemClock
from runtime.ingest.run import LOCAL_STATE_DIR, SPLITS_REFRESHED, run_ingestion
from runtime.ingest.settings import Settings
from runtime.ingest.sinks import LocalSink
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import RateLimit, SampleServer

CALLS = 5
PER_SECONDS = 1.0
REFERENCE_SLEEP_SECONDS = 15.0  # the replaced system's pause at 5 calls per minute
API_KEY = "BENCHMARK-KEY"
MARKET = SampleMarket(seed=7, end=date(2024, 6, 7), years=1.0)

Strategy = Callable[[str, list[str], Path], int]


def symbols(count: int) -> list[str]:
    """Letters-only tickers (the sample server's pattern): SAA, SAB, ..."""
    return ["S" + "".join(pair) for pair in product(ascii_uppercase, repeat=2)][:count]


def lower_bound(count: int) -> float:
    return max(0, count - CALLS) * PER_SECONDS / CALLS


def pacer_strategy(url: str, tickers: list[str], lake: Path) -> int:
    settings = Settings.from_env(
        {
            "SYMBOLS": ",".join(tickers),
            "ALPHAVANTAGE_API_KEY": API_KEY,
            "ALPHAVANTAGE_URL": url,
            "SINK": "local",
            "LAKE_DIR": str(lake),
            "CALLS_PER_MINUTE": str(CALLS),
            # The server has no per-second rule on top of its budget.
            "MIN_CALL_INTERVAL_SECONDS": "0",
            # Prices only, as the other strategies: no daily budget, and every split record
            # counts as fetched today (runtime/ingest/run.py, SPLITS_REFRESHED).
            "API_DAILY_CALL_BUDGET": "0",
        }
    )
    today = datetime.now(UTC).date().isoformat()
    state = lake / LOCAL_STATE_DIR / SPLITS_REFRESHED
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(dict.fromkeys(tickers, today)))
    settings = dataclasses.replace(settings, rate_period_seconds=PER_SECONDS)
    result = run_ingestion(settings, {}, lambda: 3_600_000)
    return len(result["succeeded"])


class NoPacer:
    """Lets every call start at once."""

    def wait_time(self) -> float:
        return 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        yield


def fixed_sleep_strategy(pause: float) -> Strategy:
    def ingest(url: str, tickers: list[str], lake: Path) -> int:
        clock = SystemClock()
        client = AlphaVantageClient(
            url,
            API_KEY,
            pacer=NoPacer(),
            clock=clock,
            timeout=10.0,
            retry=RetryPolicy(throttle_backoff=PER_SECONDS / CALLS, max_backoff=PER_SECONDS),
        )
        sink = LocalSink(lake, "raw/")
        landed = 0
        for index, ticker in enumerate(tickers):
            if index and pause:
                time.sleep(pause)
            try:
                fetched = client.fetch_daily(
                    ticker, output_size="compact", datatype="json", time_left=lambda: 3600.0
                )
            except ApiProblem:
                continue
            sink.write(ticker, date(2024, 6, 10), fetched.series.bars, "2024-06-10T21:05:00Z")
            landed += 1
        return landed

    return ingest


STRATEGIES: dict[str, Strategy] = {
    "pacer (stockpipe)": pacer_strategy,
    "fixed sleep 0.25 s (reference)": fixed_sleep_strategy(
        REFERENCE_SLEEP_SECONDS * PER_SECONDS / 60.0
    ),
    "fixed sleep 0.20 s (tight)": fixed_sleep_strategy(PER_SECONDS / CALLS),
    "no pacing, retry on throttle": fixed_sleep_strategy(0.0),
}


def measure(strategy: Strategy, tickers: list[str]) -> tuple[float, int, int]:
    """Wall seconds, throttled responses, symbols landed: one run on a fresh server."""
    with (
        SampleServer(MARKET, rate_limit=RateLimit(CALLS, PER_SECONDS)) as server,
        tempfile.TemporaryDirectory() as lake,
    ):
        started = time.perf_counter()
        landed = strategy(server.url, tickers, Path(lake))
        wall = time.perf_counter() - started
        throttled = sum(request.kind == "burst" for request in server.requests)
    return wall, throttled, landed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; median shown")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the retries of the unpaced strategy would flood

    print(f"RateLimit({CALLS} calls / {PER_SECONDS:g} s), median of {args.repeat} runs")
    print()
    print("| N | strategy | wall (s) | lower bound (s) | wall / bound | throttled | landed |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for count in args.sizes:
        tickers = symbols(count)
        for ticker in tickers:
            MARKET.bars(ticker)  # generate before timing: measure pacing, not the market
        bound = lower_bound(count)
        for name, strategy in STRATEGIES.items():
            runs = [measure(strategy, tickers) for _ in range(args.repeat)]
            wall = statistics.median(run[0] for run in runs)
            throttled = statistics.median(run[1] for run in runs)
            landed = min(run[2] for run in runs)
            ratio = f"{wall / bound:.3f}" if bound else "-"
            print(
                f"| {count} | {name} | {wall:.2f} | {bound:.2f} | {ratio} | "
                f"{throttled:g} | {landed}/{count} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
