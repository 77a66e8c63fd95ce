"""Reading an Alpha Vantage TIME_SERIES_DAILY answer: a series of bars, or the problem.

Every failure arrives as HTTP 200 with a JSON body (also when CSV was asked for), so
a body is classified by key and then by wording. The burst-limit wording mentions the
daily limit in passing, so burst phrases are tested before the daily-quota phrases;
otherwise a throttled run would give up for the day (../shared/docs/alphavantage.md).

Only the shape is validated here (dates, numbers, fields, symbol). Value checks
(high < low, negatives, outliers) belong to the audit step: what the API said lands.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from runtime.ingest.bars import Bar
from runtime.ingest.errors import (
    ApiProblem,
    BurstThrottled,
    DailyQuotaSpent,
    EmptyAnswer,
    InvalidRequest,
    KeyRejected,
    MalformedSeries,
    PremiumEndpoint,
    PremiumFullOutput,
    TransportFailure,
    UnexpectedInformation,
)

META_KEY = "Meta Data"
SERIES_KEY = "Time Series (Daily)"
CSV_HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
JSON_FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")

BURST_PHRASES = ("spreading out", "sparingly", "call frequency")
PREMIUM_FULL_PHRASES = ("outputsize=full", "premium feature")
PREMIUM_ENDPOINT_PHRASES = ("premium endpoint",)
DEMO_KEY_PHRASES = ("demo purposes", "**demo**")
DAILY_QUOTA_PHRASES = ("per day", "daily rate limit", "daily limit")
BAD_KEY_PHRASES = ("apikey", "api key")

_PRICE = re.compile(r"^-?\d+(\.\d+)?$")
_VOLUME = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUOTE_LIMIT = 300


@dataclass(frozen=True)
class DailySeries:
    """The bars of one answer, in the order the answer listed them.

    Whether a bar is final is the market clock's call (runtime.market_calendar), not the
    answer's: CSV answers carry no `Last Refreshed`, and the newest bar need not be first.
    """

    symbol: str
    bars: tuple[Bar, ...]


def read_answer(text: str, symbol: str) -> DailySeries:
    """Parse one answer body (JSON or CSV, whichever it is) or raise the ApiProblem it is."""
    stripped = _stripped_body(text)
    if stripped.startswith(("{", "[")):
        payload = json_object(stripped)
        problem = classify_failure(payload)
        if problem is not None:
            raise problem
        return _series_from_json(payload, symbol)
    first_line = stripped.split("\n", 1)[0]
    if [cell.strip().lower() for cell in first_line.split(",")] == CSV_HEADER:
        return _series_from_csv(stripped, symbol)
    kind = "an HTML page" if stripped.startswith("<") else f"{len(text)} characters"
    raise TransportFailure(f"the API answered {kind} that is neither JSON nor the daily CSV")


def json_object(text: str) -> dict[str, Any]:
    """A body that must be one JSON object (any answer but a CSV one), or its ApiProblem."""
    stripped = _stripped_body(text)
    try:
        payload = json.loads(stripped, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError:
        kind = "an HTML page" if stripped.startswith("<") else "invalid or truncated JSON"
        raise TransportFailure(f"the API answered with {kind}") from None
    if not isinstance(payload, dict):
        raise MalformedSeries("the API answered JSON that is not an object")
    return payload


def _stripped_body(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise TransportFailure("the API answered with an empty body")
    return stripped


def classify_failure(
    payload: dict[str, Any], endpoint: str = "TIME_SERIES_DAILY", data_key: str = SERIES_KEY
) -> ApiProblem | None:
    """The problem a JSON body of `endpoint` reports, or None when it carries `data_key`."""
    if not payload:
        return EmptyAnswer("the API answered with an empty object {} (unknown symbol?)")
    if "Error Message" in payload:
        message = quote(payload["Error Message"])
        if any(phrase in message.lower() for phrase in BAD_KEY_PHRASES):
            return KeyRejected(f"invalid or missing API key: {message}")
        return InvalidRequest(f"the API rejected the request (unknown symbol?): {message}")
    for key in ("Information", "Note"):
        if key in payload and data_key not in payload:
            return _classify_information(quote(payload[key]), endpoint)
    return None


def _classify_information(message: str, endpoint: str) -> ApiProblem:
    lowered = message.lower()
    if any(phrase in lowered for phrase in BURST_PHRASES):
        return BurstThrottled(f"throttled by the API's burst limit: {message}")
    if any(phrase in lowered for phrase in PREMIUM_FULL_PHRASES):
        return PremiumFullOutput(f"outputsize=full is premium-only for this key: {message}")
    if any(phrase in lowered for phrase in PREMIUM_ENDPOINT_PHRASES):
        return PremiumEndpoint(f"{endpoint} is premium-only for this key: {message}")
    if any(phrase in lowered for phrase in DEMO_KEY_PHRASES):
        return KeyRejected(f"the demo API key only serves the documentation examples: {message}")
    if any(phrase in lowered for phrase in DAILY_QUOTA_PHRASES):
        return DailyQuotaSpent(f"the key's daily request quota is spent: {message}")
    return UnexpectedInformation(f"the API answered with a notice instead of data: {message}")


def _series_from_json(payload: dict[str, Any], symbol: str) -> DailySeries:
    meta = payload.get(META_KEY)
    series = payload.get(SERIES_KEY)
    if not isinstance(meta, dict) or not isinstance(series, dict):
        keys = ", ".join(sorted(map(str, payload))) or "none"
        raise MalformedSeries(
            f"the answer lacks '{META_KEY}' or '{SERIES_KEY}' objects (keys: {quote(keys)})"
        )
    answered_symbol = str(meta.get("2. Symbol", "")).strip()
    if answered_symbol.upper() != symbol.upper():
        raise MalformedSeries(
            f"the answer is for symbol {quote(answered_symbol)!r}, not {symbol!r}"
        )
    bars = []
    for day, fields in series.items():
        if not isinstance(fields, dict):
            raise MalformedSeries(f"bar {quote(day)!r} is not an object")
        missing = [name for name in JSON_FIELDS if name not in fields]
        if missing:
            raise MalformedSeries(f"bar {quote(day)!r} lacks {', '.join(missing)}")
        bars.append(_bar(symbol, day, *(fields[name] for name in JSON_FIELDS)))
    return DailySeries(symbol=symbol, bars=tuple(bars))


def _series_from_csv(text: str, symbol: str) -> DailySeries:
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    bars = []
    seen: set[date] = set()
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(CSV_HEADER):
            if number == len(rows):
                # A short last line is a body cut off in transit, worth another try.
                raise TransportFailure("the API's CSV answer is truncated (short last line)")
            raise MalformedSeries(f"CSV line {number} has {len(row)} fields, expected 6")
        bar = _bar(symbol, *row)
        if bar.trade_date in seen:
            raise MalformedSeries(f"CSV lists {bar.trade_date} twice")
        seen.add(bar.trade_date)
        bars.append(bar)
    return DailySeries(symbol=symbol, bars=tuple(bars))


def _bar(symbol: str, day: Any, open_: Any, high: Any, low: Any, close: Any, volume: Any) -> Bar:
    day_text = str(day).strip()
    try:
        if not _DATE.match(day_text):
            raise ValueError(day_text)
        trade_date = date.fromisoformat(day_text)
    except ValueError:
        raise MalformedSeries(f"{quote(day_text)!r} is not a date YYYY-MM-DD") from None
    prices = []
    for name, value in (("open", open_), ("high", high), ("low", low), ("close", close)):
        text = str(value).strip()
        if not _PRICE.match(text):
            raise MalformedSeries(f"bar {day_text}: {name} {quote(text)!r} is not a number")
        prices.append(Decimal(text))
    volume_text = str(volume).strip()
    if not _VOLUME.match(volume_text):
        raise MalformedSeries(
            f"bar {day_text}: volume {quote(volume_text)!r} is not a whole number"
        )
    return Bar(symbol, trade_date, *prices, volume=int(volume_text))


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedSeries(f"the answer lists {quote(key)!r} twice")
        result[key] = value
    return result


def quote(value: Any) -> str:
    """API text for a message, bounded so a runaway body cannot flood the logs."""
    text = str(value)
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "..."
