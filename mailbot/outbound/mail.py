"""One way to make and queue any mail the bot sends.

Every kind of outbound message (a reply, an alert to the team, a digest, a reminder, a
decision notice) is described by an ``OutboundMail`` and handed to ``Outbound.queue``,
which renders its template, fixes its Message-ID, composes it with the headers the
conventions require (INTERFACE.md) and stores it in the outbox in the caller's
transaction. A new kind of mail is a template and a ``KINDS`` row, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from jinja2 import Environment
from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from mailbot.mail.sender import headers_of
from mailbot.mail.thread_headers import msg_ids
from mailbot.outbound import outbox
from mailbot.outbound.compose import compose, make_message_id, render, tag_subject
from mailbot.outbound.wire import compose_wire, wire_of
from mailbot.store.models import Outbox
from mailbot.store.vault import Vault

MailKind = Literal["reply", "alert", "digest", "reminder", "decision", "message"]


@dataclass(frozen=True)
class KindRules:
    #: The kind stored with the outbox row and shown by ``show --json`` (INTERFACE.md).
    stored: str
    #: ``Auto-Submitted``: a direct answer to a message is ``auto-replied``; mail the bot
    #: starts itself is ``auto-generated`` (RFC 3834 section 5).
    auto: str


KINDS: dict[MailKind, KindRules] = {
    "reply": KindRules(stored="reply", auto="auto-replied"),
    "alert": KindRules(stored="alert", auto="auto-generated"),
    "digest": KindRules(stored="digest", auto="auto-generated"),
    "reminder": KindRules(stored="reminder", auto="auto-generated"),
    "decision": KindRules(stored="reply", auto="auto-generated"),
    #: A person's message from the workspace: a reply to the referrer, not automatic.
    "message": KindRules(stored="reply", auto="no"),
}


@dataclass(frozen=True)
class Thread:
    """The message this mail follows: its Message-ID, References and Thread-Index, from
    which ours get In-Reply-To, References and a Thread-Index continuing its own."""

    message_id: str
    references: tuple[str, ...] = ()
    thread_index: str | None = None


@dataclass(frozen=True)
class Attachment:
    data: bytes
    maintype: str
    subtype: str
    filename: str


@dataclass(frozen=True)
class OutboundMail:
    kind: MailKind
    #: The template's name under ``templates/mail/`` (``.txt.j2`` and ``.html.j2``).
    template: str
    #: The subject's words; the case tags are put in front unless ``tagged`` is False.
    subject: str
    recipient: str
    refs: Sequence[str] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    follows: Thread | None = None
    #: The data key that encrypts the stored copy (None: a new one of its own).
    key_id: str | None = None
    #: The inbound message this answers or alerts about (kept with the outbox row).
    inbound_row_id: str | None = None
    tagged: bool = True
    #: Words for the Message-ID besides the kind (default: the case references).
    id_words: Sequence[str] | None = None
    attachments: Sequence[Attachment] = ()
    #: What the mail is about, for the reply limits (kept only as a keyed hash).
    topic: str | None = None


def sent_thread(session: Session, vault: Vault, row: Outbox) -> Thread:
    """A message the bot queued, as a ``Thread`` to follow: a reminder or a notice then
    carries the whole conversation (the referrer's ids and ours) and its Thread-Index."""
    stored = headers_of(vault.open(session, row, "message_enc"))
    return Thread(
        row.message_id,
        tuple(msg_ids([str(stored.get("References") or "")])),
        str(stored.get("Thread-Index") or "") or None,
    )


def last_reply_thread(session: Session, vault: Vault, ref: str, recipient: str) -> Thread | None:
    """The newest reply the bot queued to ``recipient`` about case ``ref``, to follow.

    Only mail to the same person: another person's conversation is not theirs to see.
    """
    # Narrowed in the database on the JSON list's text, then checked exactly here.
    tagged = cast(Outbox.case_refs, String).like(f'%"{ref}"%')
    rows = session.scalars(
        select(Outbox).where(Outbox.kind == "reply", tagged).order_by(Outbox.created_at.desc())
    )
    for row in rows:
        if (
            ref in (row.case_refs or [])
            and vault.open_text(session, row, "recipient_enc").lower() == recipient.lower()
        ):
            return sent_thread(session, vault, row)
    return None


class Outbound:
    def __init__(
        self, env: Environment, vault: Vault, *, sender: str, domain: str, urgent_contact: str
    ) -> None:
        self.env = env
        self.vault = vault
        self.sender = sender
        self.domain = domain
        self.urgent_contact = urgent_contact

    def queue(self, session: Session, now: datetime, mail: OutboundMail) -> Outbox:
        rules = KINDS[mail.kind]
        refs = list(mail.refs)
        subject = tag_subject(refs, mail.subject) if mail.tagged else mail.subject
        rendered = render(
            self.env, mail.template, subject, **{"urgent_contact": self.urgent_contact, **mail.context}
        )
        id_words = list(mail.id_words) if mail.id_words is not None else refs
        follows = mail.follows
        fields: dict[str, Any] = dict(
            rendered=rendered,
            sender=self.sender,
            recipient=mail.recipient,
            message_id=make_message_id(mail.kind, id_words, now, self.domain),
            date=now,
            auto=rules.auto,
            in_reply_to=follows.message_id if follows else None,
            references=list(follows.references) if follows else None,
            thread_index=follows.thread_index if follows else None,
        )
        if mail.attachments:  # rare (the SPRG pack), and of no fixed shape: the email package
            email = compose(**fields)
            for item in mail.attachments:
                email.add_attachment(
                    item.data, maintype=item.maintype, subtype=item.subtype, filename=item.filename
                )
            wire = wire_of(email)
        else:  # every reply: its bytes written directly (``outbound.wire``)
            wire = compose_wire(**fields)
        key_id = mail.key_id or self.vault.new_key(session)
        return outbox.queue(
            session,
            self.vault,
            now,
            wire,
            kind=rules.stored,
            recipient=mail.recipient,
            case_refs=refs,
            key_id=key_id,
            in_reply_to=mail.inbound_row_id,
            topic_index=self.vault.index("topic", mail.topic) if mail.topic else None,
        )
