"""The Glue job role allows every AWS call the write-audit-publish code makes, plus what
Athena does on the job's behalf, and nothing else.

The calls are recorded live from the runtime's own moto tests (tests/contracts/job_calls.py),
so a new call in `runtime/wap` fails this test until the role allows it. Those tests use
their own names (a test database, bucket, workgroup, workflow, metric namespace); each
recorded request is read as the same request against the stack's resources, keeping its
key prefixes, table names and actions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote

import pytest

from components import storage, wap_workflow
from components.plan import ACCOUNT_ID, REGION
from tests.components.conftest import Graph, plain
from tests.contracts import job_calls
from tests.contracts.conftest import stack_graph  # noqa: F401 (a fixture)
from tests.contracts.iam_matcher import allows, matches

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
GLUE_TABLE_OPERATIONS = {
    "GetTable", "CreateTable", "UpdateTable", "DeleteTable", "GetPartition", "GetPartitions",
    "CreatePartition", "BatchCreatePartition", "BatchUpdatePartition", "BatchDeletePartition",
    "BatchGetPartition",
}  # fmt: skip
ATHENA_OPERATIONS = {
    "StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution",
    "GetWorkGroup",
}  # fmt: skip

# What Athena does with the caller's permissions while it runs the job's queries (AWS:
# Athena "Configure access to databases and tables in the AWS Glue Data Catalog" and
# "Access to Amazon S3"; Knowledge Center "athena-output-bucket-error"), by the kind of
# place it does it in. README, The Athena engine: the job role.
ATHENA_ON_BEHALF = {
    "glue:GetDatabase": "every query resolves its tables in the database",
    "glue:GetTable": "every query reads its tables' definitions",
    "glue:GetPartitions": "a query on a table without projection lists its partitions",
    "glue:GetPartition": "partition pruning reads single partitions",
    "glue:BatchGetPartition": "partition pruning reads partitions in batches",
    "glue:CreateTable": "a CTAS registers its table",
    "glue:BatchCreatePartition": "a partitioned CTAS registers its partitions",
    "glue:CreatePartition": "a CTAS or INSERT may register a partition at a time",
    "s3:GetBucketLocation": "Athena checks the data and result buckets' region",
    "s3:ListBucket": "Athena lists the objects of the tables it reads",
    "s3:ListBucketMultipartUploads": "Athena writes results and CTAS data in multipart uploads",
    "s3:GetObject": "Athena reads table data and its own result files",
    "s3:PutObject": "Athena writes query results and CTAS data",
    "s3:AbortMultipartUpload": "Athena aborts an upload of a failed query",
    "s3:ListMultipartUploadParts": "Athena assembles multipart uploads",
}
# Granted for the Glue runtime, not for calls in our code.
GLUE_RUNTIME = {
    "logs:CreateLogGroup": "Glue creates its default Python-shell log groups in a fresh account",
    "logs:CreateLogStream": "Glue streams the job's output to its log groups",
    "logs:PutLogEvents": "Glue streams the job's output to its log groups",
}


@dataclass(frozen=True)
class Deployed:
    graph: Graph
    policy: dict
    bucket: str
    database: str
    workgroup: str
    workflow: str
    namespace: str

    def glue(self, resource: str) -> str:
        return f"arn:aws:glue:{REGION}:{ACCOUNT_ID}:{resource}"

    def table_arns(self, table: str) -> list[str]:
        return [
            self.glue("catalog"),
            self.glue(f"database/{self.database}"),
            self.glue(f"table/{self.database}/{table}"),
        ]

    def obj(self, key: str) -> str:
        return f"arn:aws:s3:::{self.bucket}/{key}"


_deployed: dict[str, Deployed] = {}


@pytest.fixture
def deployed_job(stack_graph) -> Deployed:  # noqa: F811
    if "dev" in _deployed:
        return _deployed["dev"]
    graph = stack_graph("dev")
    arguments = plain(graph.one("aws:glue/job:Job", "publish").inputs)["defaultArguments"]
    deployed = Deployed(
        graph=graph,
        policy=json.loads(plain(graph.one(ROLE_POLICY, "job-policy").inputs)["policy"]),
        bucket=arguments["--data-bucket"],
        database=arguments["--database"],
        workgroup=arguments["--workgroup"],
        workflow=graph.one("aws:glue/workflow:Workflow").outputs["name"],
        namespace=arguments["--metrics-namespace"],
    )
    return _deployed.setdefault("dev", deployed)


@pytest.fixture(scope="module")
def recorded() -> job_calls.Recorded:
    run = job_calls.result()
    assert run.returncode == 0, "the runtime's moto tests failed:\n" + run.output[-3000:]
    assert "test_athena_engine.py" in run.files
    return run


def iam_requests(call: dict, stack: Deployed) -> list[tuple[str, str, dict]]:
    """The IAM requests (action, resource, condition context) one recorded call makes,
    read against the stack's resources."""
    service, operation, params = call["service"], call["operation"], call["params"]
    if service == "athena" and operation in ATHENA_OPERATIONS:
        arn = f"arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup/{stack.workgroup}"
        return [(f"athena:{operation}", arn, {})]
    if service == "glue" and operation in GLUE_TABLE_OPERATIONS:
        table = params.get("TableName") or params.get("Name") or params["TableInput"]["Name"]
        return [(f"glue:{operation}", arn, {}) for arn in stack.table_arns(table)]
    if (service, operation) == ("glue", "GetTables"):
        return [(f"glue:{operation}", arn, {}) for arn in stack.table_arns("*")]
    if (service, operation) == ("glue", "GetDatabase"):
        return [(f"glue:{operation}", arn, {}) for arn in stack.table_arns("x")[:2]]
    if (service, operation) == ("glue", "GetWorkflowRunProperties"):
        return [(f"glue:{operation}", stack.glue(f"workflow/{stack.workflow}"), {})]
    if service == "s3":
        return _s3_requests(operation, params, stack)
    if (service, operation) == ("cloudwatch", "PutMetricData"):
        # The job sends to its --metrics-namespace; the stack sets it (checked elsewhere).
        return [("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": stack.namespace})]
    raise AssertionError(
        f"{call['caller']} calls {service}:{operation}: map it to its IAM request here"
    )


