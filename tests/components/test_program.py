"""The whole program (`__main__.py`) under mocks, with each stack's YAML."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings

import pulumi
import pulumi_aws as aws
import pytest
from parliament import analyze_policy_string
from pulumi.runtime import settings as runtime_settings

from components.config import StackConfigError
from tests.components.conftest import TEST_API_KEY, plain

FUNCTION = "aws:lambda/function:Function"
GRAFANA_TOKEN = "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken"
BUCKET = "aws:s3/bucket:Bucket"
PROVIDER = "pulumi:providers:aws"


@pytest.fixture
def graph_of(cached_graph):
    """Each stack's graph, built once (the program takes ~0.3 s a run)."""
    return cached_graph


def test_dev_builds_the_lake_alerting_ingestion_and_workflow_from_its_yaml(graph_of):
    graph = graph_of("dev")

    components = {r.type: r.name for r in graph.resources if r.type.startswith("stockpipe:")}
    function = graph.inputs(FUNCTION)
    bucket = graph.one(BUCKET)

    assert components == {
        "stockpipe:index:DataLake": "stockpipe-dev-lake",
        "stockpipe:index:Alerting": "stockpipe-dev-alerts",
        "stockpipe:index:IngestionComponent": "stockpipe-dev-ingest",
        "stockpipe:index:WapWorkflowComponent": "stockpipe-dev-wap",
    }
    # Ten symbols' prices and their first split records: 20 calls at 5 a minute.
    assert function["timeout"] == 420
    assert function["environment"]["variables"]["SYMBOLS"] == (
        "AMD,NVDA,INTC,MU,QCOM,TXN,AMAT,AVGO,LSCC,KLAC"
    )
    assert function["environment"]["variables"]["DATA_BUCKET"] == bucket.outputs["bucket"]
    assert function["environment"]["variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "stockpipe/dev"
    assert graph.inputs("aws:cloudwatch/logGroup:LogGroup", "ingest-logs")["retentionInDays"] == 14
    assert (bucket.protect, bucket.inputs["forceDestroy"]) == (False, True)
    assert graph.of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_dev_exports_what_an_operator_needs(graph_of):
    graph = graph_of("dev")

    assert graph.exports == {
        "bucket": graph.one(BUCKET).outputs["bucket"],
        "function_name": graph.one(FUNCTION).outputs["name"],
        "schedule": graph.one("aws:scheduler/schedule:Schedule").outputs["name"],
        "alert_topic_arn": graph.one("aws:sns/topic:Topic").outputs["arn"],
        "workflow_name": graph.one("aws:glue/workflow:Workflow").outputs["name"],
        "database": "stockpipe_dev",
        "etl_workgroup": graph.one("aws:athena/workgroup:Workgroup", "etl").outputs["name"],
        "analytics_workgroup": (
            graph.one("aws:athena/workgroup:Workgroup", "analytics").outputs["name"]
        ),
    }


def test_prod_protects_its_data_and_runs_on_new_york_time(graph_of):
    graph = graph_of("prod")

    bucket = graph.one(BUCKET)
    schedule = graph.inputs("aws:scheduler/schedule:Schedule")

    assert (bucket.protect, bucket.retain_on_delete, bucket.inputs["forceDestroy"]) == (
        True,
        True,
        False,
    )
    assert schedule["scheduleExpression"] == "cron(0 18 ? * MON-FRI *)"
    assert schedule["scheduleExpressionTimezone"] == "America/New_York"
    assert graph.inputs("aws:cloudwatch/logGroup:LogGroup", "ingest-logs")["retentionInDays"] == 90
    assert graph.inputs(FUNCTION)["environment"]["variables"]["SYMBOLS"].split(",") == [
        "AMD", "NVDA", "INTC", "MU", "QCOM", "TXN", "AMAT", "AVGO", "LSCC", "KLAC",
    ]  # fmt: skip


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_aws_resource_goes_through_the_provider_with_the_default_tags(graph_of, stack):
    graph = graph_of(stack)
    (provider,) = graph.of_type(PROVIDER)

    aws_resources = [r for r in graph.resources if r.type.startswith("aws:")]

    assert json.loads(provider.inputs["defaultTags"]) == {
        "tags": {"project": "stockpipe", "stack": stack}
    }
    assert provider.inputs["region"] == "us-east-1"
    assert len(aws_resources) > 20
    assert {r.provider.rsplit("::", 1)[0] for r in aws_resources} == {provider.urn}
    assert not [r.name for r in aws_resources if "tags" in r.inputs]  # no per-resource tag sets


@pytest.mark.parametrize(("stack", "sink"), [("dev", "s3"), ("dev", "firehose"), ("prod", "s3")])
def test_the_api_key_reaches_only_the_secret_version(stack_graph, stack, sink):
    graph = stack_graph(stack, ingestionSink=sink, alertEmail="ops@example.org")

    holders = [r for r in graph.resources if TEST_API_KEY in repr(r.inputs)]
    (version,) = holders

    assert version.type == "aws:secretsmanager/secretVersion:SecretVersion"
    assert version.inputs["secretString"] == {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        "value": TEST_API_KEY,
    }
    assert TEST_API_KEY not in repr(graph.exports)


@pytest.mark.parametrize("sink", ["s3", "firehose"])
def test_every_policy_document_passes_parliament_and_grants_no_wildcard_action(stack_graph, sink):
    graph = stack_graph("dev", ingestionSink=sink)

    documents = graph.policies()
    # parliament audits identity and resource policies; it calls any trust policy
    # malformed (a trust policy has no Resource), so trust policies are checked by shape.
    audited = {name: doc for name, doc in documents.items() if not _is_trust(name)}
    findings = {
        name: [f"{f.issue}: {f.detail}" for f in analyze_policy_string(json.dumps(doc)).findings]
        for name, doc in audited.items()
    }
    trusts = [doc for name, doc in documents.items() if _is_trust(name)]
    allowed_actions = [
        action
        for document in documents.values()
        for statement in document["Statement"]
        if statement["Effect"] == "Allow"
        for action in _listed(statement["Action"])
    ]

    expected = {
        "stockpipe-dev-lake-tls-only.policy",
        "stockpipe-dev-alerts-topic-policy.policy",
        "stockpipe-dev-ingest-function-role.assumeRolePolicy",
        "stockpipe-dev-ingest-function-policy.policy",
        "stockpipe-dev-ingest-schedule-role.assumeRolePolicy",
        "stockpipe-dev-ingest-schedule-policy.policy",
        "stockpipe-dev-wap-crawler-role.assumeRolePolicy",
        "stockpipe-dev-wap-crawler-policy.policy",
        "stockpipe-dev-wap-job-role.assumeRolePolicy",
        "stockpipe-dev-wap-job-policy.policy",
        "stockpipe-dev-wap-start-role.assumeRolePolicy",
        "stockpipe-dev-wap-start-policy.policy",
    }
    if sink == "firehose":
        expected |= {
            "stockpipe-dev-ingest-firehose-role.assumeRolePolicy",
            "stockpipe-dev-ingest-firehose-policy.policy",
        }
    assert set(documents) == expected
    assert findings == {name: [] for name in audited}
    for trust in trusts:
        (statement,) = trust["Statement"]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
        assert list(statement["Principal"]) == ["Service"]
    assert allowed_actions
    assert not [action for action in allowed_actions if "*" in action]
    assert graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    assert not [
        r.name for r in graph.of_type("aws:iam/role:Role") if "managedPolicyArns" in r.inputs
    ]


def test_parliament_reports_a_statement_scoped_to_the_wrong_resource():
    # The audit above would pass vacuously if parliament found nothing anywhere.
    wrong = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b"}],
    }

    findings = analyze_policy_string(json.dumps(wrong)).findings

    assert [finding.issue for finding in findings] == ["RESOURCE_MISMATCH"]


