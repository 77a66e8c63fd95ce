"""The package's `construct` path, offline: a component built the way a consumer's program
builds it (inputs by schema name, numbers as the engine sends them), for tests to compare
with the classes used directly."""

import dataclasses
from types import SimpleNamespace
from typing import Any

import pulumi
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.util import camel_case

from components.package import COMPONENTS, NAME, version


def provider() -> ComponentProvider:
    """The provider `component_provider_host` serves (package/__main__.py)."""
    return ComponentProvider(COMPONENTS, NAME, version=version())


def wire_inputs(value: Any) -> Any:
    """`value` as the engine hands it to `construct`: schema (camelCase) names, lists for
    sequences, numbers as floats, unset (None) properties left out; Outputs stay Outputs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {camel_case(k): wire_inputs(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [wire_inputs(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def through_construct(component: type[pulumi.ComponentResource], host: ComponentProvider):
    """A stand-in for `component` that builds it through `host.construct`; its outputs come
    back by their Python names, as a consumer's SDK would give them."""
    token = f"{NAME}:index:{component.__name__}"
    definition = host._component_defs[component.__name__]

    def build(name: str, args: Any, opts: pulumi.ResourceOptions | None = None):
        result = host.construct(name, token, wire_inputs(args), opts)
        outputs = {
            python: result.state.get(schema)
            for schema, python in definition.outputs_mapping.items()
        }
        return SimpleNamespace(urn=result.urn, **outputs)

    return build
