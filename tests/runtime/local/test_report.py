"""The local HTML report over small lakes: every panel runs, values match the lake, and the
report reads only the window it shows (plus the per-symbol summary)."""

from __future__ import annotations

import itertools
import math
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from runtime.local.report import PanelFailure, write_report
from runtime.local.sample_market import SAMPLE_LABEL
from runtime.panels import TIME_SERIES_FORMAT, load_panels
from runtime.wap.engines.duckdb_engine import DuckDBEngine, Scan

pytestmark = pytest.mark.duckdb

PANELS = load_panels()
CHART_PANELS = [panel for panel in PANELS if panel.format == TIME_SERIES_FORMAT]
SYMBOLS = ("AAA", "BBB", "CCC")
FIRST_DAY, LAST_DAY = date(2023, 11, 1), date(2024, 2, 29)
CCC_LAST_DAY = date(2024, 2, 27)  # CCC lags two days behind the others


@dataclass(frozen=True)
class Bar:
    symbol: str
    trade_date: date
    open: float
    high: float
    low: float
    close: float
    volume: int
    daily_return: float | None


def _bars(spans: dict[str, tuple[date, date]], seed: int) -> dict[str, list[Bar]]:
    """A seeded walk per symbol over the weekdays of its (first, last) span."""
    rng = random.Random(seed)
    bars: dict[str, list[Bar]] = {}
    for index, (symbol, (first, last)) in enumerate(spans.items()):
        close, previous = 50.0 * (index + 1), None
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        for day in (d for d in days if d.weekday() < 5):
            open_ = round(close * math.exp(rng.gauss(0, 0.005)), 4)
            close = round(open_ * math.exp(rng.gauss(0, 0.02)), 4)
            high = round(max(open_, close) * (1 + rng.uniform(0.001, 0.02)), 4)
            low = round(min(open_, close) * (1 - rng.uniform(0.001, 0.02)), 4)
            volume = rng.randint(1_000_000, 9_000_000)
            daily_return = None if previous is None else close / previous - 1
            bars.setdefault(symbol, []).append(
                Bar(symbol, day, open_, high, low, close, volume, daily_return)
            )
            previous = close
    return bars


# Four months crossing a year (two year partitions); CCC lags two days behind the others.
BARS = _bars(
    {"AAA": (FIRST_DAY, LAST_DAY), "BBB": (FIRST_DAY, LAST_DAY), "CCC": (FIRST_DAY, CCC_LAST_DAY)},
    seed=20240229,
)

# Three years and a bit (year partitions 2021 to 2024): OLD trades throughout, NEW starts
# inside the default window, GONE stopped trading before it.
NEWEST = date(2024, 6, 7)
HISTORY = _bars(
    {
        "OLD": (date(2021, 3, 1), NEWEST),
        "NEW": (date(2024, 1, 2), NEWEST),
        "GONE": (date(2021, 3, 1), date(2022, 8, 31)),
    },
    seed=20210301,
)

OLD_RUN = [
    ("run-old", "not_null_keys", "error", False, 4, "AAA@2024-02-27", datetime(2024, 2, 28, 21)),
]
NEW_RUN = [
    ("run-new", "unique_key", "error", True, 0, "", datetime(2024, 2, 29, 21, 5, 1)),
    ("run-new", "price_bounds", "error", True, 0, "", datetime(2024, 2, 29, 21, 5, 2)),
    (
        "run-new",
        "large_move",
        "warning",
        False,
        2,
        "AAA@2024-01-02,BBB@2024-01-03",
        datetime(2024, 2, 29, 21, 5, 3),
    ),
    ("run-new", "symbols_present", "warning", True, 0, "", datetime(2024, 2, 29, 21, 5, 4)),
]


def _sql_value(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _values_select(columns: dict[str, str], rows: list[tuple]) -> str:
    """An Athena SELECT over literal rows, each column cast to its table type."""
    values = ",\n".join("(" + ", ".join(_sql_value(v) for v in row) + ")" for row in rows)
    casts = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns.items())
    return f"SELECT {casts} FROM (VALUES {values}) AS t ({', '.join(columns)})"


