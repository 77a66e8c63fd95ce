"""The SQL files of this package, loaded and filled in.

Every statement lives in `sql/*.sql` (checks in `sql/checks/*.sql`), written in Athena's
dialect with `{name}` placeholders. Values go in through `string_literal` or validated
identifiers and numbers only; `{prod_columns}` is production's column list from
`runtime/schema.py`. Files are read with pkgutil so they also load from the zip that ships
this package to Glue.
"""

from __future__ import annotations

import pkgutil
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runtime.schema import PROD_COLUMNS

#: daily_prices' columns in table order, as a SELECT list.
PROD_COLUMN_LIST = ", ".join(name for name, _ in PROD_COLUMNS)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
#: A row check's file, comment lines left out (see `checks`).
_ROW_CHECK = re.compile(
    r"^SELECT\s+(?P<key>.+?)\s+AS failure_key,\s+(?P<rank>.+?)\s+AS sample_rank\s+"
    r"FROM \{staging\}\s+WHERE\s+(?P<predicate>.+?)\s*$",
    re.DOTALL,
)


@dataclass(frozen=True)
class RowCheck:
    """The parts of a row check's SELECT, placeholders still in them."""

    failure_key: str
    sample_rank: str
    predicate: str


def load(name: str) -> str:
    """The text of `sql/{name}.sql` (name may contain a subdirectory: "checks/unique_key")."""
    data = pkgutil.get_data("runtime.wap", f"sql/{name}.sql")
    if data is None:
        raise FileNotFoundError(f"runtime/wap/sql/{name}.sql")
    return data.decode("utf-8")


def render(name: str, **params: Any) -> str:
    """`sql/{name}.sql` with its placeholders filled from params."""
    return load(name).format_map({"prod_columns": PROD_COLUMN_LIST, **params})


def row_check(name: str) -> RowCheck:
    """The failure key, sample rank and predicate of the row check in `sql/{name}.sql`."""
    lines = [line for line in load(name).splitlines() if not line.lstrip().startswith("--")]
    match = _ROW_CHECK.match("\n".join(lines).strip())
    if match is None:
        raise ValueError(
            f"sql/{name}.sql is not a row check: SELECT ... FROM {{staging}} WHERE ..."
        )
    return RowCheck(match.group("key"), match.group("rank"), match.group("predicate"))


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


def empty_relation(columns: Iterable[tuple[str, str]] = PROD_COLUMNS) -> str:
    """A relation with these (name, Athena type) columns and no rows: stands in for a table
    that does not exist yet."""
    casts = ", ".join(f"CAST(NULL AS {column_type}) AS {name}" for name, column_type in columns)
    return f"(SELECT {casts} WHERE false)"


def in_list(values: Iterable[Any]) -> str:
    """The inside of an IN (...) list of numbers or pre-quoted values; `NULL` when empty, so
    the predicate matches nothing instead of being invalid SQL."""
    return ", ".join(str(value) for value in values) or "NULL"
