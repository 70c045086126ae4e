"""A case's conversation: every message in and out, in order, as people read them.

Each inbound message is decrypted from its stored copy and shown through
``mail.body_view`` (its plain text, or its HTML reduced to safe markup; never remote
images), with the files the case kept from it (to download) and what the bot did with
it. Each message the bot (or the team) sent is shown from its own stored copy. The
caller writes the audit entry for the view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases.views import KIND_WORDS, AttachmentLine, MessageLine, kind_words
from mailbot.mail.body_view import MessageBody, message_body, own_mail_text
from mailbot.store.models import Attachment, Case, InboundMessage, Outbox
from mailbot.store.sealed_blob import open_pieces
from mailbot.store.vault import Vault

#: What the team is told about the state of a message the bot is sending.
SEND_STATES = {
    "queued": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent",
    "failed": "could not be delivered",
}


@dataclass
class Entry:
    """One message of the conversation, decrypted for the page that shows it."""

    id: str
    direction: str  # "in" | "out"
    at: datetime
    sender: str | None
    to: str | None
    subject: str
    #: What the bot did with it (inbound), or what kind of mail it is (outbound).
    what: str
    body: MessageBody
    #: Inbound: the handler's reason, in words without personal data.
    reason: str = ""
    #: Files the case kept from this message, to download.
    files: list[AttachmentLine] = field(default_factory=list)
    #: Outbound: queued, sending, sent or failed, in words.
    state: str = ""
    #: Outbound: the member of staff who wrote it (None: the bot).
    written_by: str | None = None
    #: Inbound held messages: pending, released or rejected.
    hold_state: str | None = None


def inbound_entry(session: Session, vault: Vault, row: InboundMessage, case: Case | None = None) -> Entry:
    """One inbound message, decrypted: its text, files and what was done with it."""
    raw = open_pieces(session, vault, row, "raw_enc")
    kept: list[AttachmentLine] = []
    if case is not None:
        kept = [
            AttachmentLine(a.id, vault.open_text(session, a, "filename_enc"), a.content_type, a.size, a.kind)
            for a in session.scalars(
                select(Attachment).where(Attachment.case_id == case.id, Attachment.message_id == row.id)
            )
        ]
    return Entry(
        id=row.id,
        direction="in",
        at=row.received_at,
        sender=vault.open_text(session, row, "sender_enc"),
        to=None,
        subject=vault.open_text(session, row, "subject_enc"),
        what=kind_words(row.action, row.reason),
        body=message_body(raw),
        reason=row.reason,
        files=kept,
        hold_state=row.hold_state,
    )


def outbound_entry(session: Session, vault: Vault, row: Outbox, from_address: str) -> Entry:
    written_by = getattr(row, "written_by", None)
    what = "message from the team" if written_by else KIND_WORDS.get(row.kind, row.kind)
    return Entry(
        id=row.id,
        direction="out",
        at=row.sent_at or row.created_at,
        sender=from_address,
        to=vault.open_text(session, row, "recipient_enc"),
        subject=row.subject,
        what=what,
        body=MessageBody(text=own_mail_text(vault.open(session, row, "message_enc"))),
        state=SEND_STATES.get(row.state, row.state),
        written_by=written_by,
    )


def conversation(
    session: Session, vault: Vault, case: Case, lines: list[MessageLine], from_address: str
) -> list[Entry]:
    """The case's messages (``views.show``'s lines, already in order) with their text."""
    out: list[Entry] = []
    for line in lines:
        if line.direction == "in":
            inbound = session.get(InboundMessage, line.id)
            if inbound is not None:
                out.append(inbound_entry(session, vault, inbound, case))
        else:
            sent = session.get(Outbox, line.id)
            if sent is not None:
                out.append(outbound_entry(session, vault, sent, from_address))
    return out
