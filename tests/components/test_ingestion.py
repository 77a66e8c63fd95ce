"""IngestionComponent under mocks: function, secret, invoke config, schedule, Firehose, alarms."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components import ingestion as ingestion_module
from components.ingestion import (
    IngestionArgs,
    IngestionComponent,
    powertools_layer_parameter,
    powertools_version,
)
from components.plan import POWERTOOLS_LAYER, REGION
from tests.components.conftest import TEST_API_KEY, TEST_CODE, Graph

BUCKET = "lake-bucket-1"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:alerts"
ACCOUNT = "123456789012"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
SERVICE = {"service": "stockpipe-ingest"}


@pytest.fixture
def ingestion(build, monkeypatch) -> Callable[..., Graph]:
    # The component builds the Lambda archive from the package; a small one stands in.
    monkeypatch.setattr(ingestion_module, "lambda_archive", lambda: TEST_CODE)

    def run(**overrides) -> Graph:
        args = IngestionArgs(
            api_key=TEST_API_KEY,
            bucket_name=BUCKET,
            bucket_arn=BUCKET_ARN,
            alert_topic_arn=TOPIC_ARN,
            account_id=ACCOUNT,
            timeout_seconds=300,
            metrics_namespace="stockpipe/test",
            **overrides,
        )
        return build(lambda: IngestionComponent("ingest", args))

    return run


def test_the_function_runs_the_handler_on_arm64_python312_with_the_derived_timeout(ingestion):
    graph = ingestion()

    function = graph.inputs(FUNCTION)

    assert function["runtime"] == "python3.12"
    assert function["architectures"] == ["arm64"]
    assert function["handler"] == "runtime.ingest.handler.handler"
    assert function["timeout"] == 300
    assert function["role"] == graph.one("aws:iam/role:Role", "function-role").outputs["arn"]
    assert function["layers"] == [POWERTOOLS_LAYER.format(region=REGION, n=1)]
    ((path, asset),) = function["code"].assets.items()
    assert (path, asset.text) == ("runtime/__init__.py", "")  # the package's archive


def test_the_powertools_layer_is_resolved_for_the_pinned_release(ingestion, pulumi_mocks):
    ingestion()

    assert pulumi_mocks.invokes == [
        (
            "aws:ssm/getParameter:getParameter",
            {"name": "/aws/service/powertools/python/arm64/python3.12/3.37.0"},
        )
    ]


def test_a_pinned_layer_arn_replaces_the_lookup(ingestion, pulumi_mocks):
    pinned = POWERTOOLS_LAYER.format(region=REGION, n=7)

    graph = ingestion(powertools_layer_arn=pinned)

    assert graph.inputs(FUNCTION)["layers"] == [pinned]
    assert pulumi_mocks.invokes == []  # preview no longer depends on the SSM parameter


def test_the_powertools_release_is_read_from_the_lock(tmp_path):
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        "aws-embedded-metrics==1.0 \\\n    --hash=sha256:00\n"
        "aws-lambda-powertools==3.99.1 \\\n    --hash=sha256:00\n",
        encoding="utf-8",
    )

    assert powertools_version(lock) == "3.99.1"
    assert powertools_layer_parameter("3.99.1") == (
        "/aws/service/powertools/python/arm64/python3.12/3.99.1"
    )
    lock.write_text("boto3==1.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="pins no aws-lambda-powertools"):
        powertools_version(lock)


def test_the_function_logs_to_its_own_log_group_with_retention(ingestion):
    graph = ingestion(log_retention_days=90)

    log_group = graph.one("aws:cloudwatch/logGroup:LogGroup", "logs")

    assert log_group.inputs["retentionInDays"] == 90
    assert graph.inputs(FUNCTION)["loggingConfig"] == {
        "logFormat": "Text",
        "logGroup": log_group.outputs["name"],
    }


def test_the_environment_carries_the_configuration_and_only_the_secret_arn(ingestion):
    graph = ingestion(
        symbols=("NVDA", "AMD"),
        calls_per_minute=7,
        output_size="full",
        call_budget=0,
        splits_refresh_days=3,
    )
    secret = graph.one("aws:secretsmanager/secret:Secret")

    environment = graph.inputs(FUNCTION)["environment"]["variables"]

    assert environment == {
        "SYMBOLS": "NVDA,AMD",
        "ALPHAVANTAGE_SECRET_ARN": secret.outputs["arn"],
        "SINK": "s3",
        "DATA_BUCKET": BUCKET,
        "RAW_PREFIX": "raw/",
        "CALLS_PER_MINUTE": "7",
        "API_DAILY_CALL_BUDGET": "0",
        "SPLITS_REFRESH_DAYS": "3",
        "OUTPUT_SIZE": "full",
        "POWERTOOLS_SERVICE_NAME": "stockpipe-ingest",
        "POWERTOOLS_METRICS_NAMESPACE": "stockpipe/test",
    }


def test_the_key_goes_only_into_the_secret_version_as_a_secret(ingestion):
    graph = ingestion()
    version = graph.one("aws:secretsmanager/secretVersion:SecretVersion")

    assert graph.inputs("aws:secretsmanager/secretVersion:SecretVersion") == {
        "secretId": graph.one("aws:secretsmanager/secret:Secret").id,
        "secretString": TEST_API_KEY,
    }
    assert version.inputs["secretString"] != TEST_API_KEY  # still wrapped as a secret
    others = [r for r in graph.resources if r is not version]
    assert not [r.name for r in others if TEST_API_KEY in repr(r.inputs)]


def test_asynchronous_runs_are_never_retried_and_failures_are_kept(ingestion):
    graph = ingestion()
    failed_runs = graph.one("aws:sqs/queue:Queue", "failed-runs")

    invoke_config = graph.inputs("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")

    assert invoke_config["maximumRetryAttempts"] == 0
    assert invoke_config["functionName"] == graph.one(FUNCTION).outputs["name"]
    assert invoke_config["destinationConfig"] == {
        "onFailure": {"destination": failed_runs.outputs["arn"]}
    }
    assert failed_runs.inputs["sqsManagedSseEnabled"] is True


def test_the_schedule_invokes_the_function_at_the_configured_time_with_retry_and_dlq(ingestion):
    graph = ingestion(schedule="cron(0 18 ? * MON-FRI *)", schedule_timezone="America/New_York")
    role = graph.one("aws:iam/role:Role", "schedule-role")
    dlq = graph.one("aws:sqs/queue:Queue", "schedule-dlq")
    function_arn = graph.one(FUNCTION).outputs["arn"]

    schedule = graph.inputs("aws:scheduler/schedule:Schedule")
    policy = graph.policy(ROLE_POLICY, "schedule-policy")
    trust = graph.policy("aws:iam/role:Role", "schedule-role", field="assumeRolePolicy")

    assert schedule["scheduleExpression"] == "cron(0 18 ? * MON-FRI *)"
    assert schedule["scheduleExpressionTimezone"] == "America/New_York"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule["target"] == {
        "arn": function_arn,
        "roleArn": role.outputs["arn"],
        "input": "{}",
        "retryPolicy": {"maximumRetryAttempts": 2, "maximumEventAgeInSeconds": 3600},
        "deadLetterConfig": {"arn": dlq.outputs["arn"]},
    }
    assert [(s["Action"], s["Resource"]) for s in policy["Statement"]] == [
        (["lambda:InvokeFunction"], [function_arn]),
        (["sqs:SendMessage"], [dlq.outputs["arn"]]),
    ]
    assert graph.inputs(ROLE_POLICY, "schedule-policy")["role"] == role.id
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_s3_sink_may_write_raw_objects_and_split_records_only(ingestion):
    graph = ingestion()

    statements = {s["Sid"]: s for s in graph.policy(ROLE_POLICY, "function-policy")["Statement"]}

    assert statements["LandRaw"]["Action"] == ["s3:PutObject"]
    assert statements["LandRaw"]["Resource"] == [
        f"{BUCKET_ARN}/raw/*",
        f"{BUCKET_ARN}/raw_splits/*",
    ]
    assert statements["SharedRunState"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert statements["SharedRunState"]["Resource"] == [f"{BUCKET_ARN}/ingest_state/*"]
    assert statements["LandSmoke"]["Resource"] == [f"{BUCKET_ARN}/smoke/*"]
    assert "SendToFirehose" not in statements
    assert graph.of_type(STREAM) == []


def test_the_firehose_sink_streams_to_raw_firehose_with_the_reference_buffering(ingestion):
    graph = ingestion(sink="firehose")
    stream = graph.one(STREAM)
    firehose_role = graph.one("aws:iam/role:Role", "firehose-role")
    log_group = graph.one("aws:cloudwatch/logGroup:LogGroup", "firehose-logs")

    destination = graph.inputs(STREAM)["extendedS3Configuration"]
    environment = graph.inputs(FUNCTION)["environment"]["variables"]
    function_statements = {
        s["Sid"]: s for s in graph.policy(ROLE_POLICY, "function-policy")["Statement"]
    }
    firehose_resources = {
        resource
        for statement in graph.policy(ROLE_POLICY, "firehose-policy")["Statement"]
        for resource in statement["Resource"]
    }

    assert destination == {
        "bucketArn": BUCKET_ARN,
        "roleArn": firehose_role.outputs["arn"],
        "prefix": "raw_firehose/dt=!{timestamp:yyyy-MM-dd}/",
        "errorOutputPrefix": (
            "raw_firehose_errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
        ),
        "bufferingSize": 5,
        "bufferingInterval": 60,
        "compressionFormat": "GZIP",
        "cloudwatchLoggingOptions": {
            "enabled": True,
            "logGroupName": log_group.outputs["name"],
            "logStreamName": "DestinationDelivery",
        },
    }
    assert environment["SINK"] == "firehose"
    assert environment["FIREHOSE_STREAM_NAME"] == stream.outputs["name"]
    # Split records and the day's call count still live in the bucket.
    assert environment["DATA_BUCKET"] == BUCKET
    assert "RAW_PREFIX" not in environment
    assert function_statements["SendToFirehose"]["Resource"] == [stream.outputs["arn"]]
    assert function_statements["LandRaw"]["Resource"] == [f"{BUCKET_ARN}/raw_splits/*"]
    assert function_statements["SharedRunState"]["Resource"] == [f"{BUCKET_ARN}/ingest_state/*"]
    assert function_statements["LandSmoke"]["Resource"] == [f"{BUCKET_ARN}/smoke/*"]
    assert firehose_resources == {
        BUCKET_ARN,
        f"{BUCKET_ARN}/raw_firehose/*",
        f"{BUCKET_ARN}/raw_firehose_errors/*",
        f"{log_group.outputs['arn']}:log-stream:*",
    }


def test_every_alarm_goes_to_the_topic_and_names_its_missing_data_choice(ingestion):
    graph = ingestion(sink="firehose")
    function_name = graph.one(FUNCTION).outputs["name"]

    alarms = {
        alarm.name.removeprefix("ingest-"): (
            alarm.inputs["namespace"],
            alarm.inputs["metricName"],
            alarm.inputs["dimensions"],
        )
        for alarm in graph.of_type(ALARM)
    }

    assert alarms == {
        "errors-alarm": ("AWS/Lambda", "Errors", {"FunctionName": function_name}),
        "throttles-alarm": ("AWS/Lambda", "Throttles", {"FunctionName": function_name}),
        "partial-failure-alarm": ("stockpipe/test", "PartialFailure", SERVICE),
        "run-failed-alarm": ("stockpipe/test", "RunFailed", SERVICE),
        "schedule-dlq-alarm": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": graph.one("aws:sqs/queue:Queue", "schedule-dlq").outputs["name"]},
        ),
        "firehose-delivery-alarm": (
            "AWS/Firehose",
            "DeliveryToS3.Success",
            {"DeliveryStreamName": graph.one(STREAM).outputs["name"]},
        ),
    }  # fmt: skip
    for alarm in graph.of_type(ALARM):
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [TOPIC_ARN]
        assert alarm.inputs["treatMissingData"] in (
            "notBreaching",
            "breaching",
            "ignore",
            "missing",
        )


def test_without_firehose_there_is_no_firehose_alarm(ingestion):
    names = {alarm.name for alarm in ingestion().of_type(ALARM)}

    assert "ingest-firehose-delivery-alarm" not in names
    assert len(names) == 5


def test_every_child_is_parented_and_named_after_the_component(ingestion):
    graph = ingestion(sink="firehose")
    (component,) = graph.of_type("stockpipe:index:IngestionComponent")

    children = graph.children_of(component)

    assert len(children) == len(graph.resources) - 1
    assert all(child.name.startswith("ingest-") for child in children)
