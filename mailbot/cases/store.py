"""Cases and their referral versions in the store: the only code that writes them.

Each function takes the session and the vault it works in, so one message's rows (its
inbound record, cases, versions, audit and outbox) share one transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailbot.cases.referral import child_key, get_path
from mailbot.clock import london
from mailbot.errors import NotFound
from mailbot.intake.handlers.base import OPEN_STATUSES, CaseSummary
from mailbot.store.models import (
    AuditEntry,
    Case,
    InboundMessage,
    MessageCase,
    Outbox,
    RefCounter,
    ReferralVersion,
)
from mailbot.store.vault import Vault

AUDIT_LOCK = 0x4D41494C424F54  # "MAILBOT": the advisory lock that orders audit appends



@dataclass
class VersionInput:
    referral: dict[str, Any]
    provenance: dict[str, str]
    source: str  # form, email, manual
    fallbacks: list[str]
    missing: list[str]
    queries: list[dict[str, str]]
    created_by: str
    message_row_id: str | None = None
    note: str | None = None


def next_ref(session: Session, now: datetime) -> str:
    """``COC-YYYY-NNNN``: the year on the bot's clock in London, counting up."""
    year = london(now).year
    for _ in range(5):
        number = session.execute(
            update(RefCounter).where(RefCounter.year == year)
            .values(last=RefCounter.last + 1).returning(RefCounter.last)
        ).scalar_one_or_none()
        if number is not None:
            return f"COC-{year}-{number:04d}"
        try:
            with session.begin_nested():
                session.execute(insert(RefCounter).values(year=year, last=0))
        except IntegrityError:
            continue  # another worker made the row first; take a number from it
    raise RuntimeError("could not allocate a case reference")


def status_for(missing: list[str], queries: list[dict[str, str]], manual: bool = False) -> str:
    if manual:
        return "manual_entry"
    return "awaiting_information" if missing or queries else "ready"


def open_case(session: Session, vault: Vault, now: datetime, sender: str,
              version: VersionInput, *, manual: bool = False) -> Case:
    key_id = vault.new_key(session)
    case = Case(ref=next_ref(session, now), status="awaiting_information", key_id=key_id,
                created_at=now, updated_at=now, held=False, current_version=0,
                sender_index=vault.index("sender", sender))
    case.sender_enc = vault.seal_text(session, case, "sender_enc", sender)
    session.add(case)
    session.flush()
    add_version(session, vault, case, now, version, manual=manual)
    return case


def add_version(session: Session, vault: Vault, case: Case, now: datetime,
                version: VersionInput, *, manual: bool = False) -> ReferralVersion:
    row = ReferralVersion(case_id=case.id, version=case.current_version + 1,
                          source=version.source, fallbacks=version.fallbacks,
                          missing_required=version.missing, queries=version.queries,
                          message_id=version.message_row_id, created_at=now,
                          created_by=version.created_by)
    row.referral_enc = vault.seal_json(session, row, "referral_enc", version.referral,
                                       key_id=case.key_id)
    row.provenance_enc = vault.seal_json(session, row, "provenance_enc", version.provenance,
                                         key_id=case.key_id)
    if version.note:
        row.note_enc = vault.seal_text(session, row, "note_enc", version.note, key_id=case.key_id)
    session.add(row)
    case.current_version = row.version
    case.missing_required = list(version.missing)
    case.queries = list(version.queries)
    key = child_key(version.referral)
    case.child_index = vault.index("child", key) if key else None
    case.updated_at = now
    if case.status in OPEN_STATUSES:
        new_status = status_for(version.missing, version.queries, manual)
        if new_status == "ready" and case.status != "ready":
            case.ready_at = now
        case.status = new_status
    session.flush()
    return row


def current_version(session: Session, case: Case) -> ReferralVersion:
    row = session.scalars(select(ReferralVersion).where(
        ReferralVersion.case_id == case.id, ReferralVersion.version == case.current_version)
    ).one()
    return row


def load_referral(session: Session, vault: Vault, case: Case) -> tuple[dict[str, Any], ReferralVersion]:
    row = current_version(session, case)
    return vault.open_json(session, row, "referral_enc", key_id=case.key_id), row


def case_by_ref(session: Session, ref: str) -> Case:
    case = session.scalars(select(Case).where(Case.ref == ref.upper())).one_or_none()
    if case is None:
        raise NotFound(f"no case {ref}")
    return case


def summary(session: Session, vault: Vault, case: Case) -> CaseSummary:
    senders = {vault.open_text(session, case, "sender_enc")}
    referral, _row = load_referral(session, vault, case)
    email = get_path(referral, "referrer.email")
    if isinstance(email, str) and email.strip():
        senders.add(email.strip().lower())
    return CaseSummary(case.id, case.ref, case.status, frozenset(senders))


def possible_duplicates(session: Session, case: Case) -> list[str]:
    if not case.child_index:
        return []
    return list(session.scalars(select(Case.ref).where(
        Case.child_index == case.child_index, Case.id != case.id).order_by(Case.ref)))


def case_refs_of_message(session: Session, message_row_id: str) -> list[str]:
    return list(session.scalars(select(Case.ref).join(MessageCase, MessageCase.case_id == Case.id)
                                .where(MessageCase.message_id == message_row_id)
                                .order_by(Case.ref)))


class DbCaseLookup:
    """What handlers may ask about existing cases, answered from the store."""

    def __init__(self, session: Session, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    def by_ref(self, ref: str) -> CaseSummary | None:
        case = self.session.scalars(select(Case).where(Case.ref == ref)).one_or_none()
        return summary(self.session, self.vault, case) if case else None

    def by_child(self, referral: dict[str, Any]) -> CaseSummary | None:
        key = child_key(referral)
        if key is None:
            return None
        case = self.session.scalars(
            select(Case).where(Case.child_index == self.vault.index("child", key),
                               Case.status != "closed")
            .order_by(Case.created_at.desc()).limit(1)).one_or_none()
        return summary(self.session, self.vault, case) if case else None

    def same_child(self, case: CaseSummary, referral: dict[str, Any]) -> bool | None:
        key = child_key(referral)
        row = self.session.get(Case, case.id)
        if key is None or row is None or row.child_index is None:
            return None
        return row.child_index == self.vault.index("child", key)

    def by_sent_message_id(self, message_id: str) -> CaseSummary | None:
        row = self.session.scalars(select(Outbox).where(Outbox.message_id == message_id)
                                   ).one_or_none()
        if row is None or not row.case_refs:
            return None
        return self.by_ref(row.case_refs[0])


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


def count_cases(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


def inbound(session: Session, row_id: str) -> InboundMessage:
    row = session.get(InboundMessage, row_id)
    if row is None:
        raise NotFound(f"no message {row_id}")
    return row
