"""Every way an Alpha Vantage call can fail, one test each, through run_ingestion.

The failing symbol is NVDA, between AMD and INTC: each test checks what happened to
NVDA, how often it was called, and that the good symbols still landed intact.
"""

from __future__ import annotations

import pytest
import requests

from runtime.ingest.errors import ApiKeyRejected, IngestionFailed
from runtime.local.alphavantage_bodies import FAILURE_BODIES
from tests.runtime.ingest.conftest import (
    expected_raw_rows,
    json_body,
    landed_keys,
    make_settings,
    raw_keys,
    raw_rows,
    records_fresh,
    run,
)

pytestmark = pytest.mark.aws


def assert_landed(s3, *symbols: str) -> None:
    for symbol in symbols:
        assert raw_rows(s3, symbol) == expected_raw_rows(symbol)


def test_all_symbols_land_when_nothing_fails(api, s3, clock):
    result = run(make_settings(), clock)

    first = "first ingestion of the symbol: 0 splits"
    assert result == {
        "ingest_date": "2024-06-10",
        "succeeded": ["AMD", "NVDA", "INTC"],
        "failed": {},
        "skipped": {},
        "rows": 9,
        "splits": {
            "landed": {"AMD": first, "NVDA": first, "INTC": first},
            "failed": {},
            "deferred": {},
        },
        "calls_deferred": 0,
        "call_budget": {"day": "2024-06-10", "limit": 25, "used": 6},
    }
    assert_landed(s3, "AMD", "NVDA", "INTC")
    assert [(c.symbol, c.outputsize, c.datatype) for c in api.calls] == [
        ("AMD", "compact", "json"),
        ("NVDA", "compact", "json"),
        ("INTC", "compact", "json"),
    ]


@pytest.mark.parametrize(
    ("answer", "reason_part"),
    [
        pytest.param(FAILURE_BODIES["invalid_symbol"], "unknown symbol?", id="invalid_symbol"),
        pytest.param(FAILURE_BODIES["empty"], "empty object {}", id="empty"),
        pytest.param(
            FAILURE_BODIES["premium_endpoint"], "premium-only for this key", id="premium_endpoint"
        ),
        pytest.param(
            {"Information": "We are upgrading our systems; see the status page."},
            "a notice instead of data",
            id="unknown_information",
        ),
    ],
)
def test_a_symbol_the_api_refuses_fails_without_retry(api, s3, clock, answer, reason_part):
    api.script("NVDA", answer)

    result = run(make_settings(), clock)

    assert result["succeeded"] == ["AMD", "INTC"]
    assert list(result["failed"]) == ["NVDA"]
    assert reason_part in result["failed"]["NVDA"]
    assert len(api.calls_for("NVDA")) == 1
    assert_landed(s3, "AMD", "INTC")
    assert raw_keys(s3, "NVDA") == []


def _with_bar(day: str, **fields: str) -> dict:
    body = json_body("NVDA")
    body["Time Series (Daily)"][day] = {**body["Time Series (Daily)"]["2024-06-07"], **fields}
    return body


@pytest.mark.parametrize(
    ("body", "reason_part"),
    [
        pytest.param(json_body("AMD"), "for symbol 'AMD', not 'NVDA'", id="symbol_mismatch"),
        pytest.param(_with_bar("2024-02-30"), "'2024-02-30' is not a date", id="bad_date"),
        pytest.param(_with_bar("06/04/2024"), "'06/04/2024' is not a date", id="date_format"),
        pytest.param(
            _with_bar("2024-06-04", **{"2. high": "n/a"}), "high 'n/a' is not a number", id="price"
        ),
        pytest.param(
            _with_bar("2024-06-04", **{"5. volume": "1.5e6"}),
            "volume '1.5e6' is not a whole number",
            id="volume",
        ),
        pytest.param(
            {"Meta Data": json_body("NVDA")["Meta Data"]}, "lacks 'Meta Data' or", id="no_series"
        ),
        pytest.param(
            '{"Meta Data": {"2. Symbol": "NVDA"}, "Time Series (Daily)": '
            '{"2024-06-07": {"1. open": "1"}, "2024-06-07": {"1. open": "2"}}}',
            "lists '2024-06-07' twice",
            id="duplicate_date",
        ),
    ],
)
def test_a_malformed_series_fails_the_symbol_without_landing_anything(
    api, s3, clock, body, reason_part
):
    api.script("NVDA", body)

    result = run(make_settings(), clock)

    assert reason_part in result["failed"]["NVDA"]
    assert len(api.calls_for("NVDA")) == 1
    assert result["succeeded"] == ["AMD", "INTC"]
    assert_landed(s3, "AMD", "INTC")
    assert raw_keys(s3, "NVDA") == []


