"""WapWorkflowComponent: the Glue workflow that refines the raw zone into published tables.

Owns the Glue database and the raw tables defined in code (as the Athena engine reads
them), the crawler that registers new raw partitions for engines without partition
projection, the four Python-shell jobs of write-audit-publish (one script, `--step` each),
the workflow with its trigger chain, the EventBridge rule that starts it after a
successful ingestion, the two Athena workgroups (ETL for the jobs, analytics for people
and Grafana), the roles, and the alerts: a Glue state-change rule and freshness alarms.

The job manages `daily_prices`, `dq_results`, `symbol_summary`, `daily_prices_replaced`
and its staging tables itself (partitions, the watermark property): the stack never
declares them, or every `pulumi up` would fight the job over them (README, Deploying).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam, storage
from components.alerting import MISSING_IS_BAD, AlarmSpec, add_alarm
from components.artifacts import GLUE_WHEEL_NAME, glue_job_library, glue_job_script
from components.config import SINKS
from components.interface import resolve_args

# The raw zone's fields in file order (runtime/schema.py RAW_COLUMNS; infrastructure reads
# runtime files by path only, so tests/contracts checks the copy still matches).
RAW_COLUMNS = ("symbol", "trade_date", "open", "high", "low", "close", "volume", "ingested_at")
RAW_TABLE = "raw_daily_prices"
RAW_FIREHOSE_TABLE = "raw_firehose_daily_prices"
# The split records (runtime/schema.py RAW_SPLITS_COLUMNS), CSV under raw_splits/ whatever
# the sink: staging reads each symbol's latest record from it.
RAW_SPLITS_COLUMNS = ("symbol", "effective_date", "split_factor", "ingested_at")
RAW_SPLITS_TABLE = "raw_splits"
RAW_PARTITION = "dt"
# Raw partitions are landing dates; none is older than the pipeline, so any early start
# will do (it only bounds what projection lists for a query without a `dt` filter).
PROJECTION_START = "2000-01-01"

STEPS = ("drop_staging", "create_staging", "audit", "publish")
GLUE_VERSION = "3.0"  # Python shell 3.9 (glue_version 5.0 is accepted but fails to run)
PYTHON_VERSION = "3.9"
# 1/16 DPU: the job only drives Athena and Glue API calls.
JOB_CAPACITY_DPU = 0.0625
# Above the engine's own one-hour limit per query, so a stuck query is reported (and
# stopped) by the job rather than cut off by Glue.
JOB_TIMEOUT_MINUTES = 90
JOB_ARTIFACTS_PREFIX = f"{storage.ARTIFACTS_PREFIX}wap/"
SCRIPT_KEY = f"{JOB_ARTIFACTS_PREFIX}job.py"
LIBRARY_KEY = f"{JOB_ARTIFACTS_PREFIX}{GLUE_WHEEL_NAME}"

ETL_RESULTS_PREFIX = f"{storage.QUERY_RESULTS_PREFIX}etl/"
ANALYTICS_RESULTS_PREFIX = f"{storage.QUERY_RESULTS_PREFIX}analytics/"
ATHENA_ENGINE = "Athena engine version 3"
# A dashboard query scans a few MB; 1 GiB per query stops a runaway scan at ~$0.005.
ANALYTICS_BYTES_SCANNED_CUTOFF = 1024**3

# What starts the workflow: the ingestion function's on-success destination record.
LAMBDA_SUCCESS_DETAIL_TYPE = "Lambda Function Invocation Result - Success"
# Firehose buffers up to 60 s after the function returns: with that sink the workflow
# waits this long after the event (a batch of 100 events never fills first).
FIREHOSE_SETTLE_SECONDS = 180

# The freshness metrics of runtime/wap/metrics.py (tests/contracts checks the names).
AGE_METRIC = "PublishedDataAgeDays"
SYMBOL_DIMENSION = "Symbol"
# The failure states of "Glue Job State Change" events (SUCCEEDED is the fourth): a run
# stopped by hand or by Glue is reported too.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/events/EventTypes.html#glue-event-types
FAILED_JOB_STATES = ("FAILED", "TIMEOUT", "STOPPED")
FAILED_CRAWLER_STATES = ("Failed",)


@dataclass
class WapWorkflowArgs:
    """The write-audit-publish workflow's inputs (the package's `WapWorkflowComponent` inputs)."""

    bucket_name: pulumi.Input[str]
    """The data lake bucket: raw zone in, published tables, job artifacts and query results."""
    bucket_arn: pulumi.Input[str]
    """The data lake bucket's ARN (each role is scoped to its prefixes)."""
    alert_topic_arn: pulumi.Input[str]
    """The SNS topic the job-failure rule and the freshness alarms notify."""
    account_id: pulumi.Input[str]
    """The AWS account the stack deploys to (Glue and Athena ARNs, trust conditions)."""
    region: str
    """The AWS region the stack deploys to (Glue and Athena ARNs)."""
    function_arn: pulumi.Input[str]
    """The ingestion function whose successful runs start the workflow."""
    database_name: str | None = "stockpipe"
    """Glue database of the lake (letters, digits and '_': it is an Athena schema name)."""
    metrics_namespace: str | None = "stockpipe"
    """CloudWatch namespace of the job's freshness metrics, shared with the ingestion's."""
    symbols: Sequence[str] | None = ("NVDA",)
    """Ticker symbols whose published data the freshness alarms watch."""
    sink: str | None = "s3"
    """The ingestion's sink (`s3` or `firehose`): which raw table the crawler registers."""
    freshness_max_age_days: int | None = 4
    """Days the newest published trading day of a symbol may lag before its alarm fires."""
    protect_data: bool | None = False
    """Keep query results when the stack is destroyed (the workgroups are not force-deleted)."""


