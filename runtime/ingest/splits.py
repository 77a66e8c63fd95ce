"""Stock splits from Alpha Vantage's SPLITS endpoint: the answer, its raw CSV, when to ask.

`function=SPLITS&symbol=X` answers `{"symbol": "X", "data": [{"effective_date":
"YYYY-MM-DD", "split_factor": "10.0000"}, ...]}` (new shares per old share), failures as
HTTP 200 bodies exactly as for TIME_SERIES_DAILY (../shared/docs/alphavantage.md,
Corporate actions). A record lands whole under `raw_splits/`, one CSV row per split; an
empty record lands as one marker row (blank date and factor) so that a split the provider
withdraws is recorded as gone rather than silently kept.

A symbol's record is fetched on its first ingestion, when it is older than the refresh
cycle allows (the cycle is spread over days: a share of the symbols each day), and at
once when the day's prices show an overnight move as large as a split would make.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from runtime.ingest.answers import classify_failure, json_object, quote
from runtime.ingest.bars import Bar
from runtime.ingest.errors import MalformedSplits
from runtime.schema import RAW_SPLITS_COLUMNS

SPLITS_FUNCTION = "SPLITS"
DATA_KEY = "data"
#: An overnight price ratio at least this far from 1 (either way) asks for the record at
#: once. The smallest common split is 5:4 (1.25); the real NVDA split of 2001 sat 6.6 %
#: away from its 2:1, so the trigger is generous: a wasted call is cheap, a missed split
#: is not.
SPLIT_LIKE_RATIO = 1.2

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FACTOR = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class Split:
    effective_date: date
    split_factor: Decimal  # new shares per old share: 10 for 10:1, 0.1 for 1:10


@dataclass(frozen=True)
class SplitRecord:
    """The provider's whole split history for one symbol, in the answer's order."""

    symbol: str
    splits: tuple[Split, ...]


def read_splits_answer(text: str, symbol: str) -> SplitRecord:
    """Parse one SPLITS body or raise the ApiProblem it is (failure bodies as for prices)."""
    payload = json_object(text)
    problem = classify_failure(payload, SPLITS_FUNCTION, DATA_KEY)
    if problem is not None:
        raise problem
    where = f"SPLITS answer for {symbol}"
    answered = payload.get("symbol")
    if answered is not None and str(answered).strip().upper() != symbol.upper():
        raise MalformedSplits(f"{where}: field 'symbol' is {quote(answered)!r}, not {symbol!r}")
    if DATA_KEY not in payload:
        keys = ", ".join(sorted(map(str, payload)))
        raise MalformedSplits(f"{where}: field 'data' is missing (keys: {quote(keys)})")
    items = payload[DATA_KEY]
    if not isinstance(items, list):
        raise MalformedSplits(f"{where}: field 'data' is not a list")
    splits = (_split(item, f"{where}: data[{n}]") for n, item in enumerate(items))
    return SplitRecord(symbol, tuple(splits))


def _split(item: Any, where: str) -> Split:
    if not isinstance(item, dict):
        raise MalformedSplits(f"{where} is not an object")
    if "effective_date" not in item:
        raise MalformedSplits(f"{where}.effective_date is missing")
    day = str(item["effective_date"]).strip()
    try:
        if not _DATE.match(day):
            raise ValueError(day)
        effective = date.fromisoformat(day)
    except ValueError:
        raise MalformedSplits(
            f"{where}.effective_date {quote(day)!r} is not a date YYYY-MM-DD"
        ) from None
    if "split_factor" not in item:
        raise MalformedSplits(f"{where}.split_factor is missing")
    text = str(item["split_factor"]).strip()
    try:
        factor = Decimal(text) if _FACTOR.match(text) else None
    except InvalidOperation:
        factor = None
    if factor is None or not factor > 0:
        raise MalformedSplits(
            f"{where}.split_factor {quote(text)!r} is not a number above 0 "
            "(new shares per old share)"
        )
    return Split(effective, factor)


def splits_to_csv(record: SplitRecord, ingested_at: str) -> str:
    """The record as one raw CSV document; an empty record is a single marker row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RAW_SPLITS_COLUMNS)
    for split in record.splits:
        writer.writerow(
            (record.symbol, split.effective_date.isoformat(), str(split.split_factor), ingested_at)
        )
    if not record.splits:
        writer.writerow((record.symbol, "", "", ingested_at))
    return buffer.getvalue()


def split_like_moves(bars: Iterable[Bar], after: date | None) -> list[date]:
    """The sessions after `after` whose open or close stands a split-sized ratio away from
    the previous close (either way: forward and reverse splits)."""
    ordered = sorted(bars, key=lambda bar: bar.trade_date)
    moves = []
    for previous, bar in itertools.pairwise(ordered):
        if after is not None and bar.trade_date <= after:
            continue
        if previous.close <= 0:
            continue
        for price in (bar.open, bar.close):
            if price > 0 and abs(math.log(previous.close / price)) >= math.log(SPLIT_LIKE_RATIO):
                moves.append(bar.trade_date)
                break
    return moves


@dataclass(frozen=True)
class DueRecord:
    symbol: str
    reason: str


def records_due(
    symbols: Sequence[str],
    landed: Mapping[str, Sequence[Bar]],
    refreshed: Mapping[str, date],
    today: date,
    refresh_days: int,
) -> list[DueRecord]:
    """Whose split record to fetch today, most urgent first.

    `symbols` are the run's symbols, `landed` the bars each landed today (a symbol that
    landed nothing is not asked for: its ticker may be wrong), `refreshed` the day each
    record was last fetched. Urgent: a first ingestion, or a split-sized move after the
    last fetch. Due: a record `refresh_days` old. Then the cycle is spread: the oldest
    records not fetched today, until a share of 1/refresh_days of all symbols is asked for.
    """
    urgent: list[DueRecord] = []
    due: list[DueRecord] = []
    spare: list[str] = []
    for symbol in symbols:
        if symbol not in landed:
            continue
        last = refreshed.get(symbol)
        moves = split_like_moves(landed[symbol], last)
        if last is None:
            urgent.append(DueRecord(symbol, "first ingestion of the symbol"))
        elif moves:
            urgent.append(DueRecord(symbol, f"a split-sized overnight move on {moves[-1]}"))
        elif (today - last).days >= refresh_days:
            due.append(DueRecord(symbol, f"the record is {(today - last).days} days old"))
        elif last < today:
            spare.append(symbol)
    share = math.ceil(len(symbols) / refresh_days)
    spare.sort(key=lambda symbol: refreshed[symbol])
    spread = [
        DueRecord(symbol, f"refresh cycle of {refresh_days} days")
        for symbol in spare[: max(0, share - len(urgent) - len(due))]
    ]
    return urgent + due + spread
