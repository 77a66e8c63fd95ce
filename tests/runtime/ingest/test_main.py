"""`python -m runtime.ingest`: the shell entry point over the same environment contract."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest

from runtime.ingest.__main__ import main
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import SampleServer


def test_a_local_run_prints_the_summary_and_lands_the_files(tmp_path, monkeypatch, capsys):
    with SampleServer(SampleMarket(end=date(2024, 6, 7), years=1.0)) as server:
        monkeypatch.setenv("ALPHAVANTAGE_URL", server.url)
        monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "local-key")
        monkeypatch.setenv("SINK", "local")
        monkeypatch.setenv("LAKE_DIR", str(tmp_path))
        monkeypatch.setenv("MIN_CALL_INTERVAL_SECONDS", "0")

        before = datetime.now(UTC)
        code = main(["--symbols", "NVDA,AMD", "--ingest-date", "2024-06-07"])
        after = datetime.now(UTC)

    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "ingest_date": "2024-06-07",
        "succeeded": ["NVDA", "AMD"],
        "failed": {},
        "skipped": {},
        "rows": 200,
        "splits": {
            "landed": {
                "NVDA": "first ingestion of the symbol: 0 splits",
                "AMD": "first ingestion of the symbol: 0 splits",
            },
            "failed": {},
            "deferred": {},
        },
        "calls_deferred": 0,
        "call_budget": {"day": summary["call_budget"]["day"], "limit": 25, "used": 4},
    }
    names = [p.name for p in (tmp_path / "raw" / "dt=2024-06-07").iterdir()]
    landed = {re.fullmatch(r"(AMD|NVDA)-(\d{8}T\d{12}Z)\.csv", name).groups() for name in names}
    (landing,) = {time for _, time in landed}  # one landing time per run
    assert {symbol for symbol, _ in landed} == {"AMD", "NVDA"}
    assert before <= datetime.strptime(landing, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC) <= after


def test_bad_configuration_is_one_line_on_stderr(monkeypatch, capsys):
    for name in ("ALPHAVANTAGE_API_KEY", "ALPHAVANTAGE_SECRET_ARN", "DATA_BUCKET"):
        monkeypatch.delenv(name, raising=False)

    code = main([])

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: invalid ingestion configuration: exactly one of")
    assert "Traceback" not in err


def test_a_bad_option_value_is_reported_as_such(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "local-key")
    monkeypatch.setenv("SINK", "local")
    monkeypatch.setenv("LAKE_DIR", str(tmp_path))

    code = main(["--ingest-date", "June 7"])

    assert code == 1
    assert "event field 'ingest_date' must be a date YYYY-MM-DD, got 'June 7'" in (
        capsys.readouterr().err
    )


def test_an_ingest_date_after_today_is_refused_before_any_call(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "local-key")
    monkeypatch.setenv("SINK", "local")
    monkeypatch.setenv("LAKE_DIR", str(tmp_path))
    today = datetime.now(UTC).date()

    with SampleServer(SampleMarket(end=today, years=1.0)) as server:
        monkeypatch.setenv("ALPHAVANTAGE_URL", server.url)
        code = main(["--symbols", "NVDA", "--ingest-date", "2099-01-01"])
        served = server.requests

    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "error: invalid ingestion event: event field 'ingest_date'='2099-01-01' is after "
        f"today ({today}, UTC): an ingest date cannot be in the future\n"
    )
    assert served == []
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(autouse=True)
def no_inherited_ingest_env(monkeypatch):
    for name in ("SYMBOLS", "OUTPUT_SIZE", "DATATYPE", "RAW_PREFIX", "CALLS_PER_MINUTE"):
        monkeypatch.delenv(name, raising=False)
