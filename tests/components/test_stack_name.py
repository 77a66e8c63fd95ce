"""The stack name: each name derived from it checked at preview against its own rule."""

from __future__ import annotations

import re
import shutil

import pytest

from components.plan import StackMocks, run_program
from components.stack_name import database_name, stack_name_problems
from tests.components.conftest import TEST_API_KEY

PROJECT = "stockpipe"


@pytest.mark.parametrize("stack", ["dev", "prod", "staging", "feature-x1"])
def test_ordinary_stack_names_pass(stack):
    assert stack_name_problems(PROJECT, stack, grafana=True) == []


@pytest.mark.parametrize("stack", ["Dev", "my_stack", "eu.prod"])
def test_a_name_the_bucket_cannot_carry_fails_naming_the_bucket_rule(stack):
    (problem,) = stack_name_problems(PROJECT, stack, grafana=False)

    assert f"stack name {stack!r} does not fit the S3 bucket name" in problem
    assert "lowercase letters, digits and '-'" in problem
    assert "bucketnamingrules" in problem


def test_the_iam_role_length_bounds_the_name_at_25_characters():
    assert stack_name_problems(PROJECT, "a" * 25, grafana=False) == []

    (problem,) = stack_name_problems(PROJECT, "a" * 26, grafana=False)

    assert "the IAM role name" in problem
    assert "more than 64" in problem
    assert "at most 25 characters" in problem


def test_with_grafana_its_uids_bound_the_name_at_15_characters():
    assert stack_name_problems(PROJECT, "a" * 15, grafana=True) == []

    (problem,) = stack_name_problems(PROJECT, "a" * 16, grafana=True)

    assert "the Grafana uid" in problem
    assert "at most 15 characters" in problem


@pytest.mark.parametrize(
    ("stack", "database"),
    [
        ("dev", "stockpipe_dev"),
        ("feature-x1", "stockpipe_feature_x1"),
        ("Eu.Prod", "stockpipe_eu_prod"),
    ],
)
def test_the_glue_database_name_is_derived_to_fit_athena(stack, database):
    assert database_name(PROJECT, stack) == database


@pytest.mark.parametrize(("stack", "overrides"), [
    ("a" * 25, {"ingestionSink": "firehose"}),
    ("b" * 15, {"ingestionSink": "firehose", "grafana": '{"mode": "managed"}'}),
])  # fmt: skip
def test_the_longest_passing_names_give_names_aws_accepts(
    pulumi_mocks: StackMocks, tmp_path, stack, overrides
):
    # The program at the limits, every role and the bucket auto-named as Pulumi does.
    shutil.copy("__main__.py", tmp_path / "__main__.py")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text("config:\n  aws:region: us-east-1\n")

    run = run_program(pulumi_mocks, stack, api_key=TEST_API_KEY, overrides=overrides,
                      project_dir=tmp_path)  # fmt: skip

    names = {r.type: [] for r in run.resources}
    for resource in run.resources:
        names[resource.type].append(resource.outputs.get("name") or resource.outputs.get("bucket"))
    assert max(len(name) for name in names["aws:iam/role:Role"]) <= 64
    (bucket,) = names["aws:s3/bucket:Bucket"]
    assert len(bucket) <= 63
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", bucket)
    uids = [r.inputs.get("uid") for r in run.resources if r.type.startswith("grafana:oss/")]
    assert all(len(uid) <= 40 for uid in uids if uid)
