"""The `stockpipe:grafana` configuration: which Grafana serves the dashboard, and how.

`stockpipe:grafana` is an object whose `mode` picks one of three shapes:
- `none` (default): no Grafana resource at all;
- `managed`: an Amazon Managed Grafana workspace the stack creates, with its own
  service-account token;
- `external`: an existing Grafana at `url`, reached with the service-account token in the
  secret `stockpipe:grafanaToken`.

`load_grafana_config` appends one message per problem (naming the key) to the caller's list,
so `components/config.py` reports them with the rest of the stack configuration.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.setting import Setting

NAMESPACE = "stockpipe"
GRAFANA = "grafana"
GRAFANA_TOKEN = "grafanaToken"  # noqa: S105 (a config key name)

MODES = ("none", "managed", "external")
AUTH_PROVIDERS = ("AWS_SSO", "SAML")
# How an external Grafana's Athena data source gets AWS credentials: the instance's role,
# or the AWS SDK's default chain (env, profile, ECS task or EKS pod role).
EXTERNAL_AWS_AUTH = ("ec2_iam_role", "default")
# Plugin admin (installing the Athena plugin through the API) needs Grafana 9.4 or newer.
DEFAULT_GRAFANA_VERSION = "10.4"
MIN_GRAFANA_VERSION = (9, 4)
# grafana/athena-datasource release installed on a managed workspace (it must be in the
# workspace's plugin catalog).
DEFAULT_PLUGIN_VERSION = "3.3.3"

# The keys of the `stockpipe:grafana` object, declared once (docs/configuration.md is
# generated from these rows); `mode` says which shape a key belongs to.
OBJECT_SETTINGS = (
    Setting(
        "mode",
        "string",
        MODES[0],
        "one of " + ", ".join(MODES),
        "managed",
        "`none`: no Grafana resource. `managed`: an Amazon Managed Grafana workspace with its "
        "own role, service account, token and the Athena plugin, then the data source, a "
        "folder and the dashboard. `external`: the data source, folder and dashboard in your "
        "Grafana at `url`.",
    ),
    Setting(
        "authProvider",
        "string",
        AUTH_PROVIDERS[0],
        "one of " + ", ".join(AUTH_PROVIDERS),
        "SAML",
        "How people sign in to the workspace: IAM Identity Center or a SAML identity "
        "provider (configured in the console after the first `up`).",
        mode="managed",
    ),
    Setting(
        "grafanaVersion",
        "string",
        DEFAULT_GRAFANA_VERSION,
        "a Managed Grafana version MAJOR.MINOR, "
        f"{MIN_GRAFANA_VERSION[0]}.{MIN_GRAFANA_VERSION[1]} or newer (plugin installation "
        "needs it); `aws grafana list-versions` lists the region's",
        "10.4",
        "The workspace's Grafana version.",
        mode="managed",
    ),
    Setting(
        "adminUserIds",
        "list of strings",
        None,
        "IAM Identity Center user ids (`aws identitystore list-users`); `AWS_SSO` only",
        "[906712345a-1b2c3d4e-5f60-7a8b-9c0d-1e2f3a4b5c6d]",
        "Identity Center users made workspace admins.",
        default_note="none",
        mode="managed",
    ),
    Setting(
        "adminGroupIds",
        "list of strings",
        None,
        "IAM Identity Center group ids (`aws identitystore list-groups`); `AWS_SSO` only",
        "[906712345a-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d]",
        "Identity Center groups made workspace admins.",
        default_note="none",
        mode="managed",
    ),
    Setting(
        "pluginVersion",
        "string",
        DEFAULT_PLUGIN_VERSION,
        "a `grafana-athena-datasource` release X.Y.Z in the workspace's plugin catalog",
        "3.3.3",
        "The Athena data source plugin version the stack installs.",
        mode="managed",
    ),
    Setting(
        "uninstallPluginOnDelete",
        "boolean",
        "false",
        "true or false",
        "true",
        "Uninstall the plugin when the stack removes it (that run needs "
        "`GRAFANA_AUTH=<Admin token>` in its environment: the state never holds the token).",
        mode="managed",
    ),
    Setting(
        "url",
        "string",
        None,
        "an `https://` address (the token goes with every request: TLS only)",
        "https://grafana.example.org",
        "Your Grafana's address.",
        default_note="required with `external`",
        mode="external",
    ),
    Setting(
        "awsAuth",
        "string",
        EXTERNAL_AWS_AUTH[0],
        "one of " + ", ".join(EXTERNAL_AWS_AUTH),
        "default",
        "How the data source gets AWS credentials: the instance's role, or the SDK's chain "
        "(environment, profile, ECS task or EKS pod role).",
        mode="external",
    ),
    Setting(
        "assumeRoleArn",
        "string",
        None,
        "an IAM role ARN",
        "arn:aws:iam::123456789012:role/grafana-athena",
        "A role the data source assumes on top (a Grafana outside this account or outside "
        "AWS); it needs the workspace role's permissions.",
        default_note="none",
        mode="external",
    ),
    Setting(
        "externalId",
        "string",
        None,
        "any string; only with `assumeRoleArn`",
        "stockpipe-prod",
        "The external id the assumed role's trust policy requires.",
        default_note="none",
        mode="external",
    ),
)
MANAGED_KEYS = tuple(s.key for s in OBJECT_SETTINGS if s.mode == "managed")
EXTERNAL_KEYS = tuple(s.key for s in OBJECT_SETTINGS if s.mode == "external")
OBJECT_KEYS = tuple(s.key for s in OBJECT_SETTINGS)

# The top-level keys this module reads.
SETTINGS = (
    Setting(
        GRAFANA,
        "object",
        "{mode: none}",
        "an object: `mode` and the keys of that mode (below); a key of another mode, an "
        "unknown key or an unknown mode is refused",
        "{mode: managed}",
        "Which Grafana serves the dashboard, and how.",
        fields=OBJECT_SETTINGS,
    ),
    Setting(
        GRAFANA_TOKEN,
        "secret string",
        None,
        "a Pulumi secret; only with `grafana.mode` `external`",
        "<Admin service-account token>",
        "The service-account token (Admin role) of your Grafana.",
        default_note="none",
        secret=True,
    ),
)
KEYS = tuple(s.key for s in SETTINGS)

_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_PLUGIN_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_IDENTITY_ID = re.compile(r"^[\w.-]{1,47}$")
_HTTPS_URL = re.compile(r"^https://[^\s/?#]+(?:/[^\s?#]*)?$")


@dataclass(frozen=True)
class GrafanaConfig:
    """Which Grafana serves the dashboard, and how (the validated `stockpipe:grafana`)."""

    mode: str | None = "none"
    """`none` (no Grafana), `managed` (an Amazon Managed Grafana workspace the stack creates)
    or `external` (an existing Grafana at `url`)."""
    auth_provider: str | None = "AWS_SSO"
    """managed: how people sign in, `AWS_SSO` or `SAML`."""
    grafana_version: str | None = DEFAULT_GRAFANA_VERSION
    """managed: the workspace's Grafana version, 9.4 or newer."""
    admin_user_ids: Sequence[str] | None = ()
    """managed: IAM Identity Center user ids made workspace admins."""
    admin_group_ids: Sequence[str] | None = ()
    """managed: IAM Identity Center group ids made workspace admins."""
    plugin_version: str | None = DEFAULT_PLUGIN_VERSION
    """managed: the grafana-athena-datasource release installed on the workspace."""
    uninstall_plugin_on_delete: bool | None = False
    """managed: uninstall the Athena plugin when the stack is destroyed."""
    url: str | None = None
    """external: the Grafana's https:// address."""
    aws_auth: str | None = "ec2_iam_role"
    """external: how the Athena data source gets AWS credentials, `ec2_iam_role` or
    `default`."""
    assume_role_arn: str | None = None
    """external: an IAM role the data source assumes."""
    external_id: str | None = None
    """external: the external id that goes with `assumeRoleArn`."""
    token: pulumi.Input[str] | None = field(default=None, repr=False)
    """external: a Grafana service-account token with the Admin role (pass a secret)."""