class WapWorkflowComponent(pulumi.ComponentResource):
    """Database, raw tables, crawler, jobs, workflow and triggers, workgroups, alerts."""

    workflow_name: pulumi.Output[str]
    """The Glue workflow's name."""
    database_name: pulumi.Output[str]
    """The Glue database of the lake."""
    etl_workgroup: pulumi.Output[str]
    """The Athena workgroup the jobs run in."""
    analytics_workgroup: pulumi.Output[str]
    """The Athena workgroup for people and Grafana (enforced, scan-limited)."""

    def __init__(
        self, name: str, args: WapWorkflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        args = resolve_args("WapWorkflowComponent", args, WapWorkflowArgs, choices={"sink": SINKS})
        super().__init__("stockpipe:index:WapWorkflowComponent", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        arns = GlueArns(args.region, args.account_id)

        database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=args.database_name,
            description="stockpipe lake: raw tables (stack), published tables (the job)",
            opts=child,
        )
        raw_tables = [RAW_TABLE] + ([RAW_FIREHOSE_TABLE] if args.sink == "firehose" else [])
        # Partition projection lists raw_splits' dt folders; no crawler needed for it.
        for table in [*raw_tables, RAW_SPLITS_TABLE]:
            aws.glue.CatalogTable(
                f"{name}-{table.replace('_', '-')}",
                **raw_table_args(table, database.name, args.bucket_name),
                opts=child,
            )
        etl = self._workgroup("etl", ETL_RESULTS_PREFIX, enforce=False)
        analytics = self._workgroup("analytics", ANALYTICS_RESULTS_PREFIX, enforce=True)
        workflow = aws.glue.Workflow(
            f"{name}-workflow",
            description="stockpipe write-audit-publish: crawl, drop, create, audit, publish",
            max_concurrent_runs=1,
            opts=child,
        )
        crawler = self._crawler(database.name, raw_tables, arns)
        jobs = self._jobs(database.name, etl.name, workflow.name, arns)
        self._triggers(workflow.name, crawler.name, jobs)
        self._start_on_ingestion(workflow.arn)
        self._alerts(crawler.name, jobs)

        self.workflow_name = workflow.name
        self.database_name = database.name
        self.etl_workgroup = etl.name
        self.analytics_workgroup = analytics.name
        self.register_outputs(
            {
                "workflow_name": self.workflow_name,
                "database_name": self.database_name,
                "etl_workgroup": self.etl_workgroup,
                "analytics_workgroup": self.analytics_workgroup,
            }
        )

    def _workgroup(self, role: str, results_prefix: str, *, enforce: bool) -> aws.athena.Workgroup:
        args = self._args
        configuration = {
            "enforce_workgroup_configuration": enforce,
            "publish_cloudwatch_metrics_enabled": True,
            "engine_version": {"selected_engine_version": ATHENA_ENGINE},
            "result_configuration": {
                "output_location": pulumi.Output.concat(
                    "s3://", args.bucket_name, "/", results_prefix
                ),
                "encryption_configuration": {"encryption_option": "SSE_S3"},
            },
        }
        if enforce:
            configuration["bytes_scanned_cutoff_per_query"] = ANALYTICS_BYTES_SCANNED_CUTOFF
        return aws.athena.Workgroup(
            f"{self._name}-{role}",
            description={
                "etl": "stockpipe jobs only: CTAS with external_location needs it unenforced",
                "analytics": "stockpipe analytics (people, Grafana): enforced, scan-limited",
            }[role],
            configuration=configuration,
            force_destroy=not args.protect_data,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _crawler(
        self, database: pulumi.Output[str], tables: list[str], arns: "GlueArns"
    ) -> aws.glue.Crawler:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        role, policy = iam.service_role(
            f"{name}-crawler",
            "glue.amazonaws.com",
            crawler_statements(arns, database, tables, args.bucket_arn),
            child,
            # No source condition: Glue documents none for assuming its role, and a condition
            # on a key it does not send makes the role unassumable ("Service is unable to
            # assume provided role"): https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html
        )
        return aws.glue.Crawler(
            f"{name}-crawler",
            description="Registers new raw partitions (schema changes are logged, not applied)",
            database_name=database,
            role=role.arn,
            catalog_targets=[{"database_name": database, "tables": tables}],
            schema_change_policy={"delete_behavior": "LOG", "update_behavior": "LOG"},
            configuration=json.dumps(CRAWLER_CONFIGURATION, sort_keys=True),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _jobs(
        self,
        database: pulumi.Output[str],
        workgroup: pulumi.Output[str],
        workflow: pulumi.Output[str],
        arns: "GlueArns",
    ) -> dict[str, aws.glue.Job]:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        # The job's code ships with this package (components/artifacts.py finds it beside it).
        script = aws.s3.BucketObjectv2(
            f"{name}-job-script", bucket=args.bucket_name, key=SCRIPT_KEY,
            source=glue_job_script(), opts=child,
        )  # fmt: skip
        library = aws.s3.BucketObjectv2(
            f"{name}-job-library", bucket=args.bucket_name, key=LIBRARY_KEY,
            source=glue_job_library(), opts=child,
        )  # fmt: skip
        role, policy = iam.service_role(
            f"{name}-job",
            "glue.amazonaws.com",
            job_statements(
                arns,
                database=database,
                workgroup=workgroup,
                workflow=workflow,
                bucket_arn=args.bucket_arn,
                metrics_namespace=args.metrics_namespace,
            ),
            child,
            # As the crawler's role: Glue documents no source condition for assuming it.
        )
        jobs = {}
        for step in STEPS:
            jobs[step] = aws.glue.Job(
                f"{name}-{step.replace('_', '-')}",
                description=f"stockpipe write-audit-publish step {step}",
                role_arn=role.arn,
                glue_version=GLUE_VERSION,
                command={
                    "name": "pythonshell",
                    "python_version": PYTHON_VERSION,
                    "script_location": pulumi.Output.concat(
                        "s3://", script.bucket, "/", script.key
                    ),
                },
                max_capacity=JOB_CAPACITY_DPU,
                timeout=JOB_TIMEOUT_MINUTES,
                # A failed audit retried could never reach publish anyway, but a retried
                # publish or create_staging would run outside the workflow's ordering.
                max_retries=0,
                execution_property={"max_concurrent_runs": 1},
                default_arguments=job_arguments(
                    step,
                    args,
                    database=database,
                    workgroup=workgroup,
                    library_uri=pulumi.Output.concat("s3://", library.bucket, "/", library.key),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
        return jobs

    def _triggers(
        self, workflow: pulumi.Output[str], crawler: pulumi.Output[str], jobs: dict
    ) -> None:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        batch = (
            {"batch_size": 100, "batch_window": FIREHOSE_SETTLE_SECONDS}
            if args.sink == "firehose"
            else {"batch_size": 1}
        )
        aws.glue.Trigger(
            f"{name}-start",
            description="Starts the run at a successful ingestion (EventBridge) or by hand",
            type="EVENT",
            workflow_name=workflow,
            event_batching_conditions=[batch],
            actions=[{"crawler_name": crawler}],
            opts=child,
        )
        # Each node starts only after the one before it SUCCEEDED.
        after = ("crawl", {"crawler_name": crawler, "crawl_state": "SUCCEEDED"})
        for step in STEPS:
            label, condition = after
            aws.glue.Trigger(
                f"{name}-after-{label}",
                description=f"Starts {step} when the previous node succeeded",
                type="CONDITIONAL",
                workflow_name=workflow,
                start_on_creation=True,
                predicate={"conditions": [{**condition, "logical_operator": "EQUALS"}]},
                actions=[{"job_name": jobs[step].name}],
                opts=child,
            )
            after = (step.replace("_", "-"), {"job_name": jobs[step].name, "state": "SUCCEEDED"})

    def _start_on_ingestion(self, workflow_arn: pulumi.Output[str]) -> None:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-on-ingestion",
            description="A successful ingestion run starts the write-audit-publish workflow",
            event_pattern=pulumi.Output.json_dumps(ingestion_success_pattern(args.function_arn)),
            opts=child,
        )
        role, policy = iam.service_role(
            f"{name}-start",
            "events.amazonaws.com",
            [iam.allow(["glue:notifyEvent"], [workflow_arn], sid="StartWorkflow")],
            child,
            # No source condition: EventBridge documents aws:SourceArn/aws:SourceAccount for
            # the resource policies of its targets, not for assuming a target's role:
            # https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html
        )
        aws.cloudwatch.EventTarget(
            f"{name}-on-ingestion-target",
            rule=rule.name,
            arn=workflow_arn,
            role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _alerts(self, crawler: pulumi.Output[str], jobs: dict) -> None:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        job_names = [jobs[step].name for step in STEPS]
        for role, pattern, what in (
            ("job-failed", job_failure_pattern(job_names), "$.detail.jobName"),
            ("crawler-failed", crawler_failure_pattern(crawler), "$.detail.crawlerName"),
        ):
            rule = aws.cloudwatch.EventRule(
                f"{name}-{role}",
                description="A stockpipe Glue job or crawler failed, timed out or was stopped",
                event_pattern=pulumi.Output.json_dumps(pattern),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{role}-target",
                rule=rule.name,
                arn=args.alert_topic_arn,
                input_transformer={
                    "input_paths": {"name": what, "state": "$.detail.state"},
                    "input_template": (
                        '"stockpipe: Glue <name> ended <state>; see its run in the Glue '
                        'console and its log group"'
                    ),
                },
                opts=child,
            )
        for symbol, spec in freshness_alarm_specs(
            args.metrics_namespace, args.symbols, args.freshness_max_age_days
        ).items():
            add_alarm(f"{name}-freshness-{symbol.lower()}", spec, args.alert_topic_arn, self)


@dataclass(frozen=True)
class GlueArns:
    """ARNs of this account's Glue and Athena resources, by name."""

    region: str
    account_id: pulumi.Input[str]

    def _arn(self, service: str, resource: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            f"arn:aws:{service}:{self.region}:", self.account_id, ":", resource
        )

    def catalog(self) -> pulumi.Output[str]:
        return self._arn("glue", "catalog")

    def database(self, database: pulumi.Input[str]) -> pulumi.Output[str]:
        return self._arn("glue", pulumi.Output.concat("database/", database))

    def table(self, database: pulumi.Input[str], table: str) -> pulumi.Output[str]:
        return self._arn("glue", pulumi.Output.concat("table/", database, "/", table))

    def workflow(self, workflow: pulumi.Input[str]) -> pulumi.Output[str]:
        return self._arn("glue", pulumi.Output.concat("workflow/", workflow))

    def workgroup(self, workgroup: pulumi.Input[str]) -> pulumi.Output[str]:
        return self._arn("athena", pulumi.Output.concat("workgroup/", workgroup))

    def log_group(self, log_group: str) -> pulumi.Output[str]:
        return self._arn("logs", f"log-group:{log_group}")


# New partitions take the table's schema and SerDe, whatever the files look like.
CRAWLER_CONFIGURATION = {
    "Version": 1.0,
    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
}
# Where Glue writes crawler logs and Python-shell job output by default: account-wide
# groups the stack neither creates nor owns (dev and prod share them, and the stack's
# logRetentionDays does not reach them). Python shell has no continuous-logging option:
# https://docs.aws.amazon.com/prescriptive-guidance/latest/serverless-etl-aws-glue/features.html
CRAWLER_LOG_GROUP = "/aws-glue/crawlers"
PYTHON_SHELL_LOG_GROUPS = ("/aws-glue/python-jobs/output", "/aws-glue/python-jobs/error")


def raw_table_args(table: str, database: pulumi.Input[str], bucket_name: pulumi.Input[str]) -> dict:
    """A raw table exactly as the Athena engine reads it (README, The Athena engine)."""
    prefix = {
        RAW_TABLE: storage.RAW_PREFIX,
        RAW_FIREHOSE_TABLE: storage.RAW_FIREHOSE_PREFIX,
        RAW_SPLITS_TABLE: storage.RAW_SPLITS_PREFIX,
    }[table]
    location = pulumi.Output.concat("s3://", bucket_name, "/", prefix)
    parameters = {
        "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        f"projection.{RAW_PARTITION}.type": "date",
        f"projection.{RAW_PARTITION}.format": "yyyy-MM-dd",
        f"projection.{RAW_PARTITION}.range": f"{PROJECTION_START},NOW",
        f"projection.{RAW_PARTITION}.interval": "1",
        f"projection.{RAW_PARTITION}.interval.unit": "DAYS",
        "storage.location.template": pulumi.Output.concat(
            location, RAW_PARTITION, "=${", RAW_PARTITION, "}/"
        ),
    }
    if table in (RAW_TABLE, RAW_SPLITS_TABLE):
        parameters["classification"] = "csv"
        parameters["skip.header.line.count"] = "1"
        serde = {
            "serialization_library": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            # Delimited by ',' with no quote character: ingestion never quotes.
            "parameters": {"field.delim": ",", "serialization.format": ","},
        }
    else:
        parameters["classification"] = "json"
        serde = {"serialization_library": "org.openx.data.jsonserde.JsonSerDe", "parameters": {}}
    return {
        "name": table,
        "database_name": database,
        "table_type": "EXTERNAL_TABLE",
        "parameters": parameters,
        "partition_keys": [{"name": RAW_PARTITION, "type": "string"}],
        "storage_descriptor": {
            "location": location,
            "input_format": "org.apache.hadoop.mapred.TextInputFormat",
            "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "ser_de_info": serde,
            "columns": [
                {"name": column, "type": "string"}
                for column in (RAW_SPLITS_COLUMNS if table == RAW_SPLITS_TABLE else RAW_COLUMNS)
            ],
        },
    }


def job_arguments(
    step: str,
    args: WapWorkflowArgs,
    *,
    database: pulumi.Input[str],
    workgroup: pulumi.Input[str],
    library_uri: pulumi.Input[str],
) -> dict[str, pulumi.Input[str]]:
    """A job's default arguments: the names `runtime/wap/job.py` parses, plus Glue's own."""
    return {
        "--step": step,
        "--engine": "athena",
        "--database": database,
        "--workgroup": workgroup,
        "--data-bucket": args.bucket_name,
        "--staging-prefix": storage.STAGING_PREFIX,
        "--prod-prefix": storage.PROD_PREFIX,
        "--symbols": ",".join(args.symbols),
        "--metrics-namespace": args.metrics_namespace,
        "--region": args.region,
        # Glue's: the runtime package as a wheel (Python shell 3.9 takes .whl, not .egg:
        # https://docs.aws.amazon.com/glue/latest/dg/add-job-python.html). No continuous-
        # logging arguments: they are Spark's; Python shell output goes to Glue's default
        # log groups (PYTHON_SHELL_LOG_GROUPS).
        "--extra-py-files": library_uri,
        "--job-language": "python",
    }


def job_statements(
    arns: "GlueArns",
    *,
    database: pulumi.Input[str],
    workgroup: pulumi.Input[str],
    workflow: pulumi.Input[str],
    bucket_arn: pulumi.Input[str],
    metrics_namespace: str,
) -> list[dict]:
    """What the jobs may do: the engine's calls plus what Athena does on their behalf
    (README, The Athena engine: the job role)."""
    under = [iam.objects_under(bucket_arn, prefix) for prefix in _job_prefixes()]
    written = [
        iam.objects_under(bucket_arn, prefix)
        for prefix in (storage.STAGING_PREFIX, storage.PROD_PREFIX, ETL_RESULTS_PREFIX)
    ]
    return [
        iam.allow(
            ["athena:GetQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup",
             "athena:StartQueryExecution", "athena:StopQueryExecution"],
            [arns.workgroup(workgroup)], sid="EtlWorkgroup",
        ),
        iam.allow(
            ["glue:BatchCreatePartition", "glue:BatchDeletePartition", "glue:BatchGetPartition",
             "glue:BatchUpdatePartition", "glue:CreatePartition", "glue:CreateTable",
             "glue:DeleteTable", "glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions",
             "glue:GetTable", "glue:GetTables", "glue:UpdateTable"],
            [arns.catalog(), arns.database(database), arns.table(database, "*")],
            sid="LakeCatalog",
        ),
        iam.allow(
            ["glue:GetWorkflowRunProperties"], [arns.workflow(workflow)], sid="WorkflowRun"
        ),
        iam.allow(["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                  [bucket_arn], sid="LakeBucket"),
        iam.allow(["s3:GetObject"], under, sid="ReadZones"),
        # Glue fetches the script and --extra-py-files with the job's own role.
        iam.allow(["s3:GetObject"], [iam.objects_under(bucket_arn, JOB_ARTIFACTS_PREFIX)],
                  sid="JobCode"),
        iam.allow(
            ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:ListMultipartUploadParts",
             "s3:PutObject"],
            written, sid="WriteStagingProdResults",
        ),
        iam.allow(
            ["cloudwatch:PutMetricData"], ["*"], sid="FreshnessMetrics",
            conditions={"StringEquals": {"cloudwatch:namespace": metrics_namespace}},
        ),
        # What AWSGlueServiceRole grants on Glue's log groups, narrowed to the two Python
        # shell writes to; CreateLogGroup because in a fresh account they do not exist yet:
        # https://docs.aws.amazon.com/glue/latest/dg/create-service-policy.html
        iam.allow(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [*(arns.log_group(group) for group in PYTHON_SHELL_LOG_GROUPS),
             *(iam.log_streams_of(arns.log_group(group)) for group in PYTHON_SHELL_LOG_GROUPS)],
            sid="JobLogs",
        ),
    ]  # fmt: skip


def _job_prefixes() -> tuple[str, ...]:
    return (
        storage.RAW_PREFIX,
        storage.RAW_FIREHOSE_PREFIX,
        storage.RAW_SPLITS_PREFIX,
        storage.STAGING_PREFIX,
        storage.PROD_PREFIX,
        ETL_RESULTS_PREFIX,
    )


def crawler_statements(
    arns: "GlueArns",
    database: pulumi.Input[str],
    tables: Sequence[str],
    bucket_arn: pulumi.Input[str],
) -> list[dict]:
    """What the crawler may do: read the raw tables and their objects, add partitions."""
    prefixes = [storage.RAW_PREFIX] + (
        [storage.RAW_FIREHOSE_PREFIX] if RAW_FIREHOSE_TABLE in tables else []
    )
    return [
        iam.allow(
            ["glue:BatchCreatePartition", "glue:BatchGetPartition", "glue:CreatePartition",
             "glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions", "glue:GetTable"],
            [arns.catalog(), arns.database(database),
             *(arns.table(database, table) for table in tables)],
            sid="RawTables",
        ),
        iam.allow(["s3:ListBucket"], [bucket_arn], sid="LakeBucket"),
        iam.allow(["s3:GetObject"], [iam.objects_under(bucket_arn, p) for p in prefixes],
                  sid="RawObjects"),
        iam.allow(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [arns.log_group(CRAWLER_LOG_GROUP),
             iam.log_streams_of(arns.log_group(CRAWLER_LOG_GROUP))],
            sid="CrawlerLogs",
        ),
    ]  # fmt: skip


def ingestion_success_pattern(function_arn: pulumi.Input[str]) -> dict:
    """The on-success destination record of the ingestion function (any version)."""
    return {
        "source": ["lambda"],
        "detail-type": [LAMBDA_SUCCESS_DETAIL_TYPE],
        "detail": {
            "requestContext": {
                "functionArn": [{"prefix": pulumi.Output.concat(function_arn, ":")}],
                "condition": ["Success"],
            }
        },
    }


def job_failure_pattern(job_names: Sequence[pulumi.Input[str]]) -> dict:
    return {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": list(job_names), "state": list(FAILED_JOB_STATES)},
    }


def crawler_failure_pattern(crawler_name: pulumi.Input[str]) -> dict:
    return {
        "source": ["aws.glue"],
        "detail-type": ["Glue Crawler State Change"],
        "detail": {"crawlerName": [crawler_name], "state": list(FAILED_CRAWLER_STATES)},
    }


def freshness_alarm_specs(
    namespace: str, symbols: Sequence[str], max_age_days: int
) -> dict[str, AlarmSpec]:
    """One alarm per symbol on the age of its newest published bar.

    Daily periods, `max_age_days` of them: it fires when the age exceeds `max_age_days`
    or when no publish reported the symbol for that many days (missing data breaches),
    so a silent pipeline alarms too; a weekend (two days without a weekday run) does not.
    """
    return {
        symbol: AlarmSpec(
            f"The newest published {symbol} bar is more than {max_age_days} days old, or no "
            f"publish has reported {symbol} for {max_age_days} days",
            namespace, AGE_METRIC, MISSING_IS_BAD, {SYMBOL_DIMENSION: symbol},
            statistic="Maximum", comparison_operator="GreaterThanThreshold",
            threshold=float(max_age_days), period_seconds=86400, evaluation_periods=max_age_days,
        )
        for symbol in symbols
    }  # fmt: skip
