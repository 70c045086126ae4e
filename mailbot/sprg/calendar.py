"""The SPRG meeting calendar: a list of dates, or a monthly rule.

``MAILBOT_SPRG_MEETINGS`` is either comma-separated ISO dates (a TOML list) or one rule
``<first|second|third|fourth|last> <weekday> monthly``. Parsing is pure: text in, a
``Calendar`` or a ``ConfigError`` naming the setting out.
"""

from __future__ import annotations

import calendar as _cal
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from mailbot.errors import ConfigError, UsageError

SETTING = "MAILBOT_SPRG_MEETINGS"
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
WEEKDAYS = {name.lower(): i for i, name in enumerate(_cal.day_name)}
_RULE = re.compile(r"^(first|second|third|fourth|last)\s+([a-z]+)\s+monthly$")
#: How far ahead a rule is looked at: a calendar without a meeting in five years is a mistake.
_HORIZON_MONTHS = 60


@dataclass(frozen=True)
class Calendar:
    """Meeting dates; ``dates`` for a fixed list, ``ordinal``/``weekday`` for a rule;
    ``extra`` for extraordinary meetings the team added (kept in the database)."""

    dates: tuple[date, ...] = ()
    ordinal: int | None = None
    weekday: int | None = None
    extra: tuple[date, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.dates) or self.ordinal is not None or bool(self.extra)

    def describe(self) -> str:
        if self.ordinal is not None and self.weekday is not None:
            word = next(k for k, v in ORDINALS.items() if v == self.ordinal)
            text = f"the {word} {_cal.day_name[self.weekday]} of each month"
        else:
            text = ", ".join(d.isoformat() for d in self.dates) or "no meetings"
        if self.extra:
            text += "; extraordinary: " + ", ".join(d.isoformat() for d in self.extra)
        return text

    def with_extra(self, days: tuple[date, ...]) -> Calendar:
        return Calendar(self.dates, self.ordinal, self.weekday, tuple(sorted(set(days))))

    def is_meeting(self, day: date) -> bool:
        if day in self.extra:
            return True
        if self.ordinal is None:
            return day in self.dates
        return _nth_weekday(day.year, day.month, self.ordinal, self.weekday or 0) == day

    def meetings_from(self, start: date) -> Iterator[date]:
        """Meetings on or after ``start``, in order (finite for a list, bounded for a rule),
        extraordinary ones among them."""
        extra = [d for d in self.extra if d >= start]
        for day in self._regular_from(start):
            while extra and extra[0] <= day:
                found = extra.pop(0)
                if found != day:
                    yield found
            yield day
        yield from extra

    def _regular_from(self, start: date) -> Iterator[date]:
        if self.ordinal is None:
            yield from (d for d in self.dates if d >= start)
            return
        year, month = start.year, start.month
        for _ in range(_HORIZON_MONTHS):
            day = _nth_weekday(year, month, self.ordinal, self.weekday or 0)
            if day >= start:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def next_meeting(self, start: date) -> date | None:
        return next(self.meetings_from(start), None)

    def meetings_between(self, first: date, last: date) -> list[date]:
        out = []
        for day in self.meetings_from(first):
            if day > last:
                break
            out.append(day)
        return out


def _nth_weekday(year: int, month: int, ordinal: int, weekday: int) -> date:
    days = [
        date(year, month, d)
        for d in range(1, _cal.monthrange(year, month)[1] + 1)
        if date(year, month, d).weekday() == weekday
    ]
    return days[-1] if ordinal == -1 else days[ordinal - 1]


def parse_meetings(values: tuple[str, ...] | list[str] | str | None) -> Calendar:
    """``("2026-11-19", "2026-12-17")`` or ``("third thursday monthly",)`` to a Calendar."""
    if values is None:
        return Calendar()
    items = [v.strip() for v in (values.split(",") if isinstance(values, str) else values)]
    items = [v for v in items if v]
    if not items:
        return Calendar()
    if len(items) == 1 and not items[0][:1].isdigit():
        rule = _RULE.match(" ".join(items[0].lower().split()))
        if rule is None or rule.group(2) not in WEEKDAYS:
            raise ConfigError(
                SETTING, f"{items[0]!r} is neither an ISO date nor a rule such as 'second tuesday monthly'"
            )
        return Calendar(ordinal=ORDINALS[rule.group(1)], weekday=WEEKDAYS[rule.group(2)])
    dates: set[date] = set()
    for item in items:
        try:
            dates.add(date.fromisoformat(item))
        except ValueError as exc:
            raise ConfigError(
                SETTING,
                f"{item!r} is not a date (YYYY-MM-DD); a rule such as "
                "'second tuesday monthly' must stand alone",
            ) from exc
    return Calendar(dates=tuple(sorted(dates)))


def auto_meeting(cal: Calendar, ready_on: date, today: date, cutoff_days: int) -> date | None:
    """The meeting a case that became ready on ``ready_on`` goes to: the first meeting
    after today that is at least ``cutoff_days`` after the day it became ready."""
    start = max(ready_on + timedelta(days=cutoff_days), today + timedelta(days=1))
    return cal.next_meeting(start)


def parse_day(text: str, option: str) -> date:
    """A date given on the command line, as people write it (``DD/MM/YYYY``) or ISO
    (``YYYY-MM-DD``), or a UsageError naming the option."""
    value = text.strip()
    try:
        match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise UsageError(f"{option}: {text!r} is not a date (DD/MM/YYYY or YYYY-MM-DD)")
