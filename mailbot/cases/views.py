"""What people and scripts see: the queue, one case, the messages, the quarantine.

Each view returns typed values with an ``as_json()`` for INTERFACE.md's shapes; the CLI
prints them as JSON or as a table, the workspace renders them. Decrypting is done here,
for the one purpose of showing it; the callers write the audit entry for each read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.clocks import CaseClock, clocks_of
from mailbot.cases.queue import iso, waiting_for
from mailbot.cases.status import CaseStatus
from mailbot.clock import london
from mailbot.forms.model import Referral
from mailbot.sprg.decision_form import HELD_DECISION
from mailbot.sprg.decisions import with_recorded_decision
from mailbot.store.models import Attachment, Case, InboundMessage, MessageCase, Outbox
from mailbot.store.sealed_blob import open_head
from mailbot.store.vault import Vault

#: How each kind of message reads to a person (actions of INTERFACE.md, and our own mail).
KIND_WORDS = {
    "accept": "form received (complete)",
    "request_missing": "form received (incomplete)",
    "merge_followup": "follow-up added to the case",
    "ignore_auto": "automatic mail",
    "quarantine": "held for a person",
    "reject_attachment": "attachment could not be opened",
    "manual_entry": "form to enter by hand",
    "not_referral": "general correspondence",
    "reply": "reply sent",
    "alert": "alert to the team",
    "digest": "digest",
    "reminder": "reminder to the referrer",
}

#: Reasons (as the handlers word them) that change how a kind reads: no form came.
NO_FORM_WORDS = (
    ("request_missing", "no COC form is attached", "no form attached: asked for the form"),
    ("merge_followup", "without a form", "reply added to the case (no form)"),
)


def kind_words(action: str, reason: str = "") -> str:
    """How a message's handling reads to a person; a message without a form says so."""
    for kind, marker, words in NO_FORM_WORDS:
        if action == kind and marker in reason:
            return words
    return KIND_WORDS.get(action, action)


@dataclass
class MessageLine:
    """One message in or out on a case's page."""

    id: str
    received_at: datetime
    sender: str | None
    subject: str
    kind: str
    direction: str  # "in" | "out"
    state: str | None = None
    to: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "received_at": iso(self.received_at),
            "sender": self.sender,
            "subject": self.subject,
            "kind": self.kind,
            "direction": self.direction,
        }
        if self.direction == "out":
            out.update(state=self.state, to=self.to)
        return out


@dataclass
class AttachmentLine:
    id: str
    filename: str
    content_type: str
    size: int
    kind: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "kind": self.kind,
        }


@dataclass
class CaseView:
    """One case, decrypted, for ``show`` and the case page."""

    ref: str
    status: CaseStatus
    referral: Referral
    missing_required: list[str]
    queries: list[dict[str, str]]
    provenance: dict[str, str]
    fallbacks: list[str]
    version: int
    received_at: datetime
    meeting_date: Any
    waiting_for: str
    possible_duplicates: list[str]
    messages: list[MessageLine] = field(default_factory=list)
    attachments: list[AttachmentLine] = field(default_factory=list)
    serious_incident: bool = False
    clocks: list[CaseClock] = field(default_factory=list)
    aware_on: Any = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "status": str(self.status),
            "referral": self.referral,
            "missing_required": list(self.missing_required),
            "queries": list(self.queries),
            "provenance": self.provenance,
            "fallbacks": list(self.fallbacks),
            "version": self.version,
            "received_at": iso(self.received_at),
            "meeting_date": self.meeting_date.isoformat() if self.meeting_date else None,
            "waiting_for": self.waiting_for,
            "possible_duplicates": list(self.possible_duplicates),
            "messages": [m.as_json() for m in self.messages],
            "attachments": [a.as_json() for a in self.attachments],
            "serious_incident": self.serious_incident,
            "clocks": [c.as_json() for c in self.clocks],
        }


@dataclass
class MessageItem:
    """One inbound message and how it was handled (``messages``)."""

    id: str
    message_id: str | None
    received_at: datetime
    sender: str
    action: str
    case_refs: list[str]
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "received_at": iso(self.received_at),
            "sender": self.sender,
            "action": self.action,
            "case_refs": self.case_refs,
            "reason": self.reason,
        }


@dataclass
class HeldItem:
    """One message held for a person (``quarantine``)."""

    id: str
    received_at: datetime
    sender: str
    subject: str
    reason: str
    #: The case the message points at, if any (shown to the team, not in the JSON).
    linked_ref: str | None = None

    @property
    def confirms_decision(self) -> bool:
        """An emailed SPRG decision held for the team: releasing it records it."""
        return self.reason.startswith(HELD_DECISION)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": iso(self.received_at),
            "sender": self.sender,
            "subject": self.subject,
            "reason": self.reason,
        }


