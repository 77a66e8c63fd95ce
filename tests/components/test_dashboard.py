"""DashboardComponent under mocks: nothing for `none`, a workspace for `managed`, an existing
Grafana for `external`; the data source, folder and dashboard through the explicit provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from unittest import mock

import pulumi
import pytest
from parliament import analyze_policy_string

from components import dashboard as dashboard_module
from components.dashboard import DashboardArgs, DashboardComponent
from components.grafana_config import GrafanaConfig
from components.plan import GRAFANA_WORKSPACE_ID, SECRET_SIG, SIG_KEY
from tests.components.conftest import Graph

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "lake-bucket-1"
WORKGROUP = "stockpipe-test-analytics"
WORKGROUP_ARN = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{WORKGROUP}"
DATABASE = "stockpipe_test"
TOKEN = "glsa_component-test-token-7e6f5a4b"
EXTERNAL_URL = "https://grafana.example.org"
WORKSPACE_URL = f"https://{GRAFANA_WORKSPACE_ID}.grafana-workspace.{REGION}.amazonaws.com"

COMPONENT = "stockpipe:index:DashboardComponent"
WORKSPACE = "aws:grafana/workspace:Workspace"
TOKEN_TYPE = "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PLUGIN = "pulumi-python:dynamic:Resource"
PROVIDER = "pulumi:providers:grafana"
DATA_SOURCE = "grafana:oss/dataSource:DataSource"
FOLDER = "grafana:oss/folder:Folder"
DASHBOARD = "grafana:oss/dashboard:Dashboard"


@pytest.fixture
def dashboard(build) -> Callable[..., tuple[Graph, dict]]:
    """Build the component with a Grafana configuration; the graph and resolved outputs."""

    def run(grafana: GrafanaConfig) -> tuple[Graph, dict]:
        outputs: dict = {}

        def declare():
            component = DashboardComponent(
                "dash",
                DashboardArgs(
                    grafana=grafana, region=REGION, account_id=ACCOUNT, database_name=DATABASE,
                    workgroup_name=WORKGROUP, bucket_name=BUCKET,
                    bucket_arn=f"arn:aws:s3:::{BUCKET}", title="stockpipe test",
                ),
            )  # fmt: skip
            for key in ("dashboard_url", "grafana_url", "workspace_id"):
                value = getattr(component, key)
                if value is not None:
                    value.apply(lambda v, key=key: outputs.__setitem__(key, v))
                else:
                    outputs[key] = None

        return build(declare), outputs

    return run


MANAGED = GrafanaConfig(mode="managed", admin_group_ids=("g-admins",))
EXTERNAL = GrafanaConfig(
    mode="external",
    url=EXTERNAL_URL,
    aws_auth="default",
    assume_role_arn=f"arn:aws:iam::{ACCOUNT}:role/grafana-athena",
    token=pulumi.Output.secret(TOKEN),
)


def test_none_registers_no_grafana_resource(dashboard):
    graph, outputs = dashboard(GrafanaConfig())

    assert [r.type for r in graph.resources] == [COMPONENT]
    assert outputs == {"dashboard_url": None, "grafana_url": None, "workspace_id": None}


def test_managed_creates_an_athena_workspace_with_plugin_admin_and_its_own_role(dashboard):
    graph, outputs = dashboard(MANAGED)

    workspace = graph.inputs(WORKSPACE)
    role = graph.one(ROLE, "workspace-role")

    assert workspace["dataSources"] == ["ATHENA"]
    assert workspace["authenticationProviders"] == ["AWS_SSO"]
    assert workspace["accountAccessType"] == "CURRENT_ACCOUNT"
    assert (workspace["permissionType"], workspace["roleArn"]) == (
        "CUSTOMER_MANAGED", role.outputs["arn"],
    )  # fmt: skip
    assert json.loads(workspace["configuration"])["plugins"] == {"pluginAdminEnabled": True}
    assert workspace["grafanaVersion"] == "10.4"
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "grafana.amazonaws.com"},
         "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
    ]  # fmt: skip
    assert graph.inputs("aws:grafana/roleAssociation:RoleAssociation") == {
        "role": "ADMIN", "groupIds": ["g-admins"], "workspaceId": GRAFANA_WORKSPACE_ID,
    }  # fmt: skip
    assert outputs == {
        "dashboard_url": f"{WORKSPACE_URL}/d/dash-prices",
        "grafana_url": WORKSPACE_URL,
        "workspace_id": GRAFANA_WORKSPACE_ID,
    }


def test_the_workspace_policy_is_parliament_clean_and_scoped(dashboard):
    graph, _ = dashboard(MANAGED)

    policy = graph.policy(ROLE_POLICY, "workspace-policy")
    resources = [r for s in policy["Statement"] for r in s["Resource"]]

    assert analyze_policy_string(json.dumps(policy)).findings == []
    assert "*" not in resources
    assert all(f":{ACCOUNT}:" in r or r.startswith(f"arn:aws:s3:::{BUCKET}") for r in resources)
    (workgroup,) = [s for s in policy["Statement"] if s["Sid"] == "AnalyticsWorkgroup"]
    assert workgroup["Resource"] == [WORKGROUP_ARN]  # from the workgroup's name and account


def at(moment: str):
    """The deploy's clock stopped at an ISO time."""
    return mock.patch.object(
        dashboard_module, "utc_now", return_value=datetime.fromisoformat(moment)
    )