@pytest.mark.parametrize("kind", ["burst", "burst_legacy"])
def test_burst_throttle_backs_off_and_retries_without_giving_up_for_the_day(api, s3, clock, kind):
    # Both wordings also mention a per-day limit: they must not read as the daily quota.
    api.script("NVDA", FAILURE_BODIES[kind], FAILURE_BODIES[kind])
    records_fresh(s3, "AMD", "NVDA", "INTC")  # only price calls, so only backoff waits long

    result = run(make_settings(), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert len(api.calls_for("NVDA")) == 3
    assert_landed(s3, "AMD", "NVDA", "INTC")
    # Backoff starts at the budget's spacing (60 s / 5 calls) and doubles.
    assert [s for s in clock.sleeps if s >= 12] == [12.0, 24.0]


def test_persistent_burst_throttle_fails_the_symbol_after_bounded_retries(api, s3, clock):
    api.always["NVDA"] = FAILURE_BODIES["burst"]

    result = run(make_settings(), clock)

    assert len(api.calls_for("NVDA")) == 4
    assert "burst limit" in result["failed"]["NVDA"]
    assert "gave up after 4 attempts" in result["failed"]["NVDA"]
    assert result["succeeded"] == ["AMD", "INTC"]
    assert_landed(s3, "AMD", "INTC")


def test_daily_quota_stops_calling_and_skips_the_rest(api, s3, clock):
    api.script("NVDA", FAILURE_BODIES["daily_quota"])

    result = run(make_settings(SYMBOLS="AMD,NVDA,INTC,MU"), clock)

    assert result["succeeded"] == ["AMD"]
    assert result["failed"] == {}
    assert list(result["skipped"]) == ["NVDA", "INTC", "MU"]
    assert all("daily request quota" in reason for reason in result["skipped"].values())
    assert [c.symbol for c in api.calls] == ["AMD", "NVDA"]
    assert_landed(s3, "AMD")


def test_premium_full_falls_back_to_compact_once_for_the_run(api, s3, clock, caplog):
    api.script("AMD", FAILURE_BODIES["premium_full"])

    result = run(make_settings(OUTPUT_SIZE="full"), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert [(c.symbol, c.outputsize) for c in api.calls] == [
        ("AMD", "full"),
        ("AMD", "compact"),
        ("NVDA", "compact"),
        ("INTC", "compact"),
    ]
    assert_landed(s3, "AMD", "NVDA", "INTC")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "outputsize=full is premium-only for this key; fell back to compact" in warnings


@pytest.mark.parametrize("kind", ["invalid_key", "demo_key"])
def test_a_rejected_key_fails_the_whole_run_clearly_and_keeps_what_landed(api, s3, clock, kind):
    api.script("NVDA", FAILURE_BODIES[kind])

    with pytest.raises(ApiKeyRejected) as raised:
        run(make_settings(), clock)

    message = str(raised.value)
    assert message.startswith("Alpha Vantage rejected the API key from ALPHAVANTAGE_API_KEY")
    result = raised.value.result
    assert result["succeeded"] == ["AMD"]
    assert list(result["failed"]) == ["NVDA"]
    assert result["skipped"] == {"INTC": "not attempted: the API key was rejected"}
    assert [c.symbol for c in api.calls] == ["AMD", "NVDA"]
    assert_landed(s3, "AMD")


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(requests.ConnectTimeout("connect timed out"), id="connect_timeout"),
        pytest.param(requests.ReadTimeout("read timed out"), id="read_timeout"),
        pytest.param(requests.ConnectionError("Connection reset by peer"), id="connection_reset"),
        pytest.param((503, "<html><h1>503 Service Unavailable</h1></html>"), id="server_error"),
        pytest.param((200, "<!DOCTYPE html><html>maintenance</html>"), id="non_json"),
        pytest.param((200, '{"Meta Data": {"1. Information": "Daily'), id="truncated_json"),
        pytest.param((200, ""), id="empty_body"),
    ],
)
def test_transport_failures_are_retried_with_backoff(api, s3, clock, failure):
    api.script("NVDA", failure)

    result = run(make_settings(), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert len(api.calls_for("NVDA")) == 2
    assert 1.0 in clock.sleeps
    assert_landed(s3, "AMD", "NVDA", "INTC")


def test_transport_failures_give_up_after_bounded_retries(api, s3, clock):
    api.always["NVDA"] = (503, "<html>bad gateway</html>")
    unpaced = make_settings(CALLS_PER_MINUTE="100", MIN_CALL_INTERVAL_SECONDS="0")

    result = run(unpaced, clock)

    assert result["failed"] == {"NVDA": "the API answered HTTP 503 (gave up after 4 attempts)"}
    assert len(api.calls_for("NVDA")) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert_landed(s3, "AMD", "INTC")


def test_a_truncated_csv_is_retried(api, s3, clock):
    full = "timestamp,open,high,low,close,volume\r\n2024-06-07,1197.7000,1216.9171,1180.2200,12"
    api.script("NVDA", full)

    result = run(make_settings(DATATYPE="csv"), clock)

    assert result["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert len(api.calls_for("NVDA")) == 2
    assert_landed(s3, "AMD", "NVDA", "INTC")


def test_no_symbol_succeeding_raises_with_every_reason(api, s3, clock):
    for symbol in ("AMD", "NVDA", "INTC"):
        api.script(symbol, FAILURE_BODIES["invalid_symbol"])

    with pytest.raises(IngestionFailed, match=r"^no symbol succeeded \(AMD: .*NVDA: .*INTC: "):
        run(make_settings(), clock)

    assert landed_keys(s3) == []


def test_an_answer_without_bars_fails_instead_of_landing_nothing(api, s3, clock):
    api.script("NVDA", json_body("NVDA", rows=(), last_refreshed="2024-06-07"))

    result = run(make_settings(), clock)

    assert result["failed"] == {"NVDA": "the answer held no final bars"}
    assert_landed(s3, "AMD", "INTC")
