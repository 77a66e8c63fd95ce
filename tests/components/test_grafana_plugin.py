"""The plugin installer's provider against a local HTTP server playing the Grafana plugin API."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.grafana_plugin import GrafanaPluginError, GrafanaPluginProvider
from components.plan import PROJECT_ROOT

PLUGIN = "grafana-athena-datasource"
TOKEN = "glsa_plugin-test-token-0a1b2c3d4e"
WORKSPACE = "g-0123456789"


@dataclass
class FakeGrafana:
    """Grafana's plugin endpoints: installed versions, scripted failures, the requests seen."""

    installed: dict[str, str] = field(default_factory=dict)
    # (method, path suffix) -> (status, body): answered instead of the normal behaviour.
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    # GETs of the settings that still report the old version after an install.
    install_lag: int = 0
    delay_seconds: float = 0.0
    requests: list[dict] = field(default_factory=list)
    url: str = ""

    def answer(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "invalid API key"}
        for (failing_method, suffix), (status, text) in self.failures.items():
            if method == failing_method and path.endswith(suffix):
                return status, {"message": text}
        plugin = path.split("/")[3]
        if method == "GET" and path.endswith("/settings"):
            if plugin not in self.installed:
                return 404, {"message": "Plugin not found"}
            if self.install_lag:
                self.install_lag -= 1
                return 200, {"info": {"version": self.installed[plugin + "#before"]}}
            return 200, {"id": plugin, "info": {"version": self.installed[plugin]}}
        if method == "POST" and path.endswith("/install"):
            self.installed[plugin + "#before"] = self.installed.get(plugin, "")
            self.installed[plugin] = json.loads(body)["version"]
            return 200, {}
        if method == "POST" and path.endswith("/uninstall"):
            self.installed.pop(plugin, None)
            return 200, {}
        return 404, {"message": "not found"}

    def calls(self, method: str | None = None) -> list[str]:
        return [
            f"{r['method']} {r['path']}" for r in self.requests if method in (None, r["method"])
        ]


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, body = fake.answer(
                self.command, self.path, dict(self.headers), self.rfile.read(length)
            )
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, *args) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # The timeout test hangs up before the answer: that broken pipe is expected.
    server.handle_error = lambda request, client_address: None
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


def props(grafana: FakeGrafana, **overrides) -> dict:
    return {
        "url": grafana.url,
        "token": TOKEN,
        "plugin_id": PLUGIN,
        "version": "3.3.3",
        "workspace": WORKSPACE,
        "uninstall_on_delete": False,
        "poll_seconds": 0.01,
        "wait_seconds": 2,
        "request_timeout": 2,
        **overrides,
    }


def test_create_installs_a_missing_plugin_and_waits_until_grafana_reports_it(grafana):
    grafana.install_lag = 2

    result = GrafanaPluginProvider().create(props(grafana))

    assert result.id == PLUGIN
    assert grafana.calls("POST") == [f"POST /api/plugins/{PLUGIN}/install"]
    assert json.loads(grafana.requests[1]["body"]) == {"version": "3.3.3"}
    assert grafana.installed[PLUGIN] == "3.3.3"
    assert result.outs["installed_version"] == "3.3.3"
    assert len(grafana.calls("GET")) == 4  # before, two lagging answers, then the version


def test_create_installs_nothing_when_the_version_is_there(grafana):
    grafana.installed[PLUGIN] = "3.3.3"

    result = GrafanaPluginProvider().create(props(grafana))

    assert grafana.calls() == [f"GET /api/plugins/{PLUGIN}/settings"]
    assert result.outs["installed_version"] == "3.3.3"


def test_a_new_version_is_an_update_that_installs_it_and_the_same_one_no_change(grafana):
    grafana.installed[PLUGIN] = "3.3.3"
    provider = GrafanaPluginProvider()
    olds = provider.create(props(grafana)).outs

    same = provider.diff(PLUGIN, olds, props(grafana))
    newer = provider.diff(PLUGIN, olds, props(grafana, version="3.4.0"))
    elsewhere = provider.diff(PLUGIN, olds, props(grafana, url="https://other.example.org"))
    updated = provider.update(PLUGIN, olds, props(grafana, version="3.4.0"))

    assert (same.changes, newer.changes, newer.replaces) == (False, True, [])
    assert elsewhere.replaces == ["url"]
    assert grafana.calls("POST") == [f"POST /api/plugins/{PLUGIN}/install"]
    assert updated.outs["installed_version"] == grafana.installed[PLUGIN] == "3.4.0"


def test_delete_leaves_the_plugin_installed_by_default(grafana):
    grafana.installed[PLUGIN] = "3.3.3"
    provider = GrafanaPluginProvider()
    outs = provider.create(props(grafana)).outs

    provider.delete(PLUGIN, outs)

    assert grafana.calls("POST") == []
    assert grafana.installed[PLUGIN] == "3.3.3"


