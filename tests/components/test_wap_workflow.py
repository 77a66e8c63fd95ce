"""WapWorkflowComponent under mocks: catalog, crawler, jobs, the trigger chain, what starts
it, the workgroups and the alerts, as the dev stack builds them."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from components import wap_workflow
from runtime.schema import RAW_COLUMNS
from tests.components.conftest import Graph, plain

JOB = "aws:glue/job:Job"
TRIGGER = "aws:glue/trigger:Trigger"
TABLE = "aws:glue/catalogTable:CatalogTable"
CRAWLER = "aws:glue/crawler:Crawler"
WORKGROUP = "aws:athena/workgroup:Workgroup"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"


@pytest.fixture
def graph_of(cached_graph):
    def get(sink: str = "s3") -> Graph:
        return cached_graph("dev", ingestionSink=sink)

    return get


def jobs_by_step(graph: Graph) -> dict[str, dict]:
    jobs = [graph.inputs(JOB, step.replace("_", "-")) for step in wap_workflow.STEPS]
    return {job["defaultArguments"]["--step"]: job for job in jobs}


def lambda_result_event(function_arn: str, detail_type: str, condition: str) -> dict:
    """The record Lambda sends to an EventBridge destination (AWS's documented shape)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "lambda",
        "account": "123456789012",
        "time": "2024-06-10T22:05:12Z",
        "region": "us-east-1",
        "resources": [f"{function_arn}:$LATEST"],
        "detail": {
            "version": "1.0",
            "requestContext": {
                "requestId": "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
                "functionArn": f"{function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": 1,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": {"succeeded": ["NVDA"], "failed": []},
        },
    }


def test_the_raw_table_is_defined_as_the_athena_engine_reads_it(graph_of):
    graph = graph_of()
    bucket = graph.one("aws:s3/bucket:Bucket").outputs["bucket"]

    tables = {t.inputs["name"]: _inputs(t) for t in graph.of_type(TABLE)}
    table = tables["raw_daily_prices"]
    storage = table["storageDescriptor"]

    assert table["databaseName"] == "stockpipe_dev"
    assert [(c["name"], c["type"]) for c in storage["columns"]] == [
        (column, "string") for column in RAW_COLUMNS
    ]
    assert storage["location"] == f"s3://{bucket}/raw/"
    assert storage["serDeInfo"] == {
        "serializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "parameters": {"field.delim": ",", "serialization.format": ","},
    }
    assert table["partitionKeys"] == [{"name": "dt", "type": "string"}]
    parameters = table["parameters"]
    assert parameters["skip.header.line.count"] == "1"
    assert {key: value for key, value in parameters.items() if key.startswith("projection")} == {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": "2000-01-01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
    }
    assert parameters["storage.location.template"] == f"s3://{bucket}/raw/dt=${{dt}}/"


def test_the_split_records_table_reads_raw_splits_like_the_raw_csvs(graph_of):
    graph = graph_of("firehose")
    bucket = graph.one("aws:s3/bucket:Bucket").outputs["bucket"]
    tables = {t.inputs["name"]: _inputs(t) for t in graph.of_type(TABLE)}
    splits, prices = tables["raw_splits"], tables["raw_daily_prices"]

    assert [c["name"] for c in splits["storageDescriptor"]["columns"]] == [
        "symbol",
        "effective_date",
        "split_factor",
        "ingested_at",
    ]
    assert splits["storageDescriptor"]["location"] == f"s3://{bucket}/raw_splits/"
    assert splits["storageDescriptor"]["serDeInfo"] == prices["storageDescriptor"]["serDeInfo"]
    assert splits["parameters"]["storage.location.template"] == (
        f"s3://{bucket}/raw_splits/dt=${{dt}}/"
    )
    assert splits["parameters"]["skip.header.line.count"] == "1"
    assert splits["parameters"]["projection.enabled"] == "true"
    # Partition projection lists its folders: the crawler never touches it.
    assert "raw_splits" not in graph.inputs(CRAWLER)["catalogTargets"][0]["tables"]


def test_the_firehose_table_exists_only_with_that_sink_and_reads_json(graph_of):
    assert sorted(t.inputs["name"] for t in graph_of("s3").of_type(TABLE)) == [
        "raw_daily_prices",
        "raw_splits",
    ]
    graph = graph_of("firehose")
    bucket = graph.one("aws:s3/bucket:Bucket").outputs["bucket"]

    table = graph.inputs(TABLE, "raw-firehose-daily-prices")

    assert table["storageDescriptor"]["location"] == f"s3://{bucket}/raw_firehose/"
    assert table["storageDescriptor"]["serDeInfo"]["serializationLibrary"] == (
        "org.openx.data.jsonserde.JsonSerDe"
    )
    assert {c["type"] for c in table["storageDescriptor"]["columns"]} == {"string"}
    assert "skip.header.line.count" not in table["parameters"]
    crawler = graph.inputs(CRAWLER)
    assert crawler["catalogTargets"][0]["tables"] == [
        "raw_daily_prices",
        "raw_firehose_daily_prices",
    ]


def test_the_stack_declares_no_table_the_job_manages(graph_of):
    names = {t.inputs["name"] for t in graph_of("firehose").of_type(TABLE)}

    assert names == {"raw_daily_prices", "raw_firehose_daily_prices", "raw_splits"}


def test_the_crawler_only_adds_partitions_to_the_code_defined_tables(graph_of):
    crawler = graph_of().inputs(CRAWLER)

    assert crawler["catalogTargets"] == [
        {"databaseName": "stockpipe_dev", "tables": ["raw_daily_prices"]}
    ]
    assert crawler["schemaChangePolicy"] == {"deleteBehavior": "LOG", "updateBehavior": "LOG"}
    assert json.loads(crawler["configuration"])["CrawlerOutput"] == {
        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}
    }
    assert "s3Targets" not in crawler


