"""Time is a dependency: nothing reads the system clock directly."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Protocol
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FixedClock:
    """A clock for tests and demos: stands still until told to move."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)


def london(moment: datetime) -> datetime:
    return moment.astimezone(LONDON)


def show_time(moment: datetime | None) -> str:
    """How people see a time: Europe/London, day first."""
    if moment is None:
        return "-"
    return london(moment).strftime("%d/%m/%Y %H:%M")


def uk_date(value: str | date | None) -> str:
    """A date as people here write it: 05/10/2026 (an unreadable value as it is)."""
    if not value:
        return ""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(value)
    except ValueError:
        return str(value)
    return day.strftime("%d/%m/%Y")


def long_date(day: date) -> str:
    """A date in full, with its weekday: Thursday 17 December 2026."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def plain_date(moment: datetime) -> str:
    """The London day of a moment, in words: 12 October 2026."""
    local = london(moment)
    return f"{local.day} {local:%B %Y}"


def read_day(text: str) -> date:
    """A date a person typed: ``DD/MM/YYYY`` or ISO ``YYYY-MM-DD`` (ValueError otherwise)."""
    value = text.strip()
    if "/" in value:
        return datetime.strptime(value, "%d/%m/%Y").date()
    return date.fromisoformat(value)


def day_start(day: date) -> datetime:
    """Midnight in London at the start of ``day``, as an aware time."""
    return datetime.combine(day, day_time(0), tzinfo=LONDON)
