"""`python -m runtime.local` end to end, through its entry point `main(argv, environ)`."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from runtime.local.cli import main
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import SampleServer
from runtime.panels import load_panels

AS_OF = date(2024, 6, 7)  # a Friday
NEXT_DAY = date(2024, 6, 10)  # the Monday after
SYMBOLS = ("NVDA", "AMD")
COMPACT_BARS = 100
# How ingestion names a raw object: the symbol, then the run's landing time (UTC).
RAW_OBJECT = re.compile(r"(?P<symbol>[A-Z0-9.\-]+)-\d{8}T\d{12}Z\.csv")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "stockpipe"


def cli(*argv: str, environ: dict[str, str] | None = None) -> int:
    return main(list(argv), environ={} if environ is None else environ)


def run_day(data_dir: Path, day: date, *extra: str, environ: dict[str, str] | None = None) -> int:
    return cli(
        "run",
        "--data-dir",
        str(data_dir),
        "--symbols",
        ",".join(SYMBOLS),
        "--as-of",
        day.isoformat(),
        "--quiet",
        *extra,
        environ=environ,
    )


def query(data_dir: Path, sql: str, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert cli("query", sql, "--format", "json", "--data-dir", str(data_dir)) == 0
    return json.loads(capsys.readouterr().out)


def published(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return query(
        data_dir,
        "SELECT symbol, trade_date, open, high, low, close, volume, run_id, ingested_at "
        "FROM daily_prices ORDER BY symbol, trade_date",
        capsys,
    )


def expected_compact_bars(day: date) -> dict[tuple[str, str], tuple[float, ...]]:
    """What the sample server's compact answer holds, read from the market directly."""
    market = SampleMarket(end=day, years=1)
    return {
        (bar.symbol, bar.trade_date.isoformat()): (
            float(bar.open),
            float(bar.high),
            float(bar.low),
            float(bar.close),
            bar.volume,
        )
        for symbol in SYMBOLS
        for bar in market.bars(symbol)[:COMPACT_BARS]
    }


def as_bars(rows: list[dict]) -> dict[tuple[str, str], tuple[float, ...]]:
    return {
        (r["symbol"], r["trade_date"]): (r["open"], r["high"], r["low"], r["close"], r["volume"])
        for r in rows
    }


@pytest.fixture
def first_day(data_dir: Path) -> Path:
    assert run_day(data_dir, AS_OF) == 0
    return data_dir


