"""The spend settings: an optional monthly budget and an optional daily Athena scan limit.

`stockpipe:monthlyBudgetUsd` (a number of dollars above zero) creates an AWS Budgets cost
budget on the stack's cost-allocation tag; `stockpipe:maxDailyScanBytes` (a whole number of
bytes) alarms when Athena reports more bytes processed in a day over both workgroups. Unset,
neither exists. `components/config.py` reads the values (an empty one is refused there, like
every key's) and this module turns them into a `SpendConfig`, appending problems to the same
list.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from components.setting import Setting

NAMESPACE = "stockpipe"
MONTHLY_BUDGET_USD = "monthlyBudgetUsd"
MAX_DAILY_SCAN_BYTES = "maxDailyScanBytes"
SETTINGS = (
    Setting(
        MONTHLY_BUDGET_USD,
        "number (USD)",
        None,
        "a dollar amount above zero, at most two decimals",
        "25",
        "Creates an AWS Budgets cost budget on the stack's cost-allocation tag, notifying the "
        "alert topic at 80 % and 100 % of actual and 100 % of forecast spend (see Cost: the "
        "payer account must activate the tag first).",
        default_note="none: no budget",
    ),
    Setting(
        MAX_DAILY_SCAN_BYTES,
        "whole number (bytes)",
        None,
        "a whole number of bytes, at least 1",
        "1073741824",
        "Alarms when Athena reports more bytes processed in a day over both workgroups "
        "(`AWS/Athena` `ProcessedBytes`), dashboard queries included.",
        default_note="none: no alarm",
    ),
)
KEYS = tuple(setting.key for setting in SETTINGS)
_DOLLARS = re.compile(r"^\d+(\.\d{1,2})?$")


@dataclass(frozen=True)
class SpendConfig:
    monthly_budget_usd: float | None = None
    max_daily_scan_bytes: int | None = None


NO_SPEND_GUARD = SpendConfig()


def load_spend_config(values: dict[str, str | None], problems: list[str]) -> SpendConfig:
    """The spend settings from their stripped values (None: unset)."""
    budget = values[MONTHLY_BUDGET_USD]
    scan = values[MAX_DAILY_SCAN_BYTES]
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
