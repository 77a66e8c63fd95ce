"""The local report: every dashboard panel, run on the local engine, in one offline HTML file.

Panels come from runtime/panels (the same definitions the Grafana dashboard uses). Each
panel's SQL is expanded as Grafana would expand it and run through `engine.fetchall`;
time series become inline SVG line charts, tables become HTML tables. Nothing on the page
loads from the network: no scripts, fonts or images outside the file.

Like a dashboard's time range, the report covers a window (by default the 12 months up to
the newest published trade date), so its cost follows the window, not the history: the price
panels read only the window's `year` partitions, and the published symbols, dates and the
freshness table come from `symbol_summary` (a row per symbol and year that publish keeps).
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from runtime.files import write_text_atomically
from runtime.local.sample_market import SAMPLE_LABEL
from runtime.panels import (
    SQL_DIR,
    SYMBOL_VARIABLE,
    TIME_SERIES_FORMAT,
    Panel,
    expand_macros,
    load_panels,
    load_variables,
)
from runtime.wap.config import PROD_TABLE, SUMMARY_TABLE
from runtime.wap.engines.base import QueryResult

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "stockpipe report"
PUBLISHED_RANGE_SQL = SQL_DIR / "published_range.sql"


#: In every report's head: what tells an earlier report apart from any other file.
REPORT_MARKER = '<meta name="generator" content="stockpipe report">'


def is_report(path: Path) -> bool:
    """Whether `path` is a report this module wrote (reports before the marker: by title)."""
    try:
        with path.open("rb") as head:
            start = head.read(2048).decode("utf-8", errors="replace")
    except OSError:
        return False
    return start.startswith("<!DOCTYPE html>") and (
        REPORT_MARKER in start or f"<title>{DEFAULT_TITLE}</title>" in start
    )


class ReportError(RuntimeError):
    """The report could not be written (the message names the path and the reason)."""


@dataclass(frozen=True)
class PanelFailure:
    """A panel whose SQL could not be expanded or run; the report shows `error` in its place."""

    panel_id: str
    title: str
    error: str


@dataclass
class _Outcome:
    panel: Panel
    sql: str = ""
    result: QueryResult | None = None
    series: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    notice: str = ""  # why there is nothing to show, when that is expected (not a failure)
    error: str = ""


@dataclass
class _Scope:
    """What the report covers, resolved from the arguments and the published data."""

    time_from: datetime | None = None
    time_to: datetime | None = None
    how: str = ""  # how the time range was chosen, for the page's header
    published_from: date | None = None
    published_to: date | None = None
    symbols: list[str] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)  # asked for, but not published
    problem: str = ""  # why the scope could not be resolved from the engine


def write_report(
    engine: Any,
    out_path: str | os.PathLike[str],
    *,
    time_from: date | datetime | None = None,
    time_to: date | datetime | None = None,
    whole_history: bool = False,
    symbols: Sequence[str] | None = None,
    title: str = DEFAULT_TITLE,
    sample_data: bool = False,
    on_panel_error: Callable[[PanelFailure], None] | None = None,
) -> Path:
    """Run every panel on `engine` and write the report to `out_path`; returns the path.

    The time range defaults to the last 12 months of published data: from the same day a
    year before the newest published trade date to that date. `time_to` alone ends it
    elsewhere (starting a year before); `time_from` alone starts it elsewhere (ending at the
    newest published trade date, or at `time_from` if nothing is published after it);
    `whole_history` covers every published day. The symbols default to every published
    symbol. A panel whose SQL fails shows the error in its place, is logged as a warning and
    is passed to `on_panel_error`; the report is still written. `sample_data` adds a banner
    saying the data is generated, not market data.
    """
    if symbols is not None:
        symbols = [symbol.strip() for symbol in symbols if symbol.strip()]
        if not symbols:
            raise ValueError("symbols: give at least one symbol, or None for every published one")
    start, end = _as_datetime(time_from), _as_datetime(time_to)
    if whole_history and (start is not None or end is not None):
        raise ValueError("whole_history covers every published day: give no time_from/time_to")
    if start is not None and end is not None and start > end:
        raise ValueError(
            f"time_from ({start:%Y-%m-%d %H:%M}) is after time_to ({end:%Y-%m-%d %H:%M})"
        )
    panels = load_panels()
    scope = _resolve_scope(engine, start, end, whole_history, symbols)
    outcomes = [_run_panel(engine, panel, scope) for panel in panels]
    for outcome in outcomes:
        if outcome.error:
            failure = PanelFailure(outcome.panel.id, outcome.panel.title, outcome.error)
            logger.warning("report panel %r failed: %s", failure.panel_id, failure.error)
            if on_panel_error is not None:
                on_panel_error(failure)
    page = _render_page(title, scope, outcomes, sample_data, datetime.now(UTC))
    return _write_atomically(Path(out_path), page)


# --- Running the panels ------------------------------------------------------------------


def _resolve_scope(
    engine: Any,
    time_from: datetime | None,
    time_to: datetime | None,
    whole_history: bool,
    symbols: list[str] | None,
) -> _Scope:
    scope = _Scope(time_from=time_from, time_to=time_to)
    try:
        if not engine.table_exists(SUMMARY_TABLE):
            if engine.table_exists(PROD_TABLE):
                scope.problem = (
                    f"{PROD_TABLE} is published but there is no table {SUMMARY_TABLE} "
                    "(publish keeps it; the report reads the published symbols and dates from it)"
                )
            scope.symbols = list(symbols or [])
            return scope
        variable = load_variables()[SYMBOL_VARIABLE]
        published = [row[0] for row in engine.fetchall(variable.sql, name="symbol variable").rows]
        sql = PUBLISHED_RANGE_SQL.read_text(encoding="utf-8")
        first, last = engine.fetchall(sql, name="published range").rows[0]
    except Exception as error:  # any engine failure: the panels that need the scope show it
        scope.problem = f"could not read the published symbols and dates: {error}"
        scope.symbols = list(symbols or [])
        return scope
    scope.published_from, scope.published_to = _as_date(first), _as_date(last)
    if scope.published_to is not None:
        _choose_window(scope, whole_history)
    scope.symbols = list(symbols) if symbols is not None else published
    scope.unpublished = [symbol for symbol in scope.symbols if symbol not in published]
    return scope


def _choose_window(scope: _Scope, whole_history: bool) -> None:
    """Fill the ends of the time range that were not given, from the published range."""
    first, newest = _as_datetime(scope.published_from), _as_datetime(scope.published_to)
    if whole_history:
        scope.time_from, scope.time_to = first, newest
        scope.how = "the whole published history"
    elif scope.time_from is None and scope.time_to is None:
        scope.time_from, scope.time_to = _year_before(newest), newest
        scope.how = "the 12 months up to the newest published trade date"
    elif scope.time_from is None:
        scope.time_from = _year_before(scope.time_to)
        scope.how = "the 12 months up to the end asked for"
    elif scope.time_to is None:
        # Never a reversed range: a start after the newest day shows an empty window.
        scope.time_to = max(newest, scope.time_from)
        scope.how = "from the start asked for to the newest published trade date"


def _year_before(moment: datetime) -> datetime:
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - 1, day=28)


def _run_panel(engine: Any, panel: Panel, scope: _Scope) -> _Outcome:
    outcome = _Outcome(panel)
    if panel.uses_symbols and not scope.symbols:
        outcome.error = scope.problem
        if not scope.problem:
            outcome.notice = "Nothing published yet (no daily_prices rows)."
        return outcome
    needs_range = "$__" in panel.sql
    if needs_range and (scope.time_from is None or scope.time_to is None):
        outcome.error = scope.problem or "no time range: nothing is published to take it from"
        return outcome
    try:
        # A panel without macros (the latest data-quality run) runs even with no range.
        now = datetime.now(UTC).replace(tzinfo=None)
        outcome.sql = expand_macros(
            panel.sql, scope.time_from or now, scope.time_to or now, scope.symbols or None
        )
        missing = [table for table in _tables_read(outcome.sql) if not engine.table_exists(table)]
        if missing:
            outcome.notice = f"Nothing to show yet: no table {', '.join(missing)} in the lake."
            return outcome
        outcome.result = engine.fetchall(outcome.sql, name=f"panel {panel.id}")
        if panel.format == TIME_SERIES_FORMAT:
            outcome.series = _series(outcome.result)
    except Exception as error:  # the report shows any failure in the panel's place
        outcome.error = str(error) or type(error).__name__
    return outcome


def _tables_read(sql: str) -> list[str]:
    """Tables a query reads (not its CTEs), in order of first mention."""
    tree = sqlglot.parse_one(sql, read="athena")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables: list[str] = []
    for table in tree.find_all(exp.Table):
        if table.name not in ctes and table.name not in tables:
            tables.append(table.name)
    return tables


# --- Values ------------------------------------------------------------------------------


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return _as_datetime(datetime.fromisoformat(str(value)))


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value) if isinstance(value, int | float | Decimal) else float(str(value))
    return number if math.isfinite(number) else None


def _decimals_for(step: float) -> int:
    """Fewest decimals that print multiples of `step` exactly (0.25 -> 2, 50 -> 0)."""
    for decimals in range(7):
        if abs(round(step, decimals) - step) < step * 1e-6:
            return decimals
    return 6


_SHORT_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def _format_value(value: float, unit: str, step: float | None = None) -> str:
    """`value` in the panel's Grafana unit; `step` (axis ticks) sets the decimals."""
    if unit == "percentunit":
        decimals = _decimals_for(step * 100) if step else 2
        return f"{value * 100:,.{decimals}f}%"
    if unit == "currencyUSD":
        decimals = _decimals_for(step) if step else 2
        sign = "-" if value < 0 else ""
        return f"{sign}${abs(value):,.{decimals}f}"
    if unit == "short":
        reference = max(abs(value), step or 0)
        for scale, suffix in _SHORT_SCALES:
            if reference >= scale:
                decimals = _decimals_for(step / scale) if step else 2
                return f"{value / scale:,.{decimals}f}{suffix}"
        return f"{value:,.{_decimals_for(step) if step else 0}f}"
    return f"{value:,.{_decimals_for(step)}f}" if step else f"{value:,.4g}"


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# --- Charts ------------------------------------------------------------------------------

