"""IngestionComponent: the scheduled Lambda that lands Alpha Vantage prices in the raw zone.

Owns the API key's secret, the function with its log group and role, asynchronous
invocation without retries (a retry would spend the daily quota again; the next run
catches up), the weekday schedule with its own role and dead-letter queue, the optional
Firehose stream, and the alarms on all of them. The environment it gives the function
is the contract of `runtime/ingest/settings.py` (README, Ingestion).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import iam, storage
from components.alerting import MISSING_IS_OK, AlarmSpec, add_alarm
from components.artifacts import lambda_archive
from components.config import OUTPUT_SIZES, SINKS, lambda_timeout_seconds, run_calls
from components.interface import resolve_args

HANDLER = "runtime.ingest.handler.handler"
LAMBDA_RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
MEMORY_MB = 256
# The service name the handler's Logger and Metrics use (runtime/ingest/settings.py):
# the custom-metric alarms select on it as the `service` dimension.
SERVICE_NAME = "stockpipe-ingest"
# The lock the tests ran against: the function gets the Powertools release it pins.
LOCK_FILE = Path(__file__).resolve().parent.parent / "requirements.txt"
POWERTOOLS_PIN = re.compile(r"^aws-lambda-powertools==([^\s;\\]+)", re.MULTILINE)
# How long a scheduled event may wait for delivery before it goes to a dead-letter queue.
MAX_EVENT_AGE_SECONDS = 3600
SCHEDULE_RETRY_ATTEMPTS = 2
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600
# Firehose buffering as in the reference system: 5 MiB or 60 s, whichever comes first.
FIREHOSE_BUFFER_MIB = 5
FIREHOSE_BUFFER_SECONDS = 60
FIREHOSE_PREFIX = f"{storage.RAW_FIREHOSE_PREFIX}dt=!{{timestamp:yyyy-MM-dd}}/"
FIREHOSE_ERROR_PREFIX = (
    storage.RAW_FIREHOSE_ERRORS_PREFIX + "!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
)
FIREHOSE_LOG_STREAM = "DestinationDelivery"


def powertools_version(lock_file: Path = LOCK_FILE) -> str:
    """The Powertools for AWS Lambda release the lock pins."""
    pin = POWERTOOLS_PIN.search(lock_file.read_text(encoding="utf-8"))
    if pin is None:
        raise ValueError(f"{lock_file} pins no aws-lambda-powertools release")
    return pin.group(1)


def powertools_layer_parameter(version: str) -> str:
    """The public SSM parameter holding the ARN of AWS's Powertools layer for `version`
    (https://docs.powertools.aws.dev/lambda/python/latest/#lambda-layer)."""
    return f"/aws/service/powertools/python/{ARCHITECTURE}/{LAMBDA_RUNTIME}/{version}"


@dataclass
class IngestionArgs:
    """The ingestion's inputs (the package's `IngestionComponent` inputs)."""

    api_key: pulumi.Input[str]
    """The Alpha Vantage API key (pass a secret): it goes to Secrets Manager, never to the
    function's environment."""
    bucket_name: pulumi.Input[str]
    """The data lake bucket the function lands raw prices in."""
    bucket_arn: pulumi.Input[str]
    """The data lake bucket's ARN (the function may write only under its raw prefix)."""
    alert_topic_arn: pulumi.Input[str]
    """The SNS topic every ingestion alarm notifies."""
    account_id: pulumi.Input[str]
    """The AWS account the stack deploys to (the schedule role's trust condition)."""
    metrics_namespace: str | None = "stockpipe"
    """CloudWatch namespace of the handler's metrics; one per stack, so stacks sharing an
    account never set off each other's alarms."""
    symbols: Sequence[str] | None = (
        "AMD",
        "NVDA",
        "INTC",
        "MU",
        "QCOM",
        "TXN",
        "AMAT",
        "AVGO",
        "LSCC",
        "KLAC",
    )
    """Ticker symbols to ingest (default: ten semiconductor tickers)."""
    sink: str | None = "s3"
    """Where records land: `s3` (one object per symbol and run) or `firehose`."""
    calls_per_minute: int | None = 5
    """Alpha Vantage calls per minute the key allows (5 on the free tier)."""
    call_budget: int | None = 25
    """API calls all of a UTC day's runs may make together (0: no limit), shared through the
    lake's ingestion state (runtime/ingest/settings.py)."""
    splits_refresh_days: int | None = 7
    """The oldest a symbol's split record may get before a run fetches it again."""
    output_size: str | None = "compact"
    """Alpha Vantage `outputsize`: `compact` (100 days) or `full` (the whole history)."""
    timeout_seconds: int | None = None
    """The function's timeout in seconds; default: what one run's fetches (prices and split
    records, within `callBudget`) need at `callsPerMinute`, with retries (at most 900)."""
    schedule: str | None = "cron(0 22 ? * MON-FRI *)"
    """EventBridge Scheduler expression of the ingestion run."""
    schedule_timezone: str | None = "UTC"
    """IANA time zone the schedule expression is read in."""
    log_retention_days: int | None = 30
    """Days the function's (and Firehose's) logs are kept."""
    success_bus_arn: pulumi.Input[str] | None = None
    """An EventBridge bus that gets a record of every successful run (Lambda's on-success
    destination); the write-audit-publish workflow starts on the default bus."""
    powertools_layer_arn: str | None = None
    """A Powertools for AWS Lambda layer version ARN; default: AWS's layer for the locked
    release, looked up in SSM at preview."""

    @property
    def run_timeout_seconds(self) -> int:
        if self.timeout_seconds is not None:
            return self.timeout_seconds
        calls = run_calls(len(self.symbols), self.call_budget)
        return lambda_timeout_seconds(calls, self.calls_per_minute)


class IngestionComponent(pulumi.ComponentResource):
    """Secret, function, log group, invoke config, schedule, optional Firehose, roles, alarms."""

    function_name: pulumi.Output[str]
    """The ingestion function's name."""
    function_arn: pulumi.Output[str]
    """The ingestion function's ARN (the workflow starts on its successful runs)."""
    schedule_name: pulumi.Output[str]
    """The EventBridge Scheduler schedule that runs the function."""

    def __init__(
        self, name: str, args: IngestionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        args = resolve_args(
            "IngestionComponent",
            args,
            IngestionArgs,
            choices={"sink": SINKS, "outputSize": OUTPUT_SIZES},
        )
        super().__init__("stockpipe:index:IngestionComponent", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)

        secret = aws.secretsmanager.Secret(
            f"{name}-api-key", description="Alpha Vantage API key (stockpipe ingestion)", opts=child
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-api-key-version", secret_id=secret.id, secret_string=args.api_key, opts=child
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=args.log_retention_days, opts=child
        )
        failed_runs = self._queue("failed-runs")
        undelivered = self._queue("schedule-dlq")
        stream = self._firehose() if args.sink == "firehose" else None

        # Lambda's execution role takes no source condition (none is documented for it):
        # https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html
        role, policy = iam.service_role(
            f"{name}-function",
            "lambda.amazonaws.com",
            function_statements(
                args.sink,
                log_group_arn=log_group.arn,
                secret_arn=secret.arn,
                bucket_arn=args.bucket_arn,
                stream_arn=stream.arn if stream else None,
                failure_queue_arn=failed_runs.arn,
                success_bus_arn=args.success_bus_arn,
            ),
            child,
        )
        layer_arn = args.powertools_layer_arn or (
            aws.ssm.get_parameter_output(
                name=powertools_layer_parameter(powertools_version()),
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).value
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            description="Alpha Vantage daily prices to the raw zone (stockpipe)",
            runtime=LAMBDA_RUNTIME,
            architectures=[ARCHITECTURE],
            handler=HANDLER,
            code=lambda_archive(),
            role=role.arn,
            timeout=args.run_timeout_seconds,
            memory_size=MEMORY_MB,
            layers=[layer_arn],
            environment={
                "variables": function_environment(
                    args,
                    secret_arn=secret.arn,
                    stream_name=stream.name if stream else None,
                )
            },
            logging_config={"log_format": "Text", "log_group": log_group.name},
            # The first scheduled run must find its permissions in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-invoke-config",
            function_name=function.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
            destination_config={
                "on_failure": {"destination": failed_runs.arn},
                **(
                    {"on_success": {"destination": args.success_bus_arn}}
                    if args.success_bus_arn
                    else {}
                ),
            },
            opts=child,
        )
        schedule = self._schedule(function.arn, undelivered.arn)
        self._alarms(function.name, undelivered.name, stream.name if stream else None)

        self.function_name = function.name
        self.function_arn = function.arn
        self.schedule_name = schedule.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "schedule_name": self.schedule_name,
            }
        )

    def _queue(self, role: str) -> aws.sqs.Queue:
        return aws.sqs.Queue(
            f"{self._name}-{role}",
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _schedule(self, function_arn: pulumi.Output[str], dlq_arn: pulumi.Output[str]):
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        role, policy = iam.service_role(
            f"{name}-schedule",
            "scheduler.amazonaws.com",
            [
                iam.allow(["lambda:InvokeFunction"], [function_arn], sid="InvokeIngestion"),
                iam.allow(["sqs:SendMessage"], [dlq_arn], sid="DeadLetters"),
            ],
            child,
            # Scheduler sends aws:SourceAccount when it assumes the execution role:
            # https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html
            conditions=iam.from_account(args.account_id),
        )
        return aws.scheduler.Schedule(
            f"{name}-schedule",
            description="Weekday ingestion run (stockpipe)",
            schedule_expression=args.schedule,
            schedule_expression_timezone=args.schedule_timezone,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": function_arn,
                "role_arn": role.arn,
                "input": "{}",
                "retry_policy": {
                    "maximum_retry_attempts": SCHEDULE_RETRY_ATTEMPTS,
                    "maximum_event_age_in_seconds": MAX_EVENT_AGE_SECONDS,
                },
                "dead_letter_config": {"arn": dlq_arn},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _firehose(self) -> aws.kinesis.FirehoseDeliveryStream:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-firehose-logs", retention_in_days=args.log_retention_days, opts=child
        )
        log_stream = aws.cloudwatch.LogStream(
            f"{name}-firehose-log-stream",
            name=FIREHOSE_LOG_STREAM,
            log_group_name=log_group.name,
            opts=child,
        )
        role, policy = iam.service_role(
            f"{name}-firehose",
            "firehose.amazonaws.com",
            firehose_statements(args.bucket_arn, log_group_arn=log_group.arn),
            child,
            # Firehose's documented trust policy guards with the account as external id;
            # no page says it sends aws:SourceAccount when it assumes the role:
            # https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#firehose-assume-role
            conditions={"StringEquals": {"sts:ExternalId": args.account_id}},
        )
        return aws.kinesis.FirehoseDeliveryStream(
            f"{name}-firehose",
            destination="extended_s3",
            server_side_encryption={"enabled": True, "key_type": "AWS_OWNED_CMK"},
            extended_s3_configuration={
                "bucket_arn": args.bucket_arn,
                "role_arn": role.arn,
                "prefix": FIREHOSE_PREFIX,
                "error_output_prefix": FIREHOSE_ERROR_PREFIX,
                "buffering_size": FIREHOSE_BUFFER_MIB,
                "buffering_interval": FIREHOSE_BUFFER_SECONDS,
                "compression_format": "GZIP",
                "cloudwatch_logging_options": {
                    "enabled": True,
                    "log_group_name": log_group.name,
                    "log_stream_name": log_stream.name,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _alarms(
        self,
        function_name: pulumi.Output[str],
        dlq_name: pulumi.Output[str],
        stream_name: pulumi.Output[str] | None,
    ) -> None:
        args = self._args
        for role, spec in alarm_specs(
            args.metrics_namespace, function_name, dlq_name, stream_name
        ).items():
            add_alarm(f"{self._name}-{role}", spec, args.alert_topic_arn, self)


def function_environment(
    args: IngestionArgs,
    *,
    secret_arn: pulumi.Input[str],
    stream_name: pulumi.Input[str] | None,
) -> dict[str, pulumi.Input[str]]:
    """The function's environment: the names `runtime/ingest/settings.py` reads."""
    environment: dict[str, pulumi.Input[str]] = {
        "SYMBOLS": ",".join(args.symbols),
        "ALPHAVANTAGE_SECRET_ARN": secret_arn,
        "SINK": args.sink,
        "CALLS_PER_MINUTE": str(args.calls_per_minute),
        "API_DAILY_CALL_BUDGET": str(args.call_budget),
        "SPLITS_REFRESH_DAYS": str(args.splits_refresh_days),
        "OUTPUT_SIZE": args.output_size,
        # Split records and the day's call count live in the bucket with either sink.
        "DATA_BUCKET": args.bucket_name,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": args.metrics_namespace,
    }
    # A smoke run lands in the bucket whatever the sink (runtime/ingest/settings.py).
    environment["DATA_BUCKET"] = args.bucket_name
    if args.sink == "firehose":
        environment["FIREHOSE_STREAM_NAME"] = stream_name
    else:
        environment["RAW_PREFIX"] = storage.RAW_PREFIX
    return environment


def function_statements(
    sink: str,
    *,
    log_group_arn: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
    bucket_arn: pulumi.Input[str],
    stream_arn: pulumi.Input[str] | None,
    failure_queue_arn: pulumi.Input[str],
    success_bus_arn: pulumi.Input[str] | None = None,
) -> list[dict]:
    """What the function may do: each statement is justified in the README (Deploying, IAM)."""
    statements = [
        iam.allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [iam.log_streams_of(log_group_arn)],
            sid="OwnLogGroup",
        ),
        iam.allow(["secretsmanager:GetSecretValue"], [secret_arn], sid="ReadApiKey"),
        iam.allow(["sqs:SendMessage"], [failure_queue_arn], sid="FailedRunDestination"),
    ]
    if success_bus_arn:
        statements.append(
            iam.allow(["events:PutEvents"], [success_bus_arn], sid="SucceededRunDestination")
        )
    landing = [iam.objects_under(bucket_arn, storage.RAW_SPLITS_PREFIX)]
    if sink == "firehose":
        statements.append(
            iam.allow(["firehose:PutRecordBatch"], [stream_arn], sid="SendToFirehose")
        )
    else:
        landing.insert(0, iam.objects_under(bucket_arn, storage.RAW_PREFIX))
    statements += [
        # Write-once objects (a conditional PUT needs no more than s3:PutObject).
        iam.allow(["s3:PutObject"], landing, sid="LandRaw"),
        # The day's call count and the split refresh dates: read, then a conditional PUT
        # (If-Match / If-None-Match). No s3:ListBucket: a missing document reads as 403,
        # which the runtime tells apart by creating it (runtime/ingest/ingest_state.py).
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
        iam.allow(
            ["s3:GetObject", "s3:PutObject"],
            [iam.objects_under(bucket_arn, storage.INGEST_STATE_PREFIX)],
            sid="SharedRunState",
        ),
        iam.allow(
            ["s3:PutObject"], [iam.objects_under(bucket_arn, storage.SMOKE_PREFIX)], sid="LandSmoke"
        ),
    ]
    return statements


def firehose_statements(bucket_arn: pulumi.Input[str], *, log_group_arn: pulumi.Input[str]):
    """Firehose's S3 destination permissions (AWS's documented set), scoped to its prefixes."""
    return [
        iam.allow(
            ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            [bucket_arn],
            sid="DestinationBucket",
        ),
        iam.allow(
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            [
                iam.objects_under(bucket_arn, storage.RAW_FIREHOSE_PREFIX),
                iam.objects_under(bucket_arn, storage.RAW_FIREHOSE_ERRORS_PREFIX),
            ],
            sid="DestinationPrefixes",
        ),
        iam.allow(["logs:PutLogEvents"], [iam.log_streams_of(log_group_arn)], sid="DeliveryLogs"),
    ]


def alarm_specs(
    metrics_namespace: str,
    function_name: pulumi.Input[str],
    dlq_name: pulumi.Input[str],
    stream_name: pulumi.Input[str] | None,
) -> dict[str, AlarmSpec]:
    """The ingestion alarms. Missing data is 'ok' for each: see the README for why."""
    by_function = {"FunctionName": function_name}
    by_service = {"service": SERVICE_NAME}
    specs = {
        "errors-alarm": AlarmSpec(
            "The ingestion Lambda failed (bad configuration, key, or no symbol landed)",
            "AWS/Lambda", "Errors", MISSING_IS_OK, by_function,
        ),
        "throttles-alarm": AlarmSpec(
            "The ingestion Lambda was throttled (account concurrency exhausted)",
            "AWS/Lambda", "Throttles", MISSING_IS_OK, by_function,
        ),
        "partial-failure-alarm": AlarmSpec(
            "An ingestion run landed some symbols but not all (see the run's log)",
            metrics_namespace, "PartialFailure", MISSING_IS_OK, by_service, statistic="Maximum",
        ),
        "run-failed-alarm": AlarmSpec(
            "An ingestion run failed as a whole (see the run's log)",
            metrics_namespace, "RunFailed", MISSING_IS_OK, by_service, statistic="Maximum",
        ),
        "schedule-dlq-alarm": AlarmSpec(
            "The schedule could not invoke the ingestion Lambda (events in its dead-letter queue)",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", MISSING_IS_OK,
            {"QueueName": dlq_name}, statistic="Maximum",
        ),
    }  # fmt: skip
    if stream_name is not None:
        specs["firehose-delivery-alarm"] = AlarmSpec(
            "Firehose failed to deliver ingested records to S3",
            "AWS/Firehose", "DeliveryToS3.Success", MISSING_IS_OK,
            {"DeliveryStreamName": stream_name}, statistic="Minimum",
            comparison_operator="LessThanThreshold",
        )  # fmt: skip
    return specs