PRICE_COLUMNS = {
    "symbol": "varchar",
    "trade_date": "date",
    "open": "double",
    "high": "double",
    "low": "double",
    "close": "double",
    "volume": "bigint",
    "avg_price": "double",
    "daily_return": "double",
    "ingested_at": "timestamp",
    "year": "integer",  # the partition column comes last
}
SUMMARY_COLUMNS = {
    "symbol": "varchar",
    "first_trade_date": "date",
    "last_trade_date": "date",
    "bars": "bigint",
    "year": "integer",
    "summary": "varchar",  # the partition column comes last: one partition, one file
}
DQ_COLUMNS = {
    "check_name": "varchar",
    "severity": "varchar",
    "passed": "boolean",
    "failed_rows": "bigint",
    "sample_keys": "varchar",
    "checked_at": "timestamp",
    "run_id": "varchar",  # the partition column comes last
}


def _summary_rows(bars: dict[str, list[Bar]]) -> list[tuple]:
    """symbol_summary as publish keeps it: per (symbol, year) first, last and bar count, all
    in the one partition `summary = 'all'`."""
    years: dict[tuple[str, int], list[date]] = {}
    for symbol_bars in bars.values():
        for b in symbol_bars:
            years.setdefault((b.symbol, b.trade_date.year), []).append(b.trade_date)
    return [
        (symbol, min(days), max(days), len(days), year, "all")
        for (symbol, year), days in sorted(years.items())
    ]


def _write_lake(
    lake: Path, bars: dict[str, list[Bar]] = BARS, *, prices: bool = True, dq: bool = True
) -> Path:
    """Production tables in a local lake, written through the DuckDB engine's catalog."""
    engine = DuckDBEngine(lake)
    if prices:
        rows = [
            (
                b.symbol,
                b.trade_date,
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume,
                (b.open + b.high + b.low + b.close) / 4,
                b.daily_return,
                datetime(2024, 2, 29, 21),
                b.trade_date.year,
            )
            for symbol_bars in bars.values()
            for b in symbol_bars
        ]
        engine.ctas(
            "daily_prices",
            _values_select(PRICE_COLUMNS, rows),
            engine.location("prod/daily_prices/v1/"),
            partitioned_by="year",
        )
        engine.ctas(
            "symbol_summary",
            _values_select(SUMMARY_COLUMNS, _summary_rows(bars)),
            engine.location("prod/symbol_summary/v1/"),
            partitioned_by="summary",
        )
    if dq:
        rows = [(*row[1:], row[0]) for row in OLD_RUN + NEW_RUN]
        engine.ctas(
            "dq_results",
            _values_select(DQ_COLUMNS, rows),
            engine.location("prod/dq_results/v1/"),
            partitioned_by="run_id",
        )
    engine.close()
    return lake


@dataclass
class Section:
    status: str = ""
    title: str = ""
    charts: int = 0
    tables: list[list[list[str]]] = field(default_factory=list)
    legend: dict[str, str] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)  # a chart line's tooltip per symbol
    text: str = ""


