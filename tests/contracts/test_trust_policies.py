"""Every AWS service principal the stack trusts, with the condition keys its documentation
says that service sends, checked against the policies the program deploys.

IAM evaluates a positive condition on a key missing from the request as false: a trust
policy that requires `aws:SourceAccount` from a service that does not send it makes a
role no one can assume (Glue: "Service is unable to assume provided role"), and a topic
policy that requires it from a publisher that does not send it drops every alert. Only a
real account proves what each service sends; this test proves the code matches the table
below, which is what AWS's pages document (docs/aws-constraints.md explains each row).

A role or resource policy trusting a principal with no row fails here: add the row, with
the page that says which keys that service sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from components.plan import ACCOUNT_ID, PROJECT_ROOT, REGION
from tests.components.conftest import plain

ROLE = "aws:iam/role:Role"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
# Every role the stack can create: prod has Grafana (managed); the Firehose sink adds its role.
VARIANTS = (("dev", {}), ("prod", {"ingestionSink": "firehose"}))


@dataclass(frozen=True)
class Trust:
    """The condition a principal is trusted under ({operator: {key: value}}) and the page
    documenting what that service sends."""

    condition: dict[str, dict[str, str]]
    page: str


SAME_ACCOUNT = {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}

# Principals that assume the stack's roles (trust policies).
ROLE_TRUST = {
    "lambda.amazonaws.com": Trust(
        {}, "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"
    ),
    "scheduler.amazonaws.com": Trust(
        SAME_ACCOUNT,
        "https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html",
    ),
    "firehose.amazonaws.com": Trust(
        {"StringEquals": {"sts:ExternalId": ACCOUNT_ID}},
        "https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#firehose-assume-role",
    ),
    # Dropped: Glue documents no source key for assuming its role (jobs and crawler).
    "glue.amazonaws.com": Trust(
        {}, "https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html"
    ),
    # Dropped: EventBridge documents source keys for its targets' resource policies only.
    "events.amazonaws.com": Trust(
        {},
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html",
    ),
    "grafana.amazonaws.com": Trust(
        SAME_ACCOUNT,
        "https://docs.aws.amazon.com/grafana/latest/userguide/cross-service-confused-deputy-prevention.html",
    ),
}
# Principals the alert topic's policy lets publish (resource policies).
RESOURCE_POLICY_TRUST = {
    "cloudwatch.amazonaws.com": Trust(
        {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:*"}},
        "https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger",
    ),
    "events.amazonaws.com": Trust(
        SAME_ACCOUNT,
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html",
    ),
}


TABLES = [("role", ROLE_TRUST), ("resource", RESOURCE_POLICY_TRUST)]


def allowed_services(document: dict) -> list[tuple[str, dict]]:
    """(service principal, condition) of every Allow statement naming a service."""
    found = []
    for statement in document["Statement"]:
        principal = statement.get("Principal")
        if statement["Effect"] != "Allow" or not isinstance(principal, dict):
            continue
        services = principal.get("Service", [])
        for service in [services] if isinstance(services, str) else services:
            found.append((service, statement.get("Condition", {})))
    return found


@pytest.fixture
def trusted(cached_graph) -> dict[str, dict[str, list[dict]]]:
    """{"role" | "resource": {principal: [the condition of each statement trusting it]}}
    over every variant of the stack."""
    found: dict[str, dict[str, list[dict]]] = {"role": {}, "resource": {}}
    for stack, overrides in VARIANTS:
        graph = cached_graph(stack, **overrides)
        for kind, type_, field in (
            ("role", ROLE, "assumeRolePolicy"),
            ("resource", TOPIC_POLICY, "policy"),
        ):
            for resource in graph.of_type(type_):
                document = json.loads(plain(resource.inputs)[field])
                for service, condition in allowed_services(document):
                    found[kind].setdefault(service, []).append(condition)
    return found


@pytest.mark.parametrize(("kind", "table"), TABLES)
def test_every_trusted_principal_has_a_row_and_only_its_documented_condition(trusted, kind, table):
    unlisted = sorted(set(trusted[kind]) - set(table))
    assert unlisted == [], f"add a row (with its documentation page) for {unlisted}"
    for service, conditions in trusted[kind].items():
        assert conditions == [table[service].condition] * len(conditions), service


@pytest.mark.parametrize(("kind", "table"), TABLES)
def test_every_row_is_a_principal_the_stack_trusts(trusted, kind, table):
    assert set(table) == set(trusted[kind])


def test_the_code_cites_each_rows_page_where_it_builds_the_policy():
    sources = "".join(
        path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "components").glob("*.py")
    )
    for service, trust in [*ROLE_TRUST.items(), *RESOURCE_POLICY_TRUST.items()]:
        assert trust.page.split("#")[0] in sources, f"{service}: cite {trust.page} in the code"