def _s3_requests(operation: str, params: dict, stack: Deployed) -> list[tuple[str, str, dict]]:
    if operation in ("ListObjectsV2", "ListObjects"):
        return [("s3:ListBucket", f"arn:aws:s3:::{stack.bucket}", {})]
    if operation in ("GetObject", "HeadObject"):
        return [("s3:GetObject", stack.obj(params["Key"]), {})]
    if operation == "PutObject":
        return [("s3:PutObject", stack.obj(params["Key"]), {})]
    if operation == "DeleteObject":
        return [("s3:DeleteObject", stack.obj(params["Key"]), {})]
    if operation == "DeleteObjects":
        keys = [item["Key"] for item in params["Delete"]["Objects"]]
        return [("s3:DeleteObject", stack.obj(key), {}) for key in keys]
    if operation == "CopyObject":
        source = params["CopySource"]
        source_key = source["Key"] if isinstance(source, dict) else unquote(source).split("/", 1)[1]
        return [
            ("s3:GetObject", stack.obj(source_key), {}),
            ("s3:PutObject", stack.obj(params["Key"]), {}),
        ]
    raise AssertionError(f"the job calls s3:{operation}: map it to its IAM request here")


def requests_made(recorded, stack) -> list[tuple[str, str, dict]]:
    return [request for call in recorded.calls for request in iam_requests(call, stack)]