# The default: no Grafana (frozen, so one instance serves every stack).
NO_GRAFANA = GrafanaConfig()


def load_grafana_config(config: pulumi.Config, problems: list[str]) -> GrafanaConfig:
    """Read `stockpipe:grafana` and `stockpipe:grafanaToken`; add each problem to `problems`."""
    settings = _object(config.get(GRAFANA), problems)
    token = config.get_secret(GRAFANA_TOKEN)
    token_set = token is not None
    mode = settings.get("mode", "none")
    if mode not in MODES:
        problems.append(f"{_key('mode')}={mode!r} must be one of {', '.join(MODES)}")
        return NO_GRAFANA
    if mode == "none":
        _refuse_keys(settings, (*MANAGED_KEYS, *EXTERNAL_KEYS), "none", problems)
        _refuse_token(token_set, "none", problems)
        return NO_GRAFANA
    if mode == "managed":
        _refuse_keys(settings, EXTERNAL_KEYS, mode, problems)
        _refuse_token(token_set, mode, problems)
        return _managed(settings, problems)
    _refuse_keys(settings, MANAGED_KEYS, mode, problems)
    return _external(settings, token, problems)


def _managed(settings: dict[str, Any], problems: list[str]) -> GrafanaConfig:
    provider = _text(settings, "authProvider", "AWS_SSO", problems)
    if provider not in AUTH_PROVIDERS:
        problems.append(
            f"{_key('authProvider')}={provider!r} must be one of {', '.join(AUTH_PROVIDERS)}"
        )
    version = _text(settings, "grafanaVersion", DEFAULT_GRAFANA_VERSION, problems)
    match = _VERSION.match(version)
    if not match or (int(match.group(1)), int(match.group(2))) < MIN_GRAFANA_VERSION:
        problems.append(
            f"{_key('grafanaVersion')}={version!r} must be a Managed Grafana version "
            "MAJOR.MINOR, 9.4 or newer (plugin installation needs it); "
            "`aws grafana list-versions` lists the region's"
        )
    plugin_version = _text(settings, "pluginVersion", DEFAULT_PLUGIN_VERSION, problems)
    if not _PLUGIN_VERSION.match(plugin_version):
        problems.append(
            f"{_key('pluginVersion')}={plugin_version!r} must be a release of "
            "grafana-athena-datasource such as 3.3.3"
        )
    users = _identity_ids(settings, "adminUserIds", problems)
    groups = _identity_ids(settings, "adminGroupIds", problems)
    if (users or groups) and provider == "SAML":
        problems.append(
            f"{_key('adminUserIds')}/{_key('adminGroupIds')} name IAM Identity Center "
            "users and groups, which only AWS_SSO uses; with SAML, admins come from the "
            "assertion's admin role values (set them in the workspace's SAML configuration)"
        )
    uninstall = settings.get("uninstallPluginOnDelete", False)
    if not isinstance(uninstall, bool):
        problems.append(f"{_key('uninstallPluginOnDelete')}={uninstall!r} must be true or false")
        uninstall = False
    return GrafanaConfig(
        mode="managed",
        auth_provider=provider,
        grafana_version=version,
        admin_user_ids=users,
        admin_group_ids=groups,
        plugin_version=plugin_version,
        uninstall_plugin_on_delete=uninstall,
    )


