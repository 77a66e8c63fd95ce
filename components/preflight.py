"""`make preflight STACK=dev`: read-only checks of an AWS account before a stack's first `up`.

    python -m components.preflight dev

Run with the AWS credentials `pulumi up` will use. One line per check: `ok`, `note` (worth
knowing, not a failure) or `FAIL` with what to do; the exit status is 1 when any check
failed, 2 for a usage error. Nothing is written: every AWS call is a Get, List or Describe,
and Grafana is only read.

What the stack needs (its SSM parameters, AWS managed policies, service-linked roles, how
many Glue jobs, triggers, workflows and crawlers) is read from the offline plan
(`components/plan.py`): the program runs under mocks with Pulumi.<stack>.yaml, so the checks
follow the program as it changes, and a configuration `pulumi preview` would refuse fails
here first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pulumi
import requests
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from components.config import POWERTOOLS_LAYER_ARN
from components.ingestion import powertools_layer_parameter, powertools_version
from components.plan import (
    GET_PARAMETER_INVOKE,
    PROJECT,
    PROJECT_ROOT,
    StackFileError,
    StackMocks,
    install_mocks,
    run_program,
    stack_file_config,
    stacks,
)

ClientFactory = Callable[[str], Any]

OK, NOTE, FAIL = "ok", "note", "FAIL"

LAYER_KEY = f"{PROJECT}:{POWERTOOLS_LAYER_ARN}"
# AWS's Powertools layers describe themselves as "... with extra dependencies version 3.37.0".
LAYER_VERSION = re.compile(r"\bversion (\d+\.\d+\.\d+)\b")
LOCK = PROJECT_ROOT / "requirements.txt"

# Service-linked roles a resource type needs; created by the service on first use when the
# deploying principal may call iam:CreateServiceLinkedRole.
SERVICE_LINKED_ROLES = {
    # https://docs.aws.amazon.com/grafana/latest/userguide/using-service-linked-roles.html
    "aws:grafana/workspace:Workspace": ("AWSServiceRoleForAmazonGrafana", "grafana.amazonaws.com"),
}


@dataclass(frozen=True)
class QuotaNeed:
    """An account-wide Glue quota and how to count what the account already uses of it."""

    what: str  # as AWS names the quota: "Max <what> per account"
    resource_type: str
    list_operation: str
    list_field: str


# https://docs.aws.amazon.com/general/latest/gr/glue.html (Service Quotas, service code glue)
GLUE_QUOTAS = (
    QuotaNeed("jobs", "aws:glue/job:Job", "list_jobs", "JobNames"),
    QuotaNeed("triggers", "aws:glue/trigger:Trigger", "list_triggers", "TriggerNames"),
    QuotaNeed("workflows", "aws:glue/workflow:Workflow", "list_workflows", "Workflows"),
    QuotaNeed("crawlers", "aws:glue/crawler:Crawler", "list_crawlers", "CrawlerNames"),
)

# What the stack does in an external Grafana (data source, folder, dashboard) and what
# `make smoke` asks of it, as Grafana's RBAC actions
# (https://grafana.com/docs/grafana/latest/administration/roles-and-permissions/access-control/custom-role-actions-scopes/).
GRAFANA_ACTIONS = (
    "datasources:create", "datasources:read", "datasources:write", "datasources:query",
    "folders:create", "folders:read", "folders:write",
    "dashboards:create", "dashboards:read", "dashboards:write",
)  # fmt: skip
GRAFANA_TOKEN_ENV = "STOCKPIPE_GRAFANA_TOKEN"  # noqa: S105 (a variable name)
HTTP_TIMEOUT_SECONDS = 10
NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE (and `aws sso login`), or AWS_ACCESS_KEY_ID "
    "and AWS_SECRET_ACCESS_KEY"
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4} {self.name}: {self.detail}"


@dataclass
class StackNeeds:
    """The stack file's settings preflight reads and what the plan says the stack needs."""

    stack: str
    region: str | None
    allowed_accounts: tuple[str, ...] = ()
    forbidden_accounts: tuple[str, ...] = ()
    layer_arn: str | None = None
    grafana: dict[str, Any] = field(default_factory=dict)
    ssm_parameters: tuple[str, ...] = ()
    managed_policies: tuple[str, ...] = ()
    service_linked_roles: tuple[tuple[str, str], ...] = ()
    counts: Counter = field(default_factory=Counter)