def test_a_plain_up_of_a_new_20_day_period_replaces_the_token_before_it_expires(dashboard):
    # 2026-01-01 lies in the period that began 2025-12-18 (20-day periods from the epoch).
    with at("2026-01-01T00:00:00+00:00"):
        graph, _ = dashboard(MANAGED)
    with at("2026-01-06T23:59:59+00:00"):
        same_period, _ = dashboard(MANAGED)
    with at("2026-01-07T00:00:00+00:00"):
        next_period, _ = dashboard(MANAGED)

    token = graph.inputs(TOKEN_TYPE)
    account = graph.one("aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount")
    assert token["secondsToLive"] == 30 * 24 * 3600
    # The name carries the period's start; the next period's name (a new token) comes from
    # the program alone: no resource has to be refreshed, so no Grafana call is made with
    # the old token, however expired.
    assert token["name"] == "dash-1766016000"  # 2025-12-18T00:00:00Z
    assert same_period.inputs(TOKEN_TYPE)["name"] == "dash-1766016000"
    assert next_period.inputs(TOKEN_TYPE)["name"] == "dash-1767744000"  # 2026-01-07
    assert [r.type for r in graph.resources if r.type.startswith("time:")] == []
    assert token["serviceAccountId"] == account.outputs["serviceAccountId"]
    assert account.inputs["grafanaRole"] == "ADMIN"


def test_the_plugin_is_installed_with_the_secret_token_before_the_data_source(dashboard):
    graph, _ = dashboard(MANAGED)

    plugin = graph.one(PLUGIN)
    source = graph.one(DATA_SOURCE)
    token_key = graph.one(TOKEN_TYPE).outputs["key"]

    assert plugin.inputs["plugin_id"] == "grafana-athena-datasource"
    assert plugin.inputs["version"] == "3.3.3"
    assert plugin.inputs["url"] == WORKSPACE_URL
    assert plugin.inputs["workspace"] == GRAFANA_WORKSPACE_ID
    assert plugin.inputs["uninstall_on_delete"] is False
    assert plugin.inputs["token"] == {SIG_KEY: SECRET_SIG, "value": token_key}
    assert plugin.urn in source.dependencies


@pytest.mark.parametrize(("grafana", "url"), [(MANAGED, WORKSPACE_URL), (EXTERNAL, EXTERNAL_URL)])
def test_grafana_resources_go_through_the_explicit_provider_with_a_secret_token(
    dashboard, grafana, url
):
    graph, _ = dashboard(grafana)

    (provider,) = graph.of_type(PROVIDER)
    on_grafana = [r for r in graph.resources if r.type.startswith("grafana:")]

    assert provider.inputs["url"] == url
    assert provider.inputs["auth"][SIG_KEY] == SECRET_SIG
    assert sorted(r.type for r in on_grafana) == [DASHBOARD, DATA_SOURCE, FOLDER]
    assert {r.provider.rsplit("::", 1)[0] for r in on_grafana} == {provider.urn}


def test_external_creates_no_aws_resource_and_uses_the_configured_credentials(dashboard):
    graph, outputs = dashboard(EXTERNAL)

    settings = json.loads(graph.inputs(DATA_SOURCE)["jsonDataEncoded"])
    provider = graph.one(PROVIDER)

    assert [r.type for r in graph.resources if r.type.startswith(("aws:", "time:"))] == []
    assert graph.of_type(PLUGIN) == []
    assert provider.inputs["auth"]["value"] == TOKEN
    assert (settings["authType"], settings["assumeRoleArn"]) == (
        "default", f"arn:aws:iam::{ACCOUNT}:role/grafana-athena",
    )  # fmt: skip
    assert outputs["dashboard_url"] == f"{EXTERNAL_URL}/d/dash-prices"
    assert outputs["workspace_id"] is None


@pytest.mark.parametrize(("grafana", "auth"), [(MANAGED, "ec2_iam_role"), (EXTERNAL, "default")])
def test_the_data_source_queries_the_analytics_workgroup_with_result_reuse(
    dashboard, grafana, auth
):
    graph, _ = dashboard(grafana)

    source = graph.inputs(DATA_SOURCE)
    settings = json.loads(source["jsonDataEncoded"])

    assert source["type"] == "grafana-athena-datasource"
    assert source["uid"] == "dash-athena"
    assert {k: settings[k] for k in ("authType", "defaultRegion", "catalog", "database")} == {
        "authType": auth, "defaultRegion": REGION, "catalog": "AwsDataCatalog",
        "database": DATABASE,
    }  # fmt: skip
    assert settings["workgroup"] == WORKGROUP
    assert settings["resultReuseEnabled"] is True


def test_the_dashboard_uses_the_created_data_source_and_sits_in_the_folder(dashboard):
    graph, _ = dashboard(MANAGED)

    board = graph.inputs(DASHBOARD)
    model = json.loads(board["configJson"])
    folder = graph.one(FOLDER)
    source_uid = graph.one(DATA_SOURCE).outputs["uid"]

    used = {p["datasource"]["uid"] for p in model["panels"]} | {
        t["datasource"]["uid"] for p in model["panels"] for t in p["targets"]
    }
    assert used == {source_uid}
    assert model["templating"]["list"][0]["datasource"]["uid"] == source_uid
    assert board["folder"] == folder.outputs["uid"]
    assert board["overwrite"] is True
    assert folder.inputs["title"] == "stockpipe test"
