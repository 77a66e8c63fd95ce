"""The offline plan: run the program under Pulumi mocks with a stack's YAML, print the tree.

No Pulumi CLI, provider plugin or AWS account is needed: the mocks answer every resource
registration and invoke with predictable values, and the printed tree (type, name,
parent, inputs, secrets masked) is compared with a snapshot kept in the repository, so a
pull request shows how the infrastructure changes even where `pulumi preview` cannot run.

    python -m components.plan dev            # print the tree of stack dev
    python -m components.plan --update       # rewrite every stack's snapshot
    python -m components.plan --check        # fail when a snapshot is stale

Tests share `StackMocks` (tests/conftest.py sets it once per process).
"""

from __future__ import annotations

import argparse
import json
import logging
import runpy
import sys
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import yaml
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "stockpipe"
SNAPSHOT_DIR = PROJECT_ROOT / "tests" / "components" / "snapshots"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (Pulumi's marker of a secret value)
SIG_KEY = "4dabf18193072939515e22adb298388d"
ARCHIVE_SIGS = {"0def7320c3a5731c473e5ecbe6d01bc7", "c44067f5952c0a294b673a41bacd8c17"}
MASK = "[secret]"
# A stack file cannot hold a decryptable secret here (no CLI, no stack key): the plan
# stands in for each required secret with this placeholder, masked in the output.
API_KEY_CONFIG = f"{PROJECT}:alphaVantageApiKey"
PLACEHOLDER_SECRETS = {API_KEY_CONFIG: "plan-placeholder-api-key"}
CALLER_IDENTITY_INVOKE = "aws:index/getCallerIdentity:getCallerIdentity"
GET_PARAMETER_INVOKE = "aws:ssm/getParameter:getParameter"
# The plan's clock: what the program derives from the time (the Grafana token's rotation
# period) stays the same from one plan to the next.
PLAN_NOW = datetime(2026, 1, 1, tzinfo=UTC)
POWERTOOLS_LAYER = (
    "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:{n}"
)


@dataclass
class Registered:
    """One resource the program registered: inputs as the engine got them, the mock's outputs."""

    type: str
    name: str
    urn: str
    id: str
    parent_urn: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str = ""  # "<provider urn>::<id>" of the provider that manages it
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: list[str] = field(default_factory=list)  # URNs of `depends_on` and inputs


@dataclass
class ProgramRun:
    resources: list[Registered]
    exports: dict[str, Any]


class StackMocks(pulumi.runtime.Mocks):
    """Resource and invoke answers shaped like AWS's; `RecordingMonitor` fills `resources`."""

    def __init__(self) -> None:
        self.resources: list[Registered] = []
        self.invokes: list[tuple[str, dict]] = []

    def reset(self) -> None:
        self.resources.clear()
        self.invokes.clear()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        outputs = dict(args.inputs)
        physical = _physical_name(args.typ, args.name, args.inputs)
        arn = _arn(args.typ, physical)
        resource_id = physical
        if args.typ == "aws:sqs/queue:Queue":
            resource_id = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{physical}"
            outputs["url"] = resource_id
        if args.typ == "aws:secretsmanager/secret:Secret":
            resource_id = arn
        if arn:
            outputs.setdefault("arn", arn)
        name_field = _NAME_FIELDS.get(args.typ, "name")
        outputs.setdefault(name_field, physical)
        if args.typ == GRAFANA_WORKSPACE:
            resource_id = GRAFANA_WORKSPACE_ID
        if args.typ == GRAFANA_DASHBOARD:
            outputs.setdefault("uid", json.loads(args.inputs["configJson"])["uid"])
        for key, value in _COMPUTED_OUTPUTS.get(args.typ, {}).items():
            outputs.setdefault(key, value)
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.invokes.append((args.token, dict(args.args)))
        if args.token == CALLER_IDENTITY_INVOKE:
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/plan",
                "userId": "AIDAPLAN",
                "id": ACCOUNT_ID,
            }
        if args.token == GET_PARAMETER_INVOKE:
            return {
                "name": args.args["name"],
                "value": POWERTOOLS_LAYER.format(region=REGION, n=1),
                "type": "String",
                "id": args.args["name"],
            }
        raise NotImplementedError(f"the plan's mocks do not answer the invoke {args.token}")


