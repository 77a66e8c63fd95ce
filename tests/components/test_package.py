"""The component package: its schema as the SDK's analyzer builds it offline (structure and
the committed snapshot), its entry point and manifest."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from components import package

PACKAGE_DIR = package.PROJECT_ROOT / "package"
TOKENS = {
    "IngestionComponent": "stockpipe:index:IngestionComponent",
    "WapWorkflowComponent": "stockpipe:index:WapWorkflowComponent",
    "DashboardComponent": "stockpipe:index:DashboardComponent",
}
# What a consumer must set: the interface's promise, written out so a change shows here.
REQUIRED = {
    "IngestionComponent": {"apiKey", "bucketName", "bucketArn", "alertTopicArn", "accountId"},
    "WapWorkflowComponent": {
        "bucketName", "bucketArn", "alertTopicArn", "accountId", "region", "functionArn",
    },
    "DashboardComponent": {
        "grafana", "region", "accountId", "databaseName", "workgroupName", "bucketName",
        "bucketArn",
    },
}  # fmt: skip
OUTPUTS = {
    "IngestionComponent": {"functionName", "functionArn", "scheduleName"},
    "WapWorkflowComponent": {
        "workflowName", "databaseName", "etlWorkgroup", "analyticsWorkgroup",
    },
    "DashboardComponent": {"dashboardUrl", "grafanaUrl", "workspaceId", "token"},
}  # fmt: skip
BUILTIN_REFS = ("pulumi.json#/Any", "pulumi.json#/Archive", "pulumi.json#/Asset")


@pytest.fixture(scope="module")
def schema() -> dict:
    return package.schema()


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_package_is_named_stockpipe_and_versioned_as_the_project(schema):
    with (package.PROJECT_ROOT / "pyproject.toml").open("rb") as file:
        project_version = tomllib.load(file)["project"]["version"]

    assert (schema["name"], schema["version"]) == ("stockpipe", project_version)


def test_exactly_the_three_components_are_resources_marked_as_components(schema):
    assert set(schema["resources"]) == set(TOKENS.values())
    assert all(resource["isComponent"] for resource in schema["resources"].values())


@pytest.mark.parametrize("component", list(TOKENS))
def test_every_input_is_typed_and_described_and_the_required_ones_are_listed(schema, component):
    resource = schema["resources"][TOKENS[component]]

    inputs = resource["inputProperties"]
    assert set(resource["requiredInputs"]) == REQUIRED[component]
    assert set(resource["requiredInputs"]) <= set(inputs)
    for name, prop in inputs.items():
        assert "type" in prop or "$ref" in prop, f"{component}.{name} has no type"
        assert prop.get("description", "").strip(), f"{component}.{name} has no description"


@pytest.mark.parametrize("component", list(TOKENS))
def test_every_output_is_a_typed_described_property(schema, component):
    properties = schema["resources"][TOKENS[component]]["properties"]

    assert set(properties) == OUTPUTS[component]
    for name, prop in properties.items():
        assert prop.get("type") == "string", f"{component}.{name}"
        assert prop.get("description", "").strip(), f"{component}.{name} has no description"


def test_settings_are_plain_and_resource_references_are_inputs(schema):
    ingestion = schema["resources"][TOKENS["IngestionComponent"]]["inputProperties"]
    wap = schema["resources"][TOKENS["WapWorkflowComponent"]]["inputProperties"]

    symbols = ingestion["symbols"]
    assert (symbols["type"], symbols["plain"]) == ("array", True)
    assert (symbols["items"]["type"], symbols["items"]["plain"]) == ("string", True)
    assert ingestion["callsPerMinute"]["type"] == "integer"
    assert wap["protectData"]["type"] == "boolean"
    assert wap["region"].get("plain") is True
    assert "plain" not in ingestion["apiKey"]
    assert "plain" not in wap["functionArn"]


def test_the_grafana_settings_are_a_described_object_type(schema):
    grafana = schema["resources"][TOKENS["DashboardComponent"]]["inputProperties"]["grafana"]

    (token,) = [name for name in schema["types"] if name.endswith(":GrafanaConfig")]
    settings = schema["types"][token]
    assert grafana["$ref"] == f"#/types/{token}"
    assert settings["type"] == "object"
    assert {"mode", "url", "token", "adminGroupIds"} <= set(settings["properties"])
    assert all(prop.get("description") for prop in settings["properties"].values())
    assert settings.get("required", []) == []


def test_every_ref_resolves_inside_the_schema(schema):
    refs = list(_refs(schema))

    assert refs, "the schema has no reference to check"
    for ref in refs:
        if ref in BUILTIN_REFS:
            continue
        assert ref.startswith("#/types/"), ref
        assert ref.removeprefix("#/types/") in schema["types"], ref


def test_the_committed_schema_is_the_one_the_analyzer_builds():
    committed = package.SCHEMA_FILE.read_text(encoding="utf-8")

    assert committed == package.schema_text(), "package/schema.json is stale: make schema-update"


def test_a_stale_snapshot_fails_the_check(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "schema.json"
    stale.write_text(json.dumps({"name": "stockpipe"}), encoding="utf-8")
    monkeypatch.setattr(package, "SCHEMA_FILE", stale)

    assert package.main(["--check"]) == 1
    assert "make schema-update" in capsys.readouterr().err
    assert package.main(["--update"]) == 0
    assert package.main(["--check"]) == 0


def test_the_manifest_declares_a_python_plugin():
    manifest = yaml.safe_load((PACKAGE_DIR / "PulumiPlugin.yaml").read_text(encoding="utf-8"))

    assert manifest["runtime"] == "python"


def test_the_entry_point_hosts_the_three_components_from_any_directory(tmp_path):
    # Pulumi runs the plugin from wherever it downloaded it: the entry point must find the
    # components beside itself, not through the caller's directory or PYTHONPATH.
    probe = (
        "import runpy, sys\n"
        "import pulumi.provider.experimental as experimental\n"
        "def host(components, name, namespace=None, version=None):\n"
        "    print(name, version, ' '.join(c.__name__ for c in components))\n"
        "experimental.component_provider_host = host\n"
        "runpy.run_path(sys.argv[1], run_name='__main__')\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    completed = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", probe, str(PACKAGE_DIR / "__main__.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip

    assert completed.stdout.split() == [
        "stockpipe", package.version(),
        "IngestionComponent", "WapWorkflowComponent", "DashboardComponent",
    ]  # fmt: skip


def test_the_plugin_installs_the_projects_locked_requirements():
    lines = (PACKAGE_DIR / "requirements.txt").read_text(encoding="utf-8").splitlines()

    assert [line for line in lines if line and not line.startswith("#")] == [
        "-r ../requirements.txt"
    ]
    assert (PACKAGE_DIR / "../requirements.txt").resolve() == Path(
        package.PROJECT_ROOT / "requirements.txt"
    )