def test_delete_uninstalls_when_configured_with_a_token_from_the_environment(grafana, monkeypatch):
    grafana.installed[PLUGIN] = "3.3.3"
    provider = GrafanaPluginProvider()
    outs = provider.create(props(grafana, uninstall_on_delete=True)).outs

    monkeypatch.delenv("GRAFANA_AUTH", raising=False)
    with pytest.raises(GrafanaPluginError, match="export GRAFANA_AUTH=<token>"):
        provider.delete(PLUGIN, outs)
    monkeypatch.setenv("GRAFANA_AUTH", TOKEN)
    provider.delete(PLUGIN, outs)

    assert grafana.calls("POST") == [f"POST /api/plugins/{PLUGIN}/uninstall"]
    assert PLUGIN not in grafana.installed


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ({}, "HTTP 401 when asked to read the plugin's settings"),  # a wrong token
        ({("POST", "/install"): (404, "plugin not found in catalog")},
         "HTTP 404 when asked to install grafana-athena-datasource 3.3.3 (" ),
        ({("POST", "/install"): (409, "plugin install already in progress")},
         "another plugin install or uninstall is in progress on this Grafana"),
        ({("POST", "/install"): (502, "Bad Gateway")},
         "Grafana failed; run pulumi up again in a few minutes"),
    ],
)  # fmt: skip
def test_a_refusing_grafana_is_one_clear_error_naming_the_workspace(grafana, failure, expected):
    grafana.failures.update(failure)
    inputs = props(grafana, token="wrong-token" if not failure else TOKEN)

    with pytest.raises(GrafanaPluginError) as raised:
        GrafanaPluginProvider().create(inputs)

    message = str(raised.value)
    assert expected in message
    assert f"Grafana {WORKSPACE} ({grafana.url})" in message
    assert "run pulumi up" in message or "pulumi config set" in message


def test_a_401_says_how_to_get_a_working_token(grafana):
    with pytest.raises(GrafanaPluginError) as raised:
        GrafanaPluginProvider().create(props(grafana, token="expired"))

    assert "token is invalid, expired or not an Admin's" in str(raised.value)
    assert "pulumi up --refresh" in str(raised.value)


def test_a_grafana_that_does_not_answer_in_time_is_a_timeout_error(grafana):
    grafana.delay_seconds = 0.5

    with pytest.raises(GrafanaPluginError) as raised:
        GrafanaPluginProvider().create(props(grafana, request_timeout=0.1))

    assert f"Grafana {WORKSPACE} ({grafana.url}) did not answer GET" in str(raised.value)
    assert "within 0.1 s: check that the workspace is ACTIVE" in str(raised.value)


def test_an_install_that_never_shows_up_fails_after_the_wait(grafana):
    grafana.install_lag = 10_000

    with pytest.raises(GrafanaPluginError, match=r"still reports no version after 0\.2 s"):
        GrafanaPluginProvider().create(props(grafana, wait_seconds=0.2))


def test_the_token_is_in_no_error_log_line_or_output(grafana, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    provider = GrafanaPluginProvider()
    # A Grafana that echoes the request's header into its error body.
    grafana.failures[("POST", "/install")] = (500, f"bad header Bearer {TOKEN}")
    with pytest.raises(GrafanaPluginError) as raised:
        provider.create(props(grafana))
    grafana.failures.clear()
    outs = provider.create(props(grafana)).outs
    updated = provider.update(PLUGIN, outs, props(grafana, version="3.4.0")).outs
    monkeypatch.setenv("GRAFANA_AUTH", TOKEN)
    provider.delete(PLUGIN, {**updated, "uninstall_on_delete": True})

    assert "[token]" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert TOKEN not in caplog.text
    assert caplog.records  # the provider does log what it does
    assert "token" not in outs
    assert "token" not in updated
    assert TOKEN not in json.dumps([outs, updated])
    assert TOKEN not in repr(vars(provider))  # the pickled provider holds no token


# The provider as every stack's state holds it (`__provider` of the plugin resource): Pulumi
# pickles the provider by reference to its module and class, and refresh, update and
# destroy load it from the state, not from the program. Moving or renaming
# components/grafana_plugin.py or GrafanaPluginProvider breaks them for every stack
# deployed before: keep both where they are (docs/aws-constraints.md).
STATE_PROVIDER = (
    "gASVOgAAAAAAAACMGWNvbXBvbmVudHMuZ3JhZmFuYV9wbHVnaW6UjBVHcmFmYW5hUGx1Z2luUHJvdmlkZXKUk5QpgZQu"
)


def test_the_program_writes_the_provider_reference_existing_states_hold():
    assert serialize_provider(GrafanaPluginProvider()) == STATE_PROVIDER


def test_a_provider_from_an_existing_state_loads_as_pulumis_provider_host_loads_it():
    # A fresh interpreter in the project directory, as `pulumi refresh` or `destroy` start
    # the dynamic provider host: base64, then dill (pulumi/dynamic/__main__.py).
    loaded = subprocess.run(  # noqa: S603 (our own interpreter and a fixed program)
        [sys.executable, "-c",
         "import base64, sys, dill; provider = dill.loads(base64.b64decode(sys.argv[1])); "
         "print(type(provider).__module__, type(provider).__qualname__)", STATE_PROVIDER],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["components.grafana_plugin", "GrafanaPluginProvider"]
