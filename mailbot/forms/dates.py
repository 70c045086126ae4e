"""UK day-first dates as referrers type them.

``parse_uk_date`` returns a :class:`DateResult` so that callers can tell "nothing was
written" (not a problem) from "something was written that is not a date" (a query to
the referrer).  A two-digit year is the latest year ending in those digits that is not
after the reference (referral) year: with 2026, ``15`` is 2015 and ``89`` is 1989.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}

_NUMERIC = re.compile(r"^(\d{1,2})(?:\s*[/.\-]\s*|\s+)(\d{1,2})(?:\s*[/.\-]\s*|\s+)(\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ].*)?$")
_WORDY = re.compile(
    r"^(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*,?\s+)?"
    r"(\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?[\s\-/.]+([a-z]+)\.?,?[\s\-/.]+(\d{2}|\d{4})$"
)
#: Month first in words ("October 5, 2026", "Oct 5 2026"): unambiguous, so accepted.
_MONTH_FIRST = re.compile(
    r"^(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*,?\s+)?"
    r"([a-z]+)\.?[\s\-/.]+(\d{1,2})(?:st|nd|rd|th)?,?[\s\-/.]+(\d{4})$"
)
#: What may trail a date without making it unreadable: a time, a bracketed note, a ".".
_TRAILING = re.compile(r"(?:\s+\d{1,2}[:.]\d{2}(?::\d{2})?\s*(?:am|pm)?|\s*\([^()]*\)|\s*[.;])+$")
_DASHES = str.maketrans(
    {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"}
)


@dataclass(frozen=True)
class DateResult:
    """What a date field held: a date, nothing at all, or something unreadable."""

    value: date | None
    empty: bool

    @property
    def unreadable(self) -> bool:
        """True when something was written but it is not a date we can trust."""
        return self.value is None and not self.empty


EMPTY = DateResult(None, True)
UNREADABLE = DateResult(None, False)


def expand_year(two_digits: int, reference_year: int) -> int:
    """The latest year ending in ``two_digits`` that is not after ``reference_year``."""
    year = reference_year - (reference_year % 100) + two_digits
    return year - 100 if year > reference_year else year


def _make(year: int, month: int, day: int) -> DateResult:
    try:
        return DateResult(date(year, month, day), False)
    except ValueError:
        return UNREADABLE


def _year(text: str, reference_year: int) -> int:
    return expand_year(int(text), reference_year) if len(text) == 2 else int(text)


def parse_uk_date(text: str | None, reference_year: int, *, month_first: bool = False) -> DateResult:
    """Read a typed date, day first (``9/10/2026`` is 9 October).

    ``month_first`` reads numeric dates month first: a date picker whose display
    format is ``M/d/yyyy`` (an en-US Word) shows 4 March 2015 as ``3/4/2015``.
    """
    if text is None or not text.strip():
        return EMPTY
    cleaned = " ".join(text.strip().casefold().translate(_DASHES).replace(",", " ").split())
    cleaned = _TRAILING.sub("", cleaned).strip()
    if match := _ISO.match(cleaned):
        return _make(int(match[1]), int(match[2]), int(match[3]))
    if match := _NUMERIC.match(cleaned):
        first, second = int(match[1]), int(match[2])
        day, month_no = (second, first) if month_first else (first, second)
        return _make(_year(match[3], reference_year), month_no, day)
    if (match := _MONTH_FIRST.match(cleaned)) and match[1] in _MONTHS:
        return _make(int(match[3]), _MONTHS[match[1]], int(match[2]))
    if match := _WORDY.match(cleaned):
        month = _MONTHS.get(match[2])
        if month is None:
            return UNREADABLE
        return _make(_year(match[3], reference_year), month, int(match[1]))
    return UNREADABLE


def month_first_format(date_format: str | None) -> bool:
    """Whether a picker's display format (``M/d/yyyy``) puts the month before the day."""
    if not date_format:
        return False
    month, day = date_format.find("M"), date_format.find("d")
    return 0 <= month < day


def parse_full_date(value: str | None) -> date | None:
    """A date picker's ``w:fullDate`` (``2026-10-05T00:00:00Z``), or None."""
    if not value:
        return None
    match = _ISO.match(value.strip())
    if not match:
        return None
    result = _make(int(match[1]), int(match[2]), int(match[3]))
    return result.value
