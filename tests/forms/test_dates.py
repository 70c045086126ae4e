"""UK day-first dates in every style referrers type."""

from __future__ import annotations

from datetime import date

import pytest

from mailbot.forms.dates import expand_year, parse_full_date, parse_uk_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05/10/2026", date(2026, 10, 5)),
        ("9/10/2026", date(2026, 10, 9)),
        ("03.07.1984", date(1984, 7, 3)),
        ("14th July 2010", date(2010, 7, 14)),
        ("3 Mar 15", date(2015, 3, 3)),
        ("19th November 2026", date(2026, 11, 19)),
        ("25 Feb 2027", date(2027, 2, 25)),
        ("2026-10-05", date(2026, 10, 5)),
        ("22/1/1979", date(1979, 1, 22)),
        ("1st of June 2020", date(2020, 6, 1)),
        ("3 Mar 89", date(1989, 3, 3)),
        ("Monday 5 October 2026", date(2026, 10, 5)),
    ],
)
def test_day_first_styles(text: str, expected: date) -> None:
    assert parse_uk_date(text, 2026).value == expected


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_is_not_unreadable(text: str | None) -> None:
    result = parse_uk_date(text, 2026)
    assert result.empty and not result.unreadable and result.value is None


@pytest.mark.parametrize("text", ["soon", "31/02/2020", "13/13/2013", "5 Smarch 2020"])
def test_unreadable(text: str) -> None:
    result = parse_uk_date(text, 2026)
    assert result.unreadable and result.value is None


def test_two_digit_year_is_latest_not_after_reference() -> None:
    assert expand_year(26, 2026) == 2026
    assert expand_year(27, 2026) == 1927
    assert expand_year(15, 2026) == 2015
    assert parse_uk_date("1/1/27", 2027).value == date(2027, 1, 1)


def test_picker_full_date() -> None:
    assert parse_full_date("2026-10-05T00:00:00Z") == date(2026, 10, 5)
    assert parse_full_date("") is None
