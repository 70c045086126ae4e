"""Follow-through: final reports due at the SPRG, and the reminder to the team."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases.status import CaseStatus
from mailbot.clock import london
from mailbot.outbound.mail import Outbound, OutboundMail
from mailbot.settings import Settings
from mailbot.store.audit import audit
from mailbot.store.models import Case, Decision


def latest_decisions(session: Session) -> list[tuple[Case, Decision]]:
    """The newest decision of every decided case."""
    rows = session.execute(
        select(Case, Decision)
        .join(Decision, Decision.case_id == Case.id)
        .where(Case.status == CaseStatus.DECIDED)
        .order_by(Decision.case_id, Decision.seq)
    ).all()
    newest: dict[str, tuple[Case, Decision]] = {}
    for case, decision in rows:
        newest[case.id] = (case, decision)
    return sorted(newest.values(), key=lambda pair: (pair[1].final_report_date or date.max, pair[0].ref))


def due_cases(session: Session, due_by: date) -> dict[str, date]:
    """{case id: final report date} for decided cases whose report is due by ``due_by``."""
    return {
        case.id: d.final_report_date
        for case, d in latest_decisions(session)
        if d.final_report_date is not None and d.final_report_date <= due_by
    }


def send_reminders(session: Session, settings: Settings, outbound: Outbound, now: datetime) -> list[str]:
    """One reminder per final report date, N days before it, to the team address; none
    while the decision's meeting is still to come."""
    team = settings.team_address
    if not team:
        return []
    today = london(now).date()
    due_by = today + timedelta(days=settings.final_report_reminder_days)
    sent = []
    for case, decision in latest_decisions(session):
        due = decision.final_report_date
        if due is None or due > due_by or decision.reminder_sent_at is not None:
            continue
        meeting = decision.meeting_date or case.meeting_date
        if meeting is not None and meeting > today:
            continue  # nothing is said about a decision before its meeting (a forced one)
        days = (due - today).days
        when = (
            "today"
            if days == 0
            else f"in {days} day{'s' if days != 1 else ''}"
            if days > 0
            else f"{-days} day{'s' if days != -1 else ''} ago (overdue)"
        )
        outbound.queue(
            session,
            now,
            OutboundMail(
                kind="reminder",
                template="sprg_final_report_reminder",
                subject=f"Final report due at the SPRG on {due:%d/%m/%Y}",
                recipient=team,
                refs=[case.ref],
                key_id=case.key_id,
                context={
                    "ref": case.ref,
                    "due": f"{due:%d/%m/%Y}",
                    "when": when,
                    "meeting": f"{decision.meeting_date:%d/%m/%Y}" if decision.meeting_date else None,
                },
            ),
        )
        decision.reminder_sent_at = now
        audit(
            session,
            now,
            "mailbot",
            "sprg.final_report_reminder",
            case_id=case.id,
            detail=f"final report {due.isoformat()}",
        )
        sent.append(case.ref)
    return sent
