"""A Date header as an aware UTC moment, or None: real mail carries every malformed date
there is, and some valid ones (31 Dec 9999 at -12:00) overflow when moved to UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def header_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 31 Dec 9999 at -12:00: past the end of time in UTC
        return None
