"""The morning jobs' own state: which waits have been chased, and when flagged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from mailbot.store.models.base import Base


class CaseChase(Base):
    """One reminder per wait: a case's version that waited, when reminded, when flagged."""

    __tablename__ = "case_chase"

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reminded_at: Mapped[datetime]
    flagged_at: Mapped[datetime | None]
