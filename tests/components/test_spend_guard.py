"""The budget and the scan alarm: in the stack when configured, validated at preview."""

from __future__ import annotations

import json
import logging
import warnings

import pulumi
import pytest
from parliament import analyze_policy_string

from components.config import StackConfigError

BUDGET = "aws:budgets/budget:Budget"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"


def _spend_children(graph):
    return [r for r in graph.resources if "-spend-" in r.name]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_the_settings_there_is_no_budget_alarm_or_budgets_statement(cached_graph, stack):
    graph = cached_graph(stack)

    assert graph.of_type(BUDGET) == []
    assert _spend_children(graph) == []
    statements = graph.policy(TOPIC_POLICY)["Statement"]
    assert "budgets.amazonaws.com" not in str(statements)


def test_a_budget_filters_on_the_stack_tag_and_notifies_the_alert_topic(cached_graph):
    graph = cached_graph("dev", monthlyBudgetUsd="25")

    budget = graph.inputs(BUDGET, "budget")
    topic = graph.one("aws:sns/topic:Topic").outputs["arn"]
    assert (budget["budgetType"], budget["limitAmount"], budget["limitUnit"]) == (
        "COST", "25.00", "USD",
    )  # fmt: skip
    assert budget["timeUnit"] == "MONTHLY"
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:stack$dev"]}]
    notifications = {
        (n["threshold"], n["notificationType"], n["comparisonOperator"], n["thresholdType"])
        for n in budget["notifications"]
    }
    assert notifications == {
        (80.0, "ACTUAL", "GREATER_THAN", "PERCENTAGE"),
        (100.0, "ACTUAL", "GREATER_THAN", "PERCENTAGE"),
        (100.0, "FORECASTED", "GREATER_THAN", "PERCENTAGE"),
    }
    assert all(n["subscriberSnsTopicArns"] == [topic] for n in budget["notifications"])
    (statement,) = [
        s
        for s in graph.policy(TOPIC_POLICY)["Statement"]
        if s.get("Principal") == {"Service": "budgets.amazonaws.com"}
    ]
    assert statement["Action"] in ("sns:Publish", ["sns:Publish"])
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws:budgets::123456789012:*"}
    assert [a.name for a in graph.of_type(ALARM) if a.name.endswith("-scan-bytes")] == []


def test_the_scan_alarm_sums_processed_bytes_of_both_workgroups(cached_graph):
    graph = cached_graph("prod", maxDailyScanBytes="1073741824")

    alarm = graph.inputs(ALARM, "scan-bytes")
    workgroups = {w.outputs["name"] for w in graph.of_type("aws:athena/workgroup:Workgroup")}
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    (total,) = [q for q in queries.values() if q.get("returnData")]
    metrics = [q["metric"] for q in queries.values() if "metric" in q]
    assert alarm["threshold"] == 1073741824.0
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert {m["dimensions"]["WorkGroup"] for m in metrics} == workgroups
    assert len(workgroups) == 2
    assert {(m["namespace"], m["metricName"], m["stat"], m["period"]) for m in metrics} == {
        ("AWS/Athena", "ProcessedBytes", "Sum", 86400.0)
    }
    assert total["expression"] == " + ".join(
        f"FILL({q_id}, 0)" for q_id, q in queries.items() if "metric" in q
    )
    topic = graph.one("aws:sns/topic:Topic").outputs["arn"]
    assert alarm["alarmActions"] == [topic]
    assert graph.of_type(BUDGET) == []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("monthlyBudgetUsd", "-5", "stockpipe:monthlyBudgetUsd='-5' must be a dollar amount"),
        ("monthlyBudgetUsd", "0", "stockpipe:monthlyBudgetUsd='0' must be a dollar amount"),
        ("monthlyBudgetUsd", "ten", "stockpipe:monthlyBudgetUsd='ten' must be a dollar amount"),
        ("maxDailyScanBytes", "1GB", "stockpipe:maxDailyScanBytes='1GB' must be a whole number"),
        ("maxDailyScanBytes", "-1", "stockpipe:maxDailyScanBytes='-1' must be a whole number"),
    ],
)
def test_a_bad_spend_setting_fails_the_preview_naming_it(stack_graph, key, value, message):
    with pytest.raises(pulumi.RunError) as raised:
        stack_graph("dev", **{key: value})

    assert isinstance(raised.value, StackConfigError)
    assert message in str(raised.value)


def test_the_topic_policy_with_budgets_passes_parliament(cached_graph):
    document = cached_graph("dev", monthlyBudgetUsd="25").policy(TOPIC_POLICY)

    findings = analyze_policy_string(json.dumps(document)).findings

    assert [f"{f.issue}: {f.detail}" for f in findings] == []


def test_the_spend_guard_uses_no_deprecated_resource_or_argument(stack_graph, caplog):
    caplog.clear()
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        stack_graph("prod", monthlyBudgetUsd="25", maxDailyScanBytes="1000")

    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []
    assert [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()] == []
