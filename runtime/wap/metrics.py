"""Freshness metrics after a publish: the latest published trade date per symbol.

Two metrics per symbol (dimension `Symbol`, namespace from configuration, default
`stockpipe`):
- `LatestPublishedTradeDate`: the date as Unix epoch seconds at 00:00 UTC (Unit Seconds),
  for dashboards;
- `PublishedDataAgeDays`: calendar days from that date to the run's date (Unit Count), for
  alarms (e.g. > 4 for 1 datapoint, missing data = breaching: a silent pipeline alarms too).

On Glue they are sent with CloudWatch `put_metric_data`; locally they are printed as
CloudWatch embedded-metric-format (EMF) JSON lines.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

DEFAULT_NAMESPACE = "stockpipe"
LATEST_DATE_METRIC = "LatestPublishedTradeDate"
AGE_METRIC = "PublishedDataAgeDays"
_PUT_BATCH = 20
_EPOCH = date(1970, 1, 1)


def metric_data(latest: dict[str, date], as_of: date) -> list[dict[str, Any]]:
    """The MetricData entries for CloudWatch put_metric_data, two per symbol."""
    data = []
    for symbol in sorted(latest):
        dimensions = [{"Name": "Symbol", "Value": symbol}]
        epoch_seconds = (latest[symbol] - _EPOCH).days * 86400
        data.append(
            {
                "MetricName": LATEST_DATE_METRIC,
                "Dimensions": dimensions,
                "Value": float(epoch_seconds),
                "Unit": "Seconds",
            }
        )
        data.append(
            {
                "MetricName": AGE_METRIC,
                "Dimensions": dimensions,
                "Value": float((as_of - latest[symbol]).days),
                "Unit": "Count",
            }
        )
    return data


def put_metrics(cloudwatch: Any, namespace: str, data: list[dict[str, Any]]) -> None:
    """Send MetricData with put_metric_data, in small batches."""
    for start in range(0, len(data), _PUT_BATCH):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + _PUT_BATCH])


def emf_lines(namespace: str, latest: dict[str, date], as_of: date, now: datetime) -> list[str]:
    """The same metrics as EMF JSON lines, one per symbol, with the date itself as a property."""
    timestamp = int(now.replace(tzinfo=now.tzinfo or timezone.utc).timestamp() * 1000)
    records: dict[str, dict[str, Any]] = {}
    for datum in metric_data(latest, as_of):
        symbol = datum["Dimensions"][0]["Value"]
        record = records.setdefault(
            symbol,
            {
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [
                        {"Namespace": namespace, "Dimensions": [["Symbol"]], "Metrics": []}
                    ],
                },
                "Symbol": symbol,
                "latest_trade_date": latest[symbol].isoformat(),
            },
        )
        record["_aws"]["CloudWatchMetrics"][0]["Metrics"].append(
            {"Name": datum["MetricName"], "Unit": datum["Unit"]}
        )
        record[datum["MetricName"]] = datum["Value"]
    return [json.dumps(record, sort_keys=True) for record in records.values()]
