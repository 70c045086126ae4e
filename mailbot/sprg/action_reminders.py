"""Reminders to actions' owners: some working days before the due date, and once on
the day the action becomes overdue.

Run with the working morning's jobs (``mailbot.jobs.morning``), so never on a weekend or
bank holiday; an action that fell due over one is reminded on the next working morning.
Each reminder goes once (the action row records it, in the same transaction as the
mail), to the owner's address only, and names the case reference and the action's text
(written by the team, who are told it is sent outside) and nothing else about the case.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.clock import london
from mailbot.outbound.mail import Outbound, OutboundMail
from mailbot.settings import Settings
from mailbot.sprg.actions import is_open
from mailbot.store.audit import audit
from mailbot.store.models import ActionItem, Case
from mailbot.store.vault import Vault
from mailbot.workdays import add_working_days


def send_reminders(
    session: Session, vault: Vault, settings: Settings, outbound: Outbound, now: datetime
) -> list[str]:
    """Queue the reminders due this morning; the ids of the actions reminded."""
    today = london(now).date()
    sent = []
    rows = session.execute(
        select(ActionItem, Case)
        .join(Case, Case.id == ActionItem.case_id)
        .where(
            ActionItem.owner_email_enc.is_not(None),
            ActionItem.done_on.is_(None),
            ActionItem.carried_forward_on.is_(None),
        )
        .order_by(ActionItem.due_on)
    )
    for row, case in rows:
        if not is_open(row) or case.status == "closed":
            continue
        overdue = today > row.due_on
        if overdue and row.overdue_sent_at is None:
            row.overdue_sent_at = now
            row.reminder_sent_at = row.reminder_sent_at or now  # no "due soon" after this
        elif (
            not overdue
            and row.reminder_sent_at is None
            and today >= add_working_days(row.due_on, -settings.action_reminder_days)
        ):
            row.reminder_sent_at = now
        else:
            continue
        recipient = vault.open_text(session, row, "owner_email_enc")
        outbound.queue(
            session,
            now,
            OutboundMail(
                kind="reminder",
                template="sprg_action_reminder",
                subject=(
                    f"Action overdue (due {row.due_on:%d/%m/%Y})"
                    if overdue
                    else f"Action due on {row.due_on:%d/%m/%Y}"
                ),
                recipient=recipient,
                refs=[case.ref],
                key_id=case.key_id,
                context={
                    "ref": case.ref,
                    "due": f"{row.due_on:%d/%m/%Y}",
                    "overdue": overdue,
                    "text": vault.open_text(session, row, "text_enc"),
                    "agency": row.agency,
                    "team": settings.team_address or settings.mail_from,
                },
            ),
        )
        audit(
            session,
            now,
            "mailbot",
            "action.overdue_reminder" if overdue else "action.reminder",
            case_id=case.id,
            detail=f"action {row.id}",
        )
        sent.append(row.id)
    return sent
