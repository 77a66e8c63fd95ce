"""The SQL files of this package, loaded and filled in.

Every statement lives in `sql/*.sql` (checks in `sql/checks/*.sql`), written in Athena's
dialect with `{name}` placeholders. Values go in through `string_literal` or validated
identifiers and numbers only. Files are read with pkgutil so they also load from the zip
that ships this package to Glue.
"""

from __future__ import annotations

import pkgutil
import re
from collections.abc import Iterable
from typing import Any

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def load(name: str) -> str:
    """The text of `sql/{name}.sql` (name may contain a subdirectory: "checks/unique_key")."""
    data = pkgutil.get_data("runtime.wap", f"sql/{name}.sql")
    if data is None:
        raise FileNotFoundError(f"runtime/wap/sql/{name}.sql")
    return data.decode("utf-8")


def render(name: str, **params: Any) -> str:
    """`sql/{name}.sql` with its placeholders filled from params."""
    return load(name).format_map(params)


def identifier(name: str) -> str:
    """A table name checked against the catalog's identifier rules."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a valid table name (lower-case letters, digits, _)")
    return name


def string_literal(value: str) -> str:
    """The SQL text of a string value without its surrounding quotes, quotes doubled."""
    return value.replace("'", "''")


def string_list(values: Iterable[str]) -> str:
    """Comma-separated quoted SQL strings: `'A', 'B'`."""
    return ", ".join(f"'{string_literal(value)}'" for value in values)


def subquery(name: str, **params: Any) -> str:
    """A rendered file wrapped in parentheses, for use as a relation."""
    return f"(\n{render(name, **params)}\n)"
