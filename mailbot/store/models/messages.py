"""Mail in and out: each inbound message handled, its links to cases, the outbox, poll state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailbot.store.models.base import Base, new_id


class InboundMessage(Base):
    __tablename__ = "inbound_message"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: Keyed hash of (Message-ID, content): the same message delivered twice is one row.
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id_index: Mapped[str | None] = mapped_column(String(64), index=True)
    content_index: Mapped[str] = mapped_column(String(64), index=True)
    #: Where it was first seen: mailbox identity, folder, UIDVALIDITY, UID.
    mailbox_ref: Mapped[str] = mapped_column(String(512), index=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    received_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    action: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    #: For held messages: ``pending``, ``released`` or ``rejected``.
    hold_state: Mapped[str | None] = mapped_column(String(16))
    #: A person's words on a held message (why it was rejected): may name anyone.
    hold_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Where the mailbox copy went (Processed, Quarantine, Other) and whether it is there.
    target_folder: Mapped[str] = mapped_column(String(32))
    moved: Mapped[bool] = mapped_column(Boolean, default=False)
    sender_enc: Mapped[bytes] = mapped_column(LargeBinary)
    subject_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # The raw message itself is in ``sealed_piece`` (owner column ``raw_enc``), sealed in
    # pieces by ``store.sealed_blob``: never in this row, which is read and updated often.
    #: A case the message points at but may not feed (another sender's reply).
    linked_case_id: Mapped[str | None] = mapped_column(ForeignKey("case.id"))


class MessageAttempt(Base):
    """A message being handled, recorded and committed before the work starts (issue 13).

    The row goes when the message is handled; one that is still here at the next try
    means the last attempt failed (``last_error``: the error's type) or never finished
    (``interrupted``: the process was killed).  After ``mailbox.max_attempts`` tries the
    message is held for a person, so it cannot block the messages behind it.
    """

    __tablename__ = "message_attempt"

    #: Keyed hash of the mailbox reference (mailbox, folder, UIDVALIDITY, UID).
    ref_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(64))


class MessageCase(Base):
    """Which cases a message opened or fed."""

    __tablename__ = "message_case"

    message_id: Mapped[str] = mapped_column(ForeignKey("inbound_message.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)


class Outbox(Base):
    """A message the bot will send; written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_recipient_index", "recipient_index", "created_at"),
        Index("ix_outbox_topic_index", "topic_index"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: Our own Message-ID, fixed when queued, so a resend is the same message.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # reply, alert, digest, reminder
    case_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    recipient_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: Keyed hashes (never the values): the recipient, and what the mail is about (the
    #: thread a reply answers, the sender a limit notice names), for the reply limits.
    recipient_index: Mapped[str | None] = mapped_column(String(64))
    topic_index: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)  # references only, never personal
    message_enc: Mapped[bytes] = mapped_column(LargeBinary)
    in_reply_to: Mapped[str | None] = mapped_column(ForeignKey("inbound_message.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    #: A message a member of the team wrote in the workspace (their name); None: the bot's.
    written_by: Mapped[str | None] = mapped_column(String(128))


class SealedPiece(Base):
    """One piece of a large sealed value: a raw message, an attachment's bytes (issue 13).

    Each piece is AES-256-GCM under its owner row's data key, bound to the owner's table,
    column and row id and to its index and the number of pieces (``store.sealed_blob``),
    so pieces cannot be reordered, dropped or moved to another row.  Written and read a
    piece at a time, so no full-size ciphertext is ever in memory.
    """

    __tablename__ = "sealed_piece"

    owner_table: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_column: Mapped[str] = mapped_column(String(32), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)


class PollState(Base):
    """Small facts for ``mailbot status``: last poll, last error (no personal data)."""

    __tablename__ = "poll_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