class RecordingMonitor(MockMonitor):
    """The mock engine, also recording each registration with its parent.

    `MockResourceArgs` carries neither URN nor parent (pulumi/pulumi#14421); the
    monitor sees both.
    """

    def __init__(self, mocks: StackMocks) -> None:
        super().__init__(mocks)
        self._stack_mocks = mocks

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self._stack_mocks.resources.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    id=registration.id,
                    parent_urn=request.parent,
                    inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                    outputs=registration.state,
                    provider=request.provider,
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    dependencies=list(request.dependencies),
                )
            )
        return response


# pulumi-aws modules the program uses. Importing one warns about every deprecated class
# it defines (BucketV2, ...), used or not; a deprecated class the program does use still
# warns when it is constructed.
PROVIDER_MODULES = (
    "athena", "budgets", "cloudwatch", "glue", "grafana", "iam", "kinesis", "lambda_", "s3",
    "scheduler", "secretsmanager", "sns", "sqs", "ssm",
)  # fmt: skip


def import_provider_modules() -> None:
    """Import the pulumi-aws modules without their import-time deprecation notices."""
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for module in PROVIDER_MODULES:
            # The modules load lazily: reading any attribute runs them.
            hasattr(importlib.import_module(f"pulumi_aws.{module}"), "_loaded_")


def install_mocks(mocks: StackMocks, stack: str) -> None:
    """`set_mocks` for this project (call once per process)."""
    import_provider_modules()
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(mocks)
    )


_NAME_FIELDS = {"aws:s3/bucket:Bucket": "bucket"}

GRAFANA_WORKSPACE = "aws:grafana/workspace:Workspace"
GRAFANA_WORKSPACE_ID = "g-0123456789"
GRAFANA_DASHBOARD = "grafana:oss/dashboard:Dashboard"
# Outputs AWS or the provider computes, with fixed values so the plan is stable.
_COMPUTED_OUTPUTS = {
    GRAFANA_WORKSPACE: {
        "endpoint": f"{GRAFANA_WORKSPACE_ID}.grafana-workspace.{REGION}.amazonaws.com"
    },
    "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount": {"serviceAccountId": "2"},
    "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken": {
        "key": "plan-placeholder-grafana-token"
    },
}


def _physical_name(typ: str, name: str, inputs: dict) -> str:
    explicit = inputs.get(_NAME_FIELDS.get(typ, "name"))
    if isinstance(explicit, str) and explicit:
        return explicit
    # Pulumi's auto-naming appends a random suffix; a fixed one keeps the plan stable.
    return f"{name}-0000000"


def _arn(typ: str, physical: str) -> str | None:
    region_account = f"{REGION}:{ACCOUNT_ID}"
    return {
        "aws:s3/bucket:Bucket": f"arn:aws:s3:::{physical}",
        "aws:secretsmanager/secret:Secret": (
            f"arn:aws:secretsmanager:{region_account}:secret:{physical}-AbCdEf"
        ),
        "aws:lambda/function:Function": f"arn:aws:lambda:{region_account}:function:{physical}",
        "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{region_account}:log-group:{physical}",
        "aws:sqs/queue:Queue": f"arn:aws:sqs:{region_account}:{physical}",
        "aws:sns/topic:Topic": f"arn:aws:sns:{region_account}:{physical}",
        "aws:iam/role:Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}",
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": (
            f"arn:aws:firehose:{region_account}:deliverystream/{physical}"
        ),
        "aws:scheduler/schedule:Schedule": (
            f"arn:aws:scheduler:{region_account}:schedule/default/{physical}"
        ),
        "aws:cloudwatch/metricAlarm:MetricAlarm": (
            f"arn:aws:cloudwatch:{region_account}:alarm:{physical}"
        ),
        "aws:cloudwatch/eventRule:EventRule": f"arn:aws:events:{region_account}:rule/{physical}",
        "aws:glue/catalogDatabase:CatalogDatabase": (
            f"arn:aws:glue:{region_account}:database/{physical}"
        ),
        "aws:glue/crawler:Crawler": f"arn:aws:glue:{region_account}:crawler/{physical}",
        "aws:glue/job:Job": f"arn:aws:glue:{region_account}:job/{physical}",
        "aws:glue/trigger:Trigger": f"arn:aws:glue:{region_account}:trigger/{physical}",
        "aws:glue/workflow:Workflow": f"arn:aws:glue:{region_account}:workflow/{physical}",
        "aws:athena/workgroup:Workgroup": f"arn:aws:athena:{region_account}:workgroup/{physical}",
    }.get(typ)