def test_each_service_principal_has_its_own_role(stack_graph):
    graph = stack_graph("dev", ingestionSink="firehose")

    principals = [
        json.loads(plain(role.inputs)["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"]
        for role in graph.of_type("aws:iam/role:Role")
    ]

    assert sorted(principals) == [
        "events.amazonaws.com",  # starts the workflow
        "firehose.amazonaws.com",
        "glue.amazonaws.com",  # the crawler
        "glue.amazonaws.com",  # the jobs: a role apart, so neither gets the other's grants
        "lambda.amazonaws.com",
        "scheduler.amazonaws.com",
    ]


def _deprecations(caplog, declare) -> list[str]:
    caplog.clear()
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        declare()
    return [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] + [
        record.getMessage() for record in caplog.records if "deprecated" in record.getMessage()
    ]


@pytest.mark.parametrize("sink", ["s3", "firehose"])
def test_the_program_uses_no_deprecated_resource_or_argument(stack_graph, caplog, sink):
    assert _deprecations(caplog, lambda: stack_graph("dev", ingestionSink=sink)) == []


def test_the_deprecation_check_sees_a_deprecated_resource(build, caplog):
    # The check above would pass vacuously if warnings never reached it.
    found = _deprecations(caplog, lambda: build(lambda: aws.s3.BucketV2("old")))

    assert any("BucketV2" in message for message in found)


def test_a_bad_configuration_fails_the_program_with_the_message(stack_graph):
    with pytest.raises(StackConfigError) as raised:
        stack_graph("dev", ingestionSink="kinesis", callsPerMinute="-1")

    assert isinstance(raised.value, pulumi.RunError)  # printed by the CLI without a traceback
    assert "stockpipe:ingestionSink='kinesis'" in str(raised.value)
    assert "stockpipe:callsPerMinute='-1'" in str(raised.value)


def _is_trust(document_name: str) -> bool:
    return document_name.endswith(".assumeRolePolicy")


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _region_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "aws:region" in r.getMessage()]


