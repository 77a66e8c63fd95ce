"""What the local run's queries would cost on Athena: the bytes DuckDB read, billed as Athena
bills them, at the rate of the price table `make cost` uses (components/cost/prices.toml,
read by path: runtime never imports the infrastructure code).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime.wap.engines.base import QueryScan
from runtime.wap.scan_metrics import MEGABYTE, billed_bytes

PRICE_TABLE = Path(__file__).resolve().parents[2] / "components" / "cost" / "prices.toml"
#: The local run has no AWS region: it prices as the repository's stacks deploy.
REGION = "us-east-1"
ITEM = "athena_scanned_tb"
TERABYTE = 1024**4


@dataclass(frozen=True)
class AthenaRate:
    usd_per_tb: float
    minimum_bytes: int
    rounding_bytes: int
    region: str


def athena_rate(path: Path = PRICE_TABLE, region: str = REGION) -> AthenaRate | None:
    """The price table's Athena row for `region`, None when the table or row is absent."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    for row in table.get("price", []):
        if row.get("item") == ITEM and row.get("region") == region:
            return AthenaRate(
                usd_per_tb=float(row["usd"]),
                minimum_bytes=int(row["minimum_bytes_per_query"]),
                rounding_bytes=int(row["rounding_bytes"]),
                region=region,
            )
    return None


def query_lines(steps: Sequence[tuple[str, Sequence[QueryScan]]]) -> list[str]:
    """One line per step: each query it ran and the bytes it read."""
    return [
        f"  {step}: " + ", ".join(f"{scan.name} {scan.bytes_read:,} B" for scan in scans)
        for step, scans in steps
        if scans
    ]


def total_line(steps: Sequence[tuple[str, Sequence[QueryScan]]], rate: AthenaRate | None) -> str:
    """The queries, the bytes they read, and what Athena would bill for them."""
    scans = [scan for _, step_scans in steps for scan in step_scans]
    read = sum(scan.bytes_read for scan in scans)
    line = f"queries: {len(scans)} read {read:,} bytes"
    if rate is None:
        return f"{line} (no Athena price: {PRICE_TABLE} has no {ITEM} row for {REGION})"
    billed = sum(
        billed_bytes(scan.bytes_read, rate.minimum_bytes, rate.rounding_bytes) for scan in scans
    )
    usd = billed / TERABYTE * rate.usd_per_tb
    return (
        f"{line}; Athena would bill {billed / MEGABYTE:,.0f} MB for them = ${usd:.6f} "
        f"(${rate.usd_per_tb:.2f} per TB in {rate.region}, each query rounded up to "
        f"{rate.rounding_bytes / MEGABYTE:g} MB, at least {rate.minimum_bytes / MEGABYTE:g} MB)"
    )
