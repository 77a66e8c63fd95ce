"""The stockpipe Pulumi program: reads the stack configuration and wires the components.

Every AWS resource is created through one explicit provider whose default tags (project,
stack) land on every taggable resource.
"""

import pulumi
import pulumi_aws as aws

from components.alerting import Alerting, AlertingArgs
from components.config import load_stack_config
from components.dashboard import DashboardArgs, DashboardComponent
from components.ingestion import IngestionArgs, IngestionComponent
from components.region import read_region
from components.spend_config import NO_SPEND_GUARD
from components.spend_guard import SpendGuard, SpendGuardArgs
from components.stack_name import database_name
from components.storage import DataLake, DataLakeArgs
from components.wap_workflow import WapWorkflowArgs, WapWorkflowComponent

config = load_stack_config()
project = pulumi.get_project()
prefix = f"{project}-{config.stack}"
region = read_region()
# One EMF/CloudWatch namespace per stack, for the Lambda's and the Glue job's metrics alike.
metrics_namespace = f"{project}/{config.stack}"

provider = aws.Provider(
    "aws",
    region=region,
    default_tags={"tags": {"project": project, "stack": config.stack}},
)
on_aws = pulumi.ResourceOptions(providers={"aws": provider})
account_id = aws.get_caller_identity_output(
    opts=pulumi.InvokeOutputOptions(provider=provider)
).account_id

lake = DataLake(f"{prefix}-lake", DataLakeArgs(protect_data=config.protect_data), on_aws)
alerts = Alerting(
    f"{prefix}-alerts",
    AlertingArgs(
        alert_email=config.alert_email,
        account_id=account_id,
        region=region,
        budgets_may_publish=config.spend.monthly_budget_usd is not None,
    ),
    on_aws,
)
ingestion = IngestionComponent(
    f"{prefix}-ingest",
    IngestionArgs(
        api_key=config.api_key,
        bucket_name=lake.bucket_name,
        bucket_arn=lake.bucket_arn,
        alert_topic_arn=alerts.topic_arn,
        account_id=account_id,
        timeout_seconds=config.lambda_timeout_seconds,
        metrics_namespace=metrics_namespace,
        symbols=config.symbols,
        sink=config.ingestion_sink,
        calls_per_minute=config.calls_per_minute,
        call_budget=config.call_budget,
        splits_refresh_days=config.splits_refresh_days,
        output_size=config.output_size,
        schedule=config.schedule,
        schedule_timezone=config.schedule_timezone,
        log_retention_days=config.log_retention_days,
        powertools_layer_arn=config.powertools_layer_arn,
        # Successful runs go to the default bus, where the workflow's start rule waits.
        success_bus_arn=pulumi.Output.concat(
            f"arn:aws:events:{region}:", account_id, ":event-bus/default"
        ),
    ),
    on_aws,
)
wap = WapWorkflowComponent(
    f"{prefix}-wap",
    WapWorkflowArgs(
        bucket_name=lake.bucket_name,
        bucket_arn=lake.bucket_arn,
        alert_topic_arn=alerts.topic_arn,
        account_id=account_id,
        region=region,
        function_arn=ingestion.function_arn,
        database_name=database_name(project, config.stack),
        metrics_namespace=metrics_namespace,
        symbols=config.symbols,
        sink=config.ingestion_sink,
        freshness_max_age_days=config.freshness_max_age_days,
        protect_data=config.protect_data,
    ),
    on_aws,
)

if config.spend != NO_SPEND_GUARD:
    SpendGuard(
        f"{prefix}-spend",
        SpendGuardArgs(
            stack=config.stack,
            topic_arn=alerts.topic_arn,
            monthly_budget_usd=config.spend.monthly_budget_usd,
            max_daily_scan_bytes=config.spend.max_daily_scan_bytes,
            workgroups=[wap.etl_workgroup, wap.analytics_workgroup],
        ),
        on_aws,
    )

pulumi.export("bucket", lake.bucket_name)
pulumi.export("function_name", ingestion.function_name)
pulumi.export("schedule", ingestion.schedule_name)
pulumi.export("alert_topic_arn", alerts.topic_arn)
pulumi.export("workflow_name", wap.workflow_name)
pulumi.export("database", wap.database_name)
pulumi.export("etl_workgroup", wap.etl_workgroup)
pulumi.export("analytics_workgroup", wap.analytics_workgroup)

if config.grafana.mode != "none":
    dashboard = DashboardComponent(
        f"{prefix}-grafana",
        DashboardArgs(
            grafana=config.grafana,
            region=region,
            account_id=account_id,
            database_name=wap.database_name,
            workgroup_name=wap.analytics_workgroup,
            bucket_name=lake.bucket_name,
            bucket_arn=lake.bucket_arn,
            title=f"{project} {config.stack}",
        ),
        on_aws,
    )
    pulumi.export("grafana_url", dashboard.grafana_url)
    pulumi.export("dashboard_url", dashboard.dashboard_url)
    # A secret output: `make smoke` checks the data source's health with it.
    pulumi.export("grafana_token", dashboard.token)
