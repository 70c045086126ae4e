"""Follow-through: final reports due at the SPRG, and the reminder to the team."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.clock import london
from mailbot.outbound import outbox
from mailbot.outbound.compose import compose, make_message_id, render, tag_subject
from mailbot.settings import Settings
from mailbot.store.models import Case, Decision
from mailbot.store.vault import Vault


def latest_decisions(session: Session) -> list[tuple[Case, Decision]]:
    """The newest decision of every decided case."""
    rows = session.execute(select(Case, Decision).join(Decision, Decision.case_id == Case.id)
                           .where(Case.status == "decided")
                           .order_by(Decision.case_id, Decision.seq)).all()
    newest: dict[str, tuple[Case, Decision]] = {}
    for case, decision in rows:
        newest[case.id] = (case, decision)
    return sorted(newest.values(), key=lambda pair: (pair[1].final_report_date or date.max,
                                                     pair[0].ref))


def due_cases(session: Session, due_by: date) -> dict[str, date]:
    """{case id: final report date} for decided cases whose report is due by ``due_by``."""
    return {case.id: d.final_report_date for case, d in latest_decisions(session)
            if d.final_report_date is not None and d.final_report_date <= due_by}


def send_reminders(session: Session, vault: Vault, settings: Settings, env: Environment,
                   now: datetime) -> list[str]:
    """One reminder per final report date, N days before it, to the team address."""
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
        days = (due - today).days
        when = ("today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
                if days > 0 else f"{-days} day{'s' if days != -1 else ''} ago (overdue)")
        rendered = render(env, "sprg_final_report_reminder",
                          tag_subject([case.ref], f"Final report due at the SPRG on {due:%d/%m/%Y}"),
                          ref=case.ref, due=f"{due:%d/%m/%Y}", when=when,
                          meeting=f"{decision.meeting_date:%d/%m/%Y}" if decision.meeting_date
                          else None)
        email = compose(rendered=rendered, sender=settings.mail_from, recipient=team,
                        message_id=make_message_id("reminder", [case.ref], now, settings.bot_domain),
                        date=now, auto="auto-generated")
        outbox.queue(session, vault, now, email, kind="reminder", recipient=team,
                     case_refs=[case.ref], key_id=case.key_id)
        decision.reminder_sent_at = now
        case_store.audit(session, now, "mailbot", "sprg.final_report_reminder", case_id=case.id,
                         detail=f"final report {due.isoformat()}")
        sent.append(case.ref)
    return sent
