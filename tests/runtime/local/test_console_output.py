"""What `python -m runtime.local run` prints: one line per symbol, one summary line for the
bars left out and why, and under --quiet only errors and the summary, each naming its symbol.

The market clock decides which bars are final, so the tests that leave bars out set "now"
(the ingestion's clock) to a moment in New York's day; everything else is the real run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from runtime.ingest.pacing import SystemClock
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import SampleServer
from tests.runtime.local.test_cli import AS_OF, SYMBOLS, cli, run_day

DURING_THE_SESSION = datetime(2024, 6, 7, 18, 0, tzinfo=UTC)  # 14:00 in New York, Friday
BEFORE_NEW_YORKS_DAY = datetime(2024, 6, 7, 3, 0, tzinfo=UTC)  # 23:00 Thursday in New York


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "stockpipe"


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(SystemClock, "now", lambda self: moment)


def run_loud(data_dir: Path) -> int:
    symbols = ",".join(SYMBOLS)
    return cli("run", "--data-dir", str(data_dir), "--symbols", symbols, "--as-of", str(AS_OF))


def test_bars_of_an_open_session_are_one_summary_line_saying_why(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, DURING_THE_SESSION)

    assert run_loud(data_dir) == 0

    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if "left out" in line]
    summary = [line for line in lines if not line.startswith("  ")]
    assert summary == [
        "left out 2 bar(s) dated 2024-06-07 (NVDA, AMD): its session had not closed yet in "
        "New York; they may still change; a run after the close gets them"
    ]
    assert len(lines) == len(SYMBOLS) + 1  # each symbol's line says it once, indented
    assert "  NVDA   landed 99 bars (left out 2024-06-07: its session had not closed" in (
        captured.out
    )
    assert captured.err == ""


def test_bars_dated_after_today_in_new_york_say_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, BEFORE_NEW_YORKS_DAY)

    assert run_day(data_dir, AS_OF) == 0  # --quiet

    out = capsys.readouterr().out
    assert (
        "left out 2 bar(s) dated 2024-06-07 (NVDA, AMD): dated after today in New York; "
        "no session has closed on them yet"
    ) in out.splitlines()


def test_quiet_prints_errors_and_the_summary_and_each_failure_names_its_symbol(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SampleServer(SampleMarket(end=AS_OF, years=1)) as server:
        server.always("AMD", "invalid_symbol")
        server.script("NVDA", "server_error")  # retried, then data
        environ = {
            "ALPHAVANTAGE_API_KEY": "a-real-looking-key",
            "ALPHAVANTAGE_URL": server.url,
            "MIN_CALL_INTERVAL_SECONDS": "0",
            "CALLS_PER_MINUTE": "6000",
        }
        assert run_day(data_dir, AS_OF, environ=environ) == 0

    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("stockpipe: AMD failed: ")
    out = captured.out.splitlines()
    assert not [line for line in out if line.startswith("  ") or " done in " in line]
    assert "symbols: 1 landed, 1 failed, 0 skipped" in captured.out
    assert any(line.startswith("published: 100 new rows") for line in out)
    assert "retryable answer" not in captured.out + captured.err