class PreflightError(Exception):
    """A check that stops the others (no stack file, no credentials)."""


def read_stack_needs(
    stack: str, mocks: StackMocks | None = None, project_dir: Path = PROJECT_ROOT
) -> StackNeeds:
    """Pulumi.<stack>.yaml's settings, and the plan's needs; PreflightError when unusable."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(stacks(project_dir)) or "none"
        raise PreflightError(f"no stack file {path.name} (stacks: {known})")
    try:
        settings = stack_file_config(path)
    except StackFileError as error:
        raise PreflightError(str(error)) from None
    layer_arn = settings.get(LAYER_KEY)
    needs = StackNeeds(
        stack=stack,
        region=settings.get("aws:region"),
        allowed_accounts=_account_list(settings.get("aws:allowedAccountIds")),
        forbidden_accounts=_account_list(settings.get("aws:forbiddenAccountIds")),
        layer_arn=str(layer_arn).strip() if layer_arn is not None else None,
        grafana=settings.get(f"{PROJECT}:grafana") or {},
    )
    if mocks is None:
        mocks = StackMocks()
        install_mocks(mocks, stack)
    # The program validates every setting as `pulumi preview` would (the layer ARN's form
    # and region among them): a setting it refuses is this one line.
    try:
        run = run_program(mocks, stack, project_dir=project_dir)
    except pulumi.RunError as error:
        raise PreflightError(" ".join(str(error).split())) from None
    needs.ssm_parameters = tuple(
        args["name"] for token, args in mocks.invokes if token == GET_PARAMETER_INVOKE
    )
    needs.managed_policies = tuple(
        sorted({arn for r in run.resources for arn in _aws_policy_arns(r.inputs)})
    )
    needs.counts = Counter(r.type for r in run.resources)
    needs.service_linked_roles = tuple(
        role for typ, role in SERVICE_LINKED_ROLES.items() if needs.counts[typ]
    )
    return needs


def _account_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = value.split(",")
    items = value if isinstance(value, list) else [value]
    return tuple(str(item).strip() for item in items if str(item).strip())


def _aws_policy_arns(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _aws_policy_arns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _aws_policy_arns(item)
    elif isinstance(value, str) and re.match(r"^arn:aws[a-z-]*:iam::aws:policy/", value):
        yield value


def pinned_powertools_version(lock: Path = LOCK) -> str:
    try:
        return powertools_version(lock)
    except ValueError as error:
        raise PreflightError(str(error)) from None


def run_checks(
    needs: StackNeeds,
    clients: ClientFactory,
    *,
    configured_region: str | None,
    grafana_token: Callable[[], str | None],
    pinned_version: str,
) -> Iterator[Check]:
    """Every check in order; stops after a failed credentials check (the rest need them)."""
    identity, account = _identity(clients)
    yield identity
    if account is None:
        return
    yield _region(needs, configured_region)
    yield _account(needs, account)
    for name in needs.ssm_parameters:
        yield _aws(f"SSM parameter {name}", lambda name=name: _ssm_parameter(clients, needs, name))
    yield _aws("Powertools layer", lambda: _powertools_layer(clients, needs, pinned_version))
    if not needs.managed_policies:
        yield Check("managed policies", OK, "the stack attaches no AWS managed policy")
    for arn in needs.managed_policies:
        yield _aws(f"managed policy {arn}", lambda arn=arn: _managed_policy(clients, arn))
    if not needs.service_linked_roles:
        yield Check("service-linked roles", OK, "the stack needs none")
    for role, service in needs.service_linked_roles:
        yield _aws(
            f"service-linked role {role}",
            lambda role=role, service=service: _service_linked_role(clients, role, service),
        )
    for quota in GLUE_QUOTAS:
        if needs.counts[quota.resource_type]:
            yield _aws(f"quota Glue {quota.what}", lambda q=quota: _glue_quota(clients, needs, q))
    yield from _grafana(needs, clients, grafana_token)


def _aws(name: str, check: Callable[[], tuple[str, str]]) -> Check:
    """Run one AWS check; an AWS error becomes its FAIL line."""
    try:
        status, detail = check()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        operation = error.operation_name
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            detail = (
                f"these credentials may not call {operation} ({message}); preflight needs "
                "read access to it"
            )
        else:
            detail = f"{operation} failed: {code}: {message}"
        return Check(name, FAIL, detail)
    except BotoCoreError as error:
        return Check(name, FAIL, f"AWS could not be reached: {error}")
    return Check(name, status, detail)


def _identity(clients: ClientFactory) -> tuple[Check, str | None]:
    """The credentials check and the account they belong to (None when unusable)."""
    try:
        identity = clients("sts").get_caller_identity()
    except NoCredentialsError:
        return Check("credentials", FAIL, NO_CREDENTIALS), None
    except (ClientError, BotoCoreError) as error:
        return Check("credentials", FAIL, f"AWS refused these credentials: {error}"), None
    account = identity["Account"]
    return Check("credentials", OK, f"account {account} as {identity['Arn']}"), account


def _region(needs: StackNeeds, configured: str | None) -> Check:
    if not needs.region:
        return Check(
            "region",
            FAIL,
            f"Pulumi.{needs.stack}.yaml sets no aws:region: pulumi config set aws:region <region>",
        )
    known = boto3.session.Session().get_available_regions("lambda")
    if needs.region not in known:
        return Check("region", FAIL, f"aws:region={needs.region!r} is not an AWS region")
    if configured and configured != needs.region:
        return Check(
            "region",
            FAIL,
            f"your AWS region is {configured} but stack {needs.stack} deploys to "
            f"{needs.region}: export AWS_REGION={needs.region} (make smoke and the aws CLI "
            "use it), or change aws:region",
        )
    return Check("region", OK, f"{needs.region}, as stack {needs.stack} sets")


def _account(needs: StackNeeds, account: str) -> Check:
    if account in needs.forbidden_accounts:
        return Check(
            "account", FAIL, f"{account} is in aws:forbiddenAccountIds: use the stack's account"
        )
    if needs.allowed_accounts and account not in needs.allowed_accounts:
        return Check(
            "account",
            FAIL,
            f"{account} is not in aws:allowedAccountIds ({', '.join(needs.allowed_accounts)}): "
            "switch to credentials of an allowed account",
        )
    if needs.allowed_accounts:
        return Check("account", OK, f"{account} is in aws:allowedAccountIds")
    return Check("account", OK, f"{account} (the stack names no aws:allowedAccountIds)")


def _ssm_parameter(clients: ClientFactory, needs: StackNeeds, name: str) -> tuple[str, str]:
    try:
        value = clients("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        hint = ""
        if name.startswith(powertools_layer_parameter("")):
            hint = (
                f": set {LAYER_KEY} to the layer's ARN for this Powertools release "
                "(docs/preflight-and-smoke.md)"
            )
        return FAIL, f"not found in {needs.region}{hint}"
    return OK, f"found ({value})"


def _powertools_layer(
    clients: ClientFactory, needs: StackNeeds, pinned_version: str
) -> tuple[str, str]:
    # The setting's form and region were checked with the stack's settings (read_stack_needs).
    source = LAYER_KEY
    arn = needs.layer_arn
    if arn is None:
        parameter = powertools_layer_parameter(pinned_version)
        source = f"SSM parameter {parameter}"
        try:
            arn = clients("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise
            return FAIL, f"{source} is missing in {needs.region}: set {LAYER_KEY} instead"
    try:
        layer = clients("lambda").get_layer_version_by_arn(Arn=arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in (
            "ResourceNotFoundException",
            "AccessDeniedException",
        ):
            raise
        return FAIL, f"{arn} (from {source}) does not exist or is not shared with this account"
    found = LAYER_VERSION.search(layer.get("Description") or "")
    if not found:
        return FAIL, (
            f"{arn} does not say which Powertools release it holds (its description: "
            f"{layer.get('Description')!r}); use AWS's layer for {pinned_version}"
        )
    if found.group(1) != pinned_version:
        return FAIL, (
            f"{arn} holds Powertools {found.group(1)}, the lock pins {pinned_version}: "
            f"set {LAYER_KEY} to the layer of {pinned_version}"
        )
    return OK, f"{arn} holds Powertools {pinned_version}, as the lock pins"


def _managed_policy(clients: ClientFactory, arn: str) -> tuple[str, str]:
    try:
        clients("iam").get_policy(PolicyArn=arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return FAIL, "does not exist in this partition"
    return OK, "exists"


def _service_linked_role(clients: ClientFactory, role: str, service: str) -> tuple[str, str]:
    try:
        clients("iam").get_role(RoleName=role)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return NOTE, (
            f"not created yet: {service} creates it on first use if the deploying principal "
            f"may call iam:CreateServiceLinkedRole; else: aws iam create-service-linked-role "
            f"--aws-service-name {service}"
        )
    return OK, "exists"


def _glue_quota(clients: ClientFactory, needs: StackNeeds, quota: QuotaNeed) -> tuple[str, str]:
    wanted = needs.counts[quota.resource_type]
    name = f"max {quota.what} per account"
    limit = _quota_value(clients("service-quotas"), "glue", name)
    used = _count(clients("glue"), quota.list_operation, quota.list_field)
    if limit is None:
        return NOTE, f"{used} in use, the stack adds {wanted}; Service Quotas lists no '{name}'"
    if used + wanted > limit:
        return FAIL, (
            f"{used} in use + {wanted} the stack adds > quota {limit:g}: request an increase "
            "in Service Quotas (AWS Glue) or remove unused ones"
        )
    return OK, f"{used} in use + {wanted} the stack adds <= quota {limit:g}"


def _quota_value(client: Any, service: str, name: str) -> float | None:
    """The applied quota named `name` (case-insensitive), else AWS's default, else None."""
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        token = None
        while True:
            kwargs = {"ServiceCode": service, **({"NextToken": token} if token else {})}
            page = getattr(client, operation)(**kwargs)
            for quota in page.get("Quotas", []):
                if quota.get("QuotaName", "").strip().lower() == name:
                    return float(quota["Value"])
            token = page.get("NextToken")
            if not token:
                break
    return None