class ReportParser(HTMLParser):
    """Panel sections of the report by id: title, charts, tables and legend entries."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, Section] = {}
        self.resources: list[str] = []
        self.banner = ""
        self._section: Section | None = None
        self._legend_symbol: str | None = None
        self._line_symbol: str | None = None
        self._in: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.resources += [v or "" for k, v in attrs if k in ("src", "href") and v]
        if tag in ("link", "img", "iframe", "object", "embed"):
            self.resources.append(tag)
        classes = (attributes.get("class") or "").split()
        if tag == "section":
            self._section = self.sections.setdefault(attributes["id"], Section())
            self._section.status = attributes.get("data-status", "")
        elif self._section is None:
            if tag == "div" and "sample" in classes:
                self._in.append("banner")
            return
        if tag == "svg" and "chart" in classes:
            self._section.charts += 1
        elif tag == "table":
            self._section.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "li" and "data-symbol" in attributes:
            self._legend_symbol = attributes["data-symbol"]
        elif tag == "polyline":
            self._line_symbol = attributes["data-symbol"]
        elif tag == "title" and self._line_symbol:
            self._in.append("line")
        elif tag == "span" and "last" in classes and self._legend_symbol:
            self._in.append("last")
        elif tag == "h2":
            self._in.append("h2")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._section.tables[-1].append(self._row)
            self._row = None
        elif tag == "polyline":
            self._line_symbol = None
        elif tag in ("span", "h2", "div", "title") and self._in:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "banner":
            self.banner += data
        if self._section is None:
            return
        self._section.text += data
        if self._cell is not None:
            self._cell.append(data)
        elif self._in and self._in[-1] == "h2":
            self._section.title += data
        elif self._in and self._in[-1] == "last":
            self._section.legend[self._legend_symbol] = data
        elif self._in and self._in[-1] == "line":
            self._section.lines[self._line_symbol] = data


def _parse(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _table(section: Section) -> list[dict[str, str]]:
    (rows,) = section.tables
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return _write_lake(tmp_path / "lake")


@pytest.fixture
def engine(lake: Path) -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(lake)
    yield engine
    engine.close()


@pytest.fixture
def report(engine: DuckDBEngine, tmp_path: Path) -> tuple[ReportParser, list[PanelFailure]]:
    failures: list[PanelFailure] = []
    out = write_report(engine, tmp_path / "out" / "report.html", on_panel_error=failures.append)
    return _parse(out), failures


def test_every_panel_runs_and_is_shown(report) -> None:
    parsed, failures = report
    assert failures == []
    assert [parsed.sections[f"panel-{p.id}"].title for p in PANELS] == [p.title for p in PANELS]
    assert all(section.status == "ok" for section in parsed.sections.values())
    for panel in CHART_PANELS:
        section = parsed.sections[f"panel-{panel.id}"]
        assert section.charts == 1, panel.id
        assert set(section.legend) == set(SYMBOLS), panel.id
    assert len(parsed.sections["panel-dq_latest_run"].tables) == 1
    assert len(parsed.sections["panel-freshness"].tables) == 1


def test_the_page_loads_nothing_from_outside(report) -> None:
    parsed, _ = report
    assert parsed.resources == []


def test_data_quality_table_shows_the_latest_run_failures_first(report) -> None:
    parsed, _ = report
    rows = _table(parsed.sections["panel-dq_latest_run"])
    shown = [(r["status"], r["check_name"], r["failed_rows"], r["sample_keys"]) for r in rows]
    assert shown == [
        ("warning", "large_move", "2", "AAA@2024-01-02,BBB@2024-01-03"),
        ("passed", "price_bounds", "0", ""),
        ("passed", "unique_key", "0", ""),
        ("passed", "symbols_present", "0", ""),
    ]
    assert {r["run_id"] for r in rows} == {"run-new"}
    assert rows[0]["checked_at"] == "2024-02-29 21:05:03"


def test_freshness_table_shows_latest_day_and_lag_per_symbol(report) -> None:
    parsed, _ = report
    rows = {r["symbol"]: r for r in _table(parsed.sections["panel-freshness"])}
    assert set(rows) == set(SYMBOLS)
    for symbol, bars in BARS.items():
        last = bars[-1].trade_date
        assert rows[symbol]["first_trade_date"] == FIRST_DAY.isoformat()
        assert rows[symbol]["latest_trade_date"] == last.isoformat()
        assert rows[symbol]["bars"] == str(len(bars))
        assert rows[symbol]["days_behind"] == str((date.today() - last).days)
        assert rows[symbol]["days_behind_newest"] == str((LAST_DAY - last).days)


def test_chart_legends_show_each_symbols_last_value(report) -> None:
    parsed, _ = report
    legends = {p.id: parsed.sections[f"panel-{p.id}"].legend for p in CHART_PANELS}
    for symbol, bars in BARS.items():
        last = bars[-1]
        assert legends["close_price"][symbol] == f"${last.close:,.2f}"
        average = (last.open + last.high + last.low + last.close) / 4
        assert legends["average_price"][symbol] == f"${average:,.2f}"
        assert legends["daily_return"][symbol] == f"{last.daily_return * 100:.2f}%"
        assert legends["volume"][symbol] == f"{last.volume / 1e6:.2f}M"


def test_volatility_is_annualised_20_day_garman_klass(report) -> None:
    parsed, _ = report
    legend = parsed.sections["panel-volatility"].legend
    for symbol, bars in BARS.items():
        window = bars[-20:]
        daily = [
            0.5 * math.log(b.high / b.low) ** 2
            - (2 * math.log(2) - 1) * math.log(b.close / b.open) ** 2
            for b in window
        ]
        expected = math.sqrt(252 * sum(daily) / 20)
        assert legend[symbol] == f"{expected * 100:.2f}%"


def test_time_range_and_symbols_select_what_is_charted(engine, tmp_path: Path) -> None:
    out = write_report(
        engine,
        tmp_path / "report.html",
        time_from=date(2023, 12, 1),
        time_to=date(2024, 1, 31),
        symbols=["BBB", "ZZZ"],
    )
    parsed = _parse(out)
    close = parsed.sections["panel-close_price"].legend
    on_range_end = next(b for b in BARS["BBB"] if b.trade_date == date(2024, 1, 31))
    assert close == {"BBB": f"${on_range_end.close:,.2f}"}
    assert [r["symbol"] for r in _table(parsed.sections["panel-freshness"])] == ["BBB"]
    text = out.read_text(encoding="utf-8")
    assert "2023-12-01 to 2024-01-31" in text
    assert "<dt>Not published</dt><dd>ZZZ</dd>" in text


def test_sample_data_banner_only_when_asked(engine, tmp_path: Path) -> None:
    sample = _parse(write_report(engine, tmp_path / "a.html", sample_data=True))
    real = _parse(write_report(engine, tmp_path / "b.html"))
    assert SAMPLE_LABEL in sample.banner
    assert "not market data" in sample.banner
    assert real.banner == ""


def test_a_corrupt_file_fails_its_panel_and_the_rest_still_render(
    lake: Path, tmp_path: Path
) -> None:
    (corrupt,) = (lake / "prod" / "dq_results").rglob("run_id=run-new/*.parquet")
    corrupt.write_bytes(b"PAR1 this is not parquet")
    failures: list[PanelFailure] = []
    out = write_report(DuckDBEngine(lake), tmp_path / "report.html", on_panel_error=failures.append)
    parsed = _parse(out)
    assert [f.panel_id for f in failures] == ["dq_latest_run"]
    assert corrupt.name in failures[0].error
    dq = parsed.sections["panel-dq_latest_run"]
    assert dq.status == "failed"
    assert corrupt.name in dq.text
    assert all(parsed.sections[f"panel-{p.id}"].charts == 1 for p in CHART_PANELS)
    assert _table(parsed.sections["panel-freshness"])


def test_before_the_first_publish_the_audit_results_still_show(tmp_path: Path) -> None:
    # The first run's audit blocked publication: no daily_prices yet, but dq_results exist.
    engine = DuckDBEngine(_write_lake(tmp_path / "lake", prices=False))
    failures: list[PanelFailure] = []
    out = write_report(engine, tmp_path / "report.html", on_panel_error=failures.append)
    parsed = _parse(out)
    assert failures == []
    assert len(_table(parsed.sections["panel-dq_latest_run"])) == len(NEW_RUN)
    for panel in CHART_PANELS:
        assert "Nothing published yet" in parsed.sections[f"panel-{panel.id}"].text


def test_no_audit_run_yet_is_a_notice_not_a_failure(tmp_path: Path) -> None:
    engine = DuckDBEngine(_write_lake(tmp_path / "lake", dq=False))
    failures: list[PanelFailure] = []
    out = write_report(engine, tmp_path / "report.html", on_panel_error=failures.append)
    assert failures == []
    assert "no table dq_results" in _parse(out).sections["panel-dq_latest_run"].text


def test_an_empty_symbol_list_is_refused(engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="symbols: give at least one symbol"):
        write_report(engine, tmp_path / "report.html", symbols=[" "])
    assert not (tmp_path / "report.html").exists()


def test_a_range_that_ends_before_it_starts_is_refused(engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"time_from \(2024-02-01 00:00\) is after time_to"):
        write_report(
            engine, tmp_path / "report.html", time_from=date(2024, 2, 1), time_to=date(2024, 1, 1)
        )
    assert not (tmp_path / "report.html").exists()


# --- The window: what the report shows and what it reads -----------------------------------


@pytest.fixture(scope="module")
def history_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Written once for the module (thousands of rows): tests that change it use a copy."""
    return _write_lake(tmp_path_factory.mktemp("history") / "lake", HISTORY)


