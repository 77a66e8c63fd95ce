"""Only final bars land: the NYSE clock decides, not the answer's format, order or metadata.

"Now" is the fake clock's start: each test says when the answer was asked for, in UTC,
with New York's wall clock in the comment.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import SampleServer
from tests.runtime.ingest.conftest import (
    SAMPLE_ROWS,
    FakeClock,
    csv_body,
    expected_raw_rows,
    json_body,
    lake_rows,
    local_settings,
    make_settings,
    raw_rows,
    rows_dated,
    run,
    sample_rows,
    utc,
)

MARKET = SampleMarket(seed=11, end=date(2024, 6, 7), years=1.0)  # newest bar: Friday 06-07
BEFORE_THE_CLOSE = utc(2024, 6, 7, 19, 59, 59)  # 15:59:59 EDT
AT_THE_CLOSE = utc(2024, 6, 7, 20, 0)  # 16:00 EDT
DURING_THE_SESSION = utc(2024, 6, 7, 18, 43, 40)  # 14:43:40 EDT
OLDEST_FIRST = rows_dated("2024-06-05", "2024-06-06", "2024-06-07")
THANKSGIVING_WEEK = rows_dated("2024-11-29", "2024-11-27", "2024-11-26")


@pytest.fixture
def server() -> Iterator[SampleServer]:
    with SampleServer(MARKET) as running:
        yield running


@pytest.mark.parametrize("datatype", ["csv", "json"])
@pytest.mark.parametrize(
    ("now", "newest_landed"),
    [
        pytest.param(BEFORE_THE_CLOSE, "2024-06-06", id="before the close"),
        pytest.param(AT_THE_CLOSE, "2024-06-07", id="at the close"),
    ],
)
def test_todays_bar_lands_from_the_close_on(server, tmp_path, datatype, now, newest_landed):
    settings = local_settings(server, tmp_path, SYMBOLS="NVDA", DATATYPE=datatype)
    outcomes = {}

    run(settings, FakeClock(now), on_symbol=lambda outcome: outcomes.update(NVDA=outcome))

    served = sample_rows(MARKET, "NVDA", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    landed = lake_rows(tmp_path, "NVDA", "2024-06-07")
    held_back = newest_landed != "2024-06-07"
    assert landed == (served[1:] if held_back else served)
    assert landed[0][1] == newest_landed
    assert outcomes["NVDA"].dropped_moving_bar is held_back


def test_an_intraday_last_refreshed_does_not_hold_back_a_bar_whose_session_closed(api, s3, clock):
    # Fetched on Monday 2024-06-10 17:05 EDT: Friday's bar is final, whatever the answer says.
    api.script("NVDA", json_body("NVDA", last_refreshed="2024-06-07 14:43:40"))

    result = run(make_settings(), clock)

    assert raw_rows(s3, "NVDA") == expected_raw_rows("NVDA")
    assert result["rows"] == 9


@pytest.mark.parametrize("last_refreshed", ["2024-06-07", "2024-06-07 16:00:00"])
def test_a_json_answer_claiming_the_close_during_the_session_still_loses_todays_bar(
    api, s3, last_refreshed
):
    api.script("NVDA", json_body("NVDA", last_refreshed=last_refreshed))

    run(make_settings(SYMBOLS="NVDA"), FakeClock(DURING_THE_SESSION))

    assert raw_rows(s3, "NVDA", "2024-06-07") == expected_raw_rows(
        "NVDA", SAMPLE_ROWS[1:], "2024-06-07T18:43:40Z"
    )


@pytest.mark.parametrize(
    ("datatype", "answer"),
    [
        pytest.param("csv", csv_body(OLDEST_FIRST), id="csv"),
        pytest.param(
            "json",
            json_body("NVDA", rows=OLDEST_FIRST, last_refreshed="2024-06-07 14:43:40"),
            id="json",
        ),
    ],
)
def test_bars_listed_oldest_first_lose_the_moving_bar_not_the_oldest(api, s3, datatype, answer):
    api.script("NVDA", answer)

    run(make_settings(SYMBOLS="NVDA", DATATYPE=datatype), FakeClock(DURING_THE_SESSION))

    assert raw_rows(s3, "NVDA", "2024-06-07") == expected_raw_rows(
        "NVDA", OLDEST_FIRST[:2], "2024-06-07T18:43:40Z"
    )


@pytest.mark.parametrize(
    ("now", "landed"),
    [
        pytest.param(utc(2024, 11, 29, 18, 30), THANKSGIVING_WEEK, id="13:30 EST: closed"),
        pytest.param(utc(2024, 11, 29, 17, 59), THANKSGIVING_WEEK[1:], id="12:59 EST: open"),
    ],
)
def test_the_half_day_after_thanksgiving_closes_at_one(api, s3, now, landed):
    api.script("NVDA", json_body("NVDA", rows=THANKSGIVING_WEEK))

    run(make_settings(SYMBOLS="NVDA"), FakeClock(now))

    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert raw_rows(s3, "NVDA", "2024-11-29") == expected_raw_rows("NVDA", landed, stamp)


@pytest.mark.parametrize(
    ("now", "newest", "lands"),
    [
        # The same 20:30 UTC is 15:30 before a DST switch and 16:30 after it, or the reverse.
        pytest.param(utc(2024, 3, 8, 20, 30), "2024-03-08", False, id="Fri before DST: 15:30 EST"),
        pytest.param(utc(2024, 3, 11, 20, 30), "2024-03-11", True, id="Mon in DST: 16:30 EDT"),
        pytest.param(utc(2024, 11, 1, 20, 30), "2024-11-01", True, id="Fri in DST: 16:30 EDT"),
        pytest.param(utc(2024, 11, 4, 20, 30), "2024-11-04", False, id="Mon after: 15:30 EST"),
        pytest.param(utc(2024, 11, 4, 21, 0), "2024-11-04", True, id="Mon after: 16:00 EST"),
    ],
)
def test_the_close_follows_new_york_daylight_saving_time(api, s3, now, newest, lands):
    rows = rows_dated(newest, "2024-03-01")
    api.script("NVDA", json_body("NVDA", rows=rows))

    run(make_settings(SYMBOLS="NVDA"), FakeClock(now))

    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = rows if lands else rows[1:]
    assert raw_rows(s3, "NVDA", now.date().isoformat()) == expected_raw_rows(
        "NVDA", expected, stamp
    )


def test_a_bar_dated_after_new_yorks_today_is_left_out(api, s3, caplog):
    # 02:00 UTC on June 11 is 22:00 EDT on June 10: June 10 has closed, June 11 has not begun.
    rows = rows_dated("2024-06-11", "2024-06-10", "2024-06-07")
    api.script("NVDA", json_body("NVDA", rows=rows))

    run(make_settings(SYMBOLS="NVDA"), FakeClock(utc(2024, 6, 11, 2, 0)))

    assert raw_rows(s3, "NVDA", "2024-06-11") == expected_raw_rows(
        "NVDA", rows[1:], "2024-06-11T02:00:00Z"
    )
    (warning,) = [r for r in caplog.records if r.message.startswith("left out bars")]
    assert warning.levelname == "WARNING"
    assert (warning.symbol, warning.trade_dates) == ("NVDA", ["2024-06-11"])
    assert warning.asked_at_new_york == "2024-06-10T22:00:00-04:00"
