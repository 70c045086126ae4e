"""Working days in England: weekends and England-and-Wales bank holidays never count."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mailbot.workdays import (
    add_working_days,
    bank_holiday_name,
    is_working_day,
    london_day,
    next_working_day,
    working_days_between,
    working_days_waited,
)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 24), True),  # Thursday, Christmas Eve: a working day
        (date(2026, 12, 25), False),  # Christmas Day (Friday)
        (date(2026, 12, 26), False),  # Boxing Day falls on a Saturday...
        (date(2026, 12, 28), False),  # ...so Monday 28 is the substitute day
        (date(2026, 12, 29), True),
        (date(2027, 1, 1), False),  # New Year's Day
        (date(2027, 12, 27), False),  # 2027: Christmas on a Saturday, substitute Monday
        (date(2027, 12, 28), False),  # and Boxing Day's substitute Tuesday
        (date(2027, 12, 29), True),
        (date(2026, 4, 3), False),  # Good Friday 2026
        (date(2026, 4, 6), False),  # Easter Monday 2026
        (date(2026, 4, 7), True),
        (date(2026, 5, 25), False),  # the late-May (spring) bank holiday
        (date(2026, 5, 26), True),
        (date(2026, 10, 17), False),  # an ordinary Saturday
    ],
)
def test_which_days_are_working_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_substitute_days_are_named() -> None:
    assert bank_holiday_name(date(2026, 12, 28)) == "Boxing Day (observed)"
    assert bank_holiday_name(date(2026, 12, 24)) is None


def test_five_working_days_over_christmas() -> None:
    # From Wednesday 23 December 2026: 24, 29, 30, 31 December and 4 January.
    assert add_working_days(date(2026, 12, 23), 5) == date(2027, 1, 4)
    assert add_working_days(date(2027, 1, 4), -5) == date(2026, 12, 23)
    assert working_days_between(date(2026, 12, 23), date(2027, 1, 4)) == 5
    assert working_days_between(date(2027, 1, 4), date(2026, 12, 23)) == -5


def test_fifteen_working_days_over_easter_2026() -> None:
    # From Monday 30 March: 31 Mar, 1-2 Apr, (3 and 6 Apr are holidays), 7-10, 13-17, 20-22.
    assert add_working_days(date(2026, 3, 30), 15) == date(2026, 4, 22)


def test_late_may_bank_holiday() -> None:
    assert add_working_days(date(2026, 5, 22), 1) == date(2026, 5, 26)
    assert next_working_day(date(2026, 5, 22)) == date(2026, 5, 26)
    assert working_days_between(date(2026, 5, 22), date(2026, 5, 26)) == 1


def test_the_start_day_is_never_counted() -> None:
    saturday = date(2026, 10, 17)
    assert add_working_days(saturday, 1) == date(2026, 10, 19)
    assert add_working_days(saturday, 0) == saturday
    assert working_days_between(saturday, saturday) == 0


def test_moments_are_counted_on_london_dates() -> None:
    # 23:30 UTC on Sunday 29 March 2026 is already Monday 30 March in London (BST).
    late = datetime(2026, 3, 29, 23, 30, tzinfo=UTC)
    assert london_day(late) == date(2026, 3, 30)
    assert working_days_waited(late, datetime(2026, 3, 31, 8, 0, tzinfo=UTC)) == 1
