"""`stockpipe:grafana`: the three modes, their defaults, and one message per invalid key."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pulumi
import pytest

from components.config import StackConfig, StackConfigError, load_stack_config
from components.plan import configure
from tests.components.conftest import TEST_API_KEY

API_KEY = "stockpipe:alphaVantageApiKey"
TOKEN = "stockpipe:grafanaToken"
TEST_TOKEN = "glsa_test-grafana-token-5d4c3b2a"


@pytest.fixture
def load() -> Iterator[Callable[..., StackConfig]]:
    """The stack configuration with `stockpipe:grafana` set to `grafana` (as the CLI passes it)."""

    def run(grafana: dict | str | None = None, *, token: str | None = None, secret=True):
        config = {API_KEY: TEST_API_KEY}
        if grafana is not None:
            config["stockpipe:grafana"] = (
                grafana if isinstance(grafana, str) else json.dumps(grafana)
            )
        secrets = [API_KEY]
        if token is not None:
            config[TOKEN] = token
            secrets += [TOKEN] if secret else []
        configure("dev", config, secrets)
        return load_stack_config(pulumi.Config("stockpipe"), "dev")

    yield run
    configure("dev", {}, [])


def problems_of(load, *args, **kwargs) -> str:
    with pytest.raises(StackConfigError) as raised:
        load(*args, **kwargs)
    return str(raised.value)


def test_no_grafana_by_default(load):
    assert load().grafana.mode == "none"
    assert load({"mode": "none"}).grafana.mode == "none"


def test_managed_defaults_to_sso_on_grafana_10_4_with_the_pinned_plugin(load):
    grafana = load({"mode": "managed"}).grafana

    assert (grafana.mode, grafana.auth_provider, grafana.grafana_version) == (
        "managed", "AWS_SSO", "10.4",
    )  # fmt: skip
    assert (grafana.plugin_version, grafana.uninstall_plugin_on_delete) == ("3.3.3", False)
    assert (grafana.admin_user_ids, grafana.admin_group_ids, grafana.token) == ((), (), None)


def test_managed_takes_saml_a_version_read_as_a_number_and_sso_admins(load):
    saml = load({"mode": "managed", "authProvider": "SAML", "grafanaVersion": 12.4}).grafana
    sso = load({"mode": "managed", "adminGroupIds": ["9067a4d2f1-1b2c3d4e"]}).grafana

    assert (saml.auth_provider, saml.grafana_version) == ("SAML", "12.4")
    assert sso.admin_group_ids == ("9067a4d2f1-1b2c3d4e",)


def test_external_needs_an_https_url_and_a_secret_token(load):
    grafana = load(
        {"mode": "external", "url": "https://grafana.example.org/", "awsAuth": "default",
         "assumeRoleArn": "arn:aws:iam::123456789012:role/grafana-athena"},
        token=TEST_TOKEN,
    ).grafana  # fmt: skip

    assert (grafana.mode, grafana.url, grafana.aws_auth) == (
        "external", "https://grafana.example.org", "default",
    )  # fmt: skip
    assert grafana.assume_role_arn == "arn:aws:iam::123456789012:role/grafana-athena"
    assert isinstance(grafana.token, pulumi.Output)


@pytest.mark.parametrize(
    ("grafana", "token", "expected"),
    [
        ({"mode": "cloud"}, None,
         "stockpipe:grafana.mode='cloud' must be one of none, managed, external"),
        ({"mode": "external"}, TEST_TOKEN, "stockpipe:grafana.url is required with mode external"),
        ({"mode": "external", "url": "https://g.example.org"}, None,
         "stockpipe:grafanaToken is required with mode external: pulumi config set --secret"),
        ({"mode": "managed"}, TEST_TOKEN,
         "stockpipe:grafanaToken is set but mode is managed: the stack creates and rotates"),
        ({}, TEST_TOKEN, "stockpipe:grafanaToken is set but mode is none"),
        ({"mode": "external", "url": "http://g.example.org"}, TEST_TOKEN,
         "stockpipe:grafana.url='http://g.example.org' must be an https:// address"),
        ({"mode": "managed", "url": "https://g.example.org"}, None,
         "stockpipe:grafana.url does not apply with mode managed"),
        ({"mode": "external", "url": "https://g.example.org", "authProvider": "SAML"}, TEST_TOKEN,
         "stockpipe:grafana.authProvider does not apply with mode external"),
        ({"mode": "managed", "authProvider": "OKTA"}, None,
         "stockpipe:grafana.authProvider='OKTA' must be one of AWS_SSO, SAML"),
        ({"mode": "managed", "grafanaVersion": "8.4"}, None,
         "stockpipe:grafana.grafanaVersion='8.4' must be a Managed Grafana version"),
        ({"mode": "managed", "pluginVersion": "latest"}, None,
         "stockpipe:grafana.pluginVersion='latest' must be a release"),
        ({"mode": "managed", "authProvider": "SAML", "adminUserIds": ["u-1"]}, None,
         "which only AWS_SSO uses"),
        ({"mode": "managed", "adminUserIds": "u-1"}, None,
         "stockpipe:grafana.adminUserIds='u-1' must be a list of IAM Identity Center ids"),
        ({"mode": "external", "url": "https://g.example.org", "awsAuth": "keys"}, TEST_TOKEN,
         "stockpipe:grafana.awsAuth='keys' must be one of ec2_iam_role, default"),
        ({"mode": "external", "url": "https://g.example.org", "assumeRoleArn": "grafana"},
         TEST_TOKEN, "stockpipe:grafana.assumeRoleArn='grafana' must be an IAM role ARN"),
        ({"mode": "managed", "plugins": "x"}, None,
         "stockpipe:grafana.plugins is not a Grafana setting"),
        ("managed", None, "stockpipe:grafana='managed' must be an object"),
    ],
)  # fmt: skip
def test_an_invalid_combination_fails_naming_the_key(load, grafana, token, expected):
    message = problems_of(load, grafana, token=token)

    assert expected in message
    assert message.count("\n  - ") == 1  # one problem, one line
    assert TEST_TOKEN not in message


def test_grafana_problems_are_reported_with_the_rest_of_the_configuration(load):
    configure(
        "dev",
        {API_KEY: TEST_API_KEY, "stockpipe:ingestionSink": "kafka",
         "stockpipe:grafana": json.dumps({"mode": "external"})},
        [API_KEY],
    )  # fmt: skip

    with pytest.raises(StackConfigError) as raised:
        load_stack_config(pulumi.Config("stockpipe"), "dev")

    assert "stockpipe:ingestionSink='kafka'" in str(raised.value)
    assert "stockpipe:grafana.url is required" in str(raised.value)


def test_a_token_in_clear_text_is_refused_without_echoing_it(load):
    message = problems_of(
        load, {"mode": "external", "url": "https://g.example.org"}, token=TEST_TOKEN, secret=False
    )

    assert "stockpipe:grafanaToken is set in clear text; it must be a secret" in message
    assert TEST_TOKEN not in message
