"""The stockpipe CrossGuard policies (pulumi-policy): importable, so tests call them directly.

`policy/__main__.py` serves them as a policy pack (`pulumi preview --policy-pack policy`).
At run time the engine wraps props in `pulumi_policy.proxy.unknown_checking_proxy`: maps
and lists arrive as proxies (Mapping / Sequence, not dict / list), so every check below
reads them through those interfaces. Props use the engine's camelCase names.

In pulumi-aws 7 a bucket's guards (public-access block, encryption, policy) are resources
of their own, and so is a function's invoke configuration: "every bucket has X" and "every
function has an on-failure destination" are stack policies over the whole graph.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
FUNCTION = "aws:lambda/function:Function"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
WORKGROUP = "aws:athena/workgroup:Workgroup"
GLUE_JOB = "aws:glue/job:Job"
# Identity and resource policy documents, by resource type and the prop that holds them.
POLICY_DOCUMENTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
    BUCKET_POLICY: "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
}
POLICY_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
# AWS-managed policies that grant a whole service or the account.
BROAD_MANAGED_POLICY = re.compile(
    r"^arn:aws[\w-]*:iam::aws:policy/(.*FullAccess|AdministratorAccess)$"
)
# The one Athena workgroup allowed not to enforce its configuration: the write-audit-publish
# jobs' (components/wap_workflow.py), whose CTAS with external_location an enforcing
# workgroup would fail (README, Deploying with Pulumi: the ETL workgroup).
ETL_WORKGROUP_SUFFIX = "-wap-etl"
# Environment variable names that suggest a credential, and values that are one.
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)
SECRET_VALUE = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$|^-----BEGIN [A-Z ]*PRIVATE KEY-----")
REQUIRED_TAGS = ("project", "stack")


def _listed(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _get(props: Mapping[str, Any] | None, *path: str) -> Any:
    """props[path[0]][path[1]]... or None where a level is missing."""
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _of_type(resources: Iterable[PolicyResource], type_: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == type_]


def _refers_to(guard: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """Whether `guard.props[prop]` names `target`: by the engine's property dependencies
    when it reports them, else by value (the target's id or physical name)."""
    depends = guard.property_dependencies.get(prop) if guard.property_dependencies else None
    if depends:
        return any(r.urn == target.urn for r in depends)
    value = _get(guard.props, prop)
    names = {_get(target.props, key) for key in ("id", "bucket", "name", "arn")} - {None}
    return value is not None and value in names


# -- S3 ------------------------------------------------------------------------------------


def validate_buckets(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = args.resources
    for bucket in _of_type(resources, BUCKET):
        blocks = [
            g for g in _of_type(resources, PUBLIC_ACCESS_BLOCK) if _refers_to(g, "bucket", bucket)
        ]
        flags = (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
        if not any(all(_get(g.props, flag) is True for flag in flags) for g in blocks):
            report_violation(
                f"bucket {bucket.name} is not private: it needs a BucketPublicAccessBlock with "
                + ", ".join(flags) + " all true", bucket.urn,
            )  # fmt: skip
        encryptions = [
            g for g in _of_type(resources, ENCRYPTION) if _refers_to(g, "bucket", bucket)
        ]
        if not any(_sse_algorithms(g) for g in encryptions):
            report_violation(
                f"bucket {bucket.name} has no default encryption "
                "(BucketServerSideEncryptionConfiguration with an sseAlgorithm)", bucket.urn,
            )  # fmt: skip
        policies = [
            g for g in _of_type(resources, BUCKET_POLICY) if _refers_to(g, "bucket", bucket)
        ]
        if not any(_denies_insecure_transport(_document(g.props, "policy")) for g in policies):
            report_violation(
                f"bucket {bucket.name} accepts requests without TLS: its BucketPolicy must deny "
                "every action when aws:SecureTransport is false", bucket.urn,
            )  # fmt: skip


def _sse_algorithms(encryption: PolicyResource) -> list[str]:
    rules = _listed(_get(encryption.props, "rules"))
    return [
        algorithm
        for rule in rules
        if (algorithm := _get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"))
    ]


def _document(props: Mapping[str, Any], prop: str) -> Mapping[str, Any]:
    value = _get(props, prop)
    if isinstance(value, str):
        return json.loads(value)
    return value or {}


def _denies_insecure_transport(document: Mapping[str, Any]) -> bool:
    for statement in _listed(_get(document, "Statement")):
        actions = _listed(_get(statement, "Action"))
        if (
            _get(statement, "Effect") == "Deny"
            and any(action in ("*", "s3:*") for action in actions)
            and str(_get(statement, "Condition", "Bool", "aws:SecureTransport")).lower() == "false"
        ):
            return True
    return False


# -- IAM -----------------------------------------------------------------------------------


def validate_iam(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in POLICY_DOCUMENTS:
        document = _document(args.props, POLICY_DOCUMENTS[args.resource_type])
        for statement in _listed(_get(document, "Statement")):
            if _get(statement, "Effect") != "Allow":
                continue  # a Deny with a wildcard narrows access
            wildcards = [a for a in _listed(_get(statement, "Action")) if "*" in a]
            if wildcards or _get(statement, "NotAction") is not None:
                report_violation(
                    f"{args.name}: statement {_get(statement, 'Sid') or '(no Sid)'} allows "
                    f"wildcard actions {wildcards or ['NotAction']}; name each action"
                )
    arns = []
    if args.resource_type in POLICY_ATTACHMENTS:
        arns = [_get(args.props, "policyArn")]
    elif args.resource_type == "aws:iam/role:Role":
        arns = _listed(_get(args.props, "managedPolicyArns"))
    for arn in arns:
        if isinstance(arn, str) and BROAD_MANAGED_POLICY.match(arn):
            report_violation(f"{args.name} attaches the AWS-managed {arn}; write a scoped policy")


# -- Lambda --------------------------------------------------------------------------------


def validate_functions(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = args.resources
    for function in _of_type(resources, FUNCTION):
        configs = [c for c in _of_type(resources, INVOKE_CONFIG)
                   if _refers_to(c, "functionName", function)]  # fmt: skip
        if not any(_get(c.props, "destinationConfig", "onFailure", "destination") for c in configs):
            report_violation(
                f"function {function.name} has no on-failure destination "
                "(FunctionEventInvokeConfig destinationConfig.onFailure): a failed "
                "asynchronous run would vanish", function.urn,
            )  # fmt: skip
        group_name = _get(function.props, "loggingConfig", "logGroup")
        groups = [g for g in _of_type(resources, LOG_GROUP)
                  if group_name is not None and _get(g.props, "name") == group_name]  # fmt: skip
        if not any((_get(g.props, "retentionInDays") or 0) > 0 for g in groups):
            report_violation(
                f"function {function.name} does not log to a log group of its own with a "
                "retention (loggingConfig.logGroup naming a LogGroup with retentionInDays)",
                function.urn,
            )


def validate_function_environment(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type != FUNCTION:
        return
    variables = _get(args.props, "environment", "variables") or {}
    for name in variables:
        value = variables[name]
        if not isinstance(value, str) or value.startswith("arn:"):
            continue  # a secret's ARN is where to read it, not the secret
        if SECRET_VALUE.search(value) or (SECRET_NAME.search(name) and value):
            report_violation(
                f"{args.name}: environment variable {name} looks like a plaintext secret; "
                "store it in Secrets Manager and pass its ARN"
            )


# -- Athena, Glue --------------------------------------------------------------------------


def validate_workgroup(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != WORKGROUP:
        return
    configuration = _get(args.props, "configuration") or {}
    option = _get(configuration, "resultConfiguration", "encryptionConfiguration",
                  "encryptionOption")  # fmt: skip
    if not option:
        report_violation(f"workgroup {args.name} does not encrypt its query results")
    if _get(configuration, "enforceWorkgroupConfiguration") is not True and not (
        args.name.endswith(ETL_WORKGROUP_SUFFIX)
    ):
        report_violation(
            f"workgroup {args.name} does not enforce its configuration, so a query can write "
            f"unencrypted results anywhere; only the ETL workgroup (*{ETL_WORKGROUP_SUFFIX}) "
            "may, for the jobs' CTAS"
        )


def validate_glue_job(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != GLUE_JOB:
        return
    timeout = _get(args.props, "timeout")
    if not timeout or timeout <= 0:
        report_violation(f"Glue job {args.name} has no timeout (Glue's default is 48 hours)")
    if _get(args.props, "maxRetries") != 0:
        report_violation(
            f"Glue job {args.name} retries (maxRetries={_get(args.props, 'maxRetries')!r}): "
            "a write-audit-publish step must never be rerun outside the workflow's order"
        )


# -- tags ----------------------------------------------------------------------------------


@functools.cache
def is_taggable(resource_type: str) -> bool:
    """Whether pulumi-aws's resource class for a type token takes `tags`."""
    if not resource_type.startswith("aws:") or resource_type.count(":") != 2:
        return False
    _, module_path, class_name = resource_type.split(":")
    module = module_path.split("/")[0]
    try:
        package = importlib.import_module(
            f"pulumi_aws.{module + '_' if module in ('lambda',) else module}"
        )
        resource_class = getattr(package, class_name)
    except (ImportError, AttributeError):
        return False
    return "tags" in inspect.signature(resource_class._internal_init).parameters


def validate_tags(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for resource in args.resources:
        if not is_taggable(resource.resource_type):
            continue
        tags = dict(_get(resource.props, "tags") or {})
        provider = resource.provider
        if provider is not None:
            tags = {**dict(_provider_default_tags(provider.props)), **tags}
        missing = [tag for tag in REQUIRED_TAGS if not tags.get(tag)]
        if missing:
            report_violation(
                f"{resource.name} ({resource.resource_type}) is not tagged {', '.join(missing)}: "
                "create it through the stack's provider, whose default tags set them",
                resource.urn,
            )


def _provider_default_tags(props: Mapping[str, Any]) -> Mapping[str, Any]:
    value = _get(props, "defaultTags")
    if isinstance(value, str):
        value = json.loads(value)
    return _get(value, "tags") or {}


# -- the pack ------------------------------------------------------------------------------


def _mandatory(kind: type, name: str, description: str, validate: Callable):
    return kind(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _resource(name: str, description: str, validate: Callable) -> ResourceValidationPolicy:
    return _mandatory(ResourceValidationPolicy, name, description, validate)


def _stack(name: str, description: str, validate: Callable) -> StackValidationPolicy:
    return _mandatory(StackValidationPolicy, name, description, validate)


POLICIES = [
    _stack("s3-buckets-private-encrypted-tls-only",
           "Every bucket has all public-access blocks on, default encryption and a TLS-only "
           "bucket policy", validate_buckets),
    _resource("iam-no-wildcard-actions-or-broad-managed-policies",
              "No IAM Allow statement with '*' actions, no AWS-managed FullAccess or "
              "AdministratorAccess attachment", validate_iam),
    _stack("lambda-failure-destination-and-log-retention",
           "Every function has an on-failure destination and its own log group with a "
           "retention", validate_functions),
    _resource("lambda-no-plaintext-secrets",
              "No function environment value that looks like a secret",
              validate_function_environment),
    _resource("athena-workgroups-enforce-encrypted-results",
              "Athena workgroups encrypt results and enforce their configuration (the ETL "
              "workgroup is the documented exception)", validate_workgroup),
    _resource("glue-jobs-timeout-no-retries",
              "Glue jobs have a timeout and max_retries=0", validate_glue_job),
    _stack("taggable-resources-tagged",
           "Every taggable resource carries the project and stack tags", validate_tags),
]  # fmt: skip
