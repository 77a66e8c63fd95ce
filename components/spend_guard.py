"""The spend guard: an AWS Budgets cost budget and an alarm on Athena's daily bytes, both optional.

The budget (when `monthly_budget_usd` is set) counts the cost of resources carrying the
stack's cost-allocation tag `stack` (the provider's default tags put it on every taggable
resource), and notifies the alert topic at 80 % and 100 % of actual spend and at 100 % of
forecast spend. The tag must be activated as a cost-allocation tag by the payer account
first, and the budget sees only spend after that (docs/cost.md).
https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-create.html

The scan alarm (when `max_daily_scan_bytes` is set) sums what Athena itself reports as
processed bytes (namespace AWS/Athena, metric ProcessedBytes, published because both
workgroups enable CloudWatch metrics) over both workgroups with metric math, so the
dashboard's queries count as well as the jobs'.
https://docs.aws.amazon.com/athena/latest/ug/query-metrics-viewing.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.alerting import MISSING_IS_OK

#: (threshold %, ACTUAL or FORECASTED) of the budget's notifications.
BUDGET_NOTIFICATIONS = ((80, "ACTUAL"), (100, "ACTUAL"), (100, "FORECASTED"))
#: The cost-allocation tag the budget filters on: the provider's default tag.
STACK_TAG = "stack"
DAY_SECONDS = 86400


@dataclass
class SpendGuardArgs:
    stack: str = ""
    topic_arn: pulumi.Input[str] = ""
    monthly_budget_usd: float | None = None
    max_daily_scan_bytes: int | None = None
    #: The Athena workgroups whose processed bytes the alarm sums.
    workgroups: Sequence[pulumi.Input[str]] = field(default_factory=list)


class SpendGuard(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SpendGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockpipe:index:SpendGuard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.monthly_budget_usd is not None:
            aws.budgets.Budget(
                f"{name}-budget",
                budget_type="COST",
                limit_amount=f"{args.monthly_budget_usd:.2f}",
                limit_unit="USD",
                time_unit="MONTHLY",
                # Budgets name a user-defined cost-allocation tag "user:<key>$<value>".
                cost_filters=[
                    aws.budgets.BudgetCostFilterArgs(
                        name="TagKeyValue", values=[f"user:{STACK_TAG}${args.stack}"]
                    )
                ],
                notifications=[
                    aws.budgets.BudgetNotificationArgs(
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                        notification_type=kind,
                        subscriber_sns_topic_arns=[args.topic_arn],
                    )
                    for threshold, kind in BUDGET_NOTIFICATIONS
                ],
                opts=child,
            )
        if args.max_daily_scan_bytes is not None:
            ids = [f"workgroup{n}" for n in range(len(args.workgroups))]
            aws.cloudwatch.MetricAlarm(
                f"{name}-scan-bytes",
                alarm_description=(
                    f"Athena processed more than {args.max_daily_scan_bytes:,} bytes in a day "
                    "over the stack's workgroups (jobs and dashboards): look for a panel "
                    "without a year predicate, a fast dashboard refresh or a rerun backfill"
                ),
                comparison_operator="GreaterThanThreshold",
                threshold=float(args.max_daily_scan_bytes),
                evaluation_periods=1,
                treat_missing_data=MISSING_IS_OK,
                metric_queries=[
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="processed",
                        expression=" + ".join(f"FILL({i}, 0)" for i in ids),
                        label="Athena bytes processed a day, both workgroups",
                        return_data=True,
                    ),
                    *(
                        aws.cloudwatch.MetricAlarmMetricQueryArgs(
                            id=query_id,
                            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                                namespace="AWS/Athena",
                                metric_name="ProcessedBytes",
                                dimensions={
                                    "WorkGroup": workgroup,
                                    "QueryState": "SUCCEEDED",
                                    "QueryType": "DML",
                                },
                                period=DAY_SECONDS,
                                stat="Sum",
                            ),
                            return_data=False,
                        )
                        for query_id, workgroup in zip(ids, args.workgroups, strict=True)
                    ),
                ],
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                opts=child,
            )
        self.register_outputs({})