# Ten colours that stay apart on white (matplotlib's tab10); past ten symbols the cycle
# repeats with a dashed line.
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_DASHES = ("", "6 3", "2 2", "8 3 2 3")

_WIDTH, _HEIGHT = 1240, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 16, 12, 30


@dataclass(frozen=True)
class _Style:
    colour: str
    dash: str


def _symbol_styles(symbols: Sequence[str]) -> dict[str, _Style]:
    return {
        symbol: _Style(
            _PALETTE[index % len(_PALETTE)], _DASHES[(index // len(_PALETTE)) % len(_DASHES)]
        )
        for index, symbol in enumerate(sorted(symbols))
    }


def _series(result: QueryResult) -> dict[str, list[tuple[datetime, float]]]:
    """Long frame (time, symbol, value) -> points per symbol, in time order."""
    columns = [column.lower() for column in result.columns]
    if "time" not in columns or "symbol" not in columns or len(columns) != 3:
        raise ValueError(
            f"a time-series panel must return time, symbol and one value; got {result.columns}"
        )
    time_at, symbol_at = columns.index("time"), columns.index("symbol")
    (value_at,) = {0, 1, 2} - {time_at, symbol_at}
    series: dict[str, list[tuple[datetime, float]]] = {}
    for row in result.rows:
        value = _as_float(row[value_at])
        moment = _as_datetime(row[time_at])
        if value is not None and moment is not None:
            series.setdefault(str(row[symbol_at]), []).append((moment, value))
    for points in series.values():
        points.sort(key=lambda point: point[0])
    return series


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        pad = abs(low) * 0.05 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [index * step for index in range(first, last + 1)]


def _date_ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Calendar-aligned ticks (days, weeks, months or years), at most about a dozen."""
    span = (end - start).days
    if span <= 14:
        days = [start.date() + timedelta(days=offset) for offset in range(span + 1)]
        return [(datetime(d.year, d.month, d.day), d.strftime("%d %b")) for d in days]
    if span <= 90:
        monday = start.date() + timedelta(days=(7 - start.weekday()) % 7)
        weeks = [monday + timedelta(weeks=n) for n in range((end.date() - monday).days // 7 + 1)]
        return [(datetime(d.year, d.month, d.day), d.strftime("%d %b")) for d in weeks]
    for months in (1, 2, 3, 6, 12, 24, 60, 120):
        if span / 30.4 / months <= 13:
            break
    ticks = []
    year, month = start.year, start.month
    while True:
        month_index = year * 12 + month - 1
        if month_index % months == 0:
            moment = datetime(year, month, 1)
            if moment > end:
                break
            if moment >= start:
                label = str(year) if months >= 12 else moment.strftime("%b %Y")
                ticks.append((moment, label))
        month += 1
        if month > 12:
            year, month = year + 1, 1
        if datetime(year, month, 1) > end:
            break
    return ticks


def _thin(points: list[tuple[float, float]], buckets: int) -> list[tuple[float, float]]:
    """At most two points (the low and the high) per pixel column: same shape, less SVG."""
    if len(points) <= buckets * 2:
        return points
    kept: list[tuple[float, float]] = []
    by_column: dict[int, list[tuple[float, float]]] = {}
    for point in points:
        by_column.setdefault(int(point[0]), []).append(point)
    for column in sorted(by_column):
        group = by_column[column]
        low = min(group, key=lambda p: p[1])
        high = max(group, key=lambda p: p[1])
        kept.extend(sorted({low, high}, key=lambda p: group.index(p)))
    return kept


@dataclass(frozen=True)
class _Axis:
    """The y axis: its ticks and where a value lands between bottom (0) and top (1)."""

    ticks: list[float]
    low: float
    high: float
    log: bool

    def fraction(self, value: float) -> float:
        if self.log:
            return (math.log10(value) - self.low) / (self.high - self.low)
        return (value - self.low) / (self.high - self.low)

    def label(self, tick: float, unit: str) -> str:
        # A log axis mixes magnitudes (20, 50, 100): each tick gets its own decimals.
        step = tick if self.log else self.ticks[1] - self.ticks[0]
        return _format_value(tick, unit, step)


def _linear_axis(values: list[float]) -> _Axis:
    low, high = min(values), max(values)
    if 0 < low < high * 0.5:
        low = 0.0  # all positive and spread wide: anchor the axis at zero
    ticks = _nice_ticks(low, high)
    return _Axis(ticks, ticks[0], ticks[-1], log=False)


def _log_axis(values: list[float]) -> _Axis:
    """Ticks that bracket every value: the lowest at or below the smallest value, the highest
    at or above the largest, so every line sits between two labels.

    Each decade's 1-2-5 (only its 1 when that would be more than a dozen labels); a range
    too narrow for three such ticks (26 to 60) gets evenly spaced 1-2-5 steps instead.
    """
    low, high = min(values), max(values)
    ticks: list[float] = []
    for multipliers in ((1, 2, 5), (1,)):
        ticks = _bracketing_decade_ticks(low, high, multipliers)
        if len(ticks) <= _MAX_LOG_TICKS:
            break
    if len(ticks) < 3:
        ticks = [tick for tick in _nice_ticks(low, high) if tick > 0]
    return _Axis(ticks, math.log10(ticks[0]), math.log10(ticks[-1]), log=True)


_MAX_LOG_TICKS = 12


def _bracketing_decade_ticks(low: float, high: float, multipliers: tuple[int, ...]) -> list[float]:
    """m * 10^k for each multiplier m, from the last at or below `low` to the first at or
    above `high`."""
    candidates = [
        float(m * 10.0**exponent)
        for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
        for m in multipliers
    ]
    below = max(tick for tick in candidates if tick <= low)
    above = min(tick for tick in candidates if tick >= high)
    return [tick for tick in candidates if below <= tick <= above]


def _render_chart(outcome: _Outcome, scope: _Scope, styles: dict[str, _Style]) -> str:
    panel = outcome.panel
    series = outcome.series
    if not series:
        return '<p class="notice">No data in this time range.</p>'
    start, end = scope.time_from, scope.time_to
    if end <= start:
        end = start + timedelta(days=1)
    values = [value for points in series.values() for _, value in points]
    # Log scale needs positive values; anything else falls back to linear.
    axis = _log_axis(values) if panel.scale == "log" and min(values) > 0 else _linear_axis(values)
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    span = (end - start).total_seconds()

    def x_of(moment: datetime) -> float:
        return _LEFT + (moment - start).total_seconds() / span * plot_w

    def y_of(value: float) -> float:
        return _TOP + (1 - axis.fraction(value)) * plot_h

    scale_note = ", log scale" if axis.log else ""
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="{html.escape(panel.title)} per symbol over time{scale_note}">'
    ]
    for tick in axis.ticks:
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="y-label" x="{_LEFT - 8}" y="{y + 4:.1f}">'
            f"{html.escape(axis.label(tick, panel.unit))}</text>"
        )
    if not axis.log and axis.low < 0 < axis.high:
        y = y_of(0)
        parts.append(
            f'<line class="zero" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
    for moment, label in _date_ticks(start, end):
        x = x_of(moment)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_TOP + plot_h}"/>'
            f'<text class="x-label" x="{x:.1f}" y="{_HEIGHT - 10}">{html.escape(label)}</text>'
        )
    parts.append(f'<rect class="frame" x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}"/>')
    for symbol in sorted(series):
        style = styles.get(symbol, _Style("#333333", ""))
        points = _thin([(x_of(t), y_of(v)) for t, v in series[symbol]], plot_w)
        coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
        first, last = series[symbol][0][0], series[symbol][-1][0]
        tooltip = f"{symbol}: {len(series[symbol])} days, {first:%Y-%m-%d} to {last:%Y-%m-%d}"
        parts.append(
            f'<polyline class="line" data-symbol="{html.escape(symbol)}" points="{coordinates}" '
            f'stroke="{style.colour}"{dash}><title>{html.escape(tooltip)}</title></polyline>'
        )
    parts.append("</svg>")
    return "".join(parts) + _render_legend(series, panel.unit, styles)


def _render_legend(
    series: dict[str, list[tuple[datetime, float]]], unit: str, styles: dict[str, _Style]
) -> str:
    items = []
    for symbol in sorted(series):
        style = styles.get(symbol, _Style("#333333", ""))
        moment, value = series[symbol][-1]
        dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
        items.append(
            f'<li data-symbol="{html.escape(symbol)}" tabindex="0" '
            f'title="Click to highlight {html.escape(symbol)} in every chart">'
            f'<svg class="swatch" viewBox="0 0 24 10" aria-hidden="true">'
            f'<line x1="0" x2="24" y1="5" y2="5" stroke="{style.colour}"{dash}/></svg>'
            f'<span class="symbol">{html.escape(symbol)}</span> '
            f'<span class="last" title="last value, {moment:%Y-%m-%d}">'
            f"{html.escape(_format_value(value, unit))}</span></li>"
        )
    return f'<ul class="legend">{"".join(items)}</ul>'


# --- Tables and the page -----------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _render_table(result: QueryResult) -> str:
    if not result.rows:
        return '<p class="notice">No rows.</p>'
    numeric = [
        any(_is_number(row[index]) for row in result.rows) for index in range(len(result.columns))
    ]
    header = "".join(
        f'<th class="{"number" if is_number else ""}">{html.escape(column)}</th>'
        for column, is_number in zip(result.columns, numeric, strict=True)
    )
    rows = []
    for row in result.rows:
        cells = []
        for column, value, is_number in zip(result.columns, row, numeric, strict=True):
            text = _cell_text(value)
            classes = [f"col-{column}"] + (["number"] if is_number else [])
            if column == "status":
                classes.append(f"status-{text}")
            cells.append(f'<td class="{" ".join(classes)}">{html.escape(text)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _render_panel(outcome: _Outcome, scope: _Scope, styles: dict[str, _Style]) -> str:
    panel = outcome.panel
    if outcome.error:
        body = (
            '<div class="error" role="alert"><strong>This panel failed.</strong>'
            f"<pre>{html.escape(outcome.error)}</pre></div>"
        )
    elif outcome.result is None:
        body = f'<p class="notice">{html.escape(outcome.notice)}</p>'
    elif panel.format == TIME_SERIES_FORMAT:
        body = _render_chart(outcome, scope, styles)
    else:
        body = _render_table(outcome.result)
    sql = outcome.sql or panel.sql
    return (
        f'<section class="panel" id="panel-{html.escape(panel.id)}" '
        f'data-status="{"failed" if outcome.error else "ok"}">'
        f"<h2>{html.escape(panel.title)}</h2>"
        f'<p class="description">{html.escape(panel.description)}</p>'
        f"{body}"
        f"<details><summary>SQL ({html.escape(panel.sql_path.name)})</summary>"
        f"<pre>{html.escape(sql)}</pre></details></section>"
    )


def _render_page(
    title: str, scope: _Scope, outcomes: list[_Outcome], sample_data: bool, generated: datetime
) -> str:
    styles = _symbol_styles(scope.symbols)
    sections = "".join(_render_panel(outcome, scope, styles) for outcome in outcomes)
    failed = [outcome for outcome in outcomes if outcome.error]
    banner = (
        f'<div class="banner sample" role="note"><strong>{html.escape(SAMPLE_LABEL)}.</strong> '
        "Every price and volume in this report is generated sample data, not market data."
        "</div>"
        if sample_data
        else ""
    )
    if scope.time_from is not None and scope.time_to is not None:
        time_range = f"{scope.time_from:%Y-%m-%d} to {scope.time_to:%Y-%m-%d}"
        time_range += f" ({scope.how})" if scope.how else ""
    else:
        time_range = "nothing published yet"
    meta = [("Time range", time_range)]
    if scope.published_from is not None:
        meta.append(("Published", f"{scope.published_from} to {scope.published_to}"))
    meta += [
        ("Symbols", ", ".join(scope.symbols) or "none"),
        ("Generated", f"{generated:%Y-%m-%d %H:%M} UTC"),
        ("Panels", f"{len(outcomes)}, {len(failed) or 'none'} failed"),
    ]
    if scope.unpublished:
        meta.append(("Not published", ", ".join(scope.unpublished)))
    meta_html = "".join(
        f"<div><dt>{html.escape(name)}</dt><dd>{html.escape(value)}</dd></div>"
        for name, value in meta
    )
    hint = (
        '<p class="hint">Click a symbol in a legend to highlight it in every chart.</p>'
        if any(outcome.series for outcome in outcomes)
        else ""
    )
    failures = ""
    if failed:
        links = "".join(
            f'<li><a href="#panel-{html.escape(o.panel.id)}">{html.escape(o.panel.title)}</a></li>'
            for o in failed
        )
        failures = (
            f'<div class="banner failed" role="alert"><strong>{len(failed)} panel(s) failed'
            f"</strong>; the error is shown in each panel's place.<ul>{links}</ul></div>"
        )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">{REPORT_MARKER}'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>{banner}<dl>{meta_html}</dl>{failures}{hint}"
        "</header>"
        f"<main>{sections}</main>"
        "<footer>Panels and SQL: runtime/panels (the same definitions as the Grafana "
        "dashboard), Grafana macros expanded as the Athena data source does.</footer>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def _write_atomically(path: Path, text: str) -> Path:
    try:
        write_text_atomically(path, text)
    except OSError as error:
        raise ReportError(f"cannot write the report to {path}: {error.strerror}") from error
    return path


# Clicking a legend entry highlights that symbol in every chart (again to reset), like
# Grafana's legend; the page reads fine without it.
_SCRIPT = """
let focused = "";
function focus(symbol) {
  focused = focused === symbol ? "" : symbol;
  document.querySelectorAll("[data-symbol]").forEach((el) => {
    el.classList.toggle("dim", focused !== "" && el.dataset.symbol !== focused);
  });
}
document.querySelectorAll(".legend li").forEach((li) => {
  li.addEventListener("click", () => focus(li.dataset.symbol));
  li.addEventListener("keydown", (e) => { if (e.key === "Enter") focus(li.dataset.symbol); });
});
"""

_CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --panel: #ffffff; --page: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
header, main, footer { max-width: 1320px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; }
h1 { font-size: 24px; margin: 0 0 12px; }
h2 { font-size: 17px; margin: 0 0 2px; }
dl { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 0 0 16px; }
dl div { display: flex; gap: 6px; }
dt { color: var(--muted); }
dt::after { content: ":"; }
dd { margin: 0; font-weight: 600; }
.banner { border-radius: 6px; padding: 10px 14px; margin: 0 0 14px; }
.banner.sample { background: #fff8c5; border: 1px solid #d4a72c; }
.banner.failed { background: #ffebe9; border: 1px solid #cf222e; }
.banner ul { margin: 4px 0 0; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 18px 10px; margin: 0 0 18px; }
.description { color: var(--muted); margin: 0 0 10px; }
.chart { display: block; width: 100%; height: auto; }
.chart text { font-size: 12px; fill: var(--muted); }
.chart .y-label { text-anchor: end; }
.chart .x-label { text-anchor: middle; }
.chart .grid { stroke: #eaeef2; stroke-width: 1; }
.chart .zero { stroke: #8c959f; stroke-width: 1; }
.chart .frame { fill: none; stroke: var(--line); }
.chart .line { fill: none; stroke-width: 1.6; stroke-linejoin: round; stroke-linecap: round; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 20px; padding: 0;
  margin: 6px 0 4px 78px; }
.legend li { display: flex; align-items: center; gap: 6px; white-space: nowrap;
  cursor: pointer; }
.legend li.dim { opacity: 0.35; }
.chart .line.dim { opacity: 0.1; }
.chart .line:hover { stroke-width: 3; }
.legend .swatch { width: 24px; height: 10px; }
.legend .swatch line { stroke-width: 3; }
.legend .symbol { font-weight: 600; }
.legend .last { color: var(--muted); font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #eaeef2;
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; border-bottom-color: var(--line); }
th.number, td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.col-sample_keys { max-width: 520px; overflow-wrap: anywhere; font-size: 12px; }
td[class*="status-"] { font-weight: 600; }
td.status-passed { color: #1a7f37; }
td.status-warning { color: #9a6700; }
td.status-failed { color: #cf222e; }
.hint { color: var(--muted); font-size: 12px; margin: -8px 0 14px; }
.notice { color: var(--muted); font-style: italic; }
.error { background: #ffebe9; border: 1px solid #cf222e; border-radius: 6px;
  padding: 8px 12px; }
.error pre { white-space: pre-wrap; margin: 6px 0 0; }
details { margin: 8px 0 2px; color: var(--muted); }
details pre { background: var(--page); padding: 10px; border-radius: 6px; overflow-x: auto;
  color: var(--ink); font-size: 12px; }
footer { color: var(--muted); font-size: 12px; padding-bottom: 24px; }
"""