@dataclass
class Written:
    parsed: ReportParser
    html: str
    scans: list[Scan]


def _report_over(lake: Path, tmp_path: Path, **window) -> Written:
    engine = DuckDBEngine(lake, profile=True)
    failures: list[PanelFailure] = []
    out = write_report(engine, tmp_path / "report.html", on_panel_error=failures.append, **window)
    engine.close()
    assert failures == []
    return Written(_parse(out), out.read_text(encoding="utf-8"), engine.scans)


def _expected_lines(panel_id: str, start: date, end: date) -> dict[str, str]:
    """Each chart line's tooltip over [start, end], from HISTORY's bars."""
    lines = {}
    for symbol, bars in HISTORY.items():
        shown = [
            b.trade_date
            for index, b in enumerate(bars)
            if start <= b.trade_date <= end
            and (panel_id != "daily_return" or b.daily_return is not None)
            and (panel_id != "volatility" or index >= 19)  # from the 20th trading day
        ]
        if shown:
            lines[symbol] = f"{symbol}: {len(shown)} days, {shown[0]} to {shown[-1]}"
    return lines


def _assert_charts_cover(written: Written, start: date, end: date) -> None:
    for panel in CHART_PANELS:
        lines = written.parsed.sections[f"panel-{panel.id}"].lines
        assert lines == _expected_lines(panel.id, start, end), panel.id


