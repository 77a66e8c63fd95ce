import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from runtime.ingest.bars import Bar, bars_to_csv, format_ingested_at


def test_raw_csv_keeps_the_digits_the_api_sent():
    bar = Bar(
        "NVDA",
        date(2024, 6, 7),
        Decimal("1197.7000"),
        Decimal("1216.9171"),
        Decimal("1180.2200"),
        Decimal("1208.8800"),
        41238580,
    )
    rows = list(csv.reader(io.StringIO(bars_to_csv([bar], "2024-06-07T21:05:00Z"))))
    assert rows == [
        ["symbol", "trade_date", "open", "high", "low", "close", "volume", "ingested_at"],
        [
            "NVDA",
            "2024-06-07",
            "1197.7000",
            "1216.9171",
            "1180.2200",
            "1208.8800",
            "41238580",
            "2024-06-07T21:05:00Z",
        ],
    ]


def test_ingested_at_is_utc_whatever_the_input_zone():
    eastern = timezone(timedelta(hours=-4))
    assert format_ingested_at(datetime(2024, 6, 7, 17, 5, tzinfo=eastern)) == "2024-06-07T21:05:00Z"
    assert format_ingested_at(datetime(2024, 6, 7, 21, 5, tzinfo=UTC)) == "2024-06-07T21:05:00Z"


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        format_ingested_at(datetime(2024, 6, 7, 21, 5))
