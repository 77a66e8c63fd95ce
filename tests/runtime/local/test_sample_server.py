"""The sample server speaks TIME_SERIES_DAILY over real HTTP, including its failures."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date

import pytest
import requests

from runtime.local.alphavantage_bodies import FAILURE_BODIES
from runtime.local.sample_market import SAMPLE_LABEL, SampleMarket
from runtime.local.sample_server import RateLimit, SampleServer, main

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
SECRET = "SECRETKEY-8f3a9c"
PRICE = re.compile(r"^\d+\.\d{4}$")


@pytest.fixture(scope="module")
def market() -> SampleMarket:
    return SampleMarket(seed=7, end=date(2024, 6, 7), years=2)


@pytest.fixture
def server(market: SampleMarket) -> Iterator[SampleServer]:
    with SampleServer(market, stall_seconds=5) as running:
        yield running


def call(
    server: SampleServer, symbol: str | None = "NVDA", *, timeout: float = 5, **params: str
) -> requests.Response:
    query = {"function": "TIME_SERIES_DAILY", "apikey": SECRET, **params}
    if symbol is not None:
        query["symbol"] = symbol
    return requests.get(server.url, params=query, timeout=timeout)


def kinds(server: SampleServer) -> list[str]:
    return [served.kind for served in server.requests]


def test_compact_json_is_the_latest_100_bars_in_the_api_shape(
    server: SampleServer, market: SampleMarket
) -> None:
    response = call(server)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"Meta Data", "Time Series (Daily)"}
    assert body["Meta Data"] == {
        "1. Information": body["Meta Data"]["1. Information"],
        "2. Symbol": "NVDA",
        "3. Last Refreshed": "2024-06-07",
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern",
    }
    assert SAMPLE_LABEL in body["Meta Data"]["1. Information"]
    series = body["Time Series (Daily)"]
    expected = market.bars("NVDA")[:100]
    assert list(series) == [bar.trade_date.isoformat() for bar in expected]  # newest first
    for bar in expected:
        values = series[bar.trade_date.isoformat()]
        assert list(values) == ["1. open", "2. high", "3. low", "4. close", "5. volume"]
        assert all(PRICE.match(values[name]) for name in list(values)[:4])
        assert values["1. open"] == str(bar.open)
        assert values["2. high"] == str(bar.high)
        assert values["3. low"] == str(bar.low)
        assert values["4. close"] == str(bar.close)
        assert values["5. volume"] == str(bar.volume)


def test_full_json_holds_every_bar(server: SampleServer, market: SampleMarket) -> None:
    body = call(server, outputsize="full").json()

    assert body["Meta Data"]["4. Output Size"] == "Full size"
    assert len(body["Time Series (Daily)"]) == len(market.bars("NVDA")) > 100


@pytest.mark.parametrize(("outputsize", "bars"), [("compact", 100), ("full", None)])
def test_csv_has_the_api_header_and_rows_newest_first(
    server: SampleServer, market: SampleMarket, outputsize: str, bars: int | None
) -> None:
    response = call(server, "AMD", datatype="csv", outputsize=outputsize)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["timestamp", "open", "high", "low", "close", "volume"]
    expected = market.bars("AMD")[:bars]
    assert rows[1:] == [
        [
            b.trade_date.isoformat(),
            str(b.open),
            str(b.high),
            str(b.low),
            str(b.close),
            str(b.volume),
        ]
        for b in expected
    ]


@pytest.mark.parametrize("kind", sorted(set(FAILURE_BODIES) - {"premium_full"}))
@pytest.mark.parametrize("datatype", ["json", "csv"])
def test_scripted_failure_bodies_arrive_as_json_with_http_200(
    server: SampleServer, kind: str, datatype: str
) -> None:
    server.script("NVDA", kind)

    response = call(server, datatype=datatype)

    assert response.status_code == 200
    assert response.json() == FAILURE_BODIES[kind]
    assert kinds(server) == [kind]


def test_a_script_is_served_in_order_then_data_again(server: SampleServer) -> None:
    server.script("NVDA", "burst", "empty")

    bodies = [call(server).json() for _ in range(3)]
    other = call(server, "AMD").json()

    assert bodies[0] == FAILURE_BODIES["burst"]
    assert bodies[1] == {}
    assert "Time Series (Daily)" in bodies[2]
    assert "Time Series (Daily)" in other
    assert kinds(server) == ["burst", "empty", "ok", "ok"]


def test_always_serves_a_kind_on_every_call_after_the_script(server: SampleServer) -> None:
    server.always("INTC", "invalid_symbol")
    server.script("INTC", "burst")

    bodies = [call(server, "INTC").json() for _ in range(3)]

    assert bodies == [FAILURE_BODIES["burst"]] + [FAILURE_BODIES["invalid_symbol"]] * 2
    assert "Time Series (Daily)" in call(server, "AMD").json()


def test_premium_full_refuses_full_but_serves_compact(server: SampleServer) -> None:
    server.always("NVDA", "premium_full")

    full = call(server, outputsize="full").json()
    compact = call(server, outputsize="compact").json()

    assert full == FAILURE_BODIES["premium_full"]
    assert compact["Meta Data"]["4. Output Size"] == "Compact"
    assert kinds(server) == ["premium_full", "ok"]


def test_non_json_is_an_html_page_with_http_200(server: SampleServer) -> None:
    server.script("NVDA", "non_json")

    response = call(server)

    assert response.status_code == 200
    assert response.text.lstrip().startswith("<!DOCTYPE html>")
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_truncated_is_the_json_body_cut_short(server: SampleServer) -> None:
    server.script("NVDA", "truncated")

    cut = call(server)
    whole = call(server)

    assert cut.status_code == 200
    assert 0 < len(cut.text) < len(whole.text)
    assert whole.text.startswith(cut.text)
    with pytest.raises(requests.JSONDecodeError):
        cut.json()


def test_server_error_is_a_503_with_html(server: SampleServer) -> None:
    server.script("NVDA", "server_error")

    response = call(server)

    assert response.status_code == 503
    assert "<html>" in response.text


def test_timeout_holds_the_call_past_the_clients_timeout(server: SampleServer) -> None:
    server.script("NVDA", "timeout")

    with pytest.raises(requests.ReadTimeout):
        call(server, timeout=0.2)
    assert call(server, timeout=2).status_code == 200
    assert kinds(server) == ["timeout", "ok"]


def test_a_stall_shorter_than_the_clients_timeout_is_just_slow(market: SampleMarket) -> None:
    with SampleServer(market, stall_seconds=0.1) as slow:
        slow.script("NVDA", "timeout")
        started = time.monotonic()
        response = call(slow, timeout=5)
    assert time.monotonic() - started >= 0.1
    assert "Time Series (Daily)" in response.json()


def test_closing_releases_a_stalled_call_at_once(market: SampleMarket) -> None:
    running = SampleServer(market, stall_seconds=60).start()
    running.script("NVDA", "timeout")
    with pytest.raises(requests.ReadTimeout):
        call(running, timeout=0.1)
    started = time.monotonic()
    running.close()
    assert time.monotonic() - started < 2


def test_connection_reset_drops_the_connection(server: SampleServer) -> None:
    server.script("NVDA", "connection_reset")

    with pytest.raises(requests.ConnectionError):
        call(server)
    assert call(server).status_code == 200


def test_unknown_kinds_are_refused_with_the_valid_ones_named(server: SampleServer) -> None:
    expected = r"unknown failure kind 'slow'; expected one of .*connection_reset"
    with pytest.raises(ValueError, match=expected):
        server.script("NVDA", "slow")
    with pytest.raises(ValueError, match="unknown failure kind"):
        server.always("NVDA", "slow")


def test_missing_apikey_is_invalid_key_and_demo_gets_the_demo_body(server: SampleServer) -> None:
    missing = requests.get(
        server.url, params={"function": "TIME_SERIES_DAILY", "symbol": "NVDA"}, timeout=5
    )
    blank = call(server, apikey="")
    demo = call(server, apikey="demo")

    assert missing.json() == FAILURE_BODIES["invalid_key"]
    assert blank.json() == FAILURE_BODIES["invalid_key"]
    assert demo.json() == FAILURE_BODIES["demo_key"]
    assert kinds(server) == ["invalid_key", "invalid_key", "demo_key"]


def test_unknown_function_gets_an_error_message(server: SampleServer) -> None:
    response = call(server, function="TIME_SERIES_WEEKLY")

    assert response.status_code == 200
    assert response.json() == FAILURE_BODIES["invalid_symbol"]


@pytest.mark.parametrize("symbol", ["nvda", "TOOLONGSYMBOL", "NV DA", "BRK_B", None])
def test_unknown_symbols_get_an_error_message(server: SampleServer, symbol: str | None) -> None:
    response = call(server, symbol)

    assert response.status_code == 200
    assert response.json() == FAILURE_BODIES["invalid_symbol"]


def test_a_dotted_symbol_is_served(server: SampleServer) -> None:
    assert call(server, "BRK.B").json()["Meta Data"]["2. Symbol"] == "BRK.B"


def test_other_paths_are_not_found(server: SampleServer) -> None:
    response = requests.get(server.url.replace("/query", "/other"), timeout=5)

    assert response.status_code == 404
    assert server.requests == []


def test_rate_limit_answers_the_burst_body_beyond_the_budget(market: SampleMarket) -> None:
    with SampleServer(market, rate_limit=RateLimit(calls=2, per_seconds=60)) as limited:
        bodies = [call(limited).json() for _ in range(3)]

    assert "Time Series (Daily)" in bodies[0]
    assert "Time Series (Daily)" in bodies[1]
    assert bodies[2] == FAILURE_BODIES["burst"]
    assert kinds(limited) == ["ok", "ok", "burst"]


def test_rate_limit_refills_over_time(market: SampleMarket) -> None:
    with SampleServer(market, rate_limit=RateLimit(calls=1, per_seconds=0.3)) as limited:
        call(limited)
        call(limited)
        time.sleep(0.35)
        call(limited)

    assert kinds(limited) == ["ok", "burst", "ok"]


def test_a_throttled_call_does_not_use_up_the_script(market: SampleMarket) -> None:
    with SampleServer(market, rate_limit=RateLimit(calls=1, per_seconds=60)) as limited:
        limited.script("NVDA", "empty")
        call(limited, "AMD")
        call(limited)

    assert kinds(limited) == ["ok", "burst"]


def test_rate_limit_holds_under_concurrent_calls(market: SampleMarket) -> None:
    with SampleServer(market, rate_limit=RateLimit(calls=4, per_seconds=60)) as limited:
        threads = [threading.Thread(target=call, args=(limited,)) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(kinds(limited)) == ["burst"] * 8 + ["ok"] * 4


def test_daily_quota_stops_serving_after_the_budget(market: SampleMarket) -> None:
    with SampleServer(market, daily_quota=2) as quota:
        quota.script("AMD", "server_error")
        statuses = [call(quota, "AMD").status_code, call(quota).status_code]
        spent = [call(quota).json(), call(quota, "INTC").json()]

    assert statuses == [503, 200]  # a failed call still counts
    assert spent == [FAILURE_BODIES["daily_quota"]] * 2
    assert kinds(quota) == ["server_error", "ok", "daily_quota", "daily_quota"]


def test_requests_are_recorded_with_their_parameters(server: SampleServer) -> None:
    call(server, "AMD", outputsize="full", datatype="csv")
    call(server)

    first, second = server.requests
    assert (first.symbol, first.outputsize, first.datatype, first.kind) == (
        "AMD",
        "full",
        "csv",
        "ok",
    )
    assert (second.outputsize, second.datatype) == ("compact", "json")
    assert first.at <= second.at
    assert first.at.tzinfo is not None


def test_the_apikey_is_never_recorded_logged_or_echoed(
    market: SampleMarket, capfd: pytest.CaptureFixture[str]
) -> None:
    scripted = [*FAILURE_BODIES, "non_json", "truncated", "server_error"]
    with SampleServer(market, daily_quota=len(scripted) + 3) as watched:
        watched.script("NVDA", *scripted)
        texts = [call(watched, outputsize="full").text for _ in scripted]
        texts += [call(watched).text, call(watched, function="NOPE").text]
        texts += [call(watched, "nvda").text, call(watched).text]
        recorded = repr(watched.requests)
    out, err = capfd.readouterr()

    assert texts[-1] == json.dumps(FAILURE_BODIES["daily_quota"], indent=4)
    for text in [*texts, recorded, out, err]:
        assert SECRET not in text


def test_url_needs_a_running_server(market: SampleMarket) -> None:
    idle = SampleServer(market)
    with pytest.raises(RuntimeError, match="not running"):
        _ = idle.url


def test_rate_limit_and_quota_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="calls >= 1"):
        RateLimit(0, 60)
    with pytest.raises(ValueError, match="per_seconds > 0"):
        RateLimit(5, 0)
    with pytest.raises(ValueError, match="daily_quota"):
        SampleServer(daily_quota=-1)


def test_command_line_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.local.sample_server",
            "--port",
            "0",
            "--seed",
            "3",
            "--as-of",
            "2024-06-07",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline() + process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/query", banner).group(0)
        response = requests.get(
            url,
            params={"function": "TIME_SERIES_DAILY", "symbol": "NVDA", "apikey": SECRET},
            timeout=5,
        )
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)

    assert process.returncode == 0
    assert response.json()["Meta Data"]["3. Last Refreshed"] == "2024-06-07"
    assert SAMPLE_LABEL in banner
    assert SECRET not in banner + out + err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--as-of", "2024-13-01"], "'2024-13-01' is not a date: use YYYY-MM-DD"),
        (["--as-of", "20240607"], "'20240607' is not a date: use YYYY-MM-DD from 1990-01-01"),
        (["--as-of", "1900-01-01"], "'1900-01-01' is not a date: use YYYY-MM-DD from 1990-01-01"),
        (["--rate-limit", "five"], "'five' is not a rate limit; use CALLS/SECONDS"),
        (["--rate-limit", "0/60"], "'0/60' is not a rate limit"),
        (["--daily-quota", "-1"], "--daily-quota must be 0 or more"),
        (["--port", "99999"], "'99999' is not a port: use 0 to 65535"),
    ],
)
def test_command_line_rejects_bad_input_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


def test_command_line_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main(["--port", str(port)]) == 2

    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_failure_bodies_use_the_wording_clients_match() -> None:
    assert "Invalid API call" in FAILURE_BODIES["invalid_symbol"]["Error Message"]
    assert "apikey is invalid or missing" in FAILURE_BODIES["invalid_key"]["Error Message"]
    assert "25 requests per day" in FAILURE_BODIES["daily_quota"]["Information"]
    burst = FAILURE_BODIES["burst"]["Information"]
    assert "spreading out your free API requests more sparingly" in burst
    assert "25 requests per day" in burst  # as the real one does: burst before quota
    assert "5 calls per minute and 500 calls per day" in FAILURE_BODIES["burst_legacy"]["Note"]
    assert "outputsize=full parameter value is a premium feature" in str(
        FAILURE_BODIES["premium_full"]
    )
    assert "This is a premium endpoint" in FAILURE_BODIES["premium_endpoint"]["Information"]
    assert "The **demo** API key is for demo purposes only" in str(FAILURE_BODIES["demo_key"])
    assert FAILURE_BODIES["empty"] == {}
    assert json.loads(json.dumps(FAILURE_BODIES)) == FAILURE_BODIES


def test_splits_serves_the_markets_record_in_the_api_shape(
    server: SampleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from decimal import Decimal

    from runtime.local import sample_market

    monkeypatch.setitem(
        sample_market.SAMPLE_SPLITS,
        "NVDA",
        ((date(2024, 6, 10), Decimal(10)), (date(2023, 1, 3), Decimal("0.5"))),
    )

    nvda = call(server, "NVDA", function="SPLITS").json()
    amd = call(server, "AMD", function="SPLITS").json()

    # The market ends on 2024-06-07: a split after it is not served yet.
    assert nvda == {
        "symbol": "NVDA",
        "data": [{"effective_date": "2023-01-03", "split_factor": "0.5000"}],
    }
    assert amd == {"symbol": "AMD", "data": []}
    assert [(r.function, r.kind) for r in server.requests] == [("SPLITS", "ok")] * 2


def test_failures_are_scripted_per_function(server: SampleServer) -> None:
    server.script("NVDA", "burst", function="SPLITS")

    prices = call(server, "NVDA")
    splits = call(server, "NVDA", function="SPLITS").json()

    assert prices.status_code == 200
    assert "Time Series (Daily)" in prices.json()
    assert "spreading out" in splits["Information"]
