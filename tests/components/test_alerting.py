"""The alert topic, its policy, the email subscription and the alarm helper."""

from __future__ import annotations

import pulumi

from components.alerting import MISSING_IS_OK, AlarmSpec, Alerting, AlertingArgs, add_alarm

TOPIC = "aws:sns/topic:Topic"
ACCOUNT = "111122223333"
REGION = "eu-west-1"


def test_alarms_and_eventbridge_of_this_account_may_publish_over_tls_only(build):
    graph = build(lambda: Alerting("alerts", AlertingArgs(account_id=ACCOUNT, region=REGION)))
    topic_arn = graph.one(TOPIC).outputs["arn"]

    policy = graph.policy("aws:sns/topicPolicy:TopicPolicy")
    statements = {statement["Sid"]: statement for statement in policy["Statement"]}

    # Each publisher guarded by the key its documentation names (tests/contracts/
    # test_trust_policies.py): CloudWatch by the alarm's ARN, EventBridge by the account.
    for sid, service, condition in (
        ("CloudWatchAlarms", "cloudwatch.amazonaws.com",
         {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"}}),
        ("EventBridgeRules", "events.amazonaws.com",
         {"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
    ):  # fmt: skip
        assert statements[sid] == {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": ["sns:Publish"],
            "Resource": [topic_arn],
            "Condition": condition,
        }
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    assert graph.inputs("aws:sns/topicPolicy:TopicPolicy")["arn"] == topic_arn
    assert "kmsMasterKeyId" not in graph.inputs(TOPIC)  # aws/sns would silence the alarms


def test_an_email_subscription_exists_only_when_an_address_is_set(build):
    without = build(lambda: Alerting("alerts", AlertingArgs(account_id=ACCOUNT, region=REGION)))
    with_email = build(
        lambda: Alerting(
            "alerts",
            AlertingArgs(alert_email="ops@example.org", account_id=ACCOUNT, region=REGION),
        )
    )

    assert without.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    subscription = with_email.inputs("aws:sns/topicSubscription:TopicSubscription")
    assert subscription == {
        "topic": with_email.one(TOPIC).outputs["arn"],
        "protocol": "email",
        "endpoint": "ops@example.org",
    }


def test_an_alarm_notifies_the_topic_on_alarm_and_on_recovery(build):
    spec = AlarmSpec(
        "demo", "stockpipe/dev", "RunFailed", MISSING_IS_OK, {"service": "svc"}, statistic="Maximum"
    )

    def declare():
        parent = pulumi.ComponentResource("stockpipe:index:Test", "parent")
        add_alarm("parent-run-failed", spec, "arn:aws:sns:us-east-1:1:topic", parent)

    alarm = build(declare).inputs("aws:cloudwatch/metricAlarm:MetricAlarm")

    assert alarm == {
        "alarmDescription": "demo",
        "namespace": "stockpipe/dev",
        "metricName": "RunFailed",
        "dimensions": {"service": "svc"},
        "statistic": "Maximum",
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "threshold": 1,
        "period": 300,
        "evaluationPeriods": 1,
        "treatMissingData": "notBreaching",
        "alarmActions": ["arn:aws:sns:us-east-1:1:topic"],
        "okActions": ["arn:aws:sns:us-east-1:1:topic"],
    }
