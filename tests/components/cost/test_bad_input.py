"""A usage file or price table `make cost` cannot use: one line naming file and key, exit 2."""

from __future__ import annotations

import pytest

GOOD_TYPES = '"aws:glue/job:Job": {average_run_seconds: 30}'


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            "version: 0.1\nresource_usage:\n  stockpipe-dev-nope: {ingested_gb: 1}\n",
            "resource_usage.stockpipe-dev-nope: no resource of this name in the stack",
        ),
        (
            "version: 0.1\nresource_usage:\n  stockpipe-dev-ingest-logs: {ingested_gb: -1}\n",
            "resource_usage.stockpipe-dev-ingest-logs.ingested_gb: -1 must be zero or more",
        ),
        (
            "version: 0.1\nresource_type_default_usage:\n"
            '  "aws:glue/job:Job": {average_run_seconds: soon}\n',
            "resource_type_default_usage.aws:glue/job:Job.average_run_seconds: 'soon' is not "
            "a number",
        ),
        (
            'version: 0.1\nresource_type_default_usage:\n  "aws:glue/job:Job": {run_minutes: 3}\n',
            "resource_type_default_usage.aws:glue/job:Job.run_minutes: unknown usage key; "
            "known: average_run_seconds",
        ),
        (
            'version: 0.1\nresource_type_default_usage:\n  "aws:iam/role:Role": {count: 3}\n',
            "resource_type_default_usage.aws:iam/role:Role: no usage for this type",
        ),
        (
            f"version: 0.1\nresource_type_default_usage:\n  {GOOD_TYPES}\ncomment: hi\n",
            "comment: unknown key; known: version, resource_type_default_usage, resource_usage",
        ),
        ("version: 2\n", "version: must be 0.1"),
    ],
)
def test_a_bad_usage_file_is_one_line_naming_the_file_and_key(cost, tmp_path, body, problem):
    usage = tmp_path / "usage.yml"
    usage.write_text(body, encoding="utf-8")

    run = cost("dev", "--usage", str(usage))

    assert run.status == 2
    assert run.out == ""
    assert run.err.startswith(f"error: {usage}: {problem}")
    assert run.err.count("\n") == 1


def test_a_usage_file_that_is_missing_says_so(cost, tmp_path):
    run = cost("dev", "--usage", str(tmp_path / "absent.yml"))

    assert run.status == 2
    assert run.err.startswith(f"error: {tmp_path / 'absent.yml'}: cannot read the usage file")
    assert run.err.count("\n") == 1


def test_a_price_table_without_the_stacks_region_is_exit_2(cost, project):
    directory = project(
        "paris",
        "config:\n  aws:region: eu-west-3\n  stockpipe:alphaVantageApiKey: {secure: AAABAbCdEf}\n",
    )

    run = cost("paris", "--project-dir", str(directory))

    assert run.status == 2
    assert run.err.startswith("error: ")
    assert "prices.toml: region: no prices for eu-west-3 (the table has us-east-1)" in run.err
    assert run.err.count("\n") == 1


def test_a_stack_without_a_region_is_exit_2(cost, project):
    directory = project("nowhere", "config:\n  stockpipe:alphaVantageApiKey: {secure: AAAB}\n")

    run = cost("nowhere", "--project-dir", str(directory))

    assert (run.status, run.err) == (2, "error: Pulumi.nowhere.yaml: aws:region: not set\n")


def test_an_unknown_stack_is_exit_2(cost):
    run = cost("staging")

    assert run.status == 2
    assert "unknown stack 'staging'" in run.err
