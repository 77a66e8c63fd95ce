"""DashboardComponent: Grafana with the Athena data source and the stock dashboard, as code.

Three modes (`stockpipe:grafana`, components/grafana_config.py):
- `none`: nothing;
- `managed`: an Amazon Managed Grafana workspace with a least-privilege role (the
  analytics workgroup, the lake database's published tables, their objects under the
  production prefix, the workgroup's results prefix), an Admin service account whose token
  is replaced by the first `pulumi up` of each 20-day period, and the Athena plugin
  installed through the Grafana API (components/grafana_plugin.py);
- `external`: an existing Grafana reached with the configured token.

In both Grafana modes an explicit `pulumiverse_grafana` provider creates the Athena data
source, a folder and the dashboard generated from runtime/panels (components/dashboard_json.py).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pulumi
import pulumi_aws as aws
import pulumiverse_grafana as grafana

from components import iam
from components.dashboard_json import ATHENA_PLUGIN, RESULT_REUSE_MINUTES, dashboard_json
from components.grafana_config import MODES, GrafanaConfig
from components.grafana_plugin import GrafanaPlugin
from components.interface import resolve_args
from components.storage import PROD_PREFIX
from components.wap_workflow import ANALYTICS_RESULTS_PREFIX, GlueArns

# The tables the panels and the symbol variable read (runtime/panels/sql; tests/contracts
# checks the SQL reads no other).
PANEL_TABLES = ("daily_prices", "dq_results", "symbol_summary")
CATALOG = "AwsDataCatalog"
# A workspace token lives at most 30 days. Its name carries the 20-day period (counted from
# the Unix epoch) of the `pulumi up` that made it, so the first plain `up` of a new period
# creates a new token and then deletes the old one: no refresh is needed, and nothing reads
# Grafana with the old token first, so an expired one cannot block the deploy that replaces
# it. (A `time` Rotating resource rotates only when a refresh reads it, and a refresh reads
# the Grafana resources with the token in the state, expired or not.) A token made in any
# period is still valid for at least ten days after the next period begins.
TOKEN_SECONDS_TO_LIVE = 30 * 24 * 3600
TOKEN_ROTATION_DAYS = 20
TOKEN_ROTATION_SECONDS = TOKEN_ROTATION_DAYS * 24 * 3600
WORKSPACE_CONFIGURATION = {
    "plugins": {"pluginAdminEnabled": True},
    "unifiedAlerting": {"enabled": True},
}
# Grafana uids are at most 40 characters.
MAX_UID = 40


@dataclass
class DashboardArgs:
    """The dashboard's inputs (the package's `DashboardComponent` inputs)."""

    grafana: GrafanaConfig
    """Which Grafana serves the dashboard (`mode`: none, managed or external) and how."""
    region: str
    """The AWS region of the lake (the data source's default region, ARNs)."""
    account_id: pulumi.Input[str]
    """The AWS account of the lake (ARNs, the workspace role's trust condition)."""
    database_name: pulumi.Input[str]
    """The Glue database of the published tables."""
    workgroup_name: pulumi.Input[str]
    """The Athena workgroup the panels query in (the workflow's analytics workgroup)."""
    bucket_name: pulumi.Input[str]
    """The data lake bucket."""
    bucket_arn: pulumi.Input[str]
    """The data lake bucket's ARN (the workspace reads only the published tables' objects)."""
    title: str | None = "stockpipe"
    """Title of the Grafana folder and the dashboard, and prefix of the data source's name."""


def utc_now() -> datetime:
    """The deploy's clock (components/plan.py fixes it, so the plan snapshots are stable)."""
    return datetime.now(UTC)


def token_name(name: str, now: datetime) -> str:
    """The token's name at `now`: `<name>-<start of the rotation period, Unix seconds>`."""
    started = int(now.timestamp()) // TOKEN_ROTATION_SECONDS * TOKEN_ROTATION_SECONDS
    return f"{name}-{started}"


class DashboardComponent(pulumi.ComponentResource):
    """Grafana (managed or external), the Athena data source, a folder, the dashboard."""

    dashboard_url: pulumi.Output[str] | None
    """The dashboard's address (none with mode `none`)."""
    grafana_url: pulumi.Output[str] | None
    """The Grafana's address (none with mode `none`)."""
    workspace_id: pulumi.Output[str] | None
    """The Managed Grafana workspace's id (mode `managed` only)."""
    token: pulumi.Output[str] | None
    """The token the stack reaches Grafana with (a secret; `make smoke` checks the data
    source's health with it)."""

    def __init__(
        self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        args = resolve_args(
            "DashboardComponent", args, DashboardArgs, choices={"grafana.mode": MODES}
        )
        super().__init__("stockpipe:index:DashboardComponent", name, None, opts)
        self._name = name
        self._args = args
        self.dashboard_url = self.grafana_url = self.workspace_id = self.token = None
        mode = args.grafana.mode
        if mode != "none":
            if len(f"{name}-athena") > MAX_UID:
                raise ValueError(f"component name {name!r} is too long for Grafana uids")
            if mode == "managed":
                url, token, depends_on = self._managed_workspace()
            else:
                url, token, depends_on = args.grafana.url, args.grafana.token, []
            self.grafana_url = pulumi.Output.from_input(url)
            self.token = pulumi.Output.secret(token)
            self.dashboard_url = self._dashboard(url, token, depends_on)
        self.register_outputs(
            {
                "dashboard_url": self.dashboard_url,
                "grafana_url": self.grafana_url,
                "workspace_id": self.workspace_id,
                "token": self.token,
            }
        )

    def _managed_workspace(self) -> tuple[pulumi.Output[str], pulumi.Output[str], list]:
        name, args = self._name, self._args
        settings = args.grafana
        child = pulumi.ResourceOptions(parent=self)
        role, policy = iam.service_role(
            f"{name}-workspace",
            "grafana.amazonaws.com",
            workspace_statements(args),
            child,
            # Managed Grafana sends aws:SourceAccount when it assumes the workspace role:
            # https://docs.aws.amazon.com/grafana/latest/userguide/cross-service-confused-deputy-prevention.html
            conditions=iam.from_account(args.account_id),
            description="stockpipe Grafana workspace: query the analytics workgroup",
        )
        workspace = aws.grafana.Workspace(
            f"{name}-workspace",
            name=name,
            description="stockpipe dashboards over Athena",
            account_access_type="CURRENT_ACCOUNT",
            authentication_providers=[settings.auth_provider],
            permission_type="CUSTOMER_MANAGED",
            role_arn=role.arn,
            data_sources=["ATHENA"],
            grafana_version=settings.grafana_version,
            configuration=json.dumps(WORKSPACE_CONFIGURATION, sort_keys=True),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        if settings.admin_user_ids or settings.admin_group_ids:
            aws.grafana.RoleAssociation(
                f"{name}-admins",
                role="ADMIN",
                workspace_id=workspace.id,
                user_ids=list(settings.admin_user_ids) or None,
                group_ids=list(settings.admin_group_ids) or None,
                opts=child,
            )
        account = aws.grafana.WorkspaceServiceAccount(
            f"{name}-stack-account",
            name=f"{name}-stack",
            grafana_role="ADMIN",
            workspace_id=workspace.id,
            opts=child,
        )
        token = aws.grafana.WorkspaceServiceAccountToken(
            f"{name}-token",
            # A new rotation period gives the token a new name, and a new name a new token
            # (created before the old one is deleted).
            name=token_name(name, utc_now()),
            seconds_to_live=TOKEN_SECONDS_TO_LIVE,
            service_account_id=account.service_account_id,
            workspace_id=workspace.id,
            opts=child,
        )
        url = pulumi.Output.concat("https://", workspace.endpoint)
        plugin = GrafanaPlugin(
            f"{name}-athena-plugin",
            url=url,
            token=token.key,
            plugin_id=ATHENA_PLUGIN,
            version=settings.plugin_version,
            workspace=workspace.id,
            uninstall_on_delete=settings.uninstall_plugin_on_delete,
            opts=child,
        )
        self.workspace_id = workspace.id
        return url, token.key, [plugin]

    def _dashboard(
        self, url: pulumi.Input[str], token: pulumi.Input[str], depends_on: list
    ) -> pulumi.Output[str]:
        name, args = self._name, self._args
        provider = grafana.Provider(
            f"{name}-provider",
            url=url,
            auth=pulumi.Output.secret(token),
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_grafana = pulumi.ResourceOptions(parent=self, provider=provider)
        source = grafana.oss.DataSource(
            f"{name}-athena",
            type=ATHENA_PLUGIN,
            name=f"{args.title} Athena",
            uid=f"{name}-athena",
            json_data_encoded=pulumi.Output.json_dumps(data_source_settings(args)),
            # The plugin answers before a data source of its type can be created.
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=depends_on),
        )
        folder = grafana.oss.Folder(f"{name}-folder", title=args.title, uid=name, opts=on_grafana)
        dashboard_uid = f"{name}-prices"
        board = grafana.oss.Dashboard(
            f"{name}-dashboard",
            folder=folder.uid,
            config_json=source.uid.apply(
                lambda uid: dashboard_json(
                    uid=dashboard_uid, title=f"{args.title}: stock prices", datasource_uid=uid
                )
            ),
            overwrite=True,
            opts=on_grafana,
        )
        return pulumi.Output.all(url, board.uid).apply(lambda parts: f"{parts[0]}/d/{parts[1]}")


def data_source_settings(args: DashboardArgs) -> dict:
    """The Athena data source's jsonData: region, catalog, database, workgroup, credentials."""
    settings = args.grafana
    json_data = {
        "authType": "ec2_iam_role" if settings.mode == "managed" else settings.aws_auth,
        "defaultRegion": args.region,
        "catalog": CATALOG,
        "database": args.database_name,
        "workgroup": args.workgroup_name,
        "resultReuseEnabled": True,
        "resultReuseMaxAgeInMinutes": RESULT_REUSE_MINUTES,
    }
    if settings.mode == "external" and settings.assume_role_arn:
        json_data["assumeRoleArn"] = settings.assume_role_arn
        if settings.external_id:
            json_data["externalId"] = settings.external_id
    return json_data


def workspace_statements(args: DashboardArgs) -> list[dict]:
    """What the workspace role may do: run the panels' queries in the analytics workgroup
    (README, Deploying with Pulumi: Grafana)."""
    glue = GlueArns(args.region, args.account_id)
    data_catalog = pulumi.Output.concat(
        f"arn:aws:athena:{args.region}:", args.account_id, f":datacatalog/{CATALOG}"
    )
    workgroup_arn = pulumi.Output.concat(
        f"arn:aws:athena:{args.region}:", args.account_id, ":workgroup/", args.workgroup_name
    )
    tables = [glue.table(args.database_name, table) for table in PANEL_TABLES]
    table_objects = [
        iam.objects_under(args.bucket_arn, f"{PROD_PREFIX}{table}/") for table in PANEL_TABLES
    ]
    results = iam.objects_under(args.bucket_arn, ANALYTICS_RESULTS_PREFIX)
    return [
        iam.allow(
            ["athena:GetQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup",
             "athena:StartQueryExecution", "athena:StopQueryExecution"],
            [workgroup_arn], sid="AnalyticsWorkgroup",
        ),
        iam.allow(
            ["athena:GetTableMetadata", "athena:ListDatabases", "athena:ListTableMetadata"],
            [data_catalog], sid="QueryEditorCatalog",
        ),
        iam.allow(
            ["glue:BatchGetPartition", "glue:GetDatabase", "glue:GetDatabases",
             "glue:GetPartition", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"],
            [glue.catalog(), glue.database(args.database_name), *tables],
            sid="PublishedTables",
        ),
        iam.allow(
            ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            [args.bucket_arn], sid="LakeBucket",
        ),
        iam.allow(["s3:GetObject"], table_objects, sid="ReadPublishedTables"),
        iam.allow(
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts",
             "s3:PutObject"],
            [results], sid="QueryResults",
        ),
    ]  # fmt: skip
