"""The spend settings: an optional monthly budget and an optional daily Athena scan limit.

`stockpipe:monthlyBudgetUsd` (a number of dollars above zero) creates an AWS Budgets cost
budget on the stack's cost-allocation tag; `stockpipe:maxDailyScanBytes` (a whole number of
bytes) alarms when Athena reports more bytes processed in a day over both workgroups. Unset,
neither exists. Problems are appended to the stack configuration's list, like every key's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pulumi

NAMESPACE = "stockpipe"
MONTHLY_BUDGET_USD = "monthlyBudgetUsd"
MAX_DAILY_SCAN_BYTES = "maxDailyScanBytes"
KEYS = (MONTHLY_BUDGET_USD, MAX_DAILY_SCAN_BYTES)
_DOLLARS = re.compile(r"^\d+(\.\d{1,2})?$")


@dataclass(frozen=True)
class SpendConfig:
    monthly_budget_usd: float | None = None
    max_daily_scan_bytes: int | None = None


NO_SPEND_GUARD = SpendConfig()


def load_spend_config(config: pulumi.Config, problems: list[str]) -> SpendConfig:
    budget = _value(config, MONTHLY_BUDGET_USD)
    scan = _value(config, MAX_DAILY_SCAN_BYTES)
    budget_usd = None
    if budget is not None:
        if _DOLLARS.match(budget) and float(budget) > 0 and math.isfinite(float(budget)):
            budget_usd = float(budget)
        else:
            problems.append(
                f"{NAMESPACE}:{MONTHLY_BUDGET_USD}={budget!r} must be a dollar amount above "
                "zero, such as 25 or 12.50"
            )
    scan_bytes = None
    if scan is not None:
        if scan.isdigit() and int(scan) >= 1:
            scan_bytes = int(scan)
        else:
            problems.append(
                f"{NAMESPACE}:{MAX_DAILY_SCAN_BYTES}={scan!r} must be a whole number of bytes "
                "of at least 1, such as 1073741824 (1 GiB)"
            )
    return SpendConfig(budget_usd, scan_bytes)


def _value(config: pulumi.Config, key: str) -> str | None:
    value = config.get(key)
    return value.strip() if value is not None and value.strip() else None