def test_four_python_shell_jobs_run_one_script_with_their_step(graph_of):
    graph = graph_of()
    bucket = graph.one("aws:s3/bucket:Bucket").outputs["bucket"]
    objects = {o.inputs["key"]: o for o in graph.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}

    jobs = jobs_by_step(graph)

    assert list(jobs) == ["drop_staging", "create_staging", "audit", "publish"]
    wheel = "artifacts/wap/stockpipe_wap_runtime-1.0-py3-none-any.whl"
    assert set(objects) == {"artifacts/wap/job.py", wheel}
    for step, job in jobs.items():
        assert job["command"] == {
            "name": "pythonshell",
            "pythonVersion": "3.9",
            "scriptLocation": f"s3://{bucket}/artifacts/wap/job.py",
        }
        assert (job["glueVersion"], job["maxCapacity"]) == ("3.0", 0.0625)
        assert job["maxRetries"] == 0
        assert job["timeout"] == 90
        assert job["executionProperty"] == {"maxConcurrentRuns": 1}
        arguments = job["defaultArguments"]
        assert arguments["--step"] == step
        # Python shell installs a .whl from --extra-py-files (.egg is refused on 3.9).
        assert arguments["--extra-py-files"] == f"s3://{bucket}/{wheel}"
        # Continuous logging is Spark's: Python shell logs to Glue's default groups.
        assert not [key for key in arguments if "continuous" in key]
        assert arguments["--symbols"] == "AMD,NVDA,INTC,MU,QCOM,TXN,AMAT,AVGO,LSCC,KLAC"


