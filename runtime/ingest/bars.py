"""The daily bar as the API reports it, and its raw-zone CSV form."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from runtime.schema import RAW_COLUMNS

# The write-audit-publish tests build raw files under this name.
RAW_HEADER = RAW_COLUMNS


@dataclass(frozen=True)
class Bar:
    """One trading day of one symbol.

    Prices are Decimals so the raw zone keeps the exact digits the API sent.
    """

    symbol: str
    trade_date: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


def format_ingested_at(moment: datetime) -> str:
    """ISO-8601 UTC with a `Z`, second precision: the raw zone's timestamp form."""
    if moment.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bar_record(bar: Bar, ingested_at: str) -> dict[str, str]:
    """The raw-zone fields of a bar, as strings, in RAW_COLUMNS order."""
    return {
        "symbol": bar.symbol,
        "trade_date": bar.trade_date.isoformat(),
        "open": str(bar.open),
        "high": str(bar.high),
        "low": str(bar.low),
        "close": str(bar.close),
        "volume": str(bar.volume),
        "ingested_at": ingested_at,
    }


def bars_to_csv(bars: Iterable[Bar], ingested_at: str) -> str:
    """Render bars as one raw-zone CSV document (header first)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RAW_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for bar in bars:
        writer.writerow(bar_record(bar, ingested_at))
    return buffer.getvalue()
