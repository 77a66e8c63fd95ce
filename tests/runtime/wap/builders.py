"""Raw-zone fixtures for the write-audit-publish tests, and expected production rows.

Expected values are computed here from the bars themselves (the definitions in issue 3),
never by the code under test.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from runtime.ingest.bars import Bar, bars_to_csv
from runtime.ingest.sinks import LocalSink, land_splits
from runtime.ingest.splits import read_splits_answer
from runtime.schema import PROD_COLUMNS
from runtime.wap.engines.base import Engine
from runtime.wap.steps import PublishResult, RunResult

PRODUCTION_COLUMNS = ", ".join(name for name, _ in PROD_COLUMNS)


def ingested_at(dt: date) -> str:
    return f"{dt.isoformat()}T21:05:00Z"


@dataclass
class RawLake:
    """A local lake directory with raw CSVs in the contract layout."""

    root: Path

    def write(self, dt: date, bars: Iterable[Bar], at: str | None = None) -> list[Path]:
        """One raw object per symbol in partition dt, like a run of ingestion landing at
        `at` (its objects named `SYMBOL-<landing time>.csv`, as the sinks name them)."""
        at = at or ingested_at(dt)
        by_symbol: dict[str, list[Bar]] = defaultdict(list)
        for bar in bars:
            by_symbol[bar.symbol].append(bar)
        return [
            self.write_text(dt, symbol, bars_to_csv(symbol_bars, at), landed=at)
            for symbol, symbol_bars in by_symbol.items()
        ]

    def write_text(self, dt: date, symbol: str, text: str, landed: str = "manual") -> Path:
        name = f"{symbol}-{landed.replace('-', '').replace(':', '')}.csv"
        path = self.root / "raw" / f"dt={dt.isoformat()}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def write_firehose(self, dt: date, lines: Iterable[str], name: str) -> Path:
        """One object as Firehose delivers it: JSON lines under raw_firehose/dt=.../."""
        path = self.root / "raw_firehose" / f"dt={dt.isoformat()}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return path

    def write_splits(self, dt: date, symbol: str, answer: str, at: datetime) -> str:
        """A SPLITS answer landed as ingestion lands it, under raw_splits/dt=.../."""
        record = read_splits_answer(answer, symbol)
        return land_splits(LocalSink(self.root, "raw/"), record, dt, at)

    def raw_files(self) -> list[Path]:
        return sorted((self.root / "raw").glob("dt=*/*.csv"))


def bar(symbol: str, day: date, close: str, **changes: object) -> Bar:
    """A consistent bar around `close` (open = close, high/low 1 % away)."""
    value = Decimal(close)
    fields: dict[str, object] = {
        "symbol": symbol,
        "trade_date": day,
        "open": value,
        "high": (value * Decimal("1.01")).quantize(Decimal("0.0001")),
        "low": (value * Decimal("0.99")).quantize(Decimal("0.0001")),
        "close": value,
        "volume": 1_000_000,
    }
    fields.update(changes)
    return Bar(**fields)  # type: ignore[arg-type]


def read_alphavantage_csv(path: Path, symbol: str) -> list[Bar]:
    """Bars of an Alpha Vantage TIME_SERIES_DAILY CSV (timestamp,open,high,low,close,volume)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Bar(
                symbol=symbol,
                trade_date=date.fromisoformat(row["timestamp"]),
                open=Decimal(row["open"]),
                high=Decimal(row["high"]),
                low=Decimal(row["low"]),
                close=Decimal(row["close"]),
                volume=int(row["volume"]),
            )
            for row in csv.DictReader(handle)
        ]


def expected_rows(bars: Iterable[Bar], ingested: dict[tuple[str, date], str]) -> dict:
    """(symbol, trade_date) -> expected production values, from the bars alone.

    avg_price = (open + high + low + close) / 4 and daily_return = close / previous
    trading day's close - 1, both in double precision like the engines.
    """
    by_symbol: dict[str, list[Bar]] = defaultdict(list)
    for each in bars:
        by_symbol[each.symbol].append(each)
    expected = {}
    for symbol, symbol_bars in by_symbol.items():
        previous_close = None
        for each in sorted(symbol_bars, key=lambda b: b.trade_date):
            o, h, lo, c = (float(each.open), float(each.high), float(each.low), float(each.close))
            key = (symbol, each.trade_date)
            expected[key] = (
                o,
                h,
                lo,
                c,
                each.volume,
                (o + h + lo + c) / 4,
                None if previous_close is None else c / previous_close - 1,
                datetime.strptime(ingested[key], "%Y-%m-%dT%H:%M:%SZ"),
                each.trade_date.year,
            )
            previous_close = c
    return expected


def production(engine: Engine) -> dict:
    """(symbol, trade_date) -> published values (run_id left out), asserting one row per key."""
    if not engine.table_exists("daily_prices"):
        return {}
    rows = engine.fetchall(f"SELECT {PRODUCTION_COLUMNS} FROM daily_prices").rows
    published = {}
    for row in rows:
        key = (row[0], row[1])
        assert key not in published, f"{key} is published twice"
        published[key] = (*row[2:10], row[11])
    return published


def production_snapshot(engine: Engine) -> tuple:
    """Everything a reader of production can see: rows (with run ids), partitions, watermark."""
    if not engine.table_exists("daily_prices"):
        return ((), {}, {})
    rows = engine.fetchall(
        f"SELECT {PRODUCTION_COLUMNS} FROM daily_prices ORDER BY symbol, trade_date"
    ).rows
    return (
        tuple(rows),
        engine.partitions("daily_prices"),
        engine.table_properties("daily_prices"),
    )


def publish_of(result: RunResult) -> PublishResult:
    """The publish outcome of a run that must have reached publish."""
    assert result.publish is not None, result.audit.failure_message()
    return result.publish
