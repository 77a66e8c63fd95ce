"""The Glue jobs' default arguments are exactly options `runtime/wap/job.py` reads, naming
the stack's database, workgroup, bucket, prefixes, symbols and metric namespace."""

from __future__ import annotations

import pytest

from components import storage, wap_workflow
from runtime.wap import job
from tests.components.conftest import plain
from tests.contracts.conftest import stack_graph  # noqa: F401 (a fixture)

# Arguments Glue itself reads; every other one is the job's.
GLUE_ARGUMENTS = {
    "--extra-py-files",
    "--enable-continuous-cloudwatch-log",
    "--continuous-log-logGroup",
    "--job-language",
}


def job_arguments(graph, step: str) -> dict[str, str]:
    resource = graph.one("aws:glue/job:Job", step.replace("_", "-"))
    return plain(resource.inputs)["defaultArguments"]


def parsed(arguments: dict[str, str]) -> dict:
    argv = [part for key, value in arguments.items() if key not in GLUE_ARGUMENTS
            for part in (key, value)]  # fmt: skip
    return vars(job.parse_args(argv))


@pytest.mark.parametrize("step", wap_workflow.STEPS)
def test_every_job_argument_is_an_option_the_job_parses_to_that_value(stack_graph, step):  # noqa: F811
    arguments = job_arguments(stack_graph("dev"), step)

    options = parsed(arguments)

    ours = {key: value for key, value in arguments.items() if key not in GLUE_ARGUMENTS}
    assert {key: options[key[2:].replace("-", "_")] for key in ours} == ours
    assert options["step"] == step


def test_the_arguments_name_the_stacks_resources(stack_graph):  # noqa: F811
    graph = stack_graph("dev", ingestionSink="firehose")

    options = parsed(job_arguments(graph, "publish"))

    assert options["engine"] == "athena"
    assert (
        options["database"] == graph.one("aws:glue/catalogDatabase:CatalogDatabase").outputs["name"]
    )
    assert (
        options["workgroup"] == graph.one("aws:athena/workgroup:Workgroup", "etl").outputs["name"]
    )
    assert options["data_bucket"] == graph.one("aws:s3/bucket:Bucket").outputs["bucket"]
    assert (options["staging_prefix"], options["prod_prefix"]) == (
        storage.STAGING_PREFIX,
        storage.PROD_PREFIX,
    )
    assert options["metrics_namespace"] == "stockpipe/dev"
    function = plain(graph.one("aws:lambda/function:Function").inputs)
    # The same symbols the function ingests, and the same namespace its EMF uses.
    assert options["symbols"] == function["environment"]["variables"]["SYMBOLS"]
    assert (
        options["metrics_namespace"]
        == (function["environment"]["variables"]["POWERTOOLS_METRICS_NAMESPACE"])
    )
