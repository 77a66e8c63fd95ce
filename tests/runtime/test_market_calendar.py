"""The NYSE clock against published facts, real trading history and the tz database."""

from __future__ import annotations

import csv
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from runtime.market_calendar import (
    easter_sunday,
    new_york_time,
    nyse_early_closes,
    nyse_holidays,
    session_close,
    session_has_closed,
    trading_days,
)


def _year(year: int) -> list[date]:
    return trading_days(date(year, 1, 1), date(year, 12, 31))


@pytest.mark.parametrize(
    ("year", "count"),
    [(2019, 252), (2020, 253), (2021, 252), (2022, 251), (2023, 250), (2024, 252)],
)
def test_trading_days_per_year_match_the_nyse(year: int, count: int) -> None:
    assert len(_year(year)) == count


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2024, 3, 29), "Good Friday"),
        (date(2025, 4, 18), "Good Friday"),
        (date(2024, 1, 15), "Martin Luther King Jr. Day"),
        (date(2024, 2, 19), "Washington's Birthday"),
        (date(2024, 5, 27), "Memorial Day"),
        (date(2024, 9, 2), "Labor Day"),
        (date(2024, 11, 28), "Thanksgiving Day"),
        (date(2022, 6, 20), "Juneteenth on a Sunday, observed Monday"),
        (date(2023, 6, 19), "Juneteenth"),
        (date(2022, 12, 26), "Christmas on a Sunday, observed Monday"),
        (date(2021, 12, 24), "Christmas on a Saturday, observed Friday"),
        (date(2020, 7, 3), "Independence Day on a Saturday, observed Friday"),
        (date(2021, 7, 5), "Independence Day on a Sunday, observed Monday"),
        (date(2023, 1, 2), "New Year's Day on a Sunday, observed Monday"),
    ],
)
def test_holidays_are_closed(day: date, why: str) -> None:
    assert day.weekday() < 5
    assert day not in trading_days(day - timedelta(days=3), day + timedelta(days=3)), why


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2021, 6, 18), "Juneteenth was not an NYSE holiday before 2022"),
        (date(2021, 12, 31), "New Year's Day 2022 fell on a Saturday: not observed on Friday"),
        (date(2022, 1, 3), "nor on the Monday after"),
        (date(2024, 12, 24), "Christmas Eve is an early close, not a holiday"),
        (date(2024, 11, 29), "the day after Thanksgiving is an early close"),
    ],
)
def test_days_that_look_like_holidays_are_open(day: date, why: str) -> None:
    assert day in trading_days(day, day), why


def test_weekends_are_never_trading_days() -> None:
    assert all(day.weekday() < 5 for day in trading_days(date(2015, 1, 1), date(2025, 12, 31)))


def test_bounds_are_inclusive_and_order_is_oldest_first() -> None:
    days = trading_days(date(2024, 6, 3), date(2024, 6, 7))
    assert days == [date(2024, 6, d) for d in range(3, 8)]
    assert trading_days(date(2024, 6, 7), date(2024, 6, 3)) == []


def test_each_year_has_ten_holidays_from_2022_and_names_them() -> None:
    for year in range(2022, 2030):
        closed = nyse_holidays(year)
        # 2022 and 2028: New Year's Day on a Saturday is not observed.
        assert len(closed) == (9 if date(year, 1, 1).weekday() == 5 else 10), year
        assert all(day.year == year and day.weekday() < 5 for day in closed)
    assert nyse_holidays(2024)[date(2024, 3, 29)] == "Good Friday"


@pytest.mark.parametrize(
    "easter",
    [
        date(2000, 4, 23),
        date(2008, 3, 23),
        date(2019, 4, 21),
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2038, 4, 25),  # the latest possible date
        date(2285, 3, 22),  # the earliest possible date
    ],
)
def test_easter_sunday_matches_published_dates(easter: date) -> None:
    assert easter_sunday(easter.year) == easter


# The NYSE's published half days (nyse.com holiday calendars; 2002 and 2012 from the
# exchange's historical closings list).
@pytest.mark.parametrize(
    ("year", "early"),
    [
        (2002, [date(2002, 7, 5), date(2002, 11, 29), date(2002, 12, 24)]),
        (2012, [date(2012, 7, 3), date(2012, 11, 23), date(2012, 12, 24)]),
        (2013, [date(2013, 7, 3), date(2013, 11, 29), date(2013, 12, 24)]),
        (2019, [date(2019, 7, 3), date(2019, 11, 29), date(2019, 12, 24)]),
        (2020, [date(2020, 11, 27), date(2020, 12, 24)]),
        (2021, [date(2021, 11, 26)]),
        (2022, [date(2022, 11, 25)]),
        (2023, [date(2023, 7, 3), date(2023, 11, 24)]),
        (2024, [date(2024, 7, 3), date(2024, 11, 29), date(2024, 12, 24)]),
        (2025, [date(2025, 7, 3), date(2025, 11, 28), date(2025, 12, 24)]),
        (2026, [date(2026, 11, 27), date(2026, 12, 24)]),
    ],
)
def test_early_closes_match_the_nyse(year: int, early: list[date]) -> None:
    assert sorted(nyse_early_closes(year)) == early
    assert all(day in trading_days(day, day) for day in early)
    assert {session_close(day) for day in early} == {time(13, 0)}