def test_a_run_on_sample_data_publishes_every_bar_the_source_served(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = published(first_day, capsys)

    assert as_bars(rows) == expected_compact_bars(AS_OF)
    assert len(rows) == len(SYMBOLS) * COMPACT_BARS
    assert len(list((first_day / "lake" / "raw" / f"dt={AS_OF}").glob("NVDA-*.csv"))) == 1
    assert (first_day / "report.html").is_file()


def test_the_summary_says_what_happened_and_that_the_data_is_generated(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli("run", "--data-dir", str(data_dir), "--symbols", "NVDA", "--as-of", "2024-06-07") == 0
    )

    out = capsys.readouterr().out
    assert "GENERATED SAMPLE DATA" in out
    assert "NVDA   landed 100 bars" in out
    assert "symbols: 1 landed, 0 failed, 0 skipped" in out
    assert "published: 100 new rows" in out
    for step in ("drop_staging", "create_staging", "audit", "publish", "report"):
        assert f"{step} done in" in out
    assert f"report: {data_dir / 'report.html'}" in out


def test_full_output_publishes_the_whole_sample_history(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_day(data_dir, AS_OF, "--outputsize", "full", "--sample-years", "1.5") == 0

    history = SampleMarket(end=AS_OF, years=1.5).bars("NVDA")
    rows = query(
        data_dir,
        "SELECT count(*) AS n, min(trade_date) AS first FROM daily_prices WHERE symbol = 'NVDA'",
        capsys,
    )
    assert rows == [{"n": len(history), "first": history[-1].trade_date.isoformat()}]
    assert len(history) > 252


def test_quiet_prints_only_the_summary(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_day(data_dir, AS_OF) == 0

    out = capsys.readouterr().out
    assert "landed 100 bars" not in out
    assert "done in" not in out
    assert "published: 200 new rows" in out


def test_the_next_days_run_publishes_only_the_new_day(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(first_day, capsys)

    assert run_day(first_day, NEXT_DAY) == 0
    assert "published: 2 new rows" in capsys.readouterr().out

    after = published(first_day, capsys)
    new = [r for r in after if r["trade_date"] == NEXT_DAY.isoformat()]
    assert [r["symbol"] for r in new] == ["AMD", "NVDA"]
    assert [r for r in after if r["trade_date"] != NEXT_DAY.isoformat()] == before
    assert as_bars(new) == {
        key: value
        for key, value in expected_compact_bars(NEXT_DAY).items()
        if key[1] == NEXT_DAY.isoformat()
    }


def test_a_rerun_of_the_same_day_changes_nothing(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(first_day, capsys)

    assert run_day(first_day, AS_OF) == 0
    assert "published: 0 new rows" in capsys.readouterr().out
    assert published(first_day, capsys) == before


def test_an_injected_bad_bar_blocks_publication_and_leaves_production_unchanged(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(first_day, capsys)
    # A bar whose high is below its low lands next to the day's good files.
    bad = first_day / "lake" / "raw" / f"dt={NEXT_DAY}" / "ZZZZ.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "symbol,trade_date,open,high,low,close,volume,ingested_at\n"
        f"ZZZZ,{NEXT_DAY},10.0000,9.0000,11.0000,10.5000,1000,2024-06-10T21:00:00Z\n"
    )

    assert run_day(first_day, NEXT_DAY) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "audit errors blocked publication" in err[0]
    assert "price_range" in err[0]
    assert "SELECT * FROM dq_results WHERE run_id" in err[0]
    assert published(first_day, capsys) == before
    failed = query(
        first_day,
        "SELECT check_name, sample_keys FROM dq_results WHERE NOT passed AND severity = 'error'",
        capsys,
    )
    assert failed == [{"check_name": "price_range", "sample_keys": f"ZZZZ@{NEXT_DAY}"}]


def test_query_returns_the_published_values(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nvda = SampleMarket(end=AS_OF, years=1).bars("NVDA")[0]

    rows = query(
        first_day,
        f"SELECT close, volume FROM daily_prices WHERE symbol = 'NVDA' "
        f"AND trade_date = DATE '{AS_OF}'",
        capsys,
    )

    assert rows == [{"close": float(nvda.close), "volume": nvda.volume}]


def test_query_formats_csv_and_table(first_day: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT symbol, count(*) AS bars FROM daily_prices GROUP BY symbol ORDER BY symbol"

    assert cli("query", sql, "--format", "csv", "--data-dir", str(first_day)) == 0
    assert capsys.readouterr().out.splitlines() == ["symbol,bars", "AMD,100", "NVDA,100"]
    assert cli("query", sql, "--data-dir", str(first_day)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "symbol  bars",
        "------  ----",
        "AMD      100",
        "NVDA     100",
        "(2 rows)",
    ]


def test_the_report_holds_every_panel_and_no_panel_fails(
    first_day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"

    assert cli("report", "--out", str(out), "--data-dir", str(first_day)) == 0

    assert capsys.readouterr().err == ""
    html = out.read_text()
    for panel in load_panels():
        assert panel.title in html
    assert "SAMPLE DATA" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "--as-of", "2024-13-01"], "--as-of '2024-13-01' is not a date: use YYYY-MM-DD"),
        (["run", "--as-of", "2999-01-01"], "--as-of 2999-01-01 is in the future"),
        (["run", "--as-of", "20240607"], "--as-of '20240607' is not a date: use YYYY-MM-DD"),
        (["run", "--symbols", " , "], "--symbols is empty"),
        (["run", "--symbols", "NV DA"], "--symbols: NV DA is not a ticker"),
        (["run", "--outputsize", "huge"], "argument --outputsize: invalid choice: 'huge'"),
        (["query", "SELECT 1", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["query", "SELEC 1"], "query: not valid Athena SQL: Invalid expression"),
        (
            ["run", "--report", "/dev/null/report.html"],
            "--report /dev/null/report.html: its directory /dev/null: not a directory",
        ),
        (["report", "--out", "/"], "--out / is a directory; give a file name"),
        (["query", "DROP TABLE daily_prices"], "query runs one SELECT statement; got DROP"),
        (["query", "INSERT INTO daily_prices SELECT * FROM daily_prices"], "got INSERT"),
        (["query", "SELECT 1; SELECT 2"], "got SELECT, SELECT"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["run", "--sample-years", "0"], "--sample-years 0 must be above 0 and at most 50"),
        (["run", "--sample-years", "many"], "argument --sample-years: invalid float value"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str], message: str, first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(first_day, capsys)

    assert cli(*argv, "--data-dir", str(first_day)) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
    assert published(first_day, capsys) == before


def test_an_unwritable_data_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    assert run_day(blocker / "data", AS_OF) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--data-dir {blocker / 'data'}: cannot write there" in err


def test_query_before_any_run_says_to_run_first(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("query", "SELECT 1", "--data-dir", str(data_dir)) == 2
    assert "no local lake there yet" in capsys.readouterr().err


def test_a_corrupt_parquet_file_fails_clearly_and_changes_nothing(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(first_day, capsys)
    catalog = json.loads((first_day / "lake" / "_catalog.json").read_text())
    parquet = sorted((first_day / "lake" / "prod" / "daily_prices").rglob("*.parquet"))[0]
    good_bytes = parquet.read_bytes()
    parquet.write_bytes(b"PAR1 this is not a parquet file")

    assert run_day(first_day, NEXT_DAY) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert parquet.name in err
    catalog_after = json.loads((first_day / "lake" / "_catalog.json").read_text())
    assert catalog_after["tables"]["daily_prices"] == catalog["tables"]["daily_prices"]
    parquet.write_bytes(good_bytes)
    assert published(first_day, capsys) == before


def test_a_corrupt_raw_csv_fails_clearly_and_changes_nothing(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(first_day, capsys)
    broken = first_day / "lake" / "raw" / f"dt={NEXT_DAY}" / "ZZZZ.csv"
    broken.parent.mkdir(parents=True)
    broken.write_text('symbol,trade_date\n"ZZZZ,2024-06-10\n')

    assert run_day(first_day, NEXT_DAY) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "ZZZZ.csv" in err
    assert published(first_day, capsys) == before


def test_a_key_the_api_rejects_is_a_configuration_error(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SampleServer(SampleMarket(end=AS_OF, years=1)) as server:
        for symbol in SYMBOLS:
            server.always(symbol, "invalid_key")
        environ = {"ALPHAVANTAGE_API_KEY": "revoked-key-1234", "ALPHAVANTAGE_URL": server.url}
        assert run_day(data_dir, AS_OF, environ=environ) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "rejected the API key from ALPHAVANTAGE_API_KEY" in err
    assert "revoked-key-1234" not in err


def test_the_source_defaults_to_alphavantage_when_a_key_is_set(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SampleServer(SampleMarket(end=AS_OF, years=1)) as server:
        environ = {
            "ALPHAVANTAGE_API_KEY": "a-real-looking-key",
            "ALPHAVANTAGE_URL": server.url,
            "MIN_CALL_INTERVAL_SECONDS": "0",
        }
        assert (
            cli(
                "run",
                "--data-dir",
                str(data_dir),
                "--symbols",
                "NVDA",
                "--as-of",
                str(AS_OF),
                environ=environ,
            )
            == 0
        )
        assert [(r.function, r.symbol) for r in server.requests] == [
            ("TIME_SERIES_DAILY", "NVDA"),
            ("SPLITS", "NVDA"),  # its first ingestion asks for its split record
        ]
        url = server.url

    out = capsys.readouterr().out
    assert f"source: Alpha Vantage at {url}" in out
    assert "a-real-looking-key" not in out


def test_sample_and_real_data_never_share_a_lake(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"ALPHAVANTAGE_API_KEY": "a-real-looking-key"}

    assert run_day(first_day, NEXT_DAY, environ=environ) == 2
    assert "holds sample data" in capsys.readouterr().err


def test_a_run_refused_for_a_missing_key_leaves_the_data_dir_free(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_day(data_dir, AS_OF, "--source", "alphavantage") == 2
    assert "ALPHAVANTAGE_API_KEY" in capsys.readouterr().err

    assert run_day(data_dir, AS_OF, "--source", "sample") == 0


def test_the_lake_mirrors_the_s3_layout(first_day: Path) -> None:
    lake = first_day / "lake"
    names = sorted(p.name for p in (lake / "raw" / f"dt={AS_OF}").iterdir())
    assert [RAW_OBJECT.fullmatch(name)["symbol"] for name in names] == ["AMD", "NVDA"]
    years = {p.name for p in (lake / "prod" / "daily_prices").rglob("year=*") if p.is_dir()}
    assert years == {"year=2024"}
    assert any((lake / "prod" / "dq_results").rglob("*.parquet"))
    shutil.rmtree(lake / "raw")  # what is published does not depend on raw staying around


def test_the_summary_lists_each_steps_time_report_included_even_when_quiet(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_day(data_dir, AS_OF) == 0

    (times,) = [line for line in capsys.readouterr().out.splitlines() if "times:" in line]
    steps = ("ingest", "drop_staging", "create_staging", "audit", "publish", "report")
    seconds = r"\d+\.\d\d s"
    assert re.fullmatch(
        "times: " + ", ".join(f"{step} {seconds}" for step in steps) + f"; total {seconds}", times
    )


# --- The report's time range ----------------------------------------------------------------

HISTORY_YEARS = 3


@pytest.fixture(scope="module")
def history_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three years of full history for SYMBOLS as of AS_OF (reports only read it)."""
    data_dir = tmp_path_factory.mktemp("history") / "stockpipe"
    years = str(HISTORY_YEARS)
    assert run_day(data_dir, AS_OF, "--outputsize", "full", "--sample-years", years) == 0
    return data_dir


def chart_lines(html: str, panel_id: str) -> dict[str, tuple[int, str, str]]:
    """Per symbol, a chart line's (days, first day, last day), from its tooltip."""
    section = html.split(f'id="panel-{panel_id}"')[1].split("</section>")[0]
    return {
        symbol: (int(days), first, last)
        for symbol, days, first, last in re.findall(
            r"<title>(\S+): (\d+) days, (\S+) to (\S+)</title>", section
        )
    }


def expected_lines(start: date | None, end: date) -> dict[str, tuple[int, str, str]]:
    """The close-price chart over [start, end] (None: all history), from the sample market."""
    market = SampleMarket(end=AS_OF, years=HISTORY_YEARS)
    lines = {}
    for symbol in SYMBOLS:
        bars = market.bars(symbol)
        days = sorted(b.trade_date for b in bars if (start or date.min) <= b.trade_date <= end)
        lines[symbol] = (len(days), days[0].isoformat(), days[-1].isoformat())
    return lines


def report_html(data_dir: Path, tmp_path: Path, *window: str) -> str:
    out = tmp_path / "report.html"
    assert cli("report", "--out", str(out), "--data-dir", str(data_dir), "--quiet", *window) == 0
    return out.read_text()


def test_the_report_shows_the_last_12_months_by_default(history_dir: Path) -> None:
    html = (history_dir / "report.html").read_text()

    assert chart_lines(html, "close_price") == expected_lines(date(2023, 6, 7), AS_OF)
    assert "2023-06-07 to 2024-06-07 (the 12 months up to the newest published trade date)" in html


def test_the_freshness_table_still_covers_the_whole_history(history_dir: Path) -> None:
    html = (history_dir / "report.html").read_text()

    section = html.split('id="panel-freshness"')[1].split("</section>")[0]
    market = SampleMarket(end=AS_OF, years=HISTORY_YEARS)
    for symbol in SYMBOLS:
        bars = market.bars(symbol)
        first = min(b.trade_date for b in bars)
        assert first < AS_OF - timedelta(days=2 * 365)
        assert (
            f'<td class="col-symbol">{symbol}</td>'
            f'<td class="col-first_trade_date">{first}</td>'
            f'<td class="col-latest_trade_date">{AS_OF}</td>'
            f'<td class="col-bars number">{len(bars)}</td>'
        ) in section


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        (("--from", "2024-01-02", "--to", "2024-03-28"), date(2024, 1, 2), date(2024, 3, 28)),
        (("--from", "2024-05-01"), date(2024, 5, 1), AS_OF),
        (("--to", "2023-03-31"), date(2022, 3, 31), date(2023, 3, 31)),
        (("--all",), None, AS_OF),
    ],
    ids=["from-to", "from", "to", "all"],
)
def test_report_charts_the_window_asked_for(
    history_dir: Path, tmp_path: Path, window: tuple[str, ...], start: date | None, end: date
) -> None:
    html = report_html(history_dir, tmp_path, *window)

    assert chart_lines(html, "close_price") == expected_lines(start, end)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--from", "2024-1-5"], "--from '2024-1-5' is not a date: use YYYY-MM-DD"),
        (["report", "--to", "2024-W23-5"], "--to '2024-W23-5' is not a date: use YYYY-MM-DD"),
        (["run", "--from", "2024-02-30"], "--from '2024-02-30' is not a date: use YYYY-MM-DD"),
        (["run", "--to", ""], "--to '' is not a date: use YYYY-MM-DD"),
        (
            ["report", "--from", "2024-06-01", "--to", "2024-05-31"],
            "--from 2024-06-01 is after --to 2024-05-31",
        ),
        (
            ["run", "--from", "2024-06-01", "--to", "2024-05-31"],
            "--from 2024-06-01 is after --to 2024-05-31",
        ),
        (["report", "--all", "--from", "2024-01-02"], "give either --all or --from/--to"),
        (["run", "--all", "--to", "2024-01-02"], "give either --all or --from/--to"),
    ],
)
def test_a_bad_time_range_is_one_line_and_exit_2_before_any_work(
    argv: list[str], message: str, history_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(history_dir, capsys)
    report = (history_dir / "report.html").read_bytes()

    assert cli(*argv, "--data-dir", str(history_dir)) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
    assert published(history_dir, capsys) == before
    assert (history_dir / "report.html").read_bytes() == report


def test_run_takes_the_same_window_for_its_report(data_dir: Path) -> None:
    assert run_day(data_dir, AS_OF, "--from", "2024-05-01", "--to", "2024-05-31") == 0

    html = (data_dir / "report.html").read_text()
    assert chart_lines(html, "close_price") == expected_lines(date(2024, 5, 1), date(2024, 5, 31))


@pytest.mark.parametrize("command", [["run"], ["query", "SELECT 1"], ["report"], ["rebuild"]])
def test_an_empty_data_dir_is_refused_and_nothing_lands_in_the_current_directory(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)

    assert cli(*command, "--data-dir", "") == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--data-dir: '' is empty: give a directory" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("table", ["daily_prices", "symbol_summary", "daily_prices_replaced"])
def test_query_before_anything_is_published_says_so(
    table: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "lake").mkdir(parents=True)  # what a run that landed nothing leaves

    assert cli("query", f"SELECT * FROM {table}", "--data-dir", str(data_dir)) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"query: nothing published yet: {table} is written by the first run" in err
    assert "is not one" not in err


def test_a_raw_csv_line_that_does_not_parse_is_named_by_file_line_and_problem(
    first_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(first_day, capsys)
    broken = first_day / "lake" / "raw" / f"dt={NEXT_DAY}" / "ZZZZ-20240610T210000000000Z.csv"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "symbol,trade_date,open,high,low,close,volume,ingested_at\n"
        "ZZZZ,2024-06-10,10.0000,11.0000,9.0000,10.5000,1000,2024-06-10T21:00:00Z\n"
        "ZZZZ,2024-06-11,10.0000,11.0000\n"
    )

    assert run_day(first_day, NEXT_DAY) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"failed reading {broken}, line 3: 4 comma-separated fields where a raw file has 8" in (
        err
    )
    assert "ZZZZ,2024-06-11,10.0000,11.0000" in err
    for engine_talk in ("Possible fixes", "strict_mode", "raw_window", "create_staging"):
        assert engine_talk not in err
    assert published(first_day, capsys) == before


def test_the_call_budget_holds_across_runs_of_a_day_and_as_of_is_the_day(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SampleServer(SampleMarket(end=NEXT_DAY, years=1)) as server:
        environ = {
            "ALPHAVANTAGE_API_KEY": "a-real-looking-key",
            "ALPHAVANTAGE_URL": server.url,
            "CALLS_PER_MINUTE": "100000",
            "MIN_CALL_INTERVAL_SECONDS": "0",
        }
        first = run_day(data_dir, AS_OF, "--source", "alphavantage", "--call-budget", "3",
                        environ=environ)  # fmt: skip
        first_out = capsys.readouterr().out
        again = run_day(data_dir, AS_OF, "--source", "alphavantage", "--call-budget", "3",
                        environ=environ)  # fmt: skip
        again_err = capsys.readouterr().err
        next_day = run_day(data_dir, NEXT_DAY, "--source", "alphavantage", "--call-budget",
                           "3", environ=environ)  # fmt: skip
        served = [(r.function, r.symbol) for r in server.requests]

    assert (first, again, next_day) == (0, 1, 0)
    # Prices first (2 calls), then one of the two first split records; the other waits.
    assert "split records: 1 landed, 0 failed, 1 deferred" in first_out
    assert "call budget: 3 of 3 calls made on 2024-06-07; 1 deferred to the next day" in first_out
    assert "no symbol succeeded (NVDA: deferred: the day's call budget is spent" in again_err
    assert served == [
        ("TIME_SERIES_DAILY", "NVDA"),
        ("TIME_SERIES_DAILY", "AMD"),
        ("SPLITS", "NVDA"),
        # nothing on the second run of 2024-06-07; 2024-06-10 has its own 3 calls
        ("TIME_SERIES_DAILY", "NVDA"),
        ("TIME_SERIES_DAILY", "AMD"),
        ("SPLITS", "AMD"),
    ]
    raw_splits = sorted(p.parent.name for p in (data_dir / "lake" / "raw_splits").rglob("*.csv"))
    assert raw_splits == ["dt=2024-06-07", "dt=2024-06-10"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--call-budget", "5"), "--call-budget applies to --source alphavantage"),
        (("--call-budget", "-1"), "argument --call-budget: '-1' is not a whole number >= 0"),
        (("--splits-refresh-days", "0"), "'0' is not a whole number >= 1"),
    ],
)
def test_budget_and_refresh_mistakes_are_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    assert run_day(data_dir, AS_OF, *extra) == 2

    err = capsys.readouterr().err
    assert message in err
    assert len(err.splitlines()) == 1
