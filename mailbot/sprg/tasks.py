"""What ``mailbot poll`` does for the SPRG on every cycle.

Each chore runs in its own transaction and is idempotent: cases are scheduled once
(only unscheduled ready cases are looked at), a meeting's digest goes once (the meeting
row records it), a final report is reminded once (the decision row records it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from mailbot.clock import london
from mailbot.sprg import final_reports as reminders
from mailbot.sprg import meeting_digest as digest
from mailbot.sprg import scheduling
from mailbot.store.models import Meeting

if TYPE_CHECKING:
    from mailbot.app import App

log = logging.getLogger(__name__)


@dataclass
class TaskResult:
    scheduled: list[tuple[str, date]] = field(default_factory=list)
    digests: list[date] = field(default_factory=list)
    reminders: list[str] = field(default_factory=list)


def run(app: App) -> TaskResult:
    result = TaskResult()
    for name, chore in (("schedule", _schedule), ("digest", _digests), ("reminders", _reminders)):
        try:
            chore(app, result)
        except Exception as exc:  # noqa: BLE001 - an SPRG chore must never stop intake or
            # the sending of replies; it is retried next cycle. Logged by type only: the
            # text of a library error may quote stored values.
            log.warning("sprg task failed", extra={"task": name, "error": type(exc).__name__})
    return result


def _schedule(app: App, result: TaskResult) -> None:
    with app.db.session() as session:
        result.scheduled = scheduling.auto_schedule(session, app.settings, app.clock.now())
    for ref, meeting in result.scheduled:
        log.info("case scheduled", extra={"case": ref, "meeting": meeting.isoformat()})


def due_digests(app: App) -> list[date]:
    """Meetings within the digest window whose digest has not gone yet."""
    s = app.settings
    if not s.sprg_members:
        return []
    today = london(app.clock.now()).date()
    with app.db.session() as session:
        cal = scheduling.calendar_of(s, session)
        window = cal.meetings_between(today + timedelta(days=1), today + timedelta(days=s.sprg_digest_days))
        if not window:
            return []
        sent = set(
            session.scalars(
                select(Meeting.meeting_date).where(
                    Meeting.meeting_date.in_(window), Meeting.digest_sent_at.is_not(None)
                )
            )
        )
    return [day for day in window if day not in sent]


def _digests(app: App, result: TaskResult) -> None:
    for meeting in due_digests(app):
        now = app.clock.now()
        with app.db.session() as session:
            cases = scheduling.cases_of_meeting(session, app.vault, meeting)
            digest.queue_digest(session, app.vault, app.settings, app.outbound, now, meeting, cases)
        result.digests.append(meeting)
        log.info("sprg digest queued", extra={"meeting": meeting.isoformat(), "cases": len(cases)})


def _reminders(app: App, result: TaskResult) -> None:
    with app.db.session() as session:
        result.reminders = reminders.send_reminders(session, app.settings, app.outbound, app.clock.now())
