"""Crypto-shredding: a case (or a message no case needs) destroyed beyond recovery.

Every field of a case is sealed under its data key, so destroying that key (the wrapped
copy wiped, ``destroyed_at`` set) makes any of its ciphertext left in the live database
unreadable. (A backup taken before still holds the wrapped key: ``restore`` replays the
erasure log, and rotating the master key retires what wrapped it.) The ciphertext rows
are deleted too, and on SQLite the
freed pages are zeroed (``secure_delete``) and the WAL checkpointed and truncated, so
the bytes are gone from the files as well. What stays is a tombstone on the case row:
reference, dates, referring agency (an organisation) and the SPRG's yes/no decisions,
which the partnership's statistics need and which name nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, text
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.referral import get_path
from mailbot.cases.status import CaseStatus
from mailbot.errors import CryptoError
from mailbot.sprg import decisions
from mailbot.sprg.decision_form import get
from mailbot.store.audit import audit
from mailbot.store.db import Database
from mailbot.store.models import (
    ActionItem,
    Attachment,
    Case,
    CaseChase,
    DataKey,
    Decision,
    InboundMessage,
    MessageCase,
    Outbox,
    ReferralVersion,
)
from mailbot.store.sealed_blob import delete_pieces
from mailbot.store.vault import Vault


@dataclass
class Shredded:
    """What one shred removed (counts only: nothing here names a person)."""

    refs: list[str] = field(default_factory=list)
    messages: int = 0
    keys: int = 0
    #: Keyed content hashes of the messages deleted: their mailbox copies go too.
    contents: set[str] = field(default_factory=set)


def tombstone(session: Session, vault: Vault, case: Case) -> dict[str, Any]:
    """The facts kept after shredding: no name, date of birth, address or free text."""
    kept: dict[str, Any] = {
        "created_at": case.created_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "decided_at": case.decided_at.isoformat() if case.decided_at else None,
        "status_before": case.status,
        "versions": case.current_version,
    }
    try:
        referral, _ = case_store.load_referral(session, vault, case)
        kept["agency"] = get_path(referral, "referrer.agency")
        outcome = decisions.current(session, vault, case) or {}
    except (CryptoError, LookupError):  # a case without a readable version: dates only
        return kept
    for key in (
        "outcome.single_agency.decision",
        "outcome.multi_agency.decision",
        "outcome.final_report_date",
        "sprg.meeting_date",
    ):
        kept[key] = get(outcome, key)
    return kept


def shred_case(
    session: Session,
    vault: Vault,
    case: Case,
    now: datetime,
    *,
    actor: str,
    reason: str,
    result: Shredded | None = None,
) -> Shredded:
    """Destroy one case's personal data; ``reason`` is ``retention`` or ``erasure``."""
    result = result if result is not None else Shredded()
    if case.shredded_at is not None:
        return result
    case.tombstone = tombstone(session, vault, case)
    messages = set(session.scalars(select(MessageCase.message_id).where(MessageCase.case_id == case.id)))
    messages |= set(
        session.scalars(select(InboundMessage.id).where(InboundMessage.linked_case_id == case.id))
    )
    delete_pieces(session, "attachment", select(Attachment.id).where(Attachment.case_id == case.id))
    for table in (ActionItem, ReferralVersion, Attachment, Decision, CaseChase):
        session.execute(delete(table).where(table.case_id == case.id))
    session.execute(delete(MessageCase).where(MessageCase.case_id == case.id))
    case.status = CaseStatus.CLOSED
    case.closed_at = case.closed_at or now
    case.updated_at = case.shredded_at = now
    case.shred_reason = reason
    for column in Case.__table__.columns:  # every sealed field, new ones included
        if column.name.endswith("_enc"):
            setattr(case, column.name, None if column.nullable else b"")
    case.sender_index = "-"  # a keyed hash still confirms a guessed address: gone too
    case.child_index = None
    case.legal_hold = False
    keys = {case.key_id}
    session.flush()
    for message_id in messages:
        others = session.scalars(
            select(MessageCase.case_id).where(MessageCase.message_id == message_id)
        ).first()
        row = session.get(InboundMessage, message_id)
        if row is None:
            continue
        if others is not None:  # it also fed a case still kept: it stays with that case
            if row.linked_case_id == case.id:
                row.linked_case_id = None
            continue
        result.contents.add(row.content_index)
        keys.add(shred_message(session, row))
        result.messages += 1
    session.execute(delete(Outbox).where(Outbox.key_id.in_(keys)))
    result.keys += destroy_keys(session, keys, now)
    audit(
        session,
        now,
        actor,
        f"case.{'erased' if reason == 'erasure' else 'purged'}",
        case_id=case.id,
        detail=f"data key destroyed; {result.messages} message(s) deleted",
    )
    result.refs.append(case.ref)
    return result


def shred_message(session: Session, row: InboundMessage) -> str:
    """Delete one stored message and the mail that answered it; its key id, to destroy."""
    session.execute(delete(Outbox).where(or_(Outbox.in_reply_to == row.id, Outbox.key_id == row.key_id)))
    session.execute(delete(MessageCase).where(MessageCase.message_id == row.id))
    key_id = row.key_id
    delete_pieces(session, "inbound_message", [row.id])  # its raw message
    session.delete(row)
    session.flush()
    return key_id


def destroy_keys(session: Session, key_ids: set[str], now: datetime) -> int:
    """Wipe the wrapped data keys: every ciphertext under them is unreadable for good."""
    count = 0
    for key_id in key_ids:
        row = session.get(DataKey, key_id)
        if row is not None and row.wrapped is not None:
            row.wrapped = None
            row.destroyed_at = now
            count += 1
    return count


def scrub_files(db: Database) -> None:
    """SQLite: rewrite freed pages as zeros and empty the WAL, after the commit.

    ``secure_delete`` is on for every connection (``store/db.py``), so freed pages are
    zeroed when the transaction writes them; the checkpoint copies the WAL into the
    database and TRUNCATE leaves the WAL file empty, so no old page survives there.
    PostgreSQL keeps dead tuples until VACUUM: ask for one on the tables shredding
    touches.
    """
    if db.dialect == "sqlite":
        with db.engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    elif db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in (
                "referral_version",
                "attachment",
                "sprg_decision",
                "inbound_message",
                "outbox",
                "data_key",
                '"case"',
            ):
                connection.execute(text(f"VACUUM {table}"))
