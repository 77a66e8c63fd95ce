"""Command-line arguments of `python -m runtime.local`, checked into plain values.

Every user mistake becomes a UsageError with one line that names the input and says how to
fix it; the CLI prints it and exits 2.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from runtime.ingest.settings import (
    CALL_BUDGET_ENV,
    DEFAULT_CALL_BUDGET,
    DEFAULT_SPLITS_REFRESH_DAYS,
    SPLITS_REFRESH_DAYS_ENV,
    SYMBOL_PATTERN,
)
from runtime.local.formatting import FORMATS
from runtime.wap.engines.local_catalog import DEFAULT_WAIT_SECONDS

DEFAULT_DATA_DIR = ".stockpipe"
# date.fromisoformat also takes 20240607 and 2024-W23-5; the flags take one spelling only.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: The earliest date a flag takes: before any daily series the pipeline serves.
FIRST_DATE = date(1990, 1, 1)
TICKER_RULE = "1 to 12 of A-Z, 0-9, '.' and '-', starting with a letter or digit"


class UsageError(Exception):
    """A mistake in how the command was called."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one UsageError line, not a usage block."""

    def error(self, message: str) -> None:  # argparse would print the usage block and exit
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=_non_empty_path,
        default=DEFAULT_DATA_DIR,
        help=f"where the local lake and the report live (default: ./{DEFAULT_DATA_DIR})",
    )
    common.add_argument("--quiet", action="store_true", help="print only the summary and errors")

    writer = argparse.ArgumentParser(add_help=False)
    writer.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help="how long to wait for another run holding the lake (default: %(default)g)",
    )

    window = argparse.ArgumentParser(add_help=False)
    window.add_argument(
        "--from",
        dest="time_from",
        metavar="YYYY-MM-DD",
        help="the report's first day (default: a year before its last day)",
    )
    window.add_argument(
        "--to",
        dest="time_to",
        metavar="YYYY-MM-DD",
        help="the report's last day (default: the newest published trade date)",
    )
    window.add_argument(
        "--all",
        dest="whole_history",
        action="store_true",
        help="report the whole published history instead of the last 12 months",
    )

    parser = OneLineParser(
        prog="python -m runtime.local",
        description="The stockpipe pipeline on this machine: a local lake and DuckDB.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    run = commands.add_parser(
        "run",
        parents=[common, window, writer],
        help="ingest, then drop_staging, create_staging, audit, publish, and the report",
    )
    run.add_argument("--symbols", help="comma-separated tickers (default: the ten semiconductors)")
    run.add_argument(
        "--source",
        choices=("sample", "alphavantage"),
        help="alphavantage when ALPHAVANTAGE_API_KEY is set, else the bundled sample server",
    )
    run.add_argument(
        "--outputsize",
        choices=("compact", "full"),
        default="compact",
        help="compact: the latest 100 bars; full: all history (premium-only on real keys)",
    )
    run.add_argument(
        "--sample-years",
        type=float,
        default=2.0,
        help="years of history the sample server holds for --outputsize full (default: 2)",
    )
    run.add_argument(
        "--as-of",
        help="the ingest date, YYYY-MM-DD (default: today); also the day the call budget "
        "and the split refresh cycle count in",
    )
    run.add_argument(
        "--call-budget",
        type=_whole_number(0),
        metavar="N",
        help="API calls a day's runs may make together, retries included; 0: no budget "
        f"(default: {CALL_BUDGET_ENV} or {DEFAULT_CALL_BUDGET}); --source alphavantage only",
    )
    run.add_argument(
        "--splits-refresh-days",
        type=_whole_number(1),
        metavar="DAYS",
        help="the oldest a symbol's split record may get before it is fetched again "
        f"(default: {SPLITS_REFRESH_DAYS_ENV} or {DEFAULT_SPLITS_REFRESH_DAYS})",
    )
    run.add_argument(
        "--report", help="where to write the HTML report (default: DATA_DIR/report.html)"
    )

    query = commands.add_parser(
        "query",
        parents=[common],
        help="run Athena-dialect SQL over daily_prices, dq_results and raw_daily_prices",
    )
    query.add_argument("sql")
    query.add_argument("--format", choices=FORMATS, default="table")

    report = commands.add_parser(
        "report",
        parents=[common, window],
        help="write the HTML report from what is published (default: the last 12 months)",
    )
    report.add_argument("--out", help="the HTML file (default: DATA_DIR/report.html)")

    commands.add_parser(
        "rebuild",
        parents=[common, writer],
        help="rebuild the published tables from the raw zone, keeping the old lake aside",
    )

    catalog = commands.add_parser(
        "catalog", help="list the kept generations of the lake's catalog, or restore one"
    )
    actions = catalog.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
    actions.add_parser("list", parents=[common], help="the kept generations, newest first")
    restore = actions.add_parser(
        "restore",
        parents=[common, writer],
        help="make a kept generation the catalog again (the current one is kept too)",
    )
    restore.add_argument("generation", nargs="?", help="its name (default: the newest)")
    return parser


def _non_empty_path(text: str) -> str:
    # An empty path means the current directory to pathlib: the lake would land there unasked.
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is empty: give a directory, e.g. --data-dir {DEFAULT_DATA_DIR}"
        )
    return text


def _whole_number(least: int):
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {least}")
        return int(text)

    return parse


def parse_symbols(text: str) -> tuple[str, ...]:
    symbols = tuple(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    if not symbols:
        raise UsageError("--symbols is empty: give tickers such as NVDA,AMD")
    bad = [s for s in symbols if not SYMBOL_PATTERN.match(s)]
    if bad:
        raise UsageError(f"--symbols: {', '.join(bad)} is not a ticker: a ticker is {TICKER_RULE}")
    return symbols


@dataclass(frozen=True)
class ReportWindow:
    """The report's time range as asked for; None ends are resolved from the published data."""

    time_from: date | None = None
    time_to: date | None = None
    whole_history: bool = False


def parse_date(text: str, flag: str, today: date | None = None) -> date:
    """A YYYY-MM-DD date from FIRST_DATE to `today` (default: today)."""
    today = today or date.today()
    problem = f"{flag} {text!r} is not a date: use YYYY-MM-DD from {FIRST_DATE} to {today}"
    if not _ISO_DATE.fullmatch(text):
        raise UsageError(problem)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(problem) from None
    if day > today:
        raise UsageError(f"{flag} {text} is in the future (today is {today.isoformat()})")
    if day < FIRST_DATE:
        raise UsageError(problem)
    return day


def parse_window(args: argparse.Namespace) -> ReportWindow:
    time_from = parse_date(args.time_from, "--from") if args.time_from is not None else None
    time_to = parse_date(args.time_to, "--to") if args.time_to is not None else None
    if args.whole_history and (time_from or time_to):
        raise UsageError("--all reports the whole history: give either --all or --from/--to")
    if time_from and time_to and time_from > time_to:
        raise UsageError(f"--from {time_from} is after --to {time_to}")
    return ReportWindow(time_from, time_to, args.whole_history)


def parse_as_of(text: str, today: date) -> date:
    return parse_date(text, "--as-of", today)


def writable_dir(text: str, flag: str = "--data-dir") -> Path:
    """A directory, created if needed, proven writable before any work starts."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {text}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(f"{flag} {text}: cannot write there ({reason})") from None
    return path
