"""The audit trail: who did what, when, hash-chained."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailbot.store.models.base import Base


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


class AuditHead(Base):
    """The newest entry's hash, in one row that every append updates (and so locks).

    Appending reads the last hash and writes the next; two writers that both read the
    same last hash would fork the chain. Updating this row first makes the second
    writer wait for the first one's commit, on SQLite (the write lock) as on
    PostgreSQL (``SELECT ... FOR UPDATE``). ``keyed_from`` is the first entry whose
    hash is an HMAC: entries written before the chain was keyed keep their plain
    SHA-256, and ``keyed_from_mac`` (an HMAC under the audit key) stops anyone without
    the key from moving that boundary to pass off a recomputed chain as old.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_hash: Mapped[str | None] = mapped_column(String(64))
    keyed_from: Mapped[int] = mapped_column(Integer)
    keyed_from_mac: Mapped[str | None] = mapped_column(String(64))


class MasterKeyRecord(Base):
    """Each master key version this database has seen, by fingerprint (never the key).

    The fingerprint is an HMAC-SHA256 of a fixed label under that version, so a key
    file from another installation is recognised and refused before anything is
    written under it.
    """

    __tablename__ = "master_key"

    #: 0 is the blind-index key; 1 and up the master key versions.
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
    #: When the version was retired (no data key used it any more; gone from the file).
    retired_at: Mapped[datetime | None]
