"""The Grafana workspace role allows every call the dashboard's queries lead to, and no more.

The calls come from two sides:
- the Athena data source plugin (grafana/athena-datasource `pkg/athena/api/api.go`): a panel
  query reads the workgroup's engine version (GetWorkGroup), starts the query, polls it,
  reads its results (the sqlds driver's rows) and stops it when the panel is cancelled; the
  query editor lists databases and tables and reads a table's columns;
- Athena, which runs the query with the caller's permissions (Athena user guide, "Access to
  Amazon S3" and "Access to the AWS Glue Data Catalog"): Glue reads of the database and of
  each table the SQL names (partitions included), S3 reads of those tables' objects, and the
  writes of the results under the workgroup's result location.

The tables come from the SQL of the generated dashboard itself, so a panel that starts
reading another table fails here until the role allows it.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlglot
from sqlglot import exp

from components.dashboard import PANEL_TABLES
from components.dashboard_json import dashboard_json
from components.plan import ACCOUNT_ID, GRAFANA_WORKSPACE_ID, REGION
from runtime.panels import expand_macros
from tests.contracts.iam_matcher import allows, matches

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
DATA_SOURCE = "grafana:oss/dataSource:DataSource"
WORKGROUP = "aws:athena/workgroup:Workgroup"

QUERY_CALLS = (
    "athena:GetWorkGroup", "athena:StartQueryExecution", "athena:GetQueryExecution",
    "athena:GetQueryResults", "athena:StopQueryExecution",
)  # fmt: skip
EDITOR_CALLS = ("athena:ListDatabases", "athena:ListTableMetadata", "athena:GetTableMetadata")
GLUE_TABLE_READS = ("glue:GetTable", "glue:GetPartitions", "glue:GetPartition",
                    "glue:BatchGetPartition")  # fmt: skip
# The editor's ListDatabases and ListTableMetadata read the catalog through Glue.
GLUE_LISTINGS = ("glue:GetDatabases", "glue:GetTables")
RESULT_WRITES = ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload",
                 "s3:ListMultipartUploadParts")  # fmt: skip
BUCKET_CALLS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")


_managed: dict = {}


@pytest.fixture
def managed(stack_graph) -> dict:
    """The dev stack with a managed Grafana: the workspace policy and what the queries need."""
    if _managed:
        return _managed
    graph = stack_graph("dev", grafana=json.dumps({"mode": "managed"}))
    policy = json.loads(graph.inputs(ROLE_POLICY, "workspace-policy")["policy"])
    settings = json.loads(graph.inputs(DATA_SOURCE)["jsonDataEncoded"])
    model = json.loads(graph.inputs(DASHBOARD)["configJson"])
    (analytics,) = [w for w in graph.of_type(WORKGROUP) if w.name.endswith("-analytics")]
    output_location = analytics.inputs["configuration"]["resultConfiguration"]["outputLocation"]
    queries = [target["rawSQL"] for panel in model["panels"] for target in panel["targets"]]
    queries += [variable["query"]["rawSQL"] for variable in model["templating"]["list"]]
    _managed.update(
        {
            "policy": policy,
            "settings": settings,
            "workgroup_arn": analytics.outputs["arn"],
            "results": output_location.removeprefix("s3://"),
            "bucket": graph.one("aws:s3/bucket:Bucket").outputs["bucket"],
            "queries": queries,
            "database": graph.one("aws:glue/catalogDatabase:CatalogDatabase").outputs["name"],
            "workgroup": analytics.outputs["name"],
            "exports": graph.exports,
        }
    )
    return _managed


def tables_read(sql: str) -> set[str]:
    tree = sqlglot.parse_one(
        expand_macros(sql, date(2024, 1, 1), date(2024, 6, 1), ["NVDA"]), read="athena"
    )
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {table.name for table in tree.find_all(exp.Table) if table.name not in ctes}


def calls_made(managed: dict) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) of every call one load of the dashboard leads to."""
    region_account = f"{REGION}:{ACCOUNT_ID}"
    database = managed["settings"]["database"]
    catalog = f"arn:aws:glue:{region_account}:catalog"
    database_arn = f"arn:aws:glue:{region_account}:database/{database}"
    bucket = f"arn:aws:s3:::{managed['bucket']}"
    results = f"arn:aws:s3:::{managed['results']}"
    data_catalog = f"arn:aws:athena:{region_account}:datacatalog/{managed['settings']['catalog']}"
    made = [(action, managed["workgroup_arn"]) for action in QUERY_CALLS]
    made += [(action, data_catalog) for action in EDITOR_CALLS]
    made += [("glue:GetDatabase", arn) for arn in (catalog, database_arn)]
    made += [(action, arn) for action in GLUE_LISTINGS for arn in (catalog, database_arn)]
    made += [(action, bucket) for action in BUCKET_CALLS]
    made += [(action, f"{results}2024/01/01/query-id.csv") for action in RESULT_WRITES]
    for table in sorted(set().union(*map(tables_read, managed["queries"]))):
        table_arn = f"arn:aws:glue:{region_account}:table/{database}/{table}"
        made += [
            (action, arn)
            for action in GLUE_TABLE_READS
            for arn in (catalog, database_arn, table_arn)
        ]
        made += [("glue:GetTables", table_arn)]
        made += [("s3:GetObject", f"{bucket}/prod/{table}/20240607T000000Z_run/part-0.parquet")]
    return made