def _years_read(scans: list[Scan], table: str = "daily_prices") -> set[int]:
    years: set[int] = set()
    for scan in scans:
        files = [name for name in scan.filenames if f"/prod/{table}/" in name]
        if files:
            assert scan.files_read == len(scan.filenames)  # DuckDB names at most five
            years |= {int(re.search(r"/year=(\d{4})/", name).group(1)) for name in files}
    return years


def test_by_default_the_charts_show_the_12_months_up_to_the_newest_trade_date(
    history_lake: Path, tmp_path: Path
) -> None:
    written = _report_over(history_lake, tmp_path)

    _assert_charts_cover(written, date(2023, 6, 7), NEWEST)
    assert (
        "<dt>Time range</dt><dd>2023-06-07 to 2024-06-07 "
        "(the 12 months up to the newest published trade date)</dd>" in written.html
    )
    assert "<dt>Published</dt><dd>2021-03-01 to 2024-06-07</dd>" in written.html
    assert "<dt>Symbols</dt><dd>GONE, NEW, OLD</dd>" in written.html


def test_by_default_no_price_panel_reads_a_year_before_the_window(
    history_lake: Path, tmp_path: Path
) -> None:
    written = _report_over(history_lake, tmp_path)

    assert _years_read(written.scans) == {2023, 2024}


@pytest.mark.parametrize(
    ("window", "start", "end", "years"),
    [
        # Inside one year: the volatility's 40-day lookback stays in 2024 too.
        ({"time_from": date(2024, 3, 1)}, date(2024, 3, 1), NEWEST, {2024}),
        # The lookback crosses into 2023, and the first day in range still has its 20 days.
        (
            {"time_from": date(2024, 1, 10), "time_to": date(2024, 2, 15)},
            date(2024, 1, 10),
            date(2024, 2, 15),
            {2023, 2024},
        ),
        ({"time_to": date(2022, 6, 30)}, date(2021, 6, 30), date(2022, 6, 30), {2021, 2022}),
        ({"whole_history": True}, date(2021, 3, 1), NEWEST, {2021, 2022, 2023, 2024}),
    ],
    ids=["from", "from-to", "to", "whole-history"],
)
def test_a_chosen_window_is_charted_and_only_its_years_are_read(
    history_lake: Path, tmp_path: Path, window: dict, start: date, end: date, years: set[int]
) -> None:
    written = _report_over(history_lake, tmp_path, **window)

    _assert_charts_cover(written, start, end)
    assert f"<dt>Time range</dt><dd>{start} to {end}" in written.html
    assert _years_read(written.scans) == years


