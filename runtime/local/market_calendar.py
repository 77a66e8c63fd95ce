"""NYSE trading days: weekdays minus the exchange's scheduled full-day holidays.

The rules are the ones in force since 1998, when Martin Luther King Jr. Day joined the
calendar; Juneteenth counts from 2022, its first year as an NYSE holiday.

Unscheduled closures are ignored: days the exchange shut for events (2001-09-11..14,
the national days of mourning of 2004, 2007, 2018 and 2025, Hurricane Sandy on
2012-10-29/30) count as trading days here, so real data can miss a few days this
calendar expects. Early closes (13:00 half days) are full trading days for daily bars.
"""

from __future__ import annotations

from datetime import date, timedelta

_JUNETEENTH_FIRST_YEAR = 2022
_SATURDAY, _SUNDAY = 5, 6


def trading_days(start: date, end: date) -> list[date]:
    """Every NYSE trading day from start to end, both included, oldest first."""
    closed: set[date] = set()
    for year in range(start.year, end.year + 1):
        closed.update(nyse_holidays(year))
    days = []
    day = start
    while day <= end:
        if day.weekday() < _SATURDAY and day not in closed:
            days.append(day)
        day += timedelta(days=1)
    return days


def nyse_holidays(year: int) -> dict[date, str]:
    """The weekdays the NYSE is closed in `year` for a scheduled holiday, with its name.

    A holiday on a Saturday is observed on the Friday before, one on a Sunday on the
    Monday after; except New Year's Day on a Saturday, which the NYSE does not observe
    on the Friday (that Friday ends the previous year's accounting period).
    """
    closed = {
        _observed(date(year, 7, 4)): "Independence Day",
        _observed(date(year, 12, 25)): "Christmas Day",
        _nth_weekday(year, 1, 0, 3): "Martin Luther King Jr. Day",
        _nth_weekday(year, 2, 0, 3): "Washington's Birthday",
        easter_sunday(year) - timedelta(days=2): "Good Friday",
        _last_weekday(year, 5, 0): "Memorial Day",
        _nth_weekday(year, 9, 0, 1): "Labor Day",
        _nth_weekday(year, 11, 3, 4): "Thanksgiving Day",
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != _SATURDAY:
        closed[_observed(new_year)] = "New Year's Day"
    if year >= _JUNETEENTH_FIRST_YEAR:
        closed[_observed(date(year, 6, 19))] = "Juneteenth National Independence Day"
    return closed


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday, by the anonymous Gregorian computus."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_shift) // 451
    month, day = divmod(h + weekday_shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _observed(holiday: date) -> date:
    if holiday.weekday() == _SATURDAY:
        return holiday - timedelta(days=1)
    if holiday.weekday() == _SUNDAY:
        return holiday + timedelta(days=1)
    return holiday


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)
