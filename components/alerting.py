"""Alerting: one SNS topic every alarm and failure event goes to, and a helper to add an alarm.

The topic is not encrypted with a KMS key: the AWS-managed `aws/sns` key cannot be used
by CloudWatch alarms or EventBridge, and alarm messages carry no secrets (a customer
managed key would cost a key and a key policy for no data worth hiding).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import iam

# How an alarm reads a period with no data point (CloudWatch's treat_missing_data).
MISSING_IS_OK = "notBreaching"
MISSING_IS_BAD = "breaching"


@dataclass
class AlertingArgs:
    # The account and region whose alarms and rules may publish (confused-deputy guard).
    account_id: pulumi.Input[str]
    region: str
    # Subscribed by email when set (the address must confirm the subscription).
    alert_email: str | None = None
    # Whether AWS Budgets may publish too (only when the stack has a budget).
    budgets_may_publish: bool = False


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch metric alarm; `treat_missing_data` is always chosen, never defaulted."""

    description: str
    namespace: str
    metric_name: str
    treat_missing_data: str
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statistic: str = "Sum"
    comparison_operator: str = "GreaterThanOrEqualToThreshold"
    threshold: float = 1.0
    period_seconds: int = 300
    evaluation_periods: int = 1


class Alerting(pulumi.ComponentResource):
    """The alert topic, its policy and the optional email subscription."""

    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlertingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockpipe:index:Alerting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(f"{name}-topic", opts=child)
        # Each publisher is guarded by the key its documentation names: CloudWatch by the
        # alarm's ARN (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger),
        # EventBridge by the rule's account (https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html).
        alarms = pulumi.Output.concat(
            f"arn:aws:cloudwatch:{args.region}:", args.account_id, ":alarm:*"
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=iam.document(
                iam.allow_service(
                    "cloudwatch.amazonaws.com",
                    ["sns:Publish"],
                    [topic.arn],
                    sid="CloudWatchAlarms",
                    conditions={"ArnLike": {"aws:SourceArn": alarms}},
                ),
                iam.allow_service(
                    "events.amazonaws.com",
                    ["sns:Publish"],
                    [topic.arn],
                    sid="EventBridgeRules",
                    conditions=iam.from_account(args.account_id),
                ),
                *self._budgets_statements(args, topic.arn),
                iam.deny_insecure_transport([topic.arn], "sns:Publish"),
            ),
            opts=child,
        )
        if args.alert_email:
            aws.sns.TopicSubscription(
                f"{name}-email",
                topic=topic.arn,
                protocol="email",
                endpoint=args.alert_email,
                opts=child,
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})

    @staticmethod
    def _budgets_statements(args: AlertingArgs, topic_arn: pulumi.Output[str]) -> list:
        """The budget's notifications, from this account's budgets only.
        https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
        """
        if not args.budgets_may_publish:
            return []
        budgets = pulumi.Output.concat("arn:aws:budgets::", args.account_id, ":*")
        conditions = {
            "StringEquals": {"aws:SourceAccount": args.account_id},
            "ArnLike": {"aws:SourceArn": budgets},
        }
        return [
            iam.allow_service(
                "budgets.amazonaws.com", ["sns:Publish"], [topic_arn], sid="Budgets",
                conditions=conditions,
            )
        ]  # fmt: skip


def add_alarm(
    name: str, spec: AlarmSpec, topic_arn: pulumi.Input[str], parent: pulumi.Resource
) -> aws.cloudwatch.MetricAlarm:
    """A metric alarm that notifies the topic when it fires and when it recovers."""
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=spec.description,
        namespace=spec.namespace,
        metric_name=spec.metric_name,
        dimensions=dict(spec.dimensions),
        statistic=spec.statistic,
        comparison_operator=spec.comparison_operator,
        threshold=spec.threshold,
        period=spec.period_seconds,
        evaluation_periods=spec.evaluation_periods,
        treat_missing_data=spec.treat_missing_data,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        opts=pulumi.ResourceOptions(parent=parent),
    )