def _external(
    settings: dict[str, Any], token: pulumi.Output[str] | None, problems: list[str]
) -> GrafanaConfig:
    url = settings.get("url")
    if url is None:
        problems.append(
            f"{_key('url')} is required with mode external: the Grafana's https:// address"
        )
    elif not isinstance(url, str) or not _HTTPS_URL.match(url):
        problems.append(
            f"{_key('url')}={url!r} must be an https:// address (the token travels with "
            "every request, so TLS only)"
        )
        url = None
    else:
        url = url.rstrip("/")
    aws_auth = _text(settings, "awsAuth", "ec2_iam_role", problems)
    if aws_auth not in EXTERNAL_AWS_AUTH:
        problems.append(
            f"{_key('awsAuth')}={aws_auth!r} must be one of {', '.join(EXTERNAL_AWS_AUTH)} "
            "(for a Grafana outside AWS, use default and set assumeRoleArn)"
        )
    role = settings.get("assumeRoleArn")
    if role is not None and (not isinstance(role, str) or not _ROLE_ARN.match(role)):
        problems.append(f"{_key('assumeRoleArn')}={role!r} must be an IAM role ARN")
    external_id = settings.get("externalId")
    if external_id is not None and role is None:
        problems.append(f"{_key('externalId')} is set but assumeRoleArn is not: it goes with it")
    full = f"{NAMESPACE}:{GRAFANA_TOKEN}"
    if token is None:
        problems.append(
            f"{full} is required with mode external: pulumi config set --secret {full} "
            "<a service-account token with the Admin role>"
        )
    elif not pulumi.runtime.is_config_secret(full):
        problems.append(
            f"{full} is set in clear text; it must be a secret: pulumi config rm {full}, "
            f"revoke the token in Grafana, then pulumi config set --secret {full} <new token>"
        )
    return GrafanaConfig(
        mode="external",
        url=url,
        aws_auth=aws_auth,
        assume_role_arn=role,
        external_id=str(external_id) if external_id is not None else None,
        token=token,
    )


