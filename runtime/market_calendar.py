"""The NYSE's clock: trading days, scheduled holidays and early closes, New York time.

Standard library only, with its own US/Eastern rule instead of zoneinfo: the Lambda
artifact holds the runtime package and requests, and zoneinfo needs a tz database (the
`tzdata` package or the system's) that the artifact does not guarantee.

The rules are the ones in force since 1998, when Martin Luther King Jr. Day joined the
calendar; Juneteenth counts from 2022, its first year as an NYSE holiday.

Unscheduled closures are ignored: days the exchange shut for events (2001-09-11..14,
the national days of mourning of 2004, 2007, 2018 and 2025, Hurricane Sandy on
2012-10-29/30) count as trading days here, so real data can miss a few days this
calendar expects. Early closes (13:00 half days) are full trading days for daily bars;
only the moment their session ends differs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

_JUNETEENTH_FIRST_YEAR = 2022
# Until 2012 a July 4 on a Thursday made the Friday after it the half day; since 2013
# it is the Wednesday before.
_JULY_3_ON_WEDNESDAY_FIRST_YEAR = 2013
_WEDNESDAY, _THURSDAY, _FRIDAY, _SATURDAY, _SUNDAY = 2, 3, 4, 5, 6

REGULAR_CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)

EASTERN_STANDARD = timezone(timedelta(hours=-5), "EST")
EASTERN_DAYLIGHT = timezone(timedelta(hours=-4), "EDT")
# Daylight saving time since 2007 (Energy Policy Act of 2005); 1987-2006 it ran from the
# first Sunday of April to the last Sunday of October. Both switch at 02:00 local time.
_DST_2007_FIRST_YEAR = 2007
_DST_SWITCH_HOUR = 2


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
        _thanksgiving(year): "Thanksgiving Day",
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != _SATURDAY:
        closed[_observed(new_year)] = "New Year's Day"
    if year >= _JUNETEENTH_FIRST_YEAR:
        closed[_observed(date(year, 6, 19))] = "Juneteenth National Independence Day"
    return closed


def nyse_early_closes(year: int) -> dict[date, str]:
    """The trading days of `year` whose session ends at 13:00 New York time, with why.

    The day after Thanksgiving always; Christmas Eve when it is a trading day (Monday to
    Thursday: on a Friday it is the observed Christmas); July 3 when it is a trading day
    (July 4 on Tuesday to Friday), except that until 2012 a July 4 on a Thursday moved
    the half day to Friday July 5.
    """
    early = {_thanksgiving(year) + timedelta(days=1): "the day after Thanksgiving"}
    christmas_eve = date(year, 12, 24)
    if christmas_eve.weekday() < _FRIDAY:
        early[christmas_eve] = "Christmas Eve"
    july_3 = date(year, 7, 3)
    if july_3.weekday() == _WEDNESDAY and year < _JULY_3_ON_WEDNESDAY_FIRST_YEAR:
        early[date(year, 7, 5)] = "the day after Independence Day"
    elif july_3.weekday() < _FRIDAY:
        early[july_3] = "the day before Independence Day"
    return early


def session_close(day: date) -> time:
    """When the session of `day` ends, New York time: 13:00 on an early close, else 16:00."""
    return EARLY_CLOSE if day in nyse_early_closes(day.year) else REGULAR_CLOSE


def new_york_time(moment: datetime) -> datetime:
    """`moment` (timezone-aware) as New York's wall clock, with EST or EDT as its zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the moment must be timezone-aware")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    starts, ends = _daylight_saving_utc(utc.year)
    zone = EASTERN_DAYLIGHT if starts <= utc < ends else EASTERN_STANDARD
    return moment.astimezone(zone)


def session_has_closed(day: date, now: datetime) -> bool:
    """Whether the session of `day` is over at `now` (aware): its daily bar is final.

    A day before New York's today has closed, today's closes at `session_close`, and a
    day after today has not even opened.
    """
    local = new_york_time(now)
    if day != local.date():
        return day < local.date()
    return local.time() >= session_close(day)


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


def _daylight_saving_utc(year: int) -> tuple[datetime, datetime]:
    """The naive UTC moments daylight saving time starts and ends in New York in `year`."""
    if year >= _DST_2007_FIRST_YEAR:
        starts, ends = _nth_weekday(year, 3, _SUNDAY, 2), _nth_weekday(year, 11, _SUNDAY, 1)
    else:
        starts, ends = _nth_weekday(year, 4, _SUNDAY, 1), _last_weekday(year, 10, _SUNDAY)
    # 02:00 EST is 07:00 UTC; 02:00 EDT is 06:00 UTC.
    switch = time(_DST_SWITCH_HOUR)
    return (
        datetime.combine(starts, switch) - EASTERN_STANDARD.utcoffset(None),
        datetime.combine(ends, switch) - EASTERN_DAYLIGHT.utcoffset(None),
    )


def _thanksgiving(year: int) -> date:
    return _nth_weekday(year, 11, _THURSDAY, 4)


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