def test_every_call_the_job_code_makes_is_allowed(deployed_job, recorded):
    made = requests_made(recorded, deployed_job)

    callers = {call["caller"].split(":")[0] for call in recorded.calls}
    assert {"wap/engines/athena.py", "wap/job.py", "wap/metrics.py"} <= callers
    assert {action for action, _, _ in made} >= {
        "athena:StartQueryExecution", "glue:GetTable", "glue:BatchUpdatePartition",
        "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
        "glue:GetWorkflowRunProperties", "cloudwatch:PutMetricData",
    }  # fmt: skip
    refused = sorted({(a, r) for a, r, c in made if not allows(deployed_job.policy, a, r, c)})
    assert refused == []


def test_what_athena_does_on_the_jobs_behalf_is_allowed(deployed_job):
    stack = deployed_job
    bucket = f"arn:aws:s3:::{stack.bucket}"
    zones_read = [
        "raw/dt=2024-06-10/NVDA-1.csv",
        "raw_firehose/dt=2024-06-10/x.gz",
        "staging/daily_prices/run_id=r1/year=2024/p",
        "prod/daily_prices/v/p",
    ]
    written = ["staging/daily_prices/run_id=r1/year=2024/p", "prod/daily_prices/v/year=2024/p",
               f"{wap_workflow.ETL_RESULTS_PREFIX}abc.csv"]  # fmt: skip
    requests = [
        *((a, arn) for a in ("glue:GetDatabase",) for arn in stack.table_arns("x")[:2]),
        *(
            (a, arn)
            for a in ATHENA_ON_BEHALF
            if a.startswith("glue:")
            for table in ("raw_daily_prices", "daily_prices_staging_r1", "daily_prices")
            for arn in stack.table_arns(table)
        ),
        *((a, bucket) for a in ("s3:GetBucketLocation", "s3:ListBucket",
                                "s3:ListBucketMultipartUploads")),
        *(("s3:GetObject", stack.obj(key)) for key in [*zones_read, written[-1]]),
        *((a, stack.obj(key)) for key in written
          for a in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")),
    ]  # fmt: skip

    assert [r for r in requests if not allows(stack.policy, *r)] == []


def test_the_role_grants_nothing_the_code_or_athena_or_glue_does_not_use(deployed_job, recorded):
    policy = deployed_job.policy
    made = requests_made(recorded, deployed_job)
    justified = set(ATHENA_ON_BEHALF) | set(GLUE_RUNTIME)

    unused = [
        (action, statement["Resource"])
        for statement in policy["Statement"]
        for action in statement["Action"]
        if action not in justified
        and not any(
            made_action == action and matches(statement, action, resource, context)
            for made_action, resource, context in made
        )
    ]

    assert unused == []


def test_the_job_cannot_touch_the_raw_zone_artifacts_other_workgroups_or_namespaces(
    deployed_job,
):
    stack = deployed_job
    policy = stack.policy
    analytics = stack.graph.one("aws:athena/workgroup:Workgroup", "analytics").outputs["name"]

    for action in ("s3:PutObject", "s3:DeleteObject"):
        for key in ("raw/dt=2024-06-10/NVDA-1.csv", "raw_firehose/dt=2024-06-10/x",
                    wap_workflow.SCRIPT_KEY,
                    f"{wap_workflow.ANALYTICS_RESULTS_PREFIX}x.csv"):  # fmt: skip
            assert not allows(policy, action, stack.obj(key)), (action, key)
    assert not allows(policy, "s3:GetObject", stack.obj(f"{storage.ARTIFACTS_PREFIX}x"))
    # ... but Glue fetches the job's own code with the job's role.
    for key in (wap_workflow.SCRIPT_KEY, wap_workflow.LIBRARY_KEY):
        assert allows(policy, "s3:GetObject", stack.obj(key))
    workgroup = f"arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup/{analytics}"
    assert not allows(policy, "athena:StartQueryExecution", workgroup)
    other_db = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}:table/other_db/daily_prices"
    assert not allows(policy, "glue:DeleteTable", other_db)
    assert not allows(
        policy, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "stockpipe/prod"}
    )
