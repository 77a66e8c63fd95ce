"""Every policy of the pack passes on the mocked dev and prod stacks and reports its
violating fixture. Props are wrapped the way the engine wraps them
(`pulumi_policy.proxy.unknown_checking_proxy`), resources as the analyzer builds them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from components.plan import PROJECT_ROOT, Registered
from tests.components.conftest import (  # noqa: F401 (fixtures)
    Graph,
    cached_graph,
    plain,
    stack_graph,
)

sys.path.insert(0, str(PROJECT_ROOT / "policy"))  # as the CLI runs the pack: from its folder
import policies

PROVIDER_URN = "urn:pulumi:dev::stockpipe::pulumi:providers:aws::aws"
TAGGED_PROVIDER = {"defaultTags": json.dumps({"tags": {"project": "stockpipe", "stack": "dev"}})}


def _options(resource: Registered) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        resource.protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent_urn
    )


def _provider(resource: Registered, by_urn: dict[str, Registered]) -> PolicyProviderResource | None:
    provider = by_urn.get(resource.provider.rsplit("::", 1)[0])
    if provider is None:
        return None
    return PolicyProviderResource(
        provider.type, unknown_checking_proxy(plain(provider.inputs)), provider.urn, provider.name
    )


def violations_of(policy, resources: list[Registered]) -> list[str]:
    """What `policy` reports over these resources, called as the analyzer calls it."""
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    by_urn = {r.urn: r for r in resources}
    if isinstance(policy, ResourceValidationPolicy):
        for resource in resources:
            if resource.type.startswith("pulumi:"):
                continue
            args = ResourceValidationArgs(
                resource.type, unknown_checking_proxy(plain(resource.inputs)), resource.urn,
                resource.name, _options(resource), _provider(resource, by_urn), {},
            )  # fmt: skip
            policy.validate(args, report)
        return found
    assert isinstance(policy, StackValidationPolicy)
    stack = {
        r.urn: PolicyResource(
            r.type,
            unknown_checking_proxy(plain({**r.inputs, **r.outputs, "id": r.id})),
            r.urn,
            r.name,
            _options(r),
            _provider(r, by_urn),
            None,
            [],
            {},
        )
        for r in resources
        if not r.type.startswith("pulumi:")
    }
    ids = {r.id: stack[r.urn] for r in resources if r.urn in stack}
    for r in resources:
        if r.urn in stack:
            stack[r.urn].property_dependencies = {
                key: [ids[value]]
                for key, value in plain(r.inputs).items()
                if isinstance(value, str) and value in ids and ids[value] is not stack[r.urn]
            }
    policy.validate(StackValidationArgs(list(stack.values()), {}), report)
    return found


def resource(type_: str, name: str, inputs: dict, *, provider: str = PROVIDER_URN) -> Registered:
    urn = f"urn:pulumi:dev::stockpipe::{type_}::{name}"
    physical = f"{name}-0000000"
    outputs = {**inputs, "name": inputs.get("name", physical)}
    return Registered(type_, name, urn, physical, "", inputs, outputs, f"{provider}::p")


def provider_resource(inputs: dict = TAGGED_PROVIDER) -> Registered:
    return Registered("pulumi:providers:aws", "aws", PROVIDER_URN, "p", "", inputs, inputs)


@pytest.fixture
def stack_of(cached_graph) -> Callable[[str], Graph]:  # noqa: F811
    variants = {
        "": {},
        "firehose": {"ingestionSink": "firehose"},
        "spend": {"monthlyBudgetUsd": "25", "maxDailyScanBytes": "1073741824"},
    }

    def get(key: str) -> Graph:
        stack, _, variant = key.partition("+")
        return cached_graph(stack, **variants[variant])

    return get


@pytest.mark.parametrize("stack", ["dev", "prod", "dev+firehose", "prod+spend"])
@pytest.mark.parametrize("policy", policies.POLICIES, ids=lambda p: p.name)
def test_every_policy_passes_on_the_stack(stack_of, stack, policy):
    assert violations_of(policy, stack_of(stack).resources) == []


def test_the_pack_has_the_policies_the_issue_asks_for():
    assert {p.name for p in policies.POLICIES} == {
        "s3-buckets-private-encrypted-tls-only",
        "iam-no-wildcard-actions-or-broad-managed-policies",
        "lambda-failure-destination-and-log-retention",
        "lambda-no-plaintext-secrets",
        "athena-workgroups-enforce-encrypted-results",
        "glue-jobs-timeout-no-retries",
        "taggable-resources-tagged",
    }


def _policy(name: str):
    (found,) = [p for p in policies.POLICIES if p.name == name]
    return found


BUCKET = "aws:s3/bucket:Bucket"
bare_bucket = resource(BUCKET, "lake", {})
half_guarded = [
    bare_bucket,
    resource(policies.PUBLIC_ACCESS_BLOCK, "pab", {"bucket": "lake-0000000",
             "blockPublicAcls": True, "blockPublicPolicy": False,
             "ignorePublicAcls": True, "restrictPublicBuckets": True}),
    resource(policies.BUCKET_POLICY, "bp", {"bucket": "lake-0000000", "policy": json.dumps(
        {"Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Principal": "*",
                        "Resource": "*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})}),
]  # fmt: skip
function_inputs = {"loggingConfig": {"logGroup": "elsewhere"}, "environment": {"variables": {}}}

VIOLATIONS = [
    ("s3-buckets-private-encrypted-tls-only", [bare_bucket], 3),
    ("s3-buckets-private-encrypted-tls-only", half_guarded, 3),
    ("iam-no-wildcard-actions-or-broad-managed-policies", [
        resource("aws:iam/rolePolicy:RolePolicy", "p", {"policy": json.dumps({"Statement": [
            {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}]})}),
        resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a",
                 {"policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}),
        resource("aws:iam/role:Role", "r",
                 {"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
    ], 3),
    ("lambda-failure-destination-and-log-retention", [
        resource(policies.FUNCTION, "f", function_inputs),
        resource(policies.LOG_GROUP, "elsewhere", {"name": "elsewhere"}),  # no retention
        resource(policies.INVOKE_CONFIG, "ic", {"functionName": "f-0000000",
                 "destinationConfig": {"onSuccess": {"destination": "arn:aws:events:x"}}}),
    ], 2),
    ("lambda-no-plaintext-secrets", [
        resource(policies.FUNCTION, "f", {"environment": {"variables": {
            "ALPHAVANTAGE_API_KEY": "9f8e7d6c5b", "SOME_ID": "AKIAABCDEFGHIJKLMNOP",
            "ALPHAVANTAGE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:k"}}}),
    ], 2),
    ("athena-workgroups-enforce-encrypted-results", [
        resource(policies.WORKGROUP, "stockpipe-dev-wap-analytics", {"configuration": {
            "enforceWorkgroupConfiguration": False, "resultConfiguration": {}}}),
        resource(policies.WORKGROUP, "stockpipe-dev-wap-etl", {"configuration": {
            "enforceWorkgroupConfiguration": False, "resultConfiguration": {}}}),
    ], 3),
    ("glue-jobs-timeout-no-retries", [
        resource(policies.GLUE_JOB, "j", {"maxRetries": 1}),
    ], 2),
    ("taggable-resources-tagged", [
        provider_resource({}),
        resource("aws:sns/topic:Topic", "t", {}),
        resource("aws:iam/rolePolicy:RolePolicy", "not-taggable", {"policy": "{}"}),
    ], 1),
]  # fmt: skip


@pytest.mark.parametrize(("name", "resources", "count"), VIOLATIONS,
                         ids=[f"{v[0]}-{i}" for i, v in enumerate(VIOLATIONS)])  # fmt: skip
def test_each_policy_reports_its_violating_fixture(name, resources, count):
    found = violations_of(_policy(name), resources)

    assert len(found) == count, found


def test_the_etl_exception_is_only_about_enforcement():
    encrypted = {"encryptionConfiguration": {"encryptionOption": "SSE_S3"}}
    etl = resource(
        policies.WORKGROUP,
        "stockpipe-dev-wap-etl",
        {"configuration": {"enforceWorkgroupConfiguration": False,
                           "resultConfiguration": encrypted}},
    )  # fmt: skip

    assert violations_of(_policy("athena-workgroups-enforce-encrypted-results"), [etl]) == []


def test_pulumi_aws_says_which_types_take_tags():
    assert policies.is_taggable("aws:glue/job:Job")
    assert policies.is_taggable("aws:lambda/function:Function")
    assert not policies.is_taggable("aws:iam/rolePolicy:RolePolicy")
    assert not policies.is_taggable("aws:glue/trigger:NoSuchType")


def test_the_pack_file_only_builds_the_pack_from_these_policies():
    main = (PROJECT_ROOT / "policy" / "__main__.py").read_text(encoding="utf-8")

    assert "from policies import POLICIES" in main
    assert main.count("PolicyPack(") == 1
    assert "PolicyPack(" not in (PROJECT_ROOT / "policy" / "policies.py").read_text()
