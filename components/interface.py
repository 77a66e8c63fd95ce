"""The components' public inputs: typed args classes, checked with one line per problem.

Each component's args class is a dataclass that Pulumi's analyzer reads into the package
schema (components/package.py): plain fields and `pulumi.Input[...]` fields, optional ones
annotated `X | None` with their default, each documented by the string after it. The
program passes an instance; a consumer of the package reaches the component through the
provider's `construct`, which hands it a dict of Python names. Both go through
`resolve_args`, so a wrong type, an unknown property or a missing required input gets the
same message, naming the component and the property, whichever way it came.

The modules defining args classes and components do not use `from __future__ import
annotations`: the analyzer reads annotations as objects, not strings.
"""

import dataclasses
import types
import typing
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import pulumi
from pulumi.provider.experimental.util import camel_case

Args = TypeVar("Args")
_KINDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


class ComponentInputError(pulumi.RunError):
    """A component's inputs are invalid: one line per problem, naming component and property."""


def resolve_args(
    component: str,
    args: object,
    args_type: type[Args],
    choices: Mapping[str, Sequence[str]] | None = None,
) -> Args:
    """`args` (an `args_type` or a dict of its field names) checked and completed with defaults.

    `choices` holds the values some properties may take, by property path (`grafana.mode`).
    """
    problems: list[str] = []
    resolved = _resolve(args_type, args, _Context(component, choices or {}, problems), "")
    if problems:
        raise ComponentInputError("\n".join(problems))
    return resolved


@dataclasses.dataclass
class _Context:
    component: str
    choices: Mapping[str, Sequence[str]]
    problems: list[str]

    def add(self, problem: str) -> None:
        self.problems.append(f"{self.component}: {problem}")


def _resolve(args_type: type, args: object, context: _Context, path: str):
    fields = {field.name: field for field in dataclasses.fields(args_type)}
    if isinstance(args, args_type):
        given = {name: getattr(args, name) for name in fields}
    elif isinstance(args, Mapping):
        given = dict(args)
    else:
        context.add(f"{_where(path)} must be an object, got {_kind(args)}")
        return None
    found = len(context.problems)
    known = ", ".join(camel_case(field) for field in fields)
    for name in sorted(set(given) - set(fields)):
        context.add(f"unknown input '{_label(path, name)}' (known: {known})")
    values = {}
    for name, field in fields.items():
        value = given.get(name)
        if value is None:
            if field.default is dataclasses.MISSING and (
                field.default_factory is dataclasses.MISSING
            ):
                context.add(f"required input '{_label(path, name)}' is missing")
            continue
        values[name] = _checked(field.type, value, context, _label(path, name))
    return args_type(**values) if len(context.problems) == found else None


def _checked(annotation: Any, value: Any, context: _Context, label: str):
    """`value` if it fits `annotation` (sequences become tuples); else a problem is added."""
    members = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    members = tuple(member for member in members if member is not type(None))
    if isinstance(value, pulumi.Output | Awaitable) and any(map(_accepts_output, members)):
        return value
    plain = [member for member in members if not _accepts_output(member)]
    target = plain[0] if plain else members[0]
    if dataclasses.is_dataclass(target):
        return _resolve(target, value, context, label)
    if typing.get_origin(target) in (list, tuple, Sequence):
        if not isinstance(value, list | tuple):
            context.add(f"input '{label}' must be a list, got {_kind(value)}")
            return value
        (item_type, *_) = typing.get_args(target)
        return tuple(
            _checked(item_type, item, context, f"{label}[{index}]")
            for index, item in enumerate(value)
        )
    if target is int and isinstance(value, float) and value.is_integer():
        # The engine sends every number as a float, and the SDK's provider (3.272.0) hands
        # an integer property on as it came.
        value = int(value)
    if target in _KINDS and not _fits(target, value):
        context.add(f"input '{label}' must be {_KINDS[target]}, got {_kind(value)}")
    elif label in context.choices and value not in context.choices[label]:
        allowed = ", ".join(context.choices[label])
        context.add(f"input '{label}' is {value!r}; it must be one of {allowed}")
    return value


def _fits(target: type, value: Any) -> bool:
    if isinstance(value, bool):
        return target is bool
    if target is float:
        return isinstance(value, int | float)
    return isinstance(value, target)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _accepts_output(member: Any) -> bool:
    """Whether a union member is the Output/Awaitable half of a `pulumi.Input[...]`."""
    return (
        typing.get_origin(member) in (Awaitable, pulumi.Output)
        or isinstance(member, typing.ForwardRef)
        or member is pulumi.Output
    )


def _label(path: str, name: str) -> str:
    return f"{path}.{camel_case(name)}" if path else camel_case(name)


def _where(path: str) -> str:
    return f"input '{path}'" if path else "its args"


def _kind(value: Any) -> str:
    """The type of a bad value, never the value itself (it may be a secret)."""
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )
