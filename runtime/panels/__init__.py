"""Dashboard panels as data, shared by the Grafana dashboard and the local HTML report.

`panels.toml` lists the panels and the dashboard variable; each panel's Athena SQL sits in
`sql/`. Grafana expands the macros and the `${symbol:sqlstring}` variable itself; the local
report calls `expand_macros` to produce the same SQL before running it on DuckDB.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

PANELS_DIR = Path(__file__).resolve().parent
PANELS_TOML = PANELS_DIR / "panels.toml"
SQL_DIR = PANELS_DIR / "sql"

TIME_SERIES_FORMAT = 0
TABLE_FORMAT = 1

SYMBOL_VARIABLE = "symbol"

_PANEL_KEYS = ("id", "title", "description", "unit", "visualisation", "format", "sql")
SCALES = ("linear", "log")
_VARIABLE_KEYS = ("label", "sql")


class PanelDefinitionError(ValueError):
    """panels.toml or one of its SQL files is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    description: str
    unit: str
    visualisation: str
    format: int
    sql_path: Path
    sql: str
    scale: str = "linear"

    @property
    def uses_symbols(self) -> bool:
        return _VARIABLE_RE.search(self.sql) is not None


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    sql_path: Path
    sql: str
    multi: bool
    include_all: bool


def load_panels(path: Path = PANELS_TOML) -> list[Panel]:
    """The panels in `path`, in dashboard order, with their SQL read from disk."""
    document = _read_toml(path)
    entries = document.get("panels")
    if not isinstance(entries, list) or not entries:
        raise PanelDefinitionError(f"{path}: no [[panels]] defined")
    panels: list[Panel] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        where = f"{path}: panel #{position}"
        _require_keys(entry, _PANEL_KEYS, where)
        where = f"{path}: panel {entry['id']!r}"
        if entry["id"] in seen:
            raise PanelDefinitionError(f"{where}: duplicate id")
        seen.add(entry["id"])
        if entry["format"] not in (TIME_SERIES_FORMAT, TABLE_FORMAT):
            raise PanelDefinitionError(
                f"{where}: format must be {TIME_SERIES_FORMAT} (time series) "
                f"or {TABLE_FORMAT} (table), got {entry['format']!r}"
            )
        scale = entry.get("scale", "linear")
        if scale not in SCALES:
            raise PanelDefinitionError(
                f"{where}: scale must be one of {', '.join(SCALES)}, got {scale!r}"
            )
        sql_path, sql = _read_sql(path.parent, entry["sql"], where)
        panels.append(
            Panel(
                id=entry["id"],
                title=entry["title"],
                description=entry["description"],
                unit=entry["unit"],
                visualisation=entry["visualisation"],
                format=entry["format"],
                sql_path=sql_path,
                sql=sql,
                scale=scale,
            )
        )
    return panels


def load_variables(path: Path = PANELS_TOML) -> dict[str, Variable]:
    """The dashboard variables in `path` by name (today only `symbol`)."""
    document = _read_toml(path)
    variables: dict[str, Variable] = {}
    for name, entry in document.get("variables", {}).items():
        where = f"{path}: variable {name!r}"
        _require_keys(entry, _VARIABLE_KEYS, where)
        sql_path, sql = _read_sql(path.parent, entry["sql"], where)
        variables[name] = Variable(
            name=name,
            label=entry["label"],
            sql_path=sql_path,
            sql=sql,
            multi=bool(entry.get("multi", False)),
            include_all=bool(entry.get("include_all", False)),
        )
    return variables


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise PanelDefinitionError(f"{path}: cannot read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise PanelDefinitionError(f"{path}: not valid TOML ({error})") from error


def _require_keys(entry: dict, keys: Sequence[str], where: str) -> None:
    missing = [key for key in keys if key not in entry]
    if missing:
        raise PanelDefinitionError(f"{where}: missing {', '.join(missing)}")


def _read_sql(base: Path, relative: str, where: str) -> tuple[Path, str]:
    sql_path = base / relative
    try:
        return sql_path, sql_path.read_text(encoding="utf-8")
    except OSError as error:
        raise PanelDefinitionError(
            f"{where}: cannot read SQL file {sql_path} ({error.strerror})"
        ) from error


# --- Macro and variable expansion -----------------------------------------------------------
#
# Mirrors grafana/athena-datasource pkg/athena/macros.go and the grafana/sqlds interpolation
# that drives it (sqlds macros.go):
# - a macro is found with the regex `\$__<name>(?:\((.*?)\))?` (non-greedy: the arguments end
#   at the first `)`), its arguments are split on `,` and trimmed, and every occurrence of the
#   same matched text is replaced;
# - $__timeFilter(col[, fmt]) -> `col BETWEEN TIMESTAMP 'from' AND TIMESTAMP 'to'`, times as
#   `2006-01-02 15:04:05`; with fmt the column becomes `TIMESTAMP col` for
#   'yyyy-MM-dd HH:mm:ss' and `parse_datetime(col,fmt)` otherwise;
# - $__dateFilter(col) -> `col BETWEEN date 'from' AND date 'to'` (UTC dates, `2006-01-02`);
# - $__timeFrom() / $__timeTo() -> `TIMESTAMP 'from'` / `TIMESTAMP 'to'` (UTC).
# The plugin's $__timeFilter formats the range in the plugin host's zone while the others
# call .UTC(); Grafana hosts run in UTC, and we always render UTC.
#
# Dashboard variables are interpolated by Grafana's frontend before the macros. With the
# Athena plugin (grafana/grafana-aws-sdk-react applySQLTemplateVariables) a multi-value
# variable becomes its values quoted with `'` (a `'` inside doubled) and joined with `,`;
# the explicit `${symbol:sqlstring}` format (which the panels use) gives the same text for a
# single value too. The report passes the symbols it charts as the variable's values.

_GO_TIMESTAMP = "%Y-%m-%d %H:%M:%S"
_GO_DATE = "%Y-%m-%d"
_ATHENA_TIMESTAMP_FORMAT = "'yyyy-MM-dd HH:mm:ss'"

# Grafana's variable syntaxes: $name, ${name}, ${name:format}, [[name]], [[name:format]].
_VARIABLE_RE = re.compile(
    r"\$\{(?P<braced>\w+)(?::(?P<braced_format>[^}]+))?\}"
    r"|\[\[(?P<bracketed>\w+)(?::(?P<bracketed_format>\w+))?\]\]"
    rf"|\$(?P<bare>{SYMBOL_VARIABLE})\b"
)
_LEFTOVER_MACRO_RE = re.compile(r"\$__\w+")


@dataclass(frozen=True)
class _Range:
    start: datetime
    end: datetime


def expand_macros(
    sql: str,
    time_from: date | datetime,
    time_to: date | datetime,
    symbols: Sequence[str] | None = None,
) -> str:
    """Athena SQL with the dashboard variable and Grafana macros expanded as Grafana does.

    `time_from`/`time_to` are the dashboard's range: a date means midnight UTC, a naive
    datetime is taken as UTC. `symbols` are the values of the `symbol` variable; they are
    required only when the SQL uses it.
    """
    time_range = _Range(_as_utc(time_from, "time_from"), _as_utc(time_to, "time_to"))
    if time_range.start > time_range.end:
        raise ValueError(
            f"time_from ({time_range.start:{_GO_TIMESTAMP}}) is after "
            f"time_to ({time_range.end:{_GO_TIMESTAMP}})"
        )
    expanded = _interpolate_variables(sql, symbols)
    for name, macro in _MACROS.items():
        pattern = re.compile(rf"\$__{name}(?:\((.*?)\))?")
        for match in pattern.finditer(expanded):
            args = [arg.strip() for arg in (match.group(1) or "").split(",")]
            expanded = expanded.replace(match.group(0), macro(time_range, args))
    leftover = _LEFTOVER_MACRO_RE.search(expanded)
    if leftover:
        raise ValueError(
            f"unsupported Grafana macro {leftover.group(0)} "
            f"(supported: {', '.join('$__' + name for name in _MACROS)})"
        )
    return expanded


def _as_utc(moment: date | datetime, name: str) -> datetime:
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.replace(microsecond=0)
    if isinstance(moment, date):
        return datetime.combine(moment, time.min)
    raise ValueError(f"{name} must be a date or datetime, got {moment!r}")


def _interpolate_variables(sql: str, symbols: Sequence[str] | None) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bracketed") or match.group("bare")
        value_format = match.group("braced_format") or match.group("bracketed_format")
        if name != SYMBOL_VARIABLE:
            raise ValueError(f"unknown dashboard variable {match.group(0)}")
        if value_format not in (None, "sqlstring"):
            raise ValueError(
                f"unsupported format in {match.group(0)} (use ${{{SYMBOL_VARIABLE}:sqlstring}})"
            )
        if symbols is None or not list(symbols):
            raise ValueError(f"the SQL uses {match.group(0)} but no symbols were given")
        for symbol in symbols:
            if not isinstance(symbol, str) or not symbol:
                raise ValueError(f"symbols must be non-empty strings, got {symbol!r}")
        return ",".join(_quote_literal(symbol) for symbol in symbols)

    return _VARIABLE_RE.sub(replace, sql)


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _parse_time(column: str, time_format: str) -> str:
    if time_format == "":
        return column
    if time_format == _ATHENA_TIMESTAMP_FORMAT:
        return f"TIMESTAMP {column}"
    return f"parse_datetime({column},{time_format})"


def _column(args: list[str], macro: str, max_args: int) -> str:
    if not args or not args[0] or len(args) > max_args:
        expected = "one argument" if max_args == 1 else f"1 to {max_args} arguments"
        raise ValueError(f"$__{macro} expects {expected} (a column), got ({', '.join(args)})")
    return args[0]


def _time_filter(time_range: _Range, args: list[str]) -> str:
    column = _column(args, "timeFilter", max_args=2)
    time_format = args[1] if len(args) > 1 else ""
    return (
        f"{_parse_time(column, time_format)} BETWEEN "
        f"TIMESTAMP '{time_range.start:{_GO_TIMESTAMP}}' AND "
        f"TIMESTAMP '{time_range.end:{_GO_TIMESTAMP}}'"
    )


def _date_filter(time_range: _Range, args: list[str]) -> str:
    column = _column(args, "dateFilter", max_args=1)
    return (
        f"{column} BETWEEN date '{time_range.start:{_GO_DATE}}' "
        f"AND date '{time_range.end:{_GO_DATE}}'"
    )


def _time_from(time_range: _Range, args: list[str]) -> str:
    return f"TIMESTAMP '{time_range.start:{_GO_TIMESTAMP}}'"


def _time_to(time_range: _Range, args: list[str]) -> str:
    return f"TIMESTAMP '{time_range.end:{_GO_TIMESTAMP}}'"


_MACROS: dict[str, Callable[[_Range, list[str]], str]] = {
    "timeFilter": _time_filter,
    "dateFilter": _date_filter,
    "timeFrom": _time_from,
    "timeTo": _time_to,
}
