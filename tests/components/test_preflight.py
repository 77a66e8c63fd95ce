"""`make preflight`: each check's line and the exit status, against moto (STS, IAM, Glue, IAM
Identity Center) and botocore's Stubber where moto does not serve the call (AWS's public SSM
parameters, GetLayerVersionByArn, Service Quotas for Glue); Grafana behind `responses`."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import responses
import yaml
from botocore.stub import Stubber
from moto import mock_aws

from components import preflight as preflight_module
from components.ingestion import powertools_layer_parameter, powertools_version
from components.plan import PROJECT_ROOT, configure
from components.preflight import main, preflight
from tests.conftest import PULUMI_MOCKS

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
PINNED = preflight_module.pinned_powertools_version()
POWERTOOLS_LAYER_PARAMETER = powertools_layer_parameter(powertools_version())
LAYER = f"arn:aws:lambda:{REGION}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:9"
GRAFANA_URL = "https://grafana.example.org"
GLUE_QUOTAS = {"jobs": 1000, "triggers": 1000, "workflows": 1000, "crawlers": 1000}


def layer_answer(version: str = PINNED) -> dict:
    return {
        "LayerArn": LAYER.rsplit(":", 1)[0],
        "LayerVersionArn": LAYER,
        "Description": f"Powertools for AWS Lambda (Python) [arm64] with extra dependencies "
        f"version {version}",
        "Version": 9,
        "CompatibleRuntimes": ["python3.12"],
        "CompatibleArchitectures": ["arm64"],
    }


class Clients:
    """moto clients, except the services a test stubs (each call it expects, in order)."""

    def __init__(self) -> None:
        self.stubbers: dict[str, Stubber] = {}

    def stub(self, service: str) -> Stubber:
        if service not in self.stubbers:
            stubber = Stubber(boto3.client(service, region_name=REGION))
            stubber.activate()
            self.stubbers[service] = stubber
        return self.stubbers[service]

    def __call__(self, service: str) -> Any:
        if service in self.stubbers:
            return self.stubbers[service].client
        return boto3.client(service, region_name=REGION)

    def answer_layer_lookup(self, layer: dict | None = None, *, parameter: bool = True) -> None:
        for _ in range(2 if parameter else 0):  # its own check, then the layer's lookup
            self.stub("ssm").add_response(
                "get_parameter",
                {"Parameter": {"Name": POWERTOOLS_LAYER_PARAMETER, "Value": LAYER}},
                {"Name": POWERTOOLS_LAYER_PARAMETER},
            )
        self.stub("lambda").add_response(
            "get_layer_version_by_arn", layer or layer_answer(), {"Arn": LAYER}
        )

    def answer_quotas(self, quotas: dict[str, float] = GLUE_QUOTAS) -> None:
        listing = [
            {"QuotaName": f"Max {what} per account", "Value": value, "ServiceCode": "glue"}
            for what, value in quotas.items()
        ]
        for _ in quotas:
            self.stub("service-quotas").add_response(
                "list_service_quotas", {"Quotas": listing}, {"ServiceCode": "glue"}
            )


@pytest.fixture
def clients(aws_credentials) -> Iterator[Clients]:
    with mock_aws():
        yield Clients()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """A project directory with the real program and a stack file `test` with these settings."""

    def make(**settings: Any) -> Path:
        for name in ("__main__.py", "Pulumi.yaml", "requirements.txt"):
            shutil.copy(PROJECT_ROOT / name, tmp_path / name)
        config = {"aws:region": REGION, **settings}
        (tmp_path / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": config}))
        return tmp_path

    yield make
    configure("dev", {}, [])


def run(clients: Clients, project_dir: Path, *, configured_region: str = REGION, **kw) -> tuple:
    out = io.StringIO()
    status = preflight(
        "test",
        clients,
        mocks=PULUMI_MOCKS,
        configured_region=configured_region,
        project_dir=project_dir,
        out=out,
        **kw,
    )
    return status, out.getvalue().splitlines()


def line(lines: list[str], name: str) -> str:
    (found,) = [each for each in lines if each.split(":", 1)[0].split(maxsplit=1)[-1] == name]
    return found


def test_a_ready_account_passes_every_check_one_line_each(clients, project):
    clients.answer_layer_lookup()
    clients.answer_quotas()

    status, lines = run(clients, project())

    assert lines == [
        "ok   stack: Pulumi.test.yaml is a valid configuration",
        f"ok   credentials: account {ACCOUNT} as arn:aws:sts::{ACCOUNT}:user/moto",
        f"ok   region: {REGION}, as stack test sets",
        f"ok   account: {ACCOUNT} (the stack names no aws:allowedAccountIds)",
        f"ok   SSM parameter {POWERTOOLS_LAYER_PARAMETER}: found ({LAYER})",
        f"ok   Powertools layer: {LAYER} holds Powertools {PINNED}, as the lock pins",
        "ok   managed policies: the stack attaches no AWS managed policy",
        "ok   service-linked roles: the stack needs none",
        "ok   quota Glue jobs: 0 in use + 4 the stack adds <= quota 1000",
        "ok   quota Glue triggers: 0 in use + 5 the stack adds <= quota 1000",
        "ok   quota Glue workflows: 0 in use + 1 the stack adds <= quota 1000",
        "ok   quota Glue crawlers: 0 in use + 1 the stack adds <= quota 1000",
        "ok   grafana: none configured",
        "preflight passed",
    ]
    assert status == 0


def test_missing_credentials_fail_in_one_line_and_stop(project, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.session.Session(region_name=REGION)

    status, lines = run(session.client, project())

    assert status == 1
    assert lines[1:] == [
        f"FAIL credentials: {preflight_module.NO_CREDENTIALS}",
        "preflight failed",
    ]


def test_an_unknown_stack_names_the_stack_files(capsys):
    assert main(["nosuchstack"]) == 1

    out = capsys.readouterr().out
    assert out == "FAIL stack: no stack file Pulumi.nosuchstack.yaml (stacks: dev, prod)\n"


def test_a_configuration_preview_would_refuse_fails_as_one_line(clients, project):
    status, lines = run(clients, project(**{"stockpipe:callsPerMinute": "often"}))

    assert status == 1
    assert len(lines) == 1
    assert lines[0].startswith("FAIL stack: invalid stack configuration for stack 'test': - ")
    assert "stockpipe:callsPerMinute='often'" in lines[0]


def test_another_region_configured_than_the_stack_deploys_to_fails(clients, project):
    clients.answer_layer_lookup()
    clients.answer_quotas()

    status, lines = run(clients, project(), configured_region="eu-west-1")

    assert status == 1
    assert line(lines, "region") == (
        f"FAIL region: your AWS region is eu-west-1 but stack test deploys to {REGION}: "
        f"export AWS_REGION={REGION} (make smoke and the aws CLI use it), or change aws:region"
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"aws:allowedAccountIds": ["111111111111"]},
            f"FAIL account: {ACCOUNT} is not in aws:allowedAccountIds (111111111111): switch "
            "to credentials of an allowed account",
        ),
        (
            {"aws:allowedAccountIds": [ACCOUNT]},
            f"ok   account: {ACCOUNT} is in aws:allowedAccountIds",
        ),
        (
            {"aws:forbiddenAccountIds": [ACCOUNT]},
            f"FAIL account: {ACCOUNT} is in aws:forbiddenAccountIds: use the stack's account",
        ),
    ],
    ids=["not allowed", "allowed", "forbidden"],
)
def test_the_account_must_be_one_the_stack_allows(clients, project, settings, expected):
    clients.answer_layer_lookup()
    clients.answer_quotas()

    status, lines = run(clients, project(**settings))

    assert line(lines, "account") == expected
    assert status == (0 if expected.startswith("ok") else 1)


def test_a_missing_powertools_parameter_says_to_set_the_layer_setting(clients, project):
    for _ in range(2):  # the parameter's own check, then the layer's lookup
        clients.stub("ssm").add_client_error(
            "get_parameter",
            "ParameterNotFound",
            expected_params={"Name": POWERTOOLS_LAYER_PARAMETER},
        )
    clients.answer_quotas()

    status, lines = run(clients, project())

    assert status == 1
    assert line(lines, f"SSM parameter {POWERTOOLS_LAYER_PARAMETER}") == (
        f"FAIL SSM parameter {POWERTOOLS_LAYER_PARAMETER}: not found in {REGION}: set "
        "stockpipe:powertoolsLayerArn to the layer's ARN for this Powertools release "
        "(docs/preflight-and-smoke.md)"
    )
    assert line(lines, "Powertools layer") == (
        f"FAIL Powertools layer: SSM parameter {POWERTOOLS_LAYER_PARAMETER} is missing in "
        f"{REGION}: set stockpipe:powertoolsLayerArn instead"
    )


def test_the_layer_setting_replaces_the_parameter_lookup(clients, project):
    clients.answer_layer_lookup(parameter=False)
    clients.answer_quotas()

    status, lines = run(clients, project(**{"stockpipe:powertoolsLayerArn": LAYER}))

    assert status == 0
    assert not [each for each in lines if "SSM parameter" in each]
    assert line(lines, "Powertools layer").startswith(f"ok   Powertools layer: {LAYER} holds")


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:lambda:us-east-1:017000801446:function:powertools",
            "must be a Lambda layer version ARN",
        ),
        (LAYER.replace(REGION, "eu-west-1"), f"in region eu-west-1; a function in {REGION}"),
    ],
    ids=["not a layer ARN", "another region"],
)
def test_a_wrong_layer_setting_names_the_setting_before_any_aws_call(
    clients, project, arn, expected
):
    status, lines = run(clients, project(**{"stockpipe:powertoolsLayerArn": arn}))

    assert status == 1
    assert line(lines, "stack").startswith("FAIL stack: ")
    assert f"stockpipe:powertoolsLayerArn={arn!r}" in line(lines, "stack")
    assert expected in line(lines, "stack")
    assert "Traceback" not in "\n".join(lines)


def test_an_unreadable_stack_file_is_one_line_naming_the_file_and_line(clients, project):
    project_dir = project()
    (project_dir / "Pulumi.test.yaml").write_text("config:\n  aws:region: [us-east-1\n")

    status, lines = run(clients, project_dir)

    assert status == 1
    assert lines[0].startswith("FAIL stack: Pulumi.test.yaml line 3")
    assert "not valid YAML" in lines[0]


def test_a_layer_that_does_not_exist_fails(clients, project):
    clients.stub("lambda").add_client_error(
        "get_layer_version_by_arn", "ResourceNotFoundException", http_status_code=404
    )
    clients.answer_quotas()

    status, lines = run(clients, project(**{"stockpipe:powertoolsLayerArn": LAYER}))

    assert status == 1
    assert line(lines, "Powertools layer") == (
        f"FAIL Powertools layer: {LAYER} (from stockpipe:powertoolsLayerArn) does not exist "
        "or is not shared with this account"
    )


def test_a_layer_of_another_powertools_release_fails(clients, project):
    clients.answer_layer_lookup(layer_answer("3.1.0"))
    clients.answer_quotas()

    status, lines = run(clients, project())

    assert status == 1
    assert line(lines, "Powertools layer") == (
        f"FAIL Powertools layer: {LAYER} holds Powertools 3.1.0, the lock pins {PINNED}: set "
        f"stockpipe:powertoolsLayerArn to the layer of {PINNED}"
    )


def test_a_full_glue_quota_fails_with_the_numbers(clients, project):
    glue = boto3.client("glue", region_name=REGION)
    for n in range(3):
        glue.create_job(Name=f"other-{n}", Role="r", Command={"Name": "pythonshell"})
    clients.answer_layer_lookup()
    clients.answer_quotas({**GLUE_QUOTAS, "jobs": 5})

    status, lines = run(clients, project())

    assert status == 1
    assert line(lines, "quota Glue jobs") == (
        "FAIL quota Glue jobs: 3 in use + 4 the stack adds > quota 5: request an increase in "
        "Service Quotas (AWS Glue) or remove unused ones"
    )


def test_denied_read_access_says_which_call(clients, project):
    clients.answer_layer_lookup()
    clients.stub("service-quotas").add_client_error(
        "list_service_quotas", "AccessDeniedException", "not authorized"
    )
    for _ in range(3):
        clients.answer_quotas({"x": 1})

    status, lines = run(clients, project())

    assert status == 1
    assert line(lines, "quota Glue jobs") == (
        "FAIL quota Glue jobs: these credentials may not call ListServiceQuotas "
        "(not authorized); preflight needs read access to it"
    )


MANAGED = {"stockpipe:grafana": {"mode": "managed"}}


def test_managed_grafana_needs_identity_center_and_notes_its_service_linked_role(clients, project):
    clients.answer_layer_lookup()
    clients.answer_quotas()

    status, lines = run(clients, project(**MANAGED))

    assert status == 0
    assert line(lines, "IAM Identity Center").startswith("ok   IAM Identity Center: enabled (")
    assert line(lines, "service-linked role AWSServiceRoleForAmazonGrafana") == (
        "note service-linked role AWSServiceRoleForAmazonGrafana: not created yet: "
        "grafana.amazonaws.com creates it on first use if the deploying principal may call "
        "iam:CreateServiceLinkedRole; else: aws iam create-service-linked-role "
        "--aws-service-name grafana.amazonaws.com"
    )


def test_managed_grafana_without_identity_center_fails(clients, project):
    clients.answer_layer_lookup()
    clients.answer_quotas()
    clients.stub("sso-admin").add_response("list_instances", {"Instances": []}, {})

    status, lines = run(clients, project(**MANAGED))

    assert status == 1
    assert line(lines, "IAM Identity Center") == (
        f"FAIL IAM Identity Center: not enabled in {REGION}: a managed Grafana with AWS_SSO "
        "signs in through it; enable it (IAM Identity Center console), or set "
        "stockpipe:grafana.authProvider to SAML"
    )


EXTERNAL = {
    "stockpipe:grafana": {"mode": "external", "url": GRAFANA_URL},
    "stockpipe:grafanaToken": {"secure": "v1:encrypted"},
}
TOKEN = "glsa_test_token"


@pytest.fixture
def grafana() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{GRAFANA_URL}/api/health", json={"database": "ok"})
        yield mock


def permissions(mock: responses.RequestsMock, actions, status: int = 200) -> None:
    mock.get(
        f"{GRAFANA_URL}/api/access-control/user/permissions",
        json={action: ["*"] for action in actions},
        status=status,
        match=[responses.matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
    )


def run_external(clients, project) -> tuple[int, list[str]]:
    clients.answer_layer_lookup()
    clients.answer_quotas()
    return run(clients, project(**EXTERNAL), environ={"STOCKPIPE_GRAFANA_TOKEN": TOKEN})


def test_external_grafana_answers_and_the_token_holds_every_permission(clients, project, grafana):
    permissions(grafana, preflight_module.GRAFANA_ACTIONS)

    status, lines = run_external(clients, project)

    assert status == 0
    assert lines[-3:] == [
        f"ok   grafana url: {GRAFANA_URL} answers",
        "ok   grafana token: holds every permission the stack and smoke use",
        "preflight passed",
    ]
    assert [call.request.method for call in grafana.calls] == ["GET", "GET"]


def test_a_token_lacking_permissions_names_them(clients, project, grafana):
    permissions(grafana, [a for a in preflight_module.GRAFANA_ACTIONS if a.startswith("dash")])

    status, lines = run_external(clients, project)

    assert status == 1
    assert line(lines, "grafana token") == (
        "FAIL grafana token: the token's service account lacks datasources:create, "
        "datasources:read, datasources:write, datasources:query, folders:create, folders:read, "
        "folders:write: give it the Admin role"
    )


def test_an_expired_token_says_how_to_replace_it(clients, project, grafana):
    permissions(grafana, [], status=401)

    status, lines = run_external(clients, project)

    assert status == 1
    assert line(lines, "grafana token").startswith(
        "FAIL grafana token: Grafana refused stockpipe:grafanaToken (HTTP 401): expired or revoked"
    )


def test_a_grafana_that_does_not_answer_fails(clients, project):
    with responses.RequestsMock() as mock:
        mock.get(f"{GRAFANA_URL}/api/health", body=requests.ConnectionError("refused"))
        status, lines = run_external(clients, project)

    assert status == 1
    assert line(lines, "grafana url") == (
        f"FAIL grafana url: {GRAFANA_URL} does not answer: ConnectionError"
    )


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])

    assert exit_.value.code == 0
    assert "Read-only checks" in capsys.readouterr().out


def test_a_layer_that_does_not_name_its_release_fails(clients, project):
    clients.answer_layer_lookup({**layer_answer(), "Description": "my own build"})
    clients.answer_quotas()

    status, lines = run(clients, project())

    assert status == 1
    assert line(lines, "Powertools layer") == (
        f"FAIL Powertools layer: {LAYER} does not say which Powertools release it holds (its "
        f"description: 'my own build'); use AWS's layer for {PINNED}"
    )