def test_the_dashboard_reads_the_three_published_tables():
    model = json.loads(dashboard_json(uid="u", title="t", datasource_uid="d"))
    queries = [t["rawSQL"] for p in model["panels"] for t in p["targets"]]
    queries += [v["query"]["rawSQL"] for v in model["templating"]["list"]]

    assert set().union(*map(tables_read, queries)) == set(PANEL_TABLES)


def test_every_call_the_dashboard_leads_to_is_allowed(managed):
    refused = [call for call in calls_made(managed) if not allows(managed["policy"], *call)]

    assert refused == []


def test_the_policy_grants_nothing_the_dashboard_does_not_use(managed):
    made = calls_made(managed)

    unused = [
        (action, statement["Resource"])
        for statement in managed["policy"]["Statement"]
        for action in statement["Action"]
        if not any(a == action and matches(statement, a, resource) for a, resource in made)
    ]

    assert unused == []


def test_the_workspace_cannot_read_other_zones_tables_or_workgroups_nor_write_data(managed):
    policy = managed["policy"]
    bucket = f"arn:aws:s3:::{managed['bucket']}"
    database = managed["settings"]["database"]
    region_account = f"{REGION}:{ACCOUNT_ID}"

    for key in ("raw/dt=2024-06-07/NVDA.csv", "staging/x", "prod/_raw_consumed/v/x",
                "prod/daily_prices_replaced/x.parquet", "artifacts/wap/job.py"):  # fmt: skip
        assert not allows(policy, "s3:GetObject", f"{bucket}/{key}"), key
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not allows(policy, action, f"{bucket}/prod/daily_prices/x.parquet")
    assert not allows(
        policy, "glue:GetTable", f"arn:aws:glue:{region_account}:table/{database}/raw_daily_prices"
    )
    etl = managed["workgroup_arn"].replace("-analytics", "-etl")
    assert not allows(policy, "athena:StartQueryExecution", etl)


def test_the_data_source_queries_the_stacks_analytics_workgroup_and_database(managed):
    workspace = f"https://{GRAFANA_WORKSPACE_ID}.grafana-workspace.{REGION}.amazonaws.com"

    assert managed["settings"]["workgroup"] == managed["workgroup"]
    assert managed["settings"]["database"] == managed["database"]
    assert managed["exports"]["grafana_url"] == workspace
    assert managed["exports"]["dashboard_url"] == f"{workspace}/d/stockpipe-dev-grafana-prices"