def _key(name: str) -> str:
    return f"{NAMESPACE}:{GRAFANA}.{name}"


def _object(raw: str | None, problems: list[str]) -> dict[str, Any]:
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        problems.append(
            f"{NAMESPACE}:{GRAFANA}={raw!r} must be an object, e.g. {{mode: managed}} "
            "in Pulumi.<stack>.yaml"
        )
        return {}
    unknown = sorted(set(value) - set(OBJECT_KEYS))
    for name in unknown:
        problems.append(f"{_key(name)} is not a Grafana setting; known: {', '.join(OBJECT_KEYS)}")
    return {name: item for name, item in value.items() if name not in unknown}


def _text(settings: dict[str, Any], name: str, default: str, problems: list[str]) -> str:
    value = settings.get(name, default)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # YAML reads 10.4 as a number
    if not isinstance(value, str):
        problems.append(f"{_key(name)}={value!r} must be a string")
        return default
    return value


def _identity_ids(settings: dict[str, Any], name: str, problems: list[str]) -> tuple[str, ...]:
    value = settings.get(name, [])
    if not isinstance(value, list) or not all(
        isinstance(item, str) and _IDENTITY_ID.match(item) for item in value
    ):
        problems.append(
            f"{_key(name)}={value!r} must be a list of IAM Identity Center ids "
            "(aws identitystore list-users / list-groups)"
        )
        return ()
    return tuple(value)


def _refuse_keys(
    settings: dict[str, Any], names: tuple[str, ...], mode: str, problems: list[str]
) -> None:
    for name in names:
        if name in settings:
            problems.append(f"{_key(name)} does not apply with mode {mode}; remove it")


def _refuse_token(token_set: bool, mode: str, problems: list[str]) -> None:
    if token_set:
        full = f"{NAMESPACE}:{GRAFANA_TOKEN}"
        reason = (
            "the stack creates and rotates the workspace's own token"
            if mode == "managed"
            else "no Grafana is configured"
        )
        problems.append(f"{full} is set but mode is {mode}: {reason}; pulumi config rm {full}")
