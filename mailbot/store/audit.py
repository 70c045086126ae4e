"""The audit trail: every read and change of personal data, in a keyed hash chain.

Each entry's hash is an HMAC-SHA256, under a key kept with the master key (never in
the database), of the entry and the hash before it. Someone who can write to the
database but has no key file cannot delete or edit an entry and recompute the hashes:
``check_audit_chain`` (``mailbot audit verify``, ``mailbot status``, the workspace)
finds the first entry that no longer fits. Entries written before the chain was keyed
keep their plain SHA-256 hashes up to ``audit_head.keyed_from``, a boundary signed
with the same key.

Appends are serialised through the one ``audit_head`` row: the writer updates it
(SQLite's write lock) or selects it ``FOR UPDATE`` (PostgreSQL) before reading the
last hash, so parallel writers queue instead of forking the chain.

The lock is held to the end of the transaction, so it is taken once per transaction
(issue 18): the newest hash is kept in ``session.info`` for that transaction and the
row is written once, just before the commit. A savepoint rolled back takes its
entries with it, so the head is put back to what it was when the savepoint began (or
forgotten, and read again under a new lock, when the lock itself was taken inside
it). A commit of the root transaction made while a savepoint is still open (calling
``SessionTransaction.commit`` on the root directly) is not supported; ``Session.commit``
and context managers are fine.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.orm import Session, SessionTransaction

from mailbot.errors import CryptoError
from mailbot.store.models import AuditEntry, AuditHead

GENESIS = "0" * 64
HEAD = 1
#: Where ``Database.session`` leaves the audit key's source on each session.
KEY_INFO = "audit_key"
#: Where the transaction's chain head is cached (see ``_Head``).
HEAD_INFO = "audit_head"


@dataclass(frozen=True)
class Entry:
    """One entry to append (``audit_many`` writes several under one lock)."""

    action: str
    case_id: str | None = None
    message_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    entries: int
    #: The id of the first entry that does not fit (None when intact, or when the
    #: problem is the head or the keyed boundary rather than an entry).
    broken_at: int | None = None
    problem: str = ""


def audit_key(session: Session) -> bytes:
    source: Callable[[], bytes] | None = session.info.get(KEY_INFO)
    if source is None:
        raise CryptoError("the audit key is not available to this session")
    return source()


def boundary_mac(key: bytes, keyed_from: int) -> str:
    return hmac.new(key, f"keyed_from|{keyed_from}".encode(), hashlib.sha256).hexdigest()


def _body(
    prev: str, at: datetime, actor: str, action: str, case_id: str | None, message_id: str | None, detail: str
) -> bytes:
    return "|".join([prev, at.isoformat(), actor, action, case_id or "", message_id or "", detail]).encode()


def _keyed(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _plain(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _lock_head(session: Session) -> str:
    """Take the chain's lock for this transaction and return the newest hash (one statement)."""
    where = AuditHead.id == HEAD
    if session.get_bind().dialect.name == "postgresql":
        last = session.execute(select(AuditHead.last_hash).where(where).with_for_update()).scalar_one()
    else:  # SQLite: the first write of a transaction takes the database's write lock
        last = session.execute(
            update(AuditHead)
            .where(where)
            .values(last_hash=AuditHead.last_hash)
            .returning(AuditHead.last_hash)
            .execution_options(synchronize_session=False)
        ).scalar_one()
    return last or GENESIS


@dataclass
class _Head:
    """The chain's head within one transaction that holds its lock."""

    root: SessionTransaction
    #: The newest hash appended in this transaction (or read under the lock).
    last: str
    #: What the ``audit_head`` row holds now, in this transaction.
    written: str
    #: For each open savepoint begun while the lock was held: (savepoint, last, written).
    marks: list[tuple[SessionTransaction, str, str]] = field(default_factory=list)


def _cached(session: Session) -> _Head | None:
    head: _Head | None = session.info.get(HEAD_INFO)
    if head is None:
        return None
    if head.root is not session.get_transaction():
        session.info.pop(HEAD_INFO, None)
        return None
    return head


def _head(session: Session) -> _Head:
    head = _cached(session)
    if head is None:
        last = _lock_head(session)
        root = session.get_transaction()
        assert root is not None  # the statement above began one
        head = _Head(root, last, last)
        session.info[HEAD_INFO] = head
    return head