def test_a_regular_day_closes_at_four() -> None:
    assert session_close(date(2024, 6, 7)) == time(16, 0)
    assert nyse_early_closes(2024)[date(2024, 11, 29)] == "the day after Thanksgiving"


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "now", "closed", "why"),
    [
        (date(2024, 6, 7), _utc(2024, 6, 7, 19, 59, 59), False, "15:59:59 EDT"),
        (date(2024, 6, 7), _utc(2024, 6, 7, 20, 0), True, "16:00 EDT"),
        (date(2024, 1, 5), _utc(2024, 1, 5, 20, 59, 59), False, "15:59:59 EST"),
        (date(2024, 1, 5), _utc(2024, 1, 5, 21, 0), True, "16:00 EST"),
        (date(2024, 11, 29), _utc(2024, 11, 29, 17, 59), False, "12:59 EST on a half day"),
        (date(2024, 11, 29), _utc(2024, 11, 29, 18, 30), True, "13:30 EST on a half day"),
        (date(2024, 7, 3), _utc(2024, 7, 3, 17, 0), True, "13:00 EDT on a half day"),
        (date(2023, 7, 3), _utc(2023, 7, 3, 17, 30), True, "July 3 on a Monday is a half day"),
        (date(2020, 7, 2), _utc(2020, 7, 2, 17, 30), False, "July 2 before a Friday holiday"),
        (date(2024, 6, 6), _utc(2024, 6, 7, 13, 0), True, "yesterday's session"),
        (date(2024, 6, 10), _utc(2024, 6, 7, 23, 0), False, "a day still to come"),
        (date(2024, 6, 10), _utc(2024, 6, 11, 2, 0), True, "22:00 EDT, UTC already next day"),
        (date(2024, 6, 11), _utc(2024, 6, 11, 2, 0), False, "New York is still on June 10"),
        (date(2024, 6, 7), datetime(2024, 6, 8, 4, 59, tzinfo=timezone(timedelta(hours=9))), False,
         "any zone: 15:59 EDT"),
    ],
)  # fmt: skip
def test_a_session_has_closed_by_new_york_time(
    day: date, now: datetime, closed: bool, why: str
) -> None:
    assert session_has_closed(day, now) is closed, why


@pytest.mark.parametrize(
    ("moment", "wall_clock", "zone"),
    [
        (_utc(2024, 3, 10, 6, 59, 59), datetime(2024, 3, 10, 1, 59, 59), "EST"),
        (_utc(2024, 3, 10, 7, 0), datetime(2024, 3, 10, 3, 0), "EDT"),
        (_utc(2024, 11, 3, 5, 59, 59), datetime(2024, 11, 3, 1, 59, 59), "EDT"),
        (_utc(2024, 11, 3, 6, 0), datetime(2024, 11, 3, 1, 0), "EST"),
        (_utc(2007, 3, 11, 7, 0), datetime(2007, 3, 11, 3, 0), "EDT"),
        (_utc(2006, 4, 2, 6, 59), datetime(2006, 4, 2, 1, 59), "EST"),
        (_utc(2006, 4, 2, 7, 0), datetime(2006, 4, 2, 3, 0), "EDT"),
        (_utc(2006, 10, 29, 6, 0), datetime(2006, 10, 29, 1, 0), "EST"),
    ],
)
def test_new_york_time_switches_at_the_dst_edges(
    moment: datetime, wall_clock: datetime, zone: str
) -> None:
    local = new_york_time(moment)

    assert (local.replace(tzinfo=None), local.tzname()) == (wall_clock, zone)
    assert local == moment


def test_new_york_time_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        new_york_time(datetime(2024, 6, 7, 16, 0))


def test_new_york_time_agrees_with_the_tz_database_every_hour_of_the_switch_months() -> None:
    try:
        new_york = zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no tz database on this machine to compare with")
    hour = timedelta(hours=1)
    disagreements = []
    for year in range(1990, 2041):
        for month in (3, 4, 10, 11):
            moment = _utc(year, month, 1)
            while moment.month == month:
                if new_york_time(moment).utcoffset() != moment.astimezone(new_york).utcoffset():
                    disagreements.append(moment)
                moment += hour
    assert disagreements == []


@pytest.mark.shared_data
def test_calendar_matches_real_nvda_history_except_unscheduled_closures(nvda_csv: Path) -> None:
    with nvda_csv.open(newline="") as handle:
        traded = {date.fromisoformat(row["timestamp"]) for row in csv.DictReader(handle)}
    expected = set(trading_days(min(traded), max(traded)))

    assert traded <= expected
    assert sorted(expected - traded) == [
        date(2001, 9, 11),
        date(2001, 9, 12),
        date(2001, 9, 13),
        date(2001, 9, 14),
        date(2004, 6, 11),  # national day of mourning, Reagan
        date(2007, 1, 2),  # national day of mourning, Ford
        date(2012, 10, 29),  # Hurricane Sandy
        date(2012, 10, 30),
        date(2018, 12, 5),  # national day of mourning, G. H. W. Bush
    ]
