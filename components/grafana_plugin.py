"""A Grafana plugin installed through the Grafana HTTP API, as a Pulumi dynamic resource.

Since Managed Grafana 9.4 the Athena data source plugin is not preinstalled, and no
provider resource installs plugins. `GrafanaPlugin` does it with a service-account token:
- create: install the version unless it is installed already, then wait until Grafana
  reports that version (a data source of the plugin's type fails until then);
- diff: a new version (or another Grafana) is an update, the same version nothing;
- delete: leave the plugin installed (other data sources may use it) unless
  `uninstall_on_delete`; the state never holds the token, so that uninstall takes a token
  from the GRAFANA_AUTH environment variable of the `pulumi destroy`.

The token is an input only: it is left out of the outputs, of every error and every log
line (responses are scrubbed of it too), and the provider object (pickled into the state)
never holds it.

Pulumi pickles the provider into every stack's state by reference to this module's path
and the class name (`components.grafana_plugin.GrafanaPluginProvider`); refresh, update
and destroy load it from the state. Moving or renaming this module or the class breaks
them for every stack deployed before, silently until the next run: a test pins both
(tests/components/test_grafana_plugin.py, docs/aws-constraints.md).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
import requests

logger = logging.getLogger(__name__)

TOKEN_ENVIRONMENT = "GRAFANA_AUTH"  # noqa: S105 (a variable name)
# Inputs kept out of the resource's outputs (state).
SECRET_INPUTS = ("token",)
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
# A managed workspace installs a plugin in well under a minute.
DEFAULT_WAIT_SECONDS = 180.0
DEFAULT_POLL_SECONDS = 3.0
_BODY_CHARS = 200


class GrafanaPluginError(Exception):
    """Grafana refused or failed a plugin call; the message names the Grafana and what to do."""


@dataclass(frozen=True)
class PluginTarget:
    """Where and what to install (the resource's inputs)."""

    url: str
    token: str
    plugin_id: str
    version: str
    workspace: str  # names the Grafana in messages (a workspace id, or the URL)
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS

    @classmethod
    def from_props(cls, props: dict[str, Any], token: str | None = None) -> PluginTarget:
        return cls(
            url=str(props["url"]).rstrip("/"),
            token=token if token is not None else str(props.get("token") or ""),
            plugin_id=str(props["plugin_id"]),
            version=str(props["version"]),
            workspace=str(props.get("workspace") or props["url"]),
            request_timeout=float(props.get("request_timeout", DEFAULT_REQUEST_TIMEOUT_SECONDS)),
            wait_seconds=float(props.get("wait_seconds", DEFAULT_WAIT_SECONDS)),
            poll_seconds=float(props.get("poll_seconds", DEFAULT_POLL_SECONDS)),
        )

    @property
    def where(self) -> str:
        return f"Grafana {self.workspace} ({self.url})"


class GrafanaApi:
    """The plugin calls of the Grafana HTTP API, with errors a user can act on."""

    def __init__(self, target: PluginTarget) -> None:
        self._target = target

    def installed_version(self) -> str | None:
        """The installed version of the plugin, or None when it is not installed."""
        response = self._call("GET", f"/api/plugins/{self._target.plugin_id}/settings")
        if response.status_code == 404:
            return None
        self._raise_for(response, "read the plugin's settings")
        info = (response.json() or {}).get("info") or {}
        return str(info.get("version") or "") or None

    def install(self) -> None:
        target = self._target
        response = self._call(
            "POST", f"/api/plugins/{target.plugin_id}/install", json={"version": target.version}
        )
        if response.status_code == 409 and self.installed_version() == target.version:
            return  # installed meanwhile (another run): what we wanted
        self._raise_for(response, f"install {target.plugin_id} {target.version}")

    def uninstall(self) -> None:
        response = self._call("POST", f"/api/plugins/{self._target.plugin_id}/uninstall")
        if response.status_code == 404:
            return
        self._raise_for(response, f"uninstall {self._target.plugin_id}")

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        target = self._target
        try:
            return requests.request(
                method,
                target.url + path,
                headers={"Authorization": f"Bearer {target.token}", "Accept": "application/json"},
                timeout=target.request_timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.Timeout:
            raise GrafanaPluginError(
                f"{target.where} did not answer {method} {path} within "
                f"{target.request_timeout:g} s: check that the workspace is ACTIVE and "
                "reachable from where pulumi runs, then run pulumi up again"
            ) from None
        except requests.RequestException as error:
            raise GrafanaPluginError(
                f"{target.where} could not be reached ({type(error).__name__}): check the URL "
                "and the network, then run pulumi up again"
            ) from None

    def _raise_for(self, response: requests.Response, doing: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        where = self._target.where
        detail = self._scrub(response.text[:_BODY_CHARS].strip())
        answered = f"{where} answered HTTP {status} when asked to {doing}" + (
            f" ({detail})" if detail else ""
        )
        if status in (401, 403):
            hint = (
                "the service-account token is invalid, expired or not an Admin's: for a "
                "managed workspace run `pulumi up --refresh` to rotate it; for an external "
                "Grafana set a new Admin token with pulumi config set --secret "
                "stockpipe:grafanaToken"
            )
        elif status == 404:
            hint = (
                "the plugin API or this plugin version is not there: plugin management "
                "needs Grafana 9.4 or newer with pluginAdminEnabled, and the version must be "
                "in the workspace's plugin catalog (stockpipe:grafana.pluginVersion); fix "
                "that, then run pulumi up again"
            )
        elif status == 409:
            hint = (
                "another plugin install or uninstall is in progress on this Grafana: wait a "
                "minute and run pulumi up again"
            )
        elif status >= 500:
            hint = (
                "Grafana failed; run pulumi up again in a few minutes, and if it persists "
                "check the workspace's status in the Amazon Managed Grafana console"
            )
        else:
            hint = "check the request in Grafana's server log"
        raise GrafanaPluginError(f"{answered}: {hint}")

    def _scrub(self, text: str) -> str:
        token = self._target.token
        return text.replace(token, "[token]") if token else text


def ensure_installed(target: PluginTarget) -> str:
    """Install `target.version` unless it is there, and wait until Grafana reports it."""
    api = GrafanaApi(target)
    current = api.installed_version()
    if current == target.version:
        logger.info("%s: %s %s already installed", target.where, target.plugin_id, current)
        return current
    logger.info(
        "%s: installing %s %s (installed: %s)",
        target.where, target.plugin_id, target.version, current or "none",
    )  # fmt: skip
    api.install()
    deadline = time.monotonic() + target.wait_seconds
    while True:
        current = api.installed_version()
        if current == target.version:
            return current
        if time.monotonic() >= deadline:
            raise GrafanaPluginError(
                f"{target.where} accepted the install of {target.plugin_id} {target.version} "
                f"but still reports {current or 'no version'} after {target.wait_seconds:g} s: "
                "check the plugin's page in Grafana (Administration, Plugins), then run "
                "pulumi up again"
            )
        time.sleep(target.poll_seconds)


class GrafanaPluginProvider(pulumi.dynamic.ResourceProvider):
    """Create, diff, update and delete of `GrafanaPlugin` (no state of its own: pickled)."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        target = PluginTarget.from_props(props)
        version = ensure_installed(target)
        return pulumi.dynamic.CreateResult(
            id_=target.plugin_id, outs=_outputs(props, installed_version=version)
        )

    def diff(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        changed = [key for key in ("url", "plugin_id", "version") if olds.get(key) != news.get(key)]
        replaces = [key for key in ("url", "plugin_id") if key in changed]
        return pulumi.dynamic.DiffResult(
            changes=bool(changed), replaces=replaces, delete_before_replace=False
        )

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.UpdateResult:
        version = ensure_installed(PluginTarget.from_props(news))
        return pulumi.dynamic.UpdateResult(outs=_outputs(news, installed_version=version))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if not props.get("uninstall_on_delete"):
            logger.info("leaving %s installed on %s", props.get("plugin_id"), props.get("url"))
            return
        token = os.environ.get(TOKEN_ENVIRONMENT, "")
        target = PluginTarget.from_props(props, token=token)
        if not token:
            raise GrafanaPluginError(
                f"uninstalling {target.plugin_id} from {target.where} needs an Admin "
                f"service-account token: export {TOKEN_ENVIRONMENT}=<token> for this run, or "
                "set stockpipe:grafana.uninstallPluginOnDelete false and run pulumi up first"
            )
        GrafanaApi(target).uninstall()


def _outputs(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    outs = {key: value for key, value in props.items() if key not in SECRET_INPUTS}
    return {**outs, **extra}


class GrafanaPlugin(pulumi.dynamic.Resource):
    """A plugin installed on a Grafana (see the module docstring)."""

    installed_version: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        url: pulumi.Input[str],
        token: pulumi.Input[str],
        plugin_id: str,
        version: str,
        workspace: pulumi.Input[str],
        uninstall_on_delete: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            GrafanaPluginProvider(),
            name,
            {
                "url": url,
                "token": pulumi.Output.secret(token),
                "plugin_id": plugin_id,
                "version": version,
                "workspace": workspace,
                "uninstall_on_delete": uninstall_on_delete,
                "installed_version": None,
            },
            opts,
        )