def hold_chain(session: Session) -> None:
    """Take the chain's lock now, for the rest of this transaction.

    Intake takes it first, right after the key version claim, so that every intake
    transaction takes its exclusive locks in one order: the chain's head before any
    case, counter or outbox row. Taken at the first ``audit`` instead, a batch that had
    locked the case counter for a referral could wait for the head while another worker,
    which had audited an automatic message first, waited for the counter: PostgreSQL
    broke that deadlock by failing one batch (seen with two and four workers)."""
    _head(session)


def _write_head(session: Session) -> None:
    """Bring the ``audit_head`` row up to this transaction's newest hash."""
    head = _cached(session)
    if head is not None and head.last != head.written:
        session.execute(
            update(AuditHead)
            .where(AuditHead.id == HEAD)
            .values(last_hash=head.last)
            .execution_options(synchronize_session=False)
        )
        head.written = head.last


@event.listens_for(Session, "after_transaction_create")
def _savepoint_begun(session: Session, transaction: SessionTransaction) -> None:
    if not transaction.nested:
        return
    head = _cached(session)
    if head is not None:
        head.marks = [mark for mark in head.marks if mark[0].is_active]
        head.marks.append((transaction, head.last, head.written))


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    head: _Head | None = session.info.get(HEAD_INFO)
    if head is None:
        return
    if previous.nested:
        for number, (savepoint, last, written) in enumerate(head.marks):
            if savepoint is previous:  # the lock predates it: still held
                head.last, head.written = last, written
                del head.marks[number:]
                return
    session.info.pop(HEAD_INFO, None)  # the lock went with it: take it again


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's release is not the end
        _write_head(session)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(HEAD_INFO, None)


def audit_many(session: Session, now: datetime, actor: str, entries: Sequence[Entry]) -> None:
    """Append several entries, in order, under the transaction's lock (a list of 500
    cases read), in one INSERT (executemany)."""
    if not entries:
        return
    key = audit_key(session)
    head = _head(session)
    prev = head.last
    rows: list[dict[str, object]] = []
    for entry in entries:
        digest = _keyed(
            key, _body(prev, now, actor, entry.action, entry.case_id, entry.message_id, entry.detail)
        )
        rows.append(
            {
                "at": now,
                "actor": actor,
                "action": entry.action,
                "case_id": entry.case_id,
                "message_id": entry.message_id,
                "detail": entry.detail,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    if any(entry.case_id for entry in entries):
        session.flush()  # a case opened in this transaction must be in before its entry
    # On the connection: one executemany, with no ORM bulk path and no flush where no
    # row refers to a case (issue 18: half the intake's entries).
    session.connection().execute(insert(cast(Table, AuditEntry.__table__)), rows)
    head.last = prev


def audit(
    session: Session,
    now: datetime,
    actor: str,
    action: str,
    *,
    case_id: str | None = None,
    message_id: str | None = None,
    detail: str = "",
) -> None:
    """Append one entry to the chain (committed with the caller's transaction)."""
    audit_many(session, now, actor, [Entry(action, case_id, message_id, detail)])


def check_audit_chain(session: Session) -> ChainReport:
    """Walk the chain from its start; say where it first breaks, if it does.

    The head is read first and must be met on the way: entries appended while the
    walk runs come after it and are checked too, entries removed from the end are not
    there to meet it.
    """
    key = audit_key(session)
    _write_head(session)
    head = session.execute(
        select(AuditHead.last_hash, AuditHead.keyed_from, AuditHead.keyed_from_mac).where(
            AuditHead.id == HEAD
        )
    ).one()
    head_hash, keyed_from, mark = head.last_hash or GENESIS, head.keyed_from, head.keyed_from_mac
    if keyed_from > 1 and not hmac.compare_digest(mark or "", boundary_mac(key, keyed_from)):
        return ChainReport(False, 0, None, "the start of the keyed chain was moved or is unsigned")
    prev, count, met = GENESIS, 0, head_hash == GENESIS
    stmt = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=2000)
    for entry in session.scalars(stmt):
        count += 1
        body = _body(prev, entry.at, entry.actor, entry.action, entry.case_id, entry.message_id, entry.detail)
        if entry.prev_hash != prev:
            return ChainReport(
                False, count, entry.id, "an entry before this one was removed, added or reordered"
            )
        expected = _keyed(key, body) if entry.id >= keyed_from else _plain(body)
        if not hmac.compare_digest(entry.hash, expected):
            return ChainReport(False, count, entry.id, "this entry was changed after it was written")
        prev = entry.hash
        met = met or prev == head_hash
    if not met:
        return ChainReport(False, count, None, "the newest entries were removed")
    return ChainReport(True, count)


def verify_audit_chain(session: Session) -> bool:
    return check_audit_chain(session).intact
