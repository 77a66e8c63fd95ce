"""The usage file: Infracost's shape, keyed by Pulumi type token and logical name.

`version: 0.1`, `resource_type_default_usage` (type token -> key -> number) and
`resource_usage` (logical name -> key -> number). The defaults (usage.yml) are read first, a
user's file over them. Every mistake is one CostInputError naming the file and the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.cost.errors import CostInputError

DEFAULT_USAGE = Path(__file__).resolve().parent / "usage.yml"
VERSION = "0.1"
TOP_KEYS = ("version", "resource_type_default_usage", "resource_usage")


@dataclass
class Usage:
    """Usage by type token, and overrides by logical name."""

    by_type: dict[str, dict[str, float]]
    by_name: dict[str, dict[str, float]]
    sources: list[Path]

    def of(self, type_token: str, name: str) -> dict[str, float]:
        return {**self.by_type.get(type_token, {}), **self.by_name.get(name, {})}


def load_usage(path: Path | None, resources: dict[str, str]) -> Usage:
    """The defaults, then `path` over them. `resources`: logical name -> type token of the
    stack's resources (a name or key the estimate does not use is an error)."""
    by_type, by_name = _read(DEFAULT_USAGE, None, resources)
    sources = [DEFAULT_USAGE]
    if path is not None:
        user_type, user_name = _read(path, by_type, resources)
        for token, values in user_type.items():
            by_type[token] = {**by_type[token], **values}
        by_name.update(user_name)
        sources.append(path)
    return Usage(by_type, by_name, sources)


def _read(
    path: Path, known: dict[str, dict[str, float]] | None, resources: dict[str, str]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CostInputError(f"{path}: cannot read the usage file: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise CostInputError(f"{path}: not YAML{where}") from None
    if not isinstance(document, dict):
        raise CostInputError(f"{path}: must be a mapping with {', '.join(TOP_KEYS)}")
    for key in document:
        if key not in TOP_KEYS:
            raise CostInputError(f"{path}: {key}: unknown key; known: {', '.join(TOP_KEYS)}")
    if str(document.get("version")) != VERSION:
        raise CostInputError(f"{path}: version: must be {VERSION}")
    by_type: dict[str, dict[str, float]] = {}
    for token, values in _mapping(path, document, "resource_type_default_usage").items():
        where = f"resource_type_default_usage.{token}"
        if known is not None and token not in known:
            raise CostInputError(
                f"{path}: {where}: no usage for this type; types with usage: {', '.join(known)}"
            )
        allowed = None if known is None else known[token]
        by_type[token] = _numbers(path, where, values, allowed)
    defaults = by_type if known is None else known
    by_name: dict[str, dict[str, float]] = {}
    for name, values in _mapping(path, document, "resource_usage").items():
        where = f"resource_usage.{name}"
        if name not in resources:
            raise CostInputError(f"{path}: {where}: no resource of this name in the stack")
        token = resources[name]
        if token not in defaults:
            raise CostInputError(f"{path}: {where}: a {token} takes no usage")
        by_name[name] = _numbers(path, where, values, defaults[token])
    return by_type, by_name


def _mapping(path: Path, document: dict, key: str) -> dict:
    value = document.get(key) or {}
    if not isinstance(value, dict):
        raise CostInputError(f"{path}: {key}: must be a mapping")
    return value


def _numbers(
    path: Path, where: str, values: Any, allowed: dict[str, float] | None
) -> dict[str, float]:
    if not isinstance(values, dict):
        raise CostInputError(f"{path}: {where}: must be a mapping of usage keys to numbers")
    numbers: dict[str, float] = {}
    for key, value in values.items():
        if allowed is not None and key not in allowed:
            raise CostInputError(
                f"{path}: {where}.{key}: unknown usage key; known: {', '.join(allowed)}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise CostInputError(f"{path}: {where}.{key}: {value!r} is not a number")
        if value < 0 or math.isinf(value):
            raise CostInputError(f"{path}: {where}.{key}: {value!r} must be zero or more")
        numbers[key] = float(value)
    return numbers