def _count(client: Any, operation: str, field_name: str) -> int:
    total, token = 0, None
    while True:
        page = getattr(client, operation)(**({"NextToken": token} if token else {}))
        total += len(page.get(field_name, []))
        token = page.get("NextToken")
        if not token:
            return total


def _grafana(
    needs: StackNeeds, clients: ClientFactory, grafana_token: Callable[[], str | None]
) -> Iterator[Check]:
    mode = needs.grafana.get("mode", "none")
    if mode == "managed":
        if needs.grafana.get("authProvider", "AWS_SSO") != "AWS_SSO":
            yield Check("grafana", OK, "managed with SAML: IAM Identity Center is not needed")
            return
        yield _aws("IAM Identity Center", lambda: _identity_center(clients, needs))
    elif mode == "external":
        yield from _external_grafana(str(needs.grafana.get("url", "")).rstrip("/"), grafana_token)
    else:
        yield Check("grafana", OK, "none configured")


def _identity_center(clients: ClientFactory, needs: StackNeeds) -> tuple[str, str]:
    instances = clients("sso-admin").list_instances().get("Instances", [])
    if not instances:
        return FAIL, (
            f"not enabled in {needs.region}: a managed Grafana with AWS_SSO signs in through "
            "it; enable it (IAM Identity Center console), or set stockpipe:grafana.authProvider "
            "to SAML"
        )
    return OK, f"enabled ({instances[0]['InstanceArn']})"


def _external_grafana(url: str, grafana_token: Callable[[], str | None]) -> Iterator[Check]:
    try:
        answer = requests.get(f"{url}/api/health", timeout=HTTP_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        yield Check("grafana url", FAIL, f"{url} does not answer: {type(error).__name__}")
        return
    if answer.status_code != 200:
        yield Check("grafana url", FAIL, f"{url}/api/health answered HTTP {answer.status_code}")
        return
    yield Check("grafana url", OK, f"{url} answers")
    token = grafana_token()
    if not token:
        yield Check(
            "grafana token",
            FAIL,
            f"cannot read stockpipe:grafanaToken: set {GRAFANA_TOKEN_ENV}, or install the "
            "pulumi CLI and log in to the stack's backend",
        )
        return
    try:
        answer = requests.get(
            f"{url}/api/access-control/user/permissions",
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        yield Check("grafana token", FAIL, f"{url} does not answer: {type(error).__name__}")
        return
    if answer.status_code in (401, 403):
        yield Check(
            "grafana token",
            FAIL,
            f"Grafana refused stockpipe:grafanaToken (HTTP {answer.status_code}): expired or "
            "revoked; create a new service-account token and pulumi config set --secret "
            "stockpipe:grafanaToken <token>",
        )
        return
    if answer.status_code != 200:
        yield Check(
            "grafana token",
            FAIL,
            f"the permissions API answered HTTP {answer.status_code} (it needs Grafana 9 or newer)",
        )
        return
    try:
        held = set(answer.json())
    except ValueError:
        yield Check("grafana token", FAIL, f"{url}'s permissions API answered no JSON")
        return
    missing = [action for action in GRAFANA_ACTIONS if action not in held]
    if missing:
        yield Check(
            "grafana token",
            FAIL,
            f"the token's service account lacks {', '.join(missing)}: give it the Admin role",
        )
        return
    yield Check("grafana token", OK, "holds every permission the stack and smoke use")


def grafana_token_from_pulumi(stack: str, environ: dict[str, str]) -> str | None:
    """The external Grafana's token: the env variable, else `pulumi config get` (decrypted)."""
    if environ.get(GRAFANA_TOKEN_ENV):
        return environ[GRAFANA_TOKEN_ENV]
    cli = shutil.which("pulumi")
    if cli is None:
        return None
    completed = subprocess.run(  # noqa: S603 (the pulumi CLI, fixed arguments)
        [cli, "config", "get", "stockpipe:grafanaToken", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    return completed.stdout.strip() if completed.returncode == 0 else None


def preflight(
    stack: str,
    clients: ClientFactory | None = None,
    *,
    mocks: StackMocks | None = None,
    configured_region: str | None = None,
    environ: dict[str, str] | None = None,
    project_dir: Path = PROJECT_ROOT,
    out: Any = None,
) -> int:
    """Print each check's line; 1 when any failed, else 0."""
    out = out or sys.stdout
    environ = dict(os.environ) if environ is None else environ
    try:
        needs = read_stack_needs(stack, mocks, project_dir)
        pinned = pinned_powertools_version(project_dir / LOCK.name)
    except PreflightError as error:
        print(Check("stack", FAIL, str(error)).line(), file=out)
        return 1
    print(Check("stack", OK, f"Pulumi.{stack}.yaml is a valid configuration").line(), file=out)
    if clients is None:
        session = boto3.session.Session(region_name=needs.region)
        clients = session.client
        configured_region = boto3.session.Session().region_name
    failed = False
    for check in run_checks(
        needs,
        clients,
        configured_region=configured_region,
        grafana_token=lambda: grafana_token_from_pulumi(stack, environ),
        pinned_version=pinned,
    ):
        print(check.line(), file=out, flush=True)
        failed = failed or check.status == FAIL
    print("preflight failed" if failed else "preflight passed", file=out)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.preflight",
        description=(
            "Read-only checks of the AWS account (and Grafana) a stack deploys to, before the "
            "first `pulumi up`: one line per check, exit 1 on any failure. Uses your AWS "
            f"credentials; the external Grafana token from {GRAFANA_TOKEN_ENV} or the pulumi "
            "CLI."
        ),
    )
    parser.add_argument("stack", help="the stack to check (Pulumi.<stack>.yaml), e.g. dev")
    args = parser.parse_args(argv)
    return preflight(args.stack)


if __name__ == "__main__":
    sys.exit(main())
