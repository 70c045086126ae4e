"""How long records are kept: the policy in settings, legal holds, and what is due.

A case's clock starts when it is closed: ``retain_until`` is the closing date plus
``retention.years_after_closure`` years, recomputed from the policy in force at every
purge (so a partnership that lengthens its policy keeps what it has). An open case is
never due: someone is still working on it. A legal hold suspends the clock until it is
lifted. Messages that fed no case follow their own, shorter periods: held messages
(once a person has released or rejected them) ``retention.held_days``, general
correspondence and automatic mail ``retention.other_days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from mailbot.errors import UsageError
from mailbot.settings import Settings
from mailbot.store.audit import audit
from mailbot.store.models import Case, InboundMessage, MessageCase
from mailbot.store.vault import Vault


def add_years(when: datetime, years: int) -> datetime:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return when.replace(year=when.year + years)
    except ValueError:
        return when.replace(year=when.year + years, day=28)


def apply_policy(session: Session, settings: Settings) -> None:
    """Set ``retain_until`` on every closed, unshredded case from the policy in force."""
    for case in session.scalars(select(Case).where(Case.closed_at.is_not(None), Case.shredded_at.is_(None))):
        assert case.closed_at is not None
        case.retain_until = add_years(case.closed_at, settings.retention_years)


def due_cases(session: Session, now: datetime) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .where(
                Case.shredded_at.is_(None),
                Case.legal_hold.is_(False),
                Case.retain_until.is_not(None),
                Case.retain_until <= now,
            )
            .order_by(Case.retain_until, Case.ref)
        )
    )


@dataclass(frozen=True)
class DueMessage:
    row_id: str
    kind: str  # held | other


def due_messages(session: Session, settings: Settings, now: datetime) -> list[DueMessage]:
    """Messages that fed no case and whose own period has passed."""
    caseless = ~exists().where(MessageCase.message_id == InboundMessage.id)
    held_before = now - timedelta(days=settings.retention_held_days)
    other_before = now - timedelta(days=settings.retention_other_days)
    rows = session.execute(
        select(
            InboundMessage.id, InboundMessage.action, InboundMessage.hold_state, InboundMessage.received_at
        )
        .where(caseless)
        .order_by(InboundMessage.received_at)
    ).all()
    due = []
    for row_id, action, hold_state, received in rows:
        if action == "quarantine":
            if hold_state != "pending" and received <= held_before:  # a person decided
                due.append(DueMessage(row_id, "held"))
        elif received <= other_before:
            due.append(DueMessage(row_id, "other"))
    return due


def set_legal_hold(
    session: Session, vault: Vault, case: Case, now: datetime, *, on: bool, why: str, actor: str
) -> None:
    """Put a case under legal hold, or lift it; audited, the reason kept encrypted."""
    if case.shredded_at is not None:
        raise UsageError(
            f"{case.ref} was destroyed on {case.shredded_at:%d/%m/%Y}: only its tombstone is left"
        )
    if not why.strip():
        raise UsageError("say why (--why): a legal hold must have a recorded reason")
    case.legal_hold = on
    case.legal_hold_why_enc = vault.seal_text(session, case, "legal_hold_why_enc", why.strip())
    case.updated_at = now
    audit(session, now, actor, "case.legal_hold_on" if on else "case.legal_hold_off", case_id=case.id)
