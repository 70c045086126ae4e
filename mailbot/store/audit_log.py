"""Reading the audit trail: one filter for ``mailbot audit list`` and the workspace page,
and what each entry means in plain words (people read "viewed the case", not codes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailbot.store.audit import Entry
from mailbot.store.models import AuditEntry, Case

#: Each action's words, as a sentence's verb phrase ("tess.team viewed the case").
WORDS = {
    "action.added": "added an action to the case's action plan",
    "action.carried_forward": "carried an action forward",
    "action.done": "marked an action done",
    "action.listed": "listed the action plans",
    "action.overdue_reminder": "reminded an action's owner that it is overdue",
    "action.reminder": "reminded an action's owner that it is due",
    "attachment.downloaded": "downloaded a file of the case",
    "attachment.split_page_viewed": "looked at a file to make a new case from it",
    "case.edited": "changed a field of the case",
    "case.flagged": "flagged the case to the team (no answer to the reminder)",
    "case.erased": "erased the case on request (its data destroyed)",
    "case.held": "held the case back from every agenda",
    "case.legal_hold_off": "lifted the legal hold on the case",
    "case.legal_hold_on": "put the case on legal hold",
    "case.purged": "destroyed the case's data at the end of its retention",
    "case.listed": "saw the case in a list",
    "case.merged": "merged two cases",
    "case.merged_away": "merged the case into another",
    "case.opened": "opened the case",
    "case.closed": "closed the case",
    "case.reopened": "reopened the case",
    "case.reminder_sent": "sent the referrer a reminder",
    "case.scheduled": "put the case on a meeting's agenda",
    "case.serious_cleared": "cleared the serious incident flag",
    "case.serious_incident": "flagged the case as a serious incident",
    "case.split": "made a new case from one of the case's files",
    "case.updated": "added a follow-up to the case",
    "case.viewed": "viewed the case",
    "case.note_added": "added a note to the case",
    "case.owner_set": "changed who owns the case",
    "case.message_written": "wrote to the referrer from the workspace",
    "cases.searched": "searched the cases",
    "meeting.added": "added an SPRG meeting date",
    "message.viewed": "read a held message in full",
    "decision.amended": "changed the SPRG decision",
    "decision.recorded": "recorded the SPRG decision",
    "keys.escrowed": "escrowed the master key to the offline key",
    "keys.retired": "retired an old master key version",
    "keys.rotated": "rotated the master key",
    "message.accept": "handled a referral (new case)",
    "message.ignore_auto": "filed an automatic message",
    "message.manual_entry": "received a form for a person to read",
    "message.merge_followup": "handled a follow-up",
    "message.not_referral": "filed general correspondence",
    "message.quarantine": "held a message for a person",
    "message.reject_attachment": "asked for a usable copy of an attachment",
    "message.listed": "saw the message in a list",
    "message.request_missing": "asked the referrer for missing information",
    "messages.listed": "listed every message received",
    "quarantine.rejected": "rejected a held message",
    "quarantine.released": "released a held message",
    "quarantine.viewed": "read a held message",
    "queue.exported": "exported the queue",
    "reply.limited": "held back a reply (too many to one address)",
    "report.annual": "produced the annual report",
    "report.viewed": "viewed the annual report",
    "records.backup": "backed up the database",
    "records.purged": "purged the cases due for destruction",
    "records.restored": "restored the database from a backup",
    "records.upgraded": "upgraded the database",
    "sar.produced": "produced a subject access pack",
    "sprg.agenda_pack": "wrote the agenda pack",
    "sprg.digest": "sent the SPRG digest",
    "sprg.extraordinary_meeting": "called an extraordinary SPRG meeting",
    "sprg.final_report_reminder": "reminded the team that a final report is due",
    "sprg.pack_downloaded": "downloaded the agenda pack",
    "user.add": "added a workspace user",
    "user.disable": "disabled a workspace user",
    "user.disabled": "disabled a workspace user",
    "user.enable": "enabled a workspace user",
    "user.enabled": "enabled a workspace user",
    "user.reset": "set a new password for a workspace user",
    "user.sign_in_refused": "was refused sign-in",
    "user.signed_in": "signed in",
    "user.signed_out": "signed out",
    "user.two_step_set_up": "set up two-step sign-in",
}


def words(action: str) -> str:
    """The plain words for an action; an unknown one is described, never shown bare."""
    if action in WORDS:
        return WORDS[action]
    if action.startswith("case.clock."):
        return f"recorded a date on the case's clock ({action[11:].replace('_', ' ')})"
    area, _, verb = action.partition(".")
    plain = verb.replace("_", " ").replace(".", " ")
    return f"{plain} ({area.replace('_', ' ')})" if verb else action.replace("_", " ")


@dataclass(frozen=True)
class AuditFilter:
    ref: str | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class LoggedEntry:
    id: int
    at: datetime
    actor: str
    action: str
    ref: str | None
    message_id: str | None
    detail: str

    @property
    def what(self) -> str:
        return words(self.action)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "user": self.actor,
            "action": self.action,
            "what": self.what,
            "ref": self.ref,
            "message_id": self.message_id,
            "detail": self.detail,
        }


def actor_matches(user: str) -> Any:
    """A user's entries: as named, as an operating-system login (``os:NAME``), or a
    workspace name given with ``--as`` at the command line (``NAME (os:LOGIN)``)."""
    return or_(
        AuditEntry.actor == user,
        AuditEntry.actor == f"os:{user}",
        AuditEntry.actor.like(f"{_escape(user)} (os:%)", escape="\\"),
        AuditEntry.actor.like(f"% (os:{_escape(user)})", escape="\\"),
    )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(stmt: Any, flt: AuditFilter) -> Any:  # a Select of any columns
    if flt.ref:
        stmt = stmt.where(Case.ref == flt.ref.strip().upper())
    if flt.user:
        stmt = stmt.where(actor_matches(flt.user.strip()))
    if flt.since is not None:
        stmt = stmt.where(AuditEntry.at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(AuditEntry.at < flt.until)
    return stmt


def list_entries(
    session: Session,
    flt: AuditFilter,
    *,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = True,
) -> list[LoggedEntry]:
    stmt = _filtered(select(AuditEntry, Case.ref).outerjoin(Case, Case.id == AuditEntry.case_id), flt)
    stmt = stmt.order_by(AuditEntry.id.desc() if newest_first else AuditEntry.id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return [
        LoggedEntry(e.id, e.at, e.actor, e.action, ref, e.message_id, e.detail)
        for e, ref in session.execute(stmt)
    ]


def count_entries(session: Session, flt: AuditFilter) -> int:
    stmt = _filtered(
        select(func.count()).select_from(AuditEntry).outerjoin(Case, Case.id == AuditEntry.case_id), flt
    )
    return int(session.scalar(stmt) or 0)


def case_entries(session: Session, refs: list[str], action: str, detail: str) -> list[Entry]:
    """One entry per case named (a list or an agenda pack shows each of them)."""
    rows = session.execute(select(Case.ref, Case.id).where(Case.ref.in_(refs)))
    ids = {ref: case_id for ref, case_id in rows} if refs else {}
    return [Entry(action, case_id=ids.get(ref), detail=detail) for ref in refs]
