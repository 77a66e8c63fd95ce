"""Bad inputs to a component, whether from the program (the args class) or from a consumer of
the package (a dict through `construct`): one line per problem, naming the component and the
property, before any resource is registered."""

import pulumi
import pytest
from pulumi.errors import InputPropertyError

from components.dashboard import DashboardArgs, DashboardComponent
from components.grafana_config import GrafanaConfig
from components.ingestion import IngestionArgs, IngestionComponent
from components.interface import ComponentInputError
from components.wap_workflow import WapWorkflowComponent
from tests.components.package_construct import provider

INGESTION = {
    "api_key": "key",
    "bucket_name": "lake",
    "bucket_arn": "arn:aws:s3:::lake",
    "alert_topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts",
    "account_id": "123456789012",
}
DASHBOARD = {
    "region": "us-east-1",
    "account_id": "123456789012",
    "database_name": "stockpipe",
    "workgroup_name": "analytics",
    "bucket_name": "lake",
    "bucket_arn": "arn:aws:s3:::lake",
}


def _message(build, declare) -> str:
    with pytest.raises(ComponentInputError) as raised:
        build(declare)
    return str(raised.value)


def test_a_wrong_type_names_the_component_and_the_property(build):
    message = _message(
        build, lambda: IngestionComponent("ingest", {**INGESTION, "calls_per_minute": "five"})
    )

    assert message == "IngestionComponent: input 'callsPerMinute' must be an integer, got a string"


def test_a_string_where_a_list_belongs_is_refused_not_split_into_letters(build):
    args = {**INGESTION, "symbols": "NVDA"}

    message = _message(build, lambda: IngestionComponent("ingest", args))

    assert message == "IngestionComponent: input 'symbols' must be a list, got a string"


def test_an_unknown_property_is_named_with_the_known_ones(build):
    message = _message(build, lambda: IngestionComponent("ingest", {**INGESTION, "symbol": ["X"]}))

    assert message.startswith("IngestionComponent: unknown input 'symbol' (known: apiKey, ")
    assert "\n" not in message


def test_a_missing_required_input_is_named(build):
    args = {k: v for k, v in INGESTION.items() if k != "api_key"}

    message = _message(build, lambda: IngestionComponent("ingest", args))

    assert message == "IngestionComponent: required input 'apiKey' is missing"


def test_each_problem_gets_its_own_line_and_nothing_is_registered(build, pulumi_mocks):
    args = {"region": 3, "bucket_name": "lake"}

    message = _message(build, lambda: WapWorkflowComponent("wap", args))

    assert message.splitlines() == [
        "WapWorkflowComponent: required input 'bucketArn' is missing",
        "WapWorkflowComponent: required input 'alertTopicArn' is missing",
        "WapWorkflowComponent: required input 'accountId' is missing",
        "WapWorkflowComponent: input 'region' must be a string, got an integer",
        "WapWorkflowComponent: required input 'functionArn' is missing",
    ]
    assert pulumi_mocks.resources == []


def test_a_nested_property_is_named_by_its_path(build):
    grafana = {"mode": "external", "admin_group_ids": "g-1", "colour": "red"}

    message = _message(build, lambda: DashboardComponent("dash", {**DASHBOARD, "grafana": grafana}))

    assert message.splitlines() == [
        "DashboardComponent: unknown input 'grafana.colour' (known: mode, authProvider, "
        "grafanaVersion, adminUserIds, adminGroupIds, pluginVersion, uninstallPluginOnDelete, "
        "url, awsAuth, assumeRoleArn, externalId, token)",
        "DashboardComponent: input 'grafana.adminGroupIds' must be a list, got a string",
    ]


def test_an_unknown_grafana_mode_is_refused(build):
    args = DashboardArgs(grafana=GrafanaConfig(mode="hosted"), **DASHBOARD)

    message = _message(build, lambda: DashboardComponent("dash", args))

    assert message == (
        "DashboardComponent: input 'grafana.mode' is 'hosted'; "
        "it must be one of none, managed, external"
    )


def test_the_program_s_args_class_is_checked_too(build):
    args = IngestionArgs(**{**INGESTION, "log_retention_days": "30"})

    message = _message(build, lambda: IngestionComponent("ingest", args))

    assert message == (
        "IngestionComponent: input 'logRetentionDays' must be an integer, got a string"
    )


def test_a_secret_s_value_never_appears_in_a_message(build):
    message = _message(
        build, lambda: IngestionComponent("ingest", {**INGESTION, "api_key": 12345678})
    )

    assert "12345678" not in message
    assert message == "IngestionComponent: input 'apiKey' must be a string, got an integer"


def test_an_output_passes_where_an_input_is_accepted(build):
    args = {
        **INGESTION,
        "api_key": pulumi.Output.secret("key"),
        "account_id": pulumi.Output.from_input("123456789012"),
    }

    graph = build(lambda: IngestionComponent("ingest", args))

    assert graph.of_type("aws:lambda/function:Function")


# Through the provider, as a consumer's program reaches the component.


def _construct(inputs: dict, component: str = "IngestionComponent"):
    return provider().construct("ingest", f"stockpipe:index:{component}", inputs, None)


CONSUMER = {
    "apiKey": "key",
    "bucketName": "lake",
    "bucketArn": "arn:aws:s3:::lake",
    "alertTopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
    "accountId": "123456789012",
}


def test_a_consumer_missing_a_required_input_gets_the_provider_s_one_line_message(build):
    inputs = {k: v for k, v in CONSUMER.items() if k != "bucketArn"}

    with pytest.raises(InputPropertyError) as raised:
        build(lambda: _construct(inputs))

    assert raised.value.reason == "Missing required input 'bucketArn' on 'IngestionComponent'"


def test_a_consumer_s_wrong_type_reaches_the_component_s_check(build):
    with pytest.raises(Exception) as raised:  # noqa: PT011 (the SDK wraps it: ComponentInitError)
        build(lambda: _construct({**CONSUMER, "symbols": "NVDA"}))

    assert str(raised.value) == "IngestionComponent: input 'symbols' must be a list, got a string"
