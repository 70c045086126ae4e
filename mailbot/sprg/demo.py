"""The agenda pack of a demo meeting, for ``mailbot demo`` (call ``build_demo_meeting``)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from mailbot.clock import london
from mailbot.sprg import scheduling
from mailbot.sprg.pack import build_pack, write_pack
from mailbot.store.audit import audit, audit_many
from mailbot.store.audit_log import case_entries
from mailbot.store.models import Case

if TYPE_CHECKING:
    from mailbot.app import App


def demo_meeting_date(app: App) -> date:
    """The next meeting in the calendar after the cut-off, else the Thursday after it."""
    today = london(app.clock.now()).date()
    earliest = today + timedelta(days=max(1, app.settings.sprg_cutoff_days))
    cal = scheduling.calendar_of(app.settings)
    meeting = cal.next_meeting(earliest) if cal.configured else None
    return meeting or earliest + timedelta(days=(3 - earliest.weekday()) % 7)


def build_demo_meeting(app: App, out: Path) -> list[Path]:
    """Put every ready case on a demo meeting and write its pack to ``out``.

    Returns the files written (``agenda.docx``, and ``agenda.pdf`` with LibreOffice).
    """
    now = app.clock.now()
    meeting = demo_meeting_date(app)
    with app.db.session() as session:
        scheduling.auto_schedule(session, app.settings, now)
        for case in session.scalars(select(Case).where(Case.status == "ready", Case.meeting_date.is_(None))):
            case.meeting_date, case.status, case.updated_at = meeting, "scheduled", now
            audit(
                session,
                now,
                "demo",
                "case.scheduled",
                case_id=case.id,
                detail=f"meeting {meeting.isoformat()} (demo)",
            )
    with app.db.session() as session:
        cases = scheduling.cases_of_meeting(session, app.vault, meeting)
        data = build_pack(
            meeting,
            cases,
            chair=app.settings.sprg_chair or "Chair of the SPRG",
            compiled_on=london(now).date(),
        )
        audit_many(
            session,
            now,
            "demo",
            case_entries(
                session,
                [c.ref for c in cases],
                "sprg.agenda_pack",
                f"meeting {meeting.isoformat()}, {len(cases)} cases",
            ),
        )
    return write_pack(out, data)
