"""IAM policy documents rendered in code, shared by every role and resource policy, and the
one shape every service role of the stack has (a trust policy and one inline policy).

Documents are built with `Output.json_dumps` rather than the `getPolicyDocument` invoke:
the JSON the tests read is the JSON that is deployed. Every statement names its actions
and the resources (ARNs, or an ARN plus a key prefix) it applies to; no builder here
takes a wildcard action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

POLICY_VERSION = "2012-10-17"


def allow(
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    sid: str | None = None,
    conditions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An Allow statement for an identity policy."""
    if not actions or any("*" in action for action in actions):
        raise ValueError(f"name each action explicitly, got {list(actions)}")
    if not resources:
        raise ValueError("a statement needs at least one resource")
    statement: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions)}
    statement["Resource"] = list(resources)
    if sid:
        statement["Sid"] = sid
    if conditions:
        statement["Condition"] = dict(conditions)
    return statement


def allow_service(
    service: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    sid: str | None = None,
    conditions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An Allow statement of a resource policy, for an AWS service principal."""
    statement = allow(actions, resources, sid=sid, conditions=conditions)
    return {**statement, "Principal": {"Service": service}}


def document(*statements: Mapping[str, Any]) -> pulumi.Output[str]:
    """A policy document as the JSON string IAM takes (inputs resolved)."""
    return pulumi.Output.json_dumps({"Version": POLICY_VERSION, "Statement": list(statements)})


def assume_role_policy(service: str, conditions: Mapping[str, Any] | None = None) -> Any:
    """The trust policy letting one AWS service assume a role, under `conditions` if any.

    A positive condition on a key the service does not send when it assumes the role
    evaluates to false, and the role can never be used: pass a condition only where the
    service's documentation shows it (tests/contracts/test_trust_policies.py keeps the
    table of every principal the stack trusts, with the page for each).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if conditions:
        statement["Condition"] = dict(conditions)
    return document(statement)


def from_account(account_id: pulumi.Input[str]) -> dict[str, Any]:
    """The confused-deputy guard on the calling resource's account (`aws:SourceAccount`)."""
    return {"StringEquals": {"aws:SourceAccount": account_id}}


def objects_under(bucket_arn: pulumi.Input[str], prefix: str) -> pulumi.Output[str]:
    """The ARN pattern of every object under `prefix` in a bucket."""
    if not prefix.endswith("/"):
        raise ValueError(f"a key prefix ends with '/', got {prefix!r}")
    return pulumi.Output.concat(bucket_arn, "/", prefix, "*")


def log_streams_of(log_group_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The ARN pattern of every stream of a log group (LogGroup.arn has no `:*`)."""
    return pulumi.Output.concat(log_group_arn, ":log-stream:*")


def deny_insecure_transport(resources: Sequence[pulumi.Input[str]], actions: str) -> dict:
    """A Deny for any request not made over TLS (`aws:SecureTransport` false)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": list(resources),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def service_role(
    resource_name: str,
    service: str,
    statements: Sequence[Mapping[str, Any]],
    opts: pulumi.ResourceOptions,
    conditions: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role `service` may assume (`{resource_name}-role`) with one inline policy of
    `statements` (`{resource_name}-policy`), trusting `service` under `conditions`
    (see `assume_role_policy`). Whatever uses the role should depend on the
    policy, so it never runs with a role that cannot do its work yet."""
    role = aws.iam.Role(
        f"{resource_name}-role",
        description=description,
        assume_role_policy=assume_role_policy(service, conditions),
        opts=opts,
    )
    policy = aws.iam.RolePolicy(
        f"{resource_name}-policy", role=role.id, policy=document(*statements), opts=opts
    )
    return role, policy
