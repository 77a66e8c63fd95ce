"""What the write-audit-publish steps need to know, beyond the engine they run on."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

#: The raw zone's tables: the CSV objects the S3 sink lands, and the JSON lines Firehose
#: delivers (read when the catalog has that table).
RAW_TABLE = "raw_daily_prices"
RAW_FIREHOSE_TABLE = "raw_firehose_daily_prices"
RAW_TABLES = (RAW_TABLE, RAW_FIREHOSE_TABLE)
#: The split records ingestion lands under `raw_splits/` (CSV, partitioned by `dt` like
#: raw/): staging reads each symbol's latest record whole, so it is no raw price table.
RAW_SPLITS_TABLE = "raw_splits"
PROD_TABLE = "daily_prices"
DQ_TABLE = "dq_results"
#: Per (symbol, year): first and last trade date and bar count, kept by publish so readers
#: (the freshness panel) need not scan every year of daily_prices.
SUMMARY_TABLE = "symbol_summary"
#: The published rows a publish replaced (restated bars, recomputed neighbours), by run.
REPLACED_TABLE = "daily_prices_replaced"

#: daily_prices table properties: where the record of consumed raw objects is, and which run
#: wrote it (the last publish).
CONSUMED_RAW_PROPERTY = "stockpipe.consumed_raw"
PUBLISHED_RUN_PROPERTY = "stockpipe.published_run_id"

DEFAULT_MAX_DAILY_MOVE = 0.30
DEFAULT_KEEP_VERSIONS = 3

_RUN_ID = re.compile(r"^[a-z0-9_]{1,100}$")
# The same rule as runtime/ingest/settings.py SYMBOL_PATTERN, repeated so the Glue job
# imports nothing from the ingestion package.
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,11}$")


class ConfigError(ValueError):
    """A configuration value is unusable; the message names it and says what is wrong."""


@dataclass(frozen=True)
class WapConfig:
    """Step settings (engine settings such as database or lake directory live on the engine).

    symbols: the symbols every run is expected to contain (missing ones are a warning).
    max_daily_move: |daily_return| (split-aware) above this is a `large_daily_move` warning.
      0.30 flags the biggest real moves of the NVDA history (+42 %, -35 %), and any split
      missing from a symbol's record (3:2 = -33 %, 2:1 = -50 %, 4:1 = -75 %).
    keep_versions: how many publish versions (one per run) stay on storage for rollback
      besides the ones production still points at.
    staging_prefix / prod_prefix: where staging and production data live, relative to the
      engine's data root (the S3 bucket or the local lake directory).
    """

    symbols: tuple[str, ...] = ()
    max_daily_move: float = DEFAULT_MAX_DAILY_MOVE
    keep_versions: int = DEFAULT_KEEP_VERSIONS
    staging_prefix: str = "staging/"
    prod_prefix: str = "prod/"

    def __post_init__(self) -> None:
        for symbol in self.symbols:
            if not _SYMBOL.match(symbol):
                raise ConfigError(
                    f"symbols: {symbol!r} is not a ticker (upper-case letters, digits, '.', '-')"
                )
        if not self.max_daily_move > 0:
            raise ConfigError(f"max_daily_move must be above 0, got {self.max_daily_move!r}")
        if self.keep_versions < 1:
            raise ConfigError(f"keep_versions must be at least 1, got {self.keep_versions!r}")
        for name in ("staging_prefix", "prod_prefix"):
            prefix = getattr(self, name)
            if not prefix.endswith("/") or prefix.startswith("/") or ".." in prefix:
                raise ConfigError(
                    f"{name} must be a relative prefix ending with '/', got {prefix!r}"
                )

    @classmethod
    def from_values(
        cls,
        symbols: str = "",
        max_daily_move: str = "",
        keep_versions: str = "",
        staging_prefix: str = "staging/",
        prod_prefix: str = "prod/",
    ) -> WapConfig:
        """Build from text values (job arguments, environment); empty means default."""
        try:
            move = float(max_daily_move) if max_daily_move else DEFAULT_MAX_DAILY_MOVE
        except ValueError:
            raise ConfigError(f"max_daily_move must be a number, got {max_daily_move!r}") from None
        try:
            keep = int(keep_versions) if keep_versions else DEFAULT_KEEP_VERSIONS
        except ValueError:
            raise ConfigError(f"keep_versions must be an integer, got {keep_versions!r}") from None
        return cls(
            symbols=parse_symbols(symbols),
            max_daily_move=move,
            keep_versions=keep,
            staging_prefix=staging_prefix,
            prod_prefix=prod_prefix,
        )


def parse_symbols(text: str) -> tuple[str, ...]:
    """`"NVDA, amd,"` -> ("NVDA", "AMD"), order kept, duplicates dropped."""
    seen = []
    for part in text.split(","):
        symbol = part.strip().upper()
        if symbol and symbol not in seen:
            seen.append(symbol)
    return tuple(seen)


def normalize_run_id(value: str) -> str:
    """A run id usable in table names: lower case, '-' -> '_'; anything else is refused."""
    run_id = value.strip().lower().replace("-", "_")
    if not _RUN_ID.match(run_id):
        raise ConfigError(
            f"run id {value!r} must be 1-100 letters, digits, '_' or '-' "
            "(it becomes part of table names)"
        )
    return run_id


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id for a run started by hand: manual_<UTC time>_<random>."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"manual_{moment:%Y%m%dt%H%M%S}_{secrets.token_hex(3)}"
