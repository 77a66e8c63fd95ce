"""The NYSE calendar against published facts and against real trading history."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from runtime.local.market_calendar import easter_sunday, nyse_holidays, trading_days


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
