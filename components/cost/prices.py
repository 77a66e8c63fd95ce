"""The price table (prices.toml): one row per (region, item), with where and when it was read."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.cost.errors import CostInputError

PRICE_TABLE = Path(__file__).resolve().parent / "prices.toml"
#: Every item the estimate prices: a region without one of them cannot be estimated.
ITEMS = (
    "athena_scanned_tb",
    "glue_pythonshell_dpu_hour",
    "glue_crawler_dpu_hour",
    "glue_catalog_objects_100k",
    "lambda_requests_million",
    "lambda_gb_second_arm64",
    "lambda_gb_second_x86_64",
    "scheduler_invocations_million",
    "secret_month",
    "secret_api_calls_10k",
    "firehose_ingested_gb",
    "cloudwatch_alarm_metric_month",
    "cloudwatch_custom_metric_month",
    "cloudwatch_logs_ingested_gb",
    "s3_standard_gb_month",
    "s3_put_1k",
    "s3_get_1k",
    "grafana_editor_month",
    "grafana_viewer_month",
)


@dataclass(frozen=True)
class Price:
    item: str
    service: str
    usd: float
    unit: str
    source: str
    read: str
    verified: bool
    #: Per-run minimums and roundings AWS bills (minimum_seconds_per_run, ...).
    rules: dict[str, int]


@dataclass(frozen=True)
class FreeTier:
    service: str
    allowance: str
    source: str


@dataclass(frozen=True)
class PriceTable:
    region: str
    prices: dict[str, Price]
    free_tiers: list[FreeTier]
    path: Path

    def __getitem__(self, item: str) -> Price:
        return self.prices[item]


def load_prices(region: str, path: Path = PRICE_TABLE) -> PriceTable:
    """The rows of `region`; CostInputError when the table lacks the region or an item."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CostInputError(f"{path}: cannot read the price table: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise CostInputError(f"{path}: not TOML: {error}") from None
    rows = [row for row in document.get("price", []) if row.get("region") == region]
    regions = sorted({row.get("region", "?") for row in document.get("price", [])})
    if not rows:
        raise CostInputError(
            f"{path}: region: no prices for {region} (the table has {', '.join(regions)}); "
            "add its rows from the AWS pricing pages"
        )
    prices = {row["item"]: _price(row, path) for row in rows}
    missing = [item for item in ITEMS if item not in prices]
    if missing:
        raise CostInputError(f"{path}: region {region}: no price for {', '.join(missing)}")
    free = [
        FreeTier(row["service"], row["allowance"], row["source"])
        for row in document.get("free_tier", [])
        if row.get("region") == region
    ]
    return PriceTable(region, prices, free, path)


def _price(row: dict[str, Any], path: Path) -> Price:
    try:
        return Price(
            item=row["item"],
            service=row["service"],
            usd=float(row["usd"]),
            unit=row["unit"],
            source=row["source"],
            read=row["read"],
            verified=bool(row["verified"]),
            rules={
                key: int(value)
                for key, value in row.items()
                if key.startswith(("minimum_", "rounding_"))
            },
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CostInputError(f"{path}: {row.get('item', '?')}: bad row ({error})") from None
