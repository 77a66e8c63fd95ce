"""The consumer examples (examples/): every property they set on a stockpipe component exists
in the package schema with the right type, and every required input is set.

The TypeScript example is read into the YAML example's shape (a literal stays a value, an
expression becomes a reference to the variable it starts from) and checked the same way.
"""

import re
from pathlib import Path

import pytest
import yaml

from components import package

EXAMPLES = package.PROJECT_ROOT / "examples"
YAML_EXAMPLE = EXAMPLES / "yaml" / "Pulumi.yaml"
TS_EXAMPLE = EXAMPLES / "typescript" / "index.ts"
TS_COMPONENT = re.compile(r"new stockpipe\.(\w+)\(\s*\"[^\"]+\",\s*")
TS_CONST = re.compile(r"^const (\w+) = (.+?);?$", re.MULTILINE)
# What makes a TypeScript variable a resource's output rather than a value known up front
# (a configuration value is known; a secret one is an output).
TS_OUTPUT = re.compile(r"\bnew (?!pulumi\.Config\()[\w.]+\(|Output\(|requireSecret|interpolate")
TS_STRING = re.compile(r'^"([^"\\]*)"$')
TS_TEMPLATE = re.compile(r"^`([^`]*)`$")
WHOLE_REFERENCE = re.compile(r"^\$\{([A-Za-z_][\w-]*)[^}]*\}$")
ANY_REFERENCE = re.compile(r"\$\{([A-Za-z_][\w-]*)")
# Types a YAML literal has, by the schema's names.
LITERAL_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return package.schema()


def _problems(value, prop: dict, path: str, program: dict, schema: dict) -> list[str]:
    """What is wrong with `value` for the schema property `prop` in a YAML `program`."""
    if isinstance(value, str) and (names := ANY_REFERENCE.findall(value)):
        outputs = [name for name in names if name in program.get("resources", {})]
        if outputs and prop.get("plain"):
            return [f"{path} is a plain input but depends on resource output {outputs[0]}"]
        whole = WHOLE_REFERENCE.match(value)
        declared = program.get("config", {}).get(whole.group(1)) if whole else None
        if declared is None:
            return [] if whole or prop.get("type") == "string" else [f"{path}: not a string"]
        value_type = declared["type"]
    else:
        value_type = LITERAL_TYPES.get(type(value)) or (
            "array" if isinstance(value, list) else "object"
        )
    if "$ref" in prop:
        target = schema["types"][prop["$ref"].removeprefix("#/types/")]
        if not isinstance(value, dict):
            return [f"{path}: must be an object"]
        return _object_problems(value, target, path, program, schema)
    expected = prop["type"]
    if value_type != expected and not (expected == "number" and value_type == "integer"):
        return [f"{path}: {value_type} where the schema wants {expected}"]
    if expected == "array" and isinstance(value, list):
        return [
            problem
            for index, item in enumerate(value)
            for problem in _problems(item, prop["items"], f"{path}[{index}]", program, schema)
        ]
    return []


def _object_problems(values: dict, definition: dict, path: str, program, schema) -> list[str]:
    properties = definition.get("inputProperties", definition.get("properties", {}))
    required = definition.get("requiredInputs", definition.get("required", []))
    problems = [f"{path}.{name}: required, not set" for name in required if name not in values]
    for name, value in values.items():
        if name not in properties:
            problems.append(f"{path}.{name}: no such property")
        else:
            problems += _problems(value, properties[name], f"{path}.{name}", program, schema)
    return problems


def _components(program: dict) -> dict[str, dict]:
    return {
        name: resource
        for name, resource in program.get("resources", {}).items()
        if resource.get("type", "").startswith(f"{package.NAME}:")
    }


def _check(program: dict, schema: dict) -> list[str]:
    problems = []
    for name, resource in _components(program).items():
        definition = schema["resources"].get(resource["type"])
        if definition is None:
            problems.append(f"{name}: {resource['type']} is not in the package")
            continue
        problems += _object_problems(
            resource.get("properties", {}), definition, name, program, schema
        )
    return problems


@pytest.fixture(scope="module")
def yaml_program() -> dict:
    return yaml.safe_load(YAML_EXAMPLE.read_text(encoding="utf-8"))


def test_the_yaml_example_uses_the_package_from_this_repository(yaml_program):
    source = YAML_EXAMPLE.parent / yaml_program["packages"]["stockpipe"]

    assert (source / "PulumiPlugin.yaml").is_file()
    assert {r["type"] for r in _components(yaml_program).values()} == set(
        package.schema()["resources"]
    )


def test_the_yaml_example_sets_only_schema_properties_with_their_types(yaml_program, schema):
    assert _check(yaml_program, schema) == []