def stack_config(stack: str, project_dir: Path = PROJECT_ROOT) -> tuple[dict[str, str], list]:
    """The configuration `pulumi` would pass for a stack: Pulumi.<stack>.yaml's `config`.

    Values become strings as the CLI passes them (lists and maps as JSON). Encrypted
    values cannot be read without the stack's key: they, and required secrets the file
    lacks, become the placeholder secret.
    """
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no stack file {path.name} in {project_dir}")
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in stack_file_config(path).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full] = PLACEHOLDER_SECRETS.get(full, "plan-placeholder")
            secret_keys.append(full)
        elif isinstance(value, str):
            config[full] = value
        else:
            config[full] = json.dumps(value)
    for key, placeholder in PLACEHOLDER_SECRETS.items():
        if key not in config:
            config[key] = placeholder
            secret_keys.append(key)
    return config, secret_keys


class StackFileError(Exception):
    """A stack file that is not YAML, or not shaped as Pulumi reads it; one line says where."""


def stack_file_config(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file, its keys strings, or StackFileError."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StackFileError(
            f"{path.name}{where}: not valid YAML ({error.problem or error.context})"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise StackFileError(f"{path.name}: not valid YAML ({error})") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(
            f"{path.name}: must be a mapping with a `config:` key, not {_shape(document)}"
        )
    block = document.get("config")
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise StackFileError(
            f"{path.name}: `config` must be a mapping of `namespace:key: value` lines, "
            f"not {_shape(block)}"
        )
    for key in block:
        if not isinstance(key, str):
            raise StackFileError(
                f"{path.name}: config key {key!r} must be text such as stockpipe:symbols"
            )
    return block


def _shape(value: object) -> str:
    kind = {list: "a list", str: "text", bool: "true/false", int: "a number", float: "a number"}
    return f"{kind.get(type(value), type(value).__name__)} ({json.dumps(value, default=str)})"


def configure(stack: str, config: dict[str, str], secret_keys: list[str]) -> None:
    """Point the (mocked) runtime at a stack and its configuration."""
    runtime_settings._set_stack(stack)
    pulumi.runtime.set_all_config(config, secret_keys)


def run_program(
    mocks: StackMocks,
    stack: str,
    *,
    api_key: str | None = None,
    overrides: dict[str, str] | None = None,
    project_dir: Path = PROJECT_ROOT,
) -> ProgramRun:
    """Run `__main__.py` for `stack` under the (already installed) mocks: what it registered
    and exported.

    `api_key` stands in for the secret key; `overrides` set more keys (`stockpipe:` unless
    the key names its namespace), as `pulumi config set` would.
    """
    config, secret_keys = stack_config(stack, project_dir)
    if api_key is not None:
        config[API_KEY_CONFIG] = api_key
    for key, value in (overrides or {}).items():
        config[key if ":" in key else f"{PROJECT}:{key}"] = value
    configure(stack, config, secret_keys)
    mocks.reset()
    root = runtime_settings.get_root_resource()
    root.outputs.clear()  # the root stack outlives runs: drop an earlier run's exports
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
        return pulumi.Output.all(**root.outputs).apply(exports.update)

    from components import dashboard  # infrastructure, imported once the mocks are set

    with mock.patch.object(dashboard, "utc_now", return_value=PLAN_NOW):
        run()
    return ProgramRun(list(mocks.resources), exports)


def render(resources: list[Registered]) -> str:
    """The resource tree as text: each resource under its parent, inputs sorted, secrets masked."""
    registered = {resource.urn for resource in resources}
    children: dict[str | None, list[Registered]] = {}
    for resource in resources:
        parent = resource.parent_urn if resource.parent_urn in registered else None
        children.setdefault(parent, []).append(resource)
    lines: list[str] = []

    def emit(parent: str | None, depth: int) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: (r.type, r.name)):
            indent = "  " * depth
            flags = [flag for flag, on in _flags(resource) if on]
            suffix = f" ({', '.join(flags)})" if flags else ""
            lines.append(f"{indent}{resource.type} {resource.name}{suffix}")
            for key in sorted(resource.inputs):
                value = json.dumps(_masked(resource.inputs[key]), sort_keys=True)
                lines.append(f"{indent}    {key}: {value}")
            emit(resource.urn, depth + 1)

    emit(None, 0)
    return "\n".join(lines) + "\n"


