"""Typed SQLAlchemy 2.0 models.

Every column that could identify a person ends in ``_enc`` and holds AES-GCM
ciphertext bound to (table, column, row id, key id); ids are random hex made by the
application, so the associated data is known before the INSERT. What stays in clear
is what the bot needs to query and is not about a person: references, statuses,
actions, timestamps, keyed hashes, our own Message-IDs and the required-field keys.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use the clock")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class DataKey(Base):
    __tablename__ = "data_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once destroyed (erasure)
    master_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]


class RefCounter(Base):
    """The last case number used in a year: ``COC-YYYY-NNNN``."""

    __tablename__ = "ref_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "case"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    meeting_date: Mapped[date | None] = mapped_column(Date, index=True)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The sender of the first message (lower-case bare address), encrypted.
    sender_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: Keyed hash of the sender address, to find a sender's cases without decrypting all.
    sender_index: Mapped[str] = mapped_column(String(64), index=True)
    #: Keyed hash of the child's normalised name and date of birth (possible duplicates).
    child_index: Mapped[str | None] = mapped_column(String(64), index=True)
    close_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    missing_required: Mapped[list[str]] = mapped_column(JSON, default=list)
    queries: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

    versions: Mapped[list[ReferralVersion]] = relationship(
        back_populates="case", order_by="ReferralVersion.version")


class ReferralVersion(Base):
    __tablename__ = "referral_version"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    #: ``form`` (read from an attachment), ``email`` (no form: only what the e-mail gave),
    #: ``manual`` (a person's edit).
    source: Mapped[str] = mapped_column(String(16))
    referral_enc: Mapped[bytes] = mapped_column(LargeBinary)
    provenance_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: Which fields came from the e-mail instead of the form (``referrer.email``, ...).
    fallbacks: Mapped[list[str]] = mapped_column(JSON, default=list)
    missing_required: Mapped[list[str]] = mapped_column(JSON, default=list)
    queries: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("inbound_message.id"))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship(back_populates="versions")


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
    raw_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: A case the message points at but may not feed (another sender's reply).
    linked_case_id: Mapped[str | None] = mapped_column(ForeignKey("case.id"))


class MessageCase(Base):
    """Which cases a message opened or fed."""

    __tablename__ = "message_case"

    message_id: Mapped[str] = mapped_column(ForeignKey("inbound_message.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("inbound_message.id"))
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    filename_enc: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    #: ``form``, ``other`` (another document kept with the case), ``manual`` (a scan).
    kind: Mapped[str] = mapped_column(String(16))
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)


class Outbox(Base):
    """A message the bot will send; written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: Our own Message-ID, fixed when queued, so a resend is the same message.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # reply, alert, digest, reminder
    case_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    recipient_enc: Mapped[bytes] = mapped_column(LargeBinary)
    subject: Mapped[str] = mapped_column(Text)  # references only, never personal
    message_enc: Mapped[bytes] = mapped_column(LargeBinary)
    in_reply_to: Mapped[str | None] = mapped_column(ForeignKey("inbound_message.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who did what, when and why; each entry hashes the one before it."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("case.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class PollState(Base):
    """Small facts for ``mailbot status``: last poll, last error (no personal data)."""

    __tablename__ = "poll_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