def test_freshness_covers_every_symbols_whole_history_from_the_summary(
    history_lake: Path, tmp_path: Path
) -> None:
    written = _report_over(history_lake, tmp_path, time_from=date(2024, 5, 1))

    rows = {r["symbol"]: r for r in _table(written.parsed.sections["panel-freshness"])}
    assert set(rows) == set(HISTORY)
    for symbol, bars in HISTORY.items():
        last = bars[-1].trade_date
        assert rows[symbol]["first_trade_date"] == bars[0].trade_date.isoformat()
        assert rows[symbol]["latest_trade_date"] == last.isoformat()
        assert rows[symbol]["bars"] == str(len(bars))
        assert rows[symbol]["days_behind_newest"] == str((NEWEST - last).days)
    freshness = [scan for scan in written.scans if scan.query == "panel freshness"]
    assert _years_read(freshness) == set()
    summary_files = {
        name for scan in freshness for name in scan.filenames if "/prod/symbol_summary/" in name
    }
    assert len(summary_files) == 1


def test_without_the_summary_table_the_report_says_what_is_missing(
    history_lake: Path, tmp_path: Path
) -> None:
    lake = shutil.copytree(history_lake, tmp_path / "lake")
    DuckDBEngine(lake).drop_table("symbol_summary")
    failures: list[PanelFailure] = []

    out = write_report(DuckDBEngine(lake), tmp_path / "report.html", on_panel_error=failures.append)

    assert {f.panel_id for f in failures} == {p.id for p in PANELS} - {"dq_latest_run"}
    assert all("no table symbol_summary" in f.error for f in failures)
    assert _parse(out).sections["panel-dq_latest_run"].status == "ok"


def test_whole_history_and_a_range_are_refused_together(engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whole_history covers every published day"):
        write_report(
            engine, tmp_path / "report.html", whole_history=True, time_from=date(2024, 1, 1)
        )
    assert not (tmp_path / "report.html").exists()


def _scaled(bars: list[Bar], factor: float) -> list[Bar]:
    return [
        Bar(
            b.symbol,
            b.trade_date,
            b.open * factor,
            b.high * factor,
            b.low * factor,
            b.close * factor,
            b.volume,
            b.daily_return,
        )
        for b in bars
    ]


_Y_LABEL = re.compile(r'<text class="y-label" x="[\d.]+" y="([\d.]+)">([^<]+)</text>')
_LINE = re.compile(r'<polyline class="line" data-symbol="(\w+)" points="([^"]+)"')


@pytest.mark.parametrize(
    ("low_factor", "high_factor"),
    [(26 / 50, 8), (26 / 50, 0.35), (0.004, 8)],
    ids=["26 to 800 USD", "26 to 35 USD", "0.2 to 800 USD"],
)
def test_every_line_of_a_log_chart_sits_between_two_labelled_1_2_5_ticks(
    tmp_path: Path, low_factor: float, high_factor: float
) -> None:
    walks = _bars({"LOW": (FIRST_DAY, LAST_DAY), "HIGH": (FIRST_DAY, LAST_DAY)}, seed=7)
    bars = {"LOW": _scaled(walks["LOW"], low_factor), "HIGH": _scaled(walks["HIGH"], high_factor)}
    engine = DuckDBEngine(_write_lake(tmp_path / "lake", bars))
    try:
        out = write_report(engine, tmp_path / "report.html", whole_history=True)
    finally:
        engine.close()
    page = out.read_text(encoding="utf-8")

    for panel in (p for p in CHART_PANELS if p.scale == "log"):
        section = page.split(f'id="panel-{panel.id}"')[1].split("</section>")[0]
        labels = [(float(y) - 4, text) for y, text in _Y_LABEL.findall(section)]
        assert len(labels) >= 3, (panel.id, labels)
        ys = [float(point.split(",")[1]) for _, points in _LINE.findall(section)
              for point in points.split()]  # fmt: skip
        tick_ys = [y for y, _ in labels]
        # SVG y grows downwards: the lowest value has the largest y.
        assert min(tick_ys) <= min(ys), (panel.id, labels)  # a label above the highest value
        assert max(ys) <= max(tick_ys), (panel.id, labels)  # and one below the lowest
        if panel.unit == "currencyUSD":
            values = [float(text.strip("$").replace(",", "")) for _, text in labels]
            mantissas = {f"{value:.3e}".split("e")[0] for value in values}
            # each decade's 1-2-5, or (a narrow range) evenly spaced steps
            spacing = {round(b - a, 6) for a, b in itertools.pairwise(values)}
            assert mantissas <= {"1.000", "2.000", "5.000"} or len(spacing) == 1, labels
