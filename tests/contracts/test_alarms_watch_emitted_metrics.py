"""Every custom-metric alarm watches a metric the handler really emits, and fires when it should."""

from __future__ import annotations

import json

import pytest

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def emitted_metrics(printed: str) -> dict[tuple[str, str, frozenset], float]:
    """(namespace, metric, dimensions) -> value, from the EMF documents a run printed."""
    metrics = {}
    for line in printed.splitlines():
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, blob[name]) for name in dimension_set)
                for metric in directive["Metrics"]:
                    # EMF allows one value or a list (Powertools writes a list of one).
                    value = blob[metric["Name"]]
                    if isinstance(value, list):
                        (value,) = value
                    metrics[(directive["Namespace"], metric["Name"], dimensions)] = value
    return metrics


def custom_alarms(graph) -> list[dict]:
    """The ingestion's custom-metric alarms (the job's freshness alarms have their own test)."""
    alarms = [alarm.inputs for alarm in graph.of_type(ALARM) if "-ingest-" in alarm.name]
    return [alarm for alarm in alarms if not alarm["namespace"].startswith("AWS/")]


def selector(alarm: dict) -> tuple[str, str, frozenset]:
    return (alarm["namespace"], alarm["metricName"], frozenset(alarm["dimensions"].items()))


@pytest.mark.parametrize("sink", ["s3", "firehose"])
def test_each_custom_alarm_selects_an_emitted_metric(deployed, sink):
    runs = deployed(sink)

    emitted = {key for printed in runs.printed.values() for key in emitted_metrics(printed)}
    alarms = custom_alarms(runs.graph)

    assert sorted(alarm["metricName"] for alarm in alarms) == ["PartialFailure", "RunFailed"]
    for alarm in alarms:
        assert selector(alarm) in emitted, f"{selector(alarm)} is not among {sorted(emitted)}"


def test_each_custom_alarm_fires_on_the_run_it_watches_and_not_the_other(deployed):
    runs = deployed("s3")
    partial = emitted_metrics(runs.printed["partial"])
    failed = emitted_metrics(runs.printed["failed"])

    for alarm in custom_alarms(runs.graph):
        fires_on = {"PartialFailure": "partial", "RunFailed": "failed"}[alarm["metricName"]]
        assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        values = {"partial": partial[selector(alarm)], "failed": failed[selector(alarm)]}
        assert {run: value >= alarm["threshold"] for run, value in values.items()} == {
            run: run == fires_on for run in values
        }
    assert runs.results["partial"]["failed"]
    assert runs.results["partial"]["succeeded"]
    assert runs.results["failed"] == {"raised": "IngestionFailed"}
