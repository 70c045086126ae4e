"""The audit trail: every read and change of personal data, hash-chained.

Each entry's hash covers the one before it, so an edited or deleted entry breaks the
chain that ``verify_audit_chain`` (and ``mailbot status``) checks.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from mailbot.store.models import AuditEntry

AUDIT_LOCK = 0x4D41494C424F54  # "MAILBOT": the advisory lock that orders audit appends


def audit(session: Session, now: datetime, actor: str, action: str, *,
          case_id: str | None = None, message_id: str | None = None, detail: str = "") -> None:
    """Append to the hash chain: each entry's hash covers the one before it.

    On PostgreSQL concurrent writers would read the same last hash and fork the chain,
    so appends take a transaction-scoped advisory lock (released at commit).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK})
    prev = session.scalars(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
                           ).one_or_none() or "0" * 64
    body = "|".join([prev, now.isoformat(), actor, action, case_id or "", message_id or "",
                     detail])
    session.add(AuditEntry(at=now, actor=actor, action=action, case_id=case_id,
                           message_id=message_id, detail=detail, prev_hash=prev,
                           hash=hashlib.sha256(body.encode()).hexdigest()))


def verify_audit_chain(session: Session) -> bool:
    prev = "0" * 64
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        body = "|".join([prev, entry.at.isoformat(), entry.actor, entry.action,
                         entry.case_id or "", entry.message_id or "", entry.detail])
        if entry.prev_hash != prev or entry.hash != hashlib.sha256(body.encode()).hexdigest():
            return False
        prev = entry.hash
    return True
