"""The stockpipe component package: what it hosts, its version, its schema.

`package/` holds the plugin (PulumiPlugin.yaml and the entry point Pulumi runs when a
consumer's program uses the package); this module names what it offers, so the entry point,
`make schema-update` and the tests agree:

    python -m components.package            # print the schema
    python -m components.package --update   # rewrite package/schema.json
    python -m components.package --check    # fail when package/schema.json is stale

The schema is the one the plugin serves: the SDK's analyzer reads it from the components'
type annotations and docstrings (components/interface.py), no Pulumi CLI needed.
"""

import argparse
import json
import sys
import tomllib
from pathlib import Path

import pulumi
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.schema import generate_schema

from components.dashboard import DashboardComponent
from components.ingestion import IngestionComponent
from components.wap_workflow import WapWorkflowComponent

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NAME = "stockpipe"
# What a consumer instantiates; the lake, the alerting and the Grafana plugin stay inside
# the program (a consumer brings its own bucket and topic).
COMPONENTS: list[type[pulumi.ComponentResource]] = [
    IngestionComponent,
    WapWorkflowComponent,
    DashboardComponent,
]
SCHEMA_FILE = PROJECT_ROOT / "package" / "schema.json"


def version() -> str:
    """The package's version: the project's, from pyproject.toml (its one place)."""
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]["version"]


def schema() -> dict:
    """The package schema as the plugin serves it (`component_provider_host`)."""
    result = Analyzer(NAME).analyze(COMPONENTS)
    package = generate_schema(
        NAME,
        version(),
        None,
        result["component_definitions"],
        result["type_definitions"],
        sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}"),
    )
    return package.to_json()


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--update", action="store_true", help=f"rewrite {SCHEMA_FILE.name}")
    group.add_argument("--check", action="store_true", help=f"fail if {SCHEMA_FILE.name} is stale")
    options = parser.parse_args(argv)
    text = schema_text()
    if options.update:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
    elif options.check:
        if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text(encoding="utf-8") != text:
            print(f"{SCHEMA_FILE} is stale: run `make schema-update`", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
