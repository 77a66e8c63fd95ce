"""The data-quality checks the audit runs, and their severity.

Each check is `sql/checks/{name}.sql`: a SELECT returning one row per failure with
`failure_key` (SYMBOL@YYYY-MM-DD, or the symbol/partition for set-level checks) and
`sample_rank` (higher = shown first among the ten sample keys).

A *row check* tests each staging row on its own; its file has exactly the shape
`SELECT <key> AS failure_key, <rank> AS sample_rank FROM {staging} WHERE <predicate>`, so the
audit can run every row check in one pass over staging (`queries.row_check`).

An `error` failing stops the run before publish; a `warning` is recorded and alarmed on but
does not block: real splits, real crashes and late symbols happen.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    description: str
    #: Tests each staging row on its own (see above).
    per_row: bool = False

    @property
    def sql_name(self) -> str:
        return f"checks/{self.name}"


CHECKS: tuple[Check, ...] = (
    Check("not_null_keys", ERROR, "symbol and trade_date present and parseable", per_row=True),
    Check(
        "symbol_format", ERROR, "symbol is a ticker: A-Z, 0-9, '.', '-', at most 12", per_row=True
    ),
    Check(
        "not_null_prices", ERROR, "open, high, low, close, volume present and numeric", per_row=True
    ),
    Check("price_range", ERROR, "high >= low; open and close within [low, high]", per_row=True),
    Check("positive_values", ERROR, "prices > 0 and volume >= 0", per_row=True),
    Check("unique_key", ERROR, "one row per (symbol, trade_date) in what publish would write"),
    Check("future_trade_date", ERROR, "no trade_date after the run date", per_row=True),
    Check("weekend_trade_date", ERROR, "no trade_date on a Saturday or Sunday", per_row=True),
    Check("raw_layout", ERROR, "every raw object is where a raw table reads it, and yields rows"),
    Check(
        "staging_not_empty", ERROR, "staging has rows when raw holds bars not published as they are"
    ),
    Check(
        "expected_symbols",
        WARNING,
        "every configured symbol has a bar on the newest trade date the run brought",
    ),
    Check(
        "large_daily_move", WARNING, "|daily_return| within the configured threshold", per_row=True
    ),
    Check("restatement", WARNING, "a staged bar differs from the published bar it replaces"),
)
