"""Chasers: one polite reminder to a referrer whose referral waits for information.

A case waiting for the referrer (``awaiting_information``) that has not changed for
``chaser_days`` working days (England: weekends and bank holidays do not count, see
``mailbot.workdays``) gets one reminder, sent to the address the referral came from and
threaded to our last reply. If nothing changes for as many working days again, the
case is flagged to the team (in the morning digest and on the queue). A new version of
the referral starts a new wait, so each wait gets at most one reminder.

The reminder names the case reference and the form's own labels of what is missing,
never a value from the form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.queue import WHOLE_FORM
from mailbot.cases.status import CaseStatus
from mailbot.clock import plain_date
from mailbot.forms import field_label
from mailbot.outbound.mail import OutboundMail, last_reply_thread
from mailbot.store.audit import audit
from mailbot.store.models import Case, CaseChase
from mailbot.workdays import working_days_waited

ACTOR = "mailbot"


@dataclass
class ChaseResult:
    reminded: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)


def reminder_due(case: Case, chase: CaseChase | None, now: datetime, days: int) -> bool:
    return (
        case.status == CaseStatus.AWAITING_INFORMATION
        and chase is None
        and working_days_waited(case.updated_at, now) >= days
    )


def flag_due(case: Case, chase: CaseChase | None, now: datetime, days: int) -> bool:
    return (
        case.status == CaseStatus.AWAITING_INFORMATION
        and chase is not None
        and chase.flagged_at is None
        and working_days_waited(chase.reminded_at, now) >= days
    )


def chase_of(session: Session, case: Case) -> CaseChase | None:
    return session.get(CaseChase, (case.id, case.current_version))


def run_chasers(app: App, session: Session, now: datetime) -> ChaseResult:
    days = app.settings.chaser_days
    result = ChaseResult()
    waiting = session.scalars(
        select(Case).where(Case.status == CaseStatus.AWAITING_INFORMATION).order_by(Case.created_at)
    )
    for case in waiting:
        chase = chase_of(session, case)
        if reminder_due(case, chase, now, days):
            _remind(app, session, case, now)
            session.add(
                CaseChase(case_id=case.id, version=case.current_version, reminded_at=now, flagged_at=None)
            )
            audit(session, now, ACTOR, "case.reminder_sent", case_id=case.id)
            result.reminded.append(case.ref)
        elif chase is not None and flag_due(case, chase, now, days):
            chase.flagged_at = now
            audit(session, now, ACTOR, "case.flagged", case_id=case.id, detail="no answer to the reminder")
            result.flagged.append(case.ref)
    return result


def _remind(app: App, session: Session, case: Case, now: datetime) -> None:
    recipient = app.vault.open_text(session, case, "sender_enc")
    whole_form = len(case.missing_required) >= WHOLE_FORM
    missing = [] if whole_form else [field_label(k) for k in case.missing_required]
    queries = [q["problem"] for q in case.queries]
    follows = last_reply_thread(session, app.vault, case.ref, recipient)
    app.outbound.queue(
        session,
        now,
        OutboundMail(
            kind="reminder",
            template="chaser",
            subject="Reminder: further information needed",
            recipient=recipient,
            refs=[case.ref],
            key_id=case.key_id,
            follows=follows,
            context={
                "ref": case.ref,
                "received": plain_date(case.created_at),
                "missing": missing,
                "queries": queries,
                "whole_form": whole_form,
            },
        ),
    )