def _messages_of(session: Session, vault: Vault, case: Case, from_address: str) -> list[MessageLine]:
    inbound = session.scalars(
        select(InboundMessage)
        .outerjoin(MessageCase, MessageCase.message_id == InboundMessage.id)
        .where(or_(MessageCase.case_id == case.id, InboundMessage.linked_case_id == case.id))
        .distinct()
    ).all()
    out: list[MessageLine] = []
    order: dict[str, tuple[datetime, int]] = {}  # full-precision time; in before out
    for row in inbound:
        order[row.id] = (row.received_at, 0)
        out.append(
            MessageLine(
                id=row.id,
                received_at=row.received_at,
                sender=vault.open_text(session, row, "sender_enc"),
                subject=vault.open_text(session, row, "subject_enc"),
                kind=row.action,
                direction="in",
            )
        )
    # Narrowed in the database on the JSON list's text, then checked exactly here.
    tagged = cast(Outbox.case_refs, String).like(f'%"{case.ref}"%')
    for sent in session.scalars(select(Outbox).where(tagged).order_by(Outbox.created_at)):
        if case.ref not in (sent.case_refs or []):
            continue
        order[sent.id] = (sent.created_at, 1)
        out.append(
            MessageLine(
                id=sent.id,
                received_at=sent.sent_at or sent.created_at,
                sender=from_address,
                subject=sent.subject,
                kind=sent.kind,
                direction="out",
                state=sent.state,
                to=vault.open_text(session, sent, "recipient_enc"),
            )
        )
    out.sort(key=lambda m: order[m.id])
    return out


def show(
    session: Session, vault: Vault, ref: str, *, from_address: str, now: datetime | None = None
) -> CaseView:
    case = case_store.case_by_ref(session, ref)
    stored, version = case_store.load_referral(session, vault, case)
    referral = with_recorded_decision(session, vault, case, stored)
    provenance = vault.open_json(session, version, "provenance_enc", key_id=case.key_id)
    attachments = [
        AttachmentLine(a.id, vault.open_text(session, a, "filename_enc"), a.content_type, a.size, a.kind)
        for a in session.scalars(select(Attachment).where(Attachment.case_id == case.id))
    ]
    return CaseView(
        ref=case.ref,
        status=CaseStatus(case.status),
        referral=referral,
        missing_required=list(case.missing_required),
        queries=list(case.queries),
        provenance=provenance,
        fallbacks=list(version.fallbacks),
        version=case.current_version,
        received_at=case.created_at,
        meeting_date=case.meeting_date,
        waiting_for=waiting_for(case),
        possible_duplicates=case_store.possible_duplicates(session, case),
        messages=_messages_of(session, vault, case, from_address),
        attachments=attachments,
        serious_incident=case.serious_incident,
        aware_on=case.aware_on,
        clocks=clocks_of(case, london(now or vault.clock.now()).date()),
    )


def messages(session: Session, vault: Vault) -> list[MessageItem]:
    return [
        MessageItem(
            id=row.id,
            message_id=_message_id_of(session, vault, row),
            received_at=row.received_at,
            sender=vault.open_text(session, row, "sender_enc"),
            action=row.action,
            case_refs=case_store.case_refs_of_message(session, row.id),
            reason=row.reason,
        )
        for row in session.scalars(select(InboundMessage).order_by(InboundMessage.received_at))
    ]


def _message_id_of(session: Session, vault: Vault, row: InboundMessage) -> str | None:
    """The Message-ID from the stored message's header block (read once, linearly)."""
    from mailbot.mail.reader import message_id_of  # the mail parser: not for `show` (start-up time)

    return message_id_of(open_head(session, vault, row, "raw_enc"))


def quarantine(
    session: Session, vault: Vault, *, case_id: str | None = None, row_id: str | None = None
) -> list[HeldItem]:
    """Messages held for a person, oldest first (only those linked to ``case_id``, if given)."""
    stmt = (
        select(InboundMessage, Case.ref)
        .outerjoin(Case, Case.id == InboundMessage.linked_case_id)
        .where(InboundMessage.action == "quarantine", InboundMessage.hold_state == "pending")
    )
    if case_id is not None:
        stmt = stmt.where(InboundMessage.linked_case_id == case_id)
    if row_id is not None:
        stmt = stmt.where(InboundMessage.id == row_id)
    rows = session.execute(stmt.order_by(InboundMessage.received_at))
    return [
        HeldItem(
            id=row.id,
            received_at=row.received_at,
            sender=vault.open_text(session, row, "sender_enc"),
            subject=vault.open_text(session, row, "subject_enc"),
            reason=row.reason,
            linked_ref=ref,
        )
        for row, ref in rows
    ]
