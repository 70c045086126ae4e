"""Cases, their referral versions and files, and the data keys that encrypt them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailbot.store.models.base import Base, new_id


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
    #: The member of the team who owns the case (a workspace sign-in name), if any.
    owner: Mapped[str | None] = mapped_column(String(64))
    missing_required: Mapped[list[str]] = mapped_column(JSON, default=list)
    queries: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    #: When the record may be destroyed: ``retention.years_after_closure`` after closing.
    retain_until: Mapped[datetime | None] = mapped_column(index=True)
    #: A legal hold suspends retention (litigation, an inquiry, a review in progress).
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: Why the hold was put on, in a person's words (may name anyone): encrypted.
    legal_hold_why_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Set when the case was crypto-shredded (purged or erased): only the tombstone is left.
    shredded_at: Mapped[datetime | None]
    #: ``retention`` (purged when due) or ``erasure`` (a person's decision).
    shred_reason: Mapped[str | None] = mapped_column(String(16))
    #: What is kept of a shredded case: dates, referring agency, outcome; no personal data.
    tombstone: Mapped[dict[str, str] | None] = mapped_column(JSON)
    #: A child's death or serious harm (Working Together 2023): the statutory clocks run.
    serious_incident: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    #: Who last set or cleared the flag (``mailbot`` on arrival, else a person): a flag a
    #: person cleared is not set again by the bot when a new form arrives.
    serious_set_by: Mapped[str | None] = mapped_column(String(128))
    #: Why a person last set or cleared it (their words may describe the case: encrypted).
    serious_why_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The day the partnership became aware (the Panel notification clock starts here).
    aware_on: Mapped[date | None] = mapped_column(Date)
    panel_notified_on: Mapped[date | None] = mapped_column(Date)
    rapid_review_sent_on: Mapped[date | None] = mapped_column(Date)

    versions: Mapped[list[ReferralVersion]] = relationship(
        back_populates="case", order_by="ReferralVersion.version"
    )


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
    #: Keyed digest of what a resend is compared by (``mailbot.cases.resend``); NULL
    #: for versions from before it, which are compared by decrypting them.
    resend_index: Mapped[str | None] = mapped_column(String(64), index=True)

    case: Mapped[Case] = relationship(back_populates="versions")


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
    # Its bytes are in ``sealed_piece`` (owner column ``data_enc``): ``store.sealed_blob``.


class TeamNote(Base):
    """A note the team wrote on a case: encrypted under the case's key, with who and when."""

    __tablename__ = "case_note"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
