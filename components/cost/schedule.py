"""How many times a month an EventBridge Scheduler expression fires, on average.

cron(minutes hours day-of-month month day-of-week year) is counted over the days of four
years (a leap cycle) and divided by 48 months; rate(N unit) by its period. `L`, `W` and `#`
days count once a month. The expression was validated by the stack configuration already.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

DAYS_PER_MONTH = 365.25 / 12
_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_CYCLE_START = date(2025, 1, 1)
_CYCLE_DAYS = 4 * 365 + 1


def runs_per_month(expression: str) -> float:
    rate = _RATE.match(expression)
    if rate:
        period = int(rate.group(1)) * _SECONDS[rate.group(2)]
        return DAYS_PER_MONTH * 86400 / period
    minutes, hours, dom, month, dow, _year = expression[len("cron(") : -1].split()
    per_day = len(_values(minutes, 0, 59)) * len(_values(hours, 0, 23))
    if any(special in dom + dow for special in "LW#"):
        return float(per_day)
    months = _values(month, 1, 12, _MONTHS, 1)
    days_of_month = _values(dom, 1, 31)
    weekdays = _values(dow, 1, 7, _DAYS, 1)
    matching = 0
    for offset in range(_CYCLE_DAYS):
        day = _CYCLE_START + timedelta(days=offset)
        weekday = (day.weekday() + 1) % 7 + 1  # EventBridge: 1 = Sunday
        if (
            day.month in months
            and (dom == "?" or day.day in days_of_month)
            and (dow == "?" or weekday in weekdays)
        ):
            matching += 1
    return per_day * matching / 48


def _values(field: str, low: int, high: int, names: list[str] | None = None, base: int = 0) -> set:
    if field in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = low, high
        else:
            first_text, _, last_text = span.partition("-")
            first = _number(first_text, names, base)
            last = _number(last_text, names, base) if last_text else (high if step else first)
        values.update(range(first, last + 1, int(step) if step else 1))
    return values


def _number(text: str, names: list[str] | None, base: int) -> int:
    if names and text.upper() in names:
        return names.index(text.upper()) + base
    return int(text)