def test_python_shell_logs_to_glues_default_groups_which_the_role_may_create(graph_of):
    graph = graph_of()
    policy = graph.policy("aws:iam/rolePolicy:RolePolicy", "job-policy")
    (logs,) = [s for s in policy["Statement"] if s["Sid"] == "JobLogs"]
    groups = [f"arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/python-jobs/{kind}"
              for kind in ("output", "error")]  # fmt: skip

    # Glue's documented Python-shell log groups (account-wide: the stack creates none, so
    # two stacks in one account never collide over them), created on first use.
    assert logs["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == [*groups, *(f"{group}:log-stream:*" for group in groups)]
    assert [g.name for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")
            if "-wap-" in g.name] == []  # fmt: skip


def test_the_triggers_chain_crawler_and_steps_on_success_only(graph_of):
    graph = graph_of()
    names = {r.outputs["name"]: r.name for r in graph.of_type(JOB) + graph.of_type(CRAWLER)}
    workflow = graph.one("aws:glue/workflow:Workflow")

    triggers = [_inputs(t) for t in graph.of_type(TRIGGER)]
    (start,) = [t for t in triggers if t["type"] == "EVENT"]
    chain = {
        names[_node(t["predicate"]["conditions"][0])]: names[t["actions"][0]["jobName"]]
        for t in triggers
        if t["type"] == "CONDITIONAL"
    }

    assert workflow.inputs["maxConcurrentRuns"] == 1
    assert {t["workflowName"] for t in triggers} == {workflow.outputs["name"]}
    assert [names[a["crawlerName"]] for a in start["actions"]] == ["stockpipe-dev-wap-crawler"]
    assert chain == {
        "stockpipe-dev-wap-crawler": "stockpipe-dev-wap-drop-staging",
        "stockpipe-dev-wap-drop-staging": "stockpipe-dev-wap-create-staging",
        "stockpipe-dev-wap-create-staging": "stockpipe-dev-wap-audit",
        "stockpipe-dev-wap-audit": "stockpipe-dev-wap-publish",
    }
    for trigger in triggers:
        if trigger["type"] == "CONDITIONAL":
            (condition,) = trigger["predicate"]["conditions"]
            assert condition.get("state", condition.get("crawlState")) == "SUCCEEDED"
            assert condition["logicalOperator"] == "EQUALS"
            assert trigger["startOnCreation"] is True


def test_a_successful_ingestion_run_starts_the_workflow_and_nothing_else_does(graph_of):
    graph = graph_of()
    function_arn = graph.one(FUNCTION).outputs["arn"]
    workflow = graph.one("aws:glue/workflow:Workflow")
    rule = graph.inputs(RULE, "on-ingestion")
    (target,) = [
        _inputs(t) for t in graph.of_type(TARGET) if t.name.endswith("on-ingestion-target")
    ]
    invoke = graph.inputs("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")

    pattern = EventPattern.load(rule["eventPattern"])
    success = lambda_result_event(function_arn, wap_workflow.LAMBDA_SUCCESS_DETAIL_TYPE, "Success")
    other_function = lambda_result_event(
        function_arn + "-other", wap_workflow.LAMBDA_SUCCESS_DETAIL_TYPE, "Success"
    )
    failure = lambda_result_event(
        function_arn, "Lambda Function Invocation Result - Failure", "RetriesExhausted"
    )

    assert pattern.matches_event(success)
    assert not pattern.matches_event(other_function)
    assert not pattern.matches_event(failure)
    assert target["arn"] == workflow.outputs["arn"]
    start_policy = graph.policy("aws:iam/rolePolicy:RolePolicy", "start-policy")
    assert start_policy["Statement"] == [
        {"Sid": "StartWorkflow", "Effect": "Allow", "Action": ["glue:notifyEvent"],
         "Resource": [workflow.outputs["arn"]]}
    ]  # fmt: skip
    # The function's successful asynchronous runs go to the default bus; failures to SQS.
    assert invoke["destinationConfig"]["onSuccess"]["destination"] == (
        "arn:aws:events:us-east-1:123456789012:event-bus/default"
    )
    assert invoke["destinationConfig"]["onFailure"]["destination"].startswith("arn:aws:sqs:")


@pytest.mark.parametrize(("sink", "batch"), [
    ("s3", [{"batchSize": 1}]),
    ("firehose", [{"batchSize": 100, "batchWindow": 180}]),
])  # fmt: skip
def test_the_start_waits_for_firehose_to_flush_only_with_that_sink(graph_of, sink, batch):
    (start,) = [t.inputs for t in graph_of(sink).of_type(TRIGGER) if t.inputs["type"] == "EVENT"]

    assert start["eventBatchingConditions"] == batch


def test_the_etl_workgroup_is_unenforced_and_the_analytics_one_enforced_and_capped(graph_of):
    graph = graph_of()
    bucket = graph.one("aws:s3/bucket:Bucket").outputs["bucket"]

    etl = graph.inputs(WORKGROUP, "etl")["configuration"]
    analytics = graph.inputs(WORKGROUP, "analytics")["configuration"]

    assert etl["enforceWorkgroupConfiguration"] is False
    assert analytics["enforceWorkgroupConfiguration"] is True
    assert etl["resultConfiguration"]["outputLocation"] == f"s3://{bucket}/query_results/etl/"
    assert analytics["resultConfiguration"]["outputLocation"] == (
        f"s3://{bucket}/query_results/analytics/"
    )
    for configuration in (etl, analytics):
        assert configuration["engineVersion"] == {
            "selectedEngineVersion": "Athena engine version 3"
        }
        assert configuration["resultConfiguration"]["encryptionConfiguration"] == {
            "encryptionOption": "SSE_S3"
        }
        assert configuration["publishCloudwatchMetricsEnabled"] is True
    assert analytics["bytesScannedCutoffPerQuery"] >= 10 * 1024**2
    assert "bytesScannedCutoffPerQuery" not in etl


def test_only_the_job_role_may_use_the_etl_workgroup(graph_of):
    graph = graph_of()
    etl_name = graph.one(WORKGROUP, "etl").outputs["name"]

    granting = [
        name
        for name, document in graph.policies().items()
        if any(etl_name in json.dumps(s.get("Resource")) for s in document["Statement"])
    ]

    assert granting == ["stockpipe-dev-wap-job-policy.policy"]
    job = graph.inputs(JOB, "publish")["defaultArguments"]
    assert job["--workgroup"] == etl_name


def test_glue_failures_of_these_jobs_and_this_crawler_reach_the_topic(graph_of):
    graph = graph_of()
    topic = graph.one("aws:sns/topic:Topic").outputs["arn"]
    job_names = [graph.one(JOB, s.replace("_", "-")).outputs["name"] for s in wap_workflow.STEPS]
    crawler_name = graph.one(CRAWLER).outputs["name"]
    jobs_rule = EventPattern.load(graph.inputs(RULE, "job-failed")["eventPattern"])
    crawler_rule = EventPattern.load(graph.inputs(RULE, "crawler-failed")["eventPattern"])

    def job_event(name: str, state: str) -> dict:
        return {"source": "aws.glue", "detail-type": "Glue Job State Change",
                "detail": {"jobName": name, "state": state, "jobRunId": "jr_1"}}  # fmt: skip

    for name in job_names:
        # Glue's job state events: SUCCEEDED, FAILED, TIMEOUT, STOPPED (a stopped run alerts).
        for state in ("FAILED", "TIMEOUT", "STOPPED"):
            assert jobs_rule.matches_event(job_event(name, state))
        assert not jobs_rule.matches_event(job_event(name, "SUCCEEDED"))
    assert not jobs_rule.matches_event(job_event("someone-elses-job", "FAILED"))
    crawler_event = {"source": "aws.glue", "detail-type": "Glue Crawler State Change",
                     "detail": {"crawlerName": crawler_name, "state": "Failed"}}  # fmt: skip
    assert crawler_rule.matches_event(crawler_event)
    targets = [t.inputs for t in graph.of_type(TARGET) if "failed" in t.name]
    assert [t["arn"] for t in targets] == [topic, topic]


def test_one_freshness_alarm_per_symbol_where_missing_data_breaches(graph_of):
    graph = graph_of()
    alarms = [a.inputs for a in graph.of_type(ALARM) if a.name.startswith("stockpipe-dev-wap-")]

    assert sorted(a["dimensions"]["Symbol"] for a in alarms) == sorted(
        ["AMD", "NVDA", "INTC", "MU", "QCOM", "TXN", "AMAT", "AVGO", "LSCC", "KLAC"]
    )
    for alarm in alarms:
        assert (alarm["namespace"], alarm["metricName"]) == (
            "stockpipe/dev",
            "PublishedDataAgeDays",
        )
        assert alarm["treatMissingData"] == "breaching"
        assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 4)
        assert (alarm["period"], alarm["evaluationPeriods"]) == (86400, 4)


def test_the_freshness_window_is_configurable(stack_graph):
    graph = stack_graph("dev", freshnessMaxAgeDays="6")

    alarm = graph.inputs(ALARM, "freshness-nvda")

    assert (alarm["threshold"], alarm["evaluationPeriods"]) == (6, 6)


def _inputs(resource) -> dict:
    return plain(resource.inputs)


def _node(condition: dict) -> str:
    return condition.get("jobName") or condition["crawlerName"]