def test_an_unknown_region_is_a_warning_with_the_way_on_and_the_stack_still_builds(
    stack_graph, caplog
):
    with caplog.at_level(logging.WARNING):
        graph = stack_graph("dev", **{"aws:region": "mars-north-1"})

    (warning,) = _region_warnings(caplog)
    assert "aws:region='mars-north-1' is not a region this pulumi-aws knows" in warning
    assert "newer than the provider's list" in warning  # how to go on
    assert "pulumi config set aws:region" in warning  # how to fix a mistake
    assert graph.inputs("pulumi:providers:aws")["region"] == "mars-north-1"


def test_a_misspelt_region_gets_the_closest_known_one(stack_graph, caplog):
    with caplog.at_level(logging.WARNING):
        stack_graph("dev", **{"aws:region": "us-east1"})

    (warning,) = _region_warnings(caplog)
    assert "did you mean us-east-1?" in warning


def test_a_known_region_is_not_warned_about(stack_graph, caplog):
    with caplog.at_level(logging.WARNING):
        stack_graph("dev", **{"aws:region": "eu-west-1"})

    assert _region_warnings(caplog) == []


def test_an_empty_region_is_refused(stack_graph):
    with pytest.raises(pulumi.RunError, match="aws:region is required"):
        stack_graph("dev", **{"aws:region": " "})


def test_a_grafana_stack_exports_its_token_for_smoke_as_a_secret(stack_graph):
    graph = stack_graph("prod")  # grafana: managed

    exported = runtime_settings.get_root_resource().outputs["grafana_token"]
    (token,) = graph.of_type(
        "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken"
    )

    assert graph.exports["grafana_token"] == token.outputs["key"]
    assert asyncio.run(exported.is_secret()) is True
