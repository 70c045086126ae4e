"""Working days in England: what every clock, chaser and overdue flag counts.

A working day is Monday to Friday and not an England-and-Wales bank holiday (the
``holidays`` library's ``GB`` calendar with ``subdiv="ENG"``, which knows substitute days
such as Monday 28 December 2026 for a Boxing Day on a Saturday, and one-off holidays
proclaimed for national events). Every date here is a Europe/London day: a moment is
turned into its London date with ``london_day`` before it is counted.

Statutory clocks (Working Together to Safeguard Children 2023) are counted this way:
"within 5 working days of becoming aware" is the fifth working day after the day of
awareness, so ``add_working_days(aware, 5)``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from mailbot.clock import london


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    import holidays  # 0.1-0.2 s to import: only when a working day is counted (start-up time)

    calendar = holidays.country_holidays("GB", subdiv="ENG", years=[year])
    return frozenset(calendar.keys())


def london_day(moment: datetime) -> date:
    """The Europe/London date of a moment (what a person in Croydon calls 'today')."""
    return london(moment).date()


def is_bank_holiday(day: date) -> bool:
    return day in _bank_holidays(day.year)


def bank_holiday_name(day: date) -> str | None:
    """The holiday's name ("Boxing Day (observed)"), or None on any other day."""
    if not is_bank_holiday(day):
        return None
    import holidays

    name = holidays.country_holidays("GB", subdiv="ENG", years=[day.year]).get(day)
    return str(name) if name else None


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def add_working_days(start: date, days: int) -> date:
    """The working day ``days`` working days after ``start`` (before it when negative).

    ``start`` itself is never counted, whether or not it is a working day: five working
    days from Thursday 24 December 2026 is Monday 4 January 2027.
    """
    step = 1 if days >= 0 else -1
    day, left = start, abs(days)
    while left:
        day += timedelta(days=step)
        if is_working_day(day):
            left -= 1
    return day


def working_days_between(first: date, last: date) -> int:
    """How many working days fall after ``first`` up to and including ``last``.

    The count a person means by "it has waited N working days": 0 on the same day, and
    negative when ``last`` is before ``first``.
    """
    if last < first:
        return -working_days_between(last, first)
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def next_working_day(day: date) -> date:
    """The first working day after ``day``."""
    return add_working_days(day, 1)


def working_days_waited(since: datetime, now: datetime) -> int:
    """Working days from the London day of ``since`` to the London day of ``now``."""
    return working_days_between(london_day(since), london_day(now))
