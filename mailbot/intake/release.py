"""A person's decision on a held message: release it (handle it again, trusting its
sender) or reject it (file it for good, with their reason)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.errors import NotFound, UsageError
from mailbot.intake.handlers.base import SprgDecision
from mailbot.sprg.decision_form import DecisionRecord, decision_of
from mailbot.store.audit import audit
from mailbot.store.models import InboundMessage as MessageRow
from mailbot.store.sealed_blob import open_pieces
from mailbot.store.vault import Vault


class Released(list[str]):
    """The references of the cases a released message fed, and whether it was an emailed
    SPRG decision (the person's release confirmed it: recorded, the referrer told)."""

    decision: bool = False


def released_words(refs: list[str]) -> str:
    """What the person who released a message is told, in plain words."""
    if isinstance(refs, Released) and refs.decision:
        return (
            f"The SPRG decision for {', '.join(refs)} is recorded; the referrer is told with the next poll."
        )
    return (
        "The message was released"
        + (f" and added to {', '.join(refs)}" if refs else "")
        + ". Any reply goes out with the next poll."
    )


def release(app: App, row_id: str, *, actor: str, force: bool = False) -> Released:
    """The same handlers and actions as on arrival, with the sender checks waived.

    For an emailed SPRG decision held because its team sender could not be authenticated
    this is the team's one-step confirmation: the decision is recorded and the referrer's
    notice queued; one for a meeting still to come is refused unless ``force``.
    """
    now = app.clock.now()
    intake = app.intake
    with app.db.session() as session:
        row = held_row(session, row_id)
        msg = intake.read(open_pieces(session, app.vault, row, "raw_enc"))
        context = replace(app.handler_context(session), trusted=True)
        outcome = intake.decide(msg, context)
        if outcome.action == "quarantine":
            raise UsageError("the message still cannot be handled automatically")
        if isinstance(outcome, SprgDecision):
            outcome.force = force
        row.action = outcome.action
        row.reason = f"released by {actor}: {outcome.reason}"
        row.hold_state = "released"
        outcome.alert = None  # the person releasing it is the team
        refs = Released(intake.apply(session, msg, row, outcome, now))
        refs.decision = isinstance(outcome, SprgDecision)
        audit(
            session,
            now,
            actor,
            "quarantine.released",
            message_id=row.id,
            case_id=outcome.case.id if outcome.case else None,
            detail="SPRG decision confirmed" if refs.decision else "",
        )
        return refs


def reject(session: Session, vault: Vault, now: datetime, row_id: str, *, actor: str, reason: str) -> None:
    """File a held message for good. The person's words may name anyone: encrypted."""
    row = held_row(session, row_id)
    row.hold_state = "rejected"
    row.reason = f"{row.reason} | rejected by {actor}"
    note = reason.strip() or "rejected by the team"
    row.hold_note_enc = vault.seal_text(session, row, "hold_note_enc", note)
    audit(session, now, actor, "quarantine.rejected", message_id=row.id)


def held_row(session: Session, row_id: str) -> MessageRow:
    """The held message, locked, so two people cannot decide on it at once."""
    row = session.scalars(select(MessageRow).where(MessageRow.id == row_id).with_for_update()).one_or_none()
    if row is None or row.hold_state is None:
        raise NotFound(f"no held message {row_id}")
    if row.hold_state != "pending":
        raise UsageError(f"message {row_id} was already {row.hold_state}")
    return row


def held_decision(app: App, session: Session, row_id: str) -> DecisionRecord | None:
    """The SPRG decision a held message carries (its form's outcome section), so the
    person confirming it sees what they confirm; None when it carries none."""
    row = session.get(MessageRow, row_id)
    if row is None:
        raise NotFound(f"no held message {row_id}")
    msg = app.intake.read(open_pieces(session, app.vault, row, "raw_enc"))
    for verdict in app.read_forms(msg):
        if verdict.kind == "form" and verdict.form is not None:
            decision = decision_of(verdict.form.referral)
            if decision is not None:
                return decision
    return None
