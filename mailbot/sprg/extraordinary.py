"""Extraordinary SPRG meetings: a date the team adds outside the configured calendar.

A serious incident cannot always wait for the monthly meeting. The team adds a meeting
(kept as a ``Meeting`` row marked ``extraordinary``); from then on it is a meeting like
any other: cases can be moved to it, its pack built and its digest sent, and the
scheduler offers it to serious incidents as the next meeting.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.clock import london
from mailbot.errors import UsageError
from mailbot.settings import Settings
from mailbot.sprg import scheduling
from mailbot.sprg.meeting_digest import meeting_row
from mailbot.store.audit import audit
from mailbot.store.vault import Vault


def add_meeting(
    session: Session,
    vault: Vault,
    settings: Settings,
    now: datetime,
    day: date,
    *,
    actor: str,
    ref: str | None = None,
) -> list[str]:
    """Add the meeting (and move the case ``ref`` to it); the references moved."""
    if day < london(now).date():
        raise UsageError(f"{day:%d/%m/%Y} is in the past: an extraordinary meeting is to come")
    case = case_store.case_by_ref(session, ref) if ref else None  # NotFound before any change
    if not scheduling.calendar_of(settings, session).is_meeting(day):
        row = meeting_row(session, vault, day, now)
        row.extraordinary = True
        audit(session, now, actor, "sprg.extraordinary_meeting", detail=day.isoformat())
        session.flush()
    if case is None:
        return []
    scheduling.move(session, settings, now, case.ref, day, actor)
    return [case.ref]
