"""A person's decision on a held message: release it (handle it again, trusting its
sender) or reject it (file it for good, with their reason)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.errors import NotFound, UsageError
from mailbot.store.audit import audit
from mailbot.store.models import InboundMessage as MessageRow
from mailbot.store.vault import Vault


def release(app: App, row_id: str, *, actor: str) -> list[str]:
    """The same handlers and actions as on arrival, with the sender checks waived."""
    now = app.clock.now()
    intake = app.intake
    with app.db.session() as session:
        row = held_row(session, row_id)
        msg = intake.read(app.vault.open(session, row, "raw_enc"))
        context = replace(app.handler_context(session), trusted=True)
        outcome = intake.decide(msg, context)
        if outcome.action == "quarantine":
            raise UsageError("the message still cannot be handled automatically")
        row.action = outcome.action
        row.reason = f"released by {actor}: {outcome.reason}"
        row.hold_state = "released"
        outcome.alert = None  # the person releasing it is the team
        refs = intake.apply(session, msg, row, outcome, now)
        audit(session, now, actor, "quarantine.released", message_id=row.id)
        return refs


def reject(session: Session, vault: Vault, now: datetime, row_id: str, *, actor: str,
           reason: str) -> None:
    """File a held message for good. The person's words may name anyone: encrypted."""
    row = held_row(session, row_id)
    row.hold_state = "rejected"
    row.reason = f"{row.reason} | rejected by {actor}"
    note = reason.strip() or "rejected by the team"
    row.hold_note_enc = vault.seal_text(session, row, "hold_note_enc", note)
    audit(session, now, actor, "quarantine.rejected", message_id=row.id)


def held_row(session: Session, row_id: str) -> MessageRow:
    """The held message, locked, so two people cannot decide on it at once."""
    row = session.scalars(select(MessageRow).where(MessageRow.id == row_id)
                          .with_for_update()).one_or_none()
    if row is None or row.hold_state is None:
        raise NotFound(f"no held message {row_id}")
    if row.hold_state != "pending":
        raise UsageError(f"message {row_id} was already {row.hold_state}")
    return row
