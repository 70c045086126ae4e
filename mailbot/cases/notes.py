"""The team's own words on a case: notes (encrypted, with author and time) and an owner.

A note may name anyone, so it is sealed under the case's data key like the referral. The
owner is a workspace user's sign-in name (a member of staff, never about a child), kept
in clear so the queue can show and filter by it. Each change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.errors import UsageError
from mailbot.store.audit import audit
from mailbot.store.models import Case, TeamNote, WebUser
from mailbot.store.vault import Vault

#: Characters a note may hold: a phone call's summary, not a report.
MAX_NOTE = 5000


@dataclass(frozen=True)
class NoteLine:
    author: str
    at: datetime
    text: str


def add_note(session: Session, vault: Vault, case: Case, now: datetime, author: str, text: str) -> TeamNote:
    text = text.strip()
    if not text:
        raise UsageError("write the note first")
    if len(text) > MAX_NOTE:
        raise UsageError(f"a note can be at most {MAX_NOTE} characters")
    row = TeamNote(case_id=case.id, key_id=case.key_id, author=author, created_at=now)
    row.text_enc = vault.seal_text(session, row, "text_enc", text)
    session.add(row)
    audit(session, now, author, "case.note_added", case_id=case.id, detail=row.id)
    return row


def notes_of(session: Session, vault: Vault, case: Case) -> list[NoteLine]:
    rows = session.scalars(
        select(TeamNote).where(TeamNote.case_id == case.id).order_by(TeamNote.created_at, TeamNote.id)
    )
    return [NoteLine(r.author, r.created_at, vault.open_text(session, r, "text_enc")) for r in rows]


def team_names(session: Session) -> list[str]:
    """Who may own a case: the team's active workspace accounts."""
    return list(
        session.scalars(
            select(WebUser.name)
            .where(WebUser.role == "team", WebUser.disabled.is_(False))
            .order_by(WebUser.name)
        )
    )


def set_owner(session: Session, case: Case, now: datetime, owner: str | None, actor: str) -> None:
    """Give the case to a member of the team (``None``: to nobody)."""
    if owner is not None and owner not in team_names(session):
        raise UsageError(f"{owner} is not an active member of the team")
    if case.owner == owner:
        return
    before = case.owner
    case.owner = owner
    audit(
        session,
        now,
        actor,
        "case.owner_set",
        case_id=case.id,
        detail=f"owner {owner or 'nobody'} (was {before or 'nobody'})",
    )
