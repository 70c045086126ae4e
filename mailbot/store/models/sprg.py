"""The SPRG's tables: meetings and the decisions recorded at them.

What is in clear is what the bot queries and is not about a person: dates of meetings and
of final reports, when a digest or reminder went, who recorded a decision (``cli`` or
``mailbot``). The decision itself (agencies, grounds, methodology, other actions, the
chair's name) is one encrypted JSON blob under the case's data key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mailbot.store.models.base import Base, new_id


class Meeting(Base):
    """One SPRG meeting the bot has prepared for: the digest is sent once per meeting."""

    __tablename__ = "sprg_meeting"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    meeting_date: Mapped[date] = mapped_column(Date, unique=True)
    #: The data key of the meeting's digests (their outbox rows, the attached pack).
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    created_at: Mapped[datetime]
    digest_sent_at: Mapped[datetime | None]
    digest_cases: Mapped[int] = mapped_column(Integer, default=0)
    #: Added by the team outside the configured calendar (e.g. for a serious incident).
    extraordinary: Mapped[bool] = mapped_column(Boolean, default=False)


class Decision(Base):
    """An SPRG decision on a case, as the form's outcome section; the newest one counts."""

    __tablename__ = "sprg_decision"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    #: 1 for a case's first decision, then one more for each amendment: the newest counts.
    seq: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    #: ``{"outcome": {...}, "sprg": {...}}`` exactly as FIELDS.md, encrypted.
    outcome_enc: Mapped[bytes] = mapped_column(LargeBinary)
    meeting_date: Mapped[date | None] = mapped_column(Date)
    final_report_date: Mapped[date | None] = mapped_column(Date, index=True)
    #: ``command`` (``mailbot outcome``) or ``email`` (the team's emailed form).
    source: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(ForeignKey("inbound_message.id"))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(128))
    reminder_sent_at: Mapped[datetime | None]


class ActionItem(Base):
    """One action of an SPRG decision's action plan.

    In clear: the owning agency (an organisation, for lists by agency and the annual
    report) and the dates. Encrypted under the case's key: the action's text (written by
    the team, it may describe the case), the owner's role and e-mail address, the
    evidence of completion and the reason it was carried forward.
    """

    __tablename__ = "sprg_action"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("sprg_decision.id"))
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)
    agency: Mapped[str] = mapped_column(String(200), index=True)
    owner_enc: Mapped[bytes] = mapped_column(LargeBinary)
    owner_email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    done_on: Mapped[date | None] = mapped_column(Date)
    evidence_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    carried_forward_on: Mapped[date | None] = mapped_column(Date)
    carry_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    reminder_sent_at: Mapped[datetime | None]
    overdue_sent_at: Mapped[datetime | None]
