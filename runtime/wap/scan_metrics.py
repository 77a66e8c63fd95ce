"""What a step's queries read: logged, and sent as a metric the way the freshness metrics are.

One metric per step (dimension `Step`, the stack's namespace): `AthenaBytesScanned` (Unit
Bytes: the sum of the step's queries' `Statistics.DataScannedInBytes`). The EMF line also
carries each query's name and bytes as a property: one custom metric a step, as each costs
a monthly fee (docs/cost.md). Athena bills each query's bytes rounded up to the megabyte
with a 10 MB minimum (https://aws.amazon.com/athena/pricing/); `billed_bytes` is that
figure, so a log line shows both what was read and what is paid for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from runtime.wap.engines.base import QueryScan

BYTES_METRIC = "AthenaBytesScanned"
MEGABYTE = 1024 * 1024
MINIMUM_BILLED_BYTES = 10 * MEGABYTE


def billed_bytes(
    bytes_read: int, minimum: int = MINIMUM_BILLED_BYTES, rounding: int = MEGABYTE
) -> int:
    """The bytes Athena bills for one query that read `bytes_read`."""
    return max(minimum, -(-bytes_read // rounding) * rounding)


def describe(step: str, scans: Sequence[QueryScan]) -> str:
    """One log line: the step's queries, the bytes they read and the bytes Athena bills."""
    read = sum(scan.bytes_read for scan in scans)
    billed = sum(billed_bytes(scan.bytes_read) for scan in scans)
    return (
        f"{step}: {len(scans)} queries read {read:,} bytes; Athena bills "
        f"{billed / MEGABYTE:,.0f} MB (each query rounded up to the MB, at least 10 MB)"
    )


def metric_data(step: str, scans: Sequence[QueryScan]) -> list[dict[str, Any]]:
    """The MetricData entries for CloudWatch put_metric_data."""
    return [
        {
            "MetricName": BYTES_METRIC,
            "Dimensions": [{"Name": "Step", "Value": step}],
            "Value": float(sum(scan.bytes_read for scan in scans)),
            "Unit": "Bytes",
        }
    ]


def emf_line(namespace: str, step: str, scans: Sequence[QueryScan], now: datetime) -> str:
    """The same metrics as one EMF JSON line, with each query's bytes as a property."""
    timestamp = int(now.replace(tzinfo=now.tzinfo or timezone.utc).timestamp() * 1000)
    data = metric_data(step, scans)
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["Step"]],
                    "Metrics": [{"Name": d["MetricName"], "Unit": d["Unit"]} for d in data],
                }
            ],
        },
        "Step": step,
        "queries": [[scan.name, scan.bytes_read] for scan in scans],
    }
    record.update({d["MetricName"]: d["Value"] for d in data})
    return json.dumps(record, sort_keys=True)
