"""The chain's lock is taken once per transaction and its head written once (issue 18),
and a savepoint rolled back in the middle of a transaction leaves a valid chain."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import sql_trace
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from mailbot.app import App
from mailbot.store import audit as audit_mod
from mailbot.store.models import AuditEntry

NOW = datetime(2026, 10, 12, 9, 15, tzinfo=UTC)


def _entries(app: App) -> int:
    with app.db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


@pytest.mark.parametrize("k", [1, 5])
def test_k_entries_in_one_transaction_cost_at_most_k_plus_2_statements(any_app: App, k: int) -> None:
    with sql_trace.statements(any_app.db.engine) as statements, any_app.db.session() as session:
        for n in range(k):
            audit_mod.audit(session, NOW, "test", "case.read", detail=f"read {n}")
            session.flush()  # the worst case: each entry inserted on its own
    written = [s for s in statements if "audit" in s.lower()]
    assert k <= len(written) <= k + 2, written  # the k inserts, the lock and the head
    with any_app.db.session() as session:
        assert audit_mod.check_audit_chain(session).intact


def test_entries_appended_together_are_one_insert(any_app: App) -> None:
    entries = [audit_mod.Entry("case.read", detail=f"read {n}") for n in range(20)]
    with sql_trace.statements(any_app.db.engine) as statements, any_app.db.session() as session:
        audit_mod.audit_many(session, NOW, "test", entries)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO AUDIT")]
    assert len(inserts) == 1, inserts


class Boom(Exception):
    pass


def test_a_savepoint_rolled_back_in_the_middle_leaves_a_valid_chain(any_app: App) -> None:
    before = _entries(any_app)
    with any_app.db.session() as session:
        audit_mod.audit(session, NOW, "test", "first")
        with session.begin_nested():
            audit_mod.audit(session, NOW, "test", "kept")
        with pytest.raises(Boom), session.begin_nested():
            audit_mod.audit(session, NOW, "test", "rolled back")
            with session.begin_nested():
                audit_mod.audit(session, NOW, "test", "rolled back too")
            raise Boom
        audit_mod.audit(session, NOW, "test", "after")
    with any_app.db.session() as session:
        report = audit_mod.check_audit_chain(session)
        assert report.intact, report
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[before:] == ["first", "kept", "after"]
        audit_mod.audit(session, NOW, "test", "next transaction")  # the head row was right
    with any_app.db.session() as session:
        assert audit_mod.check_audit_chain(session).intact
    assert _entries(any_app) == before + 4


def head_taken_elsewhere(app: App) -> None:
    """On PostgreSQL, another connection cannot take the chain's head now: it is held."""
    other = create_engine(app.db.engine.url)
    try:
        with other.connect() as conn, pytest.raises(OperationalError) as exc:
            conn.execute(text("SELECT last_hash FROM audit_head FOR UPDATE NOWAIT"))
        assert getattr(exc.value.orig, "sqlstate", None) == "55P03"  # lock_not_available
    finally:
        other.dispose()


def test_a_lock_first_taken_in_a_savepoint_rolled_back_is_taken_again(any_app: App) -> None:
    """A savepoint rolled back releases the row lock taken inside it (PostgreSQL): the
    next entry must take it again, not trust a head it no longer holds."""
    with any_app.db.session() as session:
        with pytest.raises(Boom), session.begin_nested():
            audit_mod.audit(session, NOW, "test", "rolled back")
            raise Boom
        audit_mod.audit(session, NOW, "test", "kept")
        if any_app.db.dialect == "postgresql":
            head_taken_elsewhere(any_app)
        with session.begin_nested():
            audit_mod.audit(session, NOW, "test", "kept too")
        assert audit_mod.check_audit_chain(session).intact  # within the transaction too
        audit_mod.audit(session, NOW, "test", "last")
    with any_app.db.session() as session:
        assert audit_mod.check_audit_chain(session).intact


def test_a_transaction_rolled_back_leaves_the_head_alone(any_app: App) -> None:
    with pytest.raises(Boom), any_app.db.session() as session:
        audit_mod.audit(session, NOW, "test", "gone")
        raise Boom
    with any_app.db.session() as session:
        audit_mod.audit(session, NOW, "test", "kept")
    with any_app.db.session() as session:
        assert audit_mod.check_audit_chain(session).intact