def _flags(resource: Registered) -> list[tuple[str, bool]]:
    return [("protect", resource.protect), ("retainOnDelete", resource.retain_on_delete)]


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        signature = value.get(SIG_KEY)
        if signature == SECRET_SIG:
            return MASK
        if signature in ARCHIVE_SIGS:
            return "[archive]"
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, pulumi.Archive | pulumi.Asset):
        return "[archive]"
    if isinstance(value, str) and value.startswith("{") and '"Statement"' in value:
        return json.loads(value)  # a policy document reads better as JSON than as a string
    return value


def snapshot_path(stack: str) -> Path:
    return SNAPSHOT_DIR / f"{stack}.txt"


def stacks(project_dir: Path = PROJECT_ROOT) -> list[str]:
    return sorted(path.name.split(".")[1] for path in project_dir.glob("Pulumi.*.yaml"))


def main(argv: list[str] | None = None, project_dir: Path = PROJECT_ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.plan",
        description="Run the Pulumi program under mocks and print or check its resource tree.",
    )
    parser.add_argument("stack", nargs="?", help="stack to print (Pulumi.<stack>.yaml)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--update", action="store_true", help="rewrite every stack's snapshot")
    mode.add_argument("--check", action="store_true", help="fail when a snapshot is stale")
    args = parser.parse_args(argv)
    # The program's warnings (pulumi.log.warn, e.g. an unknown aws:region) reach the mocks'
    # engine as log records: one line each, marked as `pulumi preview` marks them.
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    known = stacks(project_dir)
    chosen = [args.stack] if args.stack else known
    if not chosen or (args.stack and args.stack not in known):
        print(f"error: unknown stack {args.stack!r}; stacks: {', '.join(known)}", file=sys.stderr)
        return 2
    if not (args.update or args.check) and len(chosen) != 1:
        parser.error("name a stack to print, e.g. dev")

    for stack in chosen:
        try:
            stack_config(stack, project_dir)
        except StackFileError as error:
            print(f"error: stack {stack}: {error}", file=sys.stderr)
            return 1
    mocks = StackMocks()
    install_mocks(mocks, chosen[0])
    stale = []
    for stack in chosen:
        try:
            tree = render(run_program(mocks, stack, project_dir=project_dir).resources)
        except pulumi.RunError as error:
            print(f"error: stack {stack}: {error}", file=sys.stderr)
            return 1
        path = snapshot_path(stack)
        if args.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(tree, encoding="utf-8")
            print(f"wrote {path.relative_to(PROJECT_ROOT)}")
        elif args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != tree:
                stale.append(stack)
        else:
            print(tree, end="")
    if stale:
        print(
            f"stale plan snapshot for {', '.join(stale)}: run `make plan-update`", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