@pytest.mark.parametrize(
    ("resource", "key", "value", "problem"),
    [
        ("ingestion", "callsPerMinute", "five",
         "ingestion.callsPerMinute: string where the schema wants integer"),
        ("ingestion", "symbol", ["NVDA"], "ingestion.symbol: no such property"),
        ("wap", "region", "${lake.region}",
         "wap.region is a plain input but depends on resource output lake"),
        ("dashboard", "grafana", {"mode": "managed", "colour": "red"},
         "dashboard.grafana.colour: no such property"),
        ("wap", "protectData", "yes", "wap.protectData: string where the schema wants boolean"),
    ],
)  # fmt: skip
def test_the_check_reports_a_consumer_s_mistake(schema, resource, key, value, problem):
    program = yaml.safe_load(YAML_EXAMPLE.read_text(encoding="utf-8"))
    program["resources"][resource]["properties"][key] = value

    assert _check(program, schema) == [problem]


def test_the_check_reports_a_missing_required_input(schema):
    program = yaml.safe_load(YAML_EXAMPLE.read_text(encoding="utf-8"))
    del program["resources"]["ingestion"]["properties"]["apiKey"]

    assert _check(program, schema) == ["ingestion.apiKey: required, not set"]


def _split_top_level(text: str) -> list[str]:
    """`text` split at the commas outside brackets, braces, parentheses and strings."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [part.strip() for part in [*parts, current] if part.strip()]


def _enclosed(text: str, start: int) -> str:
    """The text inside the bracket that opens at `start`."""
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "[": 1, "}": -1, "]": -1}.get(text[index], 0)
        if depth == 0:
            return text[start + 1 : index]
    raise ValueError(f"unbalanced bracket at {start}")


def _ts_value(expression: str):
    """A TypeScript expression in the YAML example's terms."""
    if expression.startswith("{"):
        return {
            key.strip(): _ts_value(value.strip())
            for key, value in (
                entry.split(":", 1) for entry in _split_top_level(_enclosed(expression, 0))
            )
        }
    if expression.startswith("["):
        return [_ts_value(item) for item in _split_top_level(_enclosed(expression, 0))]
    if expression in ("true", "false"):
        return expression == "true"
    if re.fullmatch(r"-?\d+", expression):
        return int(expression)
    if match := TS_STRING.match(expression) or TS_TEMPLATE.match(expression):
        return match.group(1)
    return "${" + re.match(r"[\w$]+", expression).group(0) + "}"


def _typescript_program(source: str) -> dict:
    """The TypeScript example as the YAML checker reads a program: its components' properties,
    and as "resources" the variables that hold outputs."""
    outputs = {name: {} for name, value in TS_CONST.findall(source) if TS_OUTPUT.search(value)}
    resources = dict(outputs)
    for index, match in enumerate(TS_COMPONENT.finditer(source)):
        properties = _ts_value("{" + _enclosed(source, match.end()) + "}")
        resources[f"{match.group(1)}#{index}"] = {
            "type": f"{package.NAME}:index:{match.group(1)}",
            "properties": properties,
        }
    return {"resources": resources}


@pytest.fixture(scope="module")
def typescript_program() -> dict:
    return _typescript_program(TS_EXAMPLE.read_text(encoding="utf-8"))


def test_the_typescript_example_uses_each_component_once(typescript_program):
    types = [r["type"] for r in _components(typescript_program).values()]

    assert sorted(types) == sorted(package.schema()["resources"])


def test_the_typescript_example_sets_only_schema_properties_with_their_types(
    typescript_program, schema
):
    assert _check(typescript_program, schema) == []


def test_the_typescript_reading_sees_a_mistake():
    source = TS_EXAMPLE.read_text(encoding="utf-8")
    broken = source.replace("callsPerMinute: 5,", 'callsPerMinute: "5",').replace(
        "region: region,\n    functionArn", "region: lake.region,\n    functionArn"
    )

    assert _check(_typescript_program(broken), package.schema()) == [
        "IngestionComponent#0.callsPerMinute: string where the schema wants integer",
        "WapWorkflowComponent#1.region is a plain input but depends on resource output lake",
    ]


def test_both_examples_declare_the_package_from_this_repository():
    for project in (YAML_EXAMPLE, TS_EXAMPLE.with_name("Pulumi.yaml")):
        source = yaml.safe_load(project.read_text(encoding="utf-8"))["packages"]["stockpipe"]
        assert (project.parent / source / "PulumiPlugin.yaml").is_file()


def test_every_example_is_checked():
    examples = sorted(path.relative_to(EXAMPLES) for path in EXAMPLES.rglob("Pulumi.yaml"))

    assert examples == [Path("typescript/Pulumi.yaml"), Path("yaml/Pulumi.yaml")]
