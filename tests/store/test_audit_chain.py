"""The audit chain is keyed, serialised on both databases, and keeps an older unkeyed start."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.bot import eml, make_app
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.store import audit as audit_mod
from mailbot.store.keys import KeyStore
from mailbot.store.models import AuditEntry

GENESIS = "0" * 64


def _plain(prev: str, e: AuditEntry) -> str:
    body = "|".join(
        [prev, e.at.isoformat(), e.actor, e.action, e.case_id or "", e.message_id or "", e.detail]
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _some_entries(app: App) -> None:
    app.mailbox.append(eml("mail-01-referral-complete"))
    app.mailbox.append(eml("mail-04-handtyped-dates"))
    Poller(app).cycle()


def _rechain_plainly(session: object) -> None:
    """What someone with the database but no key file can do: recompute every hash."""
    prev = GENESIS
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):  # type: ignore[attr-defined]
        e.prev_hash, e.hash = prev, _plain(prev, e)
        prev = e.hash
    session.flush()  # type: ignore[attr-defined]
    if inspect(session.get_bind()).has_table("audit_head"):  # type: ignore[attr-defined]
        session.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": prev})  # type: ignore[attr-defined]


def test_deleting_an_entry_and_recomputing_plain_hashes_is_detected(any_app: App) -> None:
    _some_entries(any_app)
    with any_app.db.session() as session:
        assert audit_mod.verify_audit_chain(session)
        victim = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()[1]
        session.delete(victim)
        session.flush()
        _rechain_plainly(session)
        assert not audit_mod.verify_audit_chain(session)
        session.rollback()


def test_an_edited_entry_is_found_by_its_id(any_app: App) -> None:
    _some_entries(any_app)
    with any_app.db.session() as session:
        third = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()[2]
        third.actor = "someone else"
        session.flush()
        report = audit_mod.check_audit_chain(session)
        assert not report.intact and report.broken_at == third.id
        assert "changed" in report.problem
        session.rollback()


def test_removing_the_newest_entry_is_detected(any_app: App) -> None:
    _some_entries(any_app)
    with any_app.db.session() as session:
        newest = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        session.delete(newest)
        session.flush()
        report = audit_mod.check_audit_chain(session)
        assert not report.intact and "newest" in report.problem
        session.rollback()


def test_48_parallel_appends_do_not_fork_the_chain(any_app: App) -> None:
    _some_entries(any_app)
    barrier = threading.Barrier(48)
    errors: list[BaseException] = []

    def view(n: int) -> None:
        try:
            barrier.wait(timeout=60)
            with any_app.db.session() as session:
                session.scalars(select(AuditEntry.id).limit(1)).all()  # a read first, as a page does
                audit_mod.audit(session, any_app.clock.now(), f"user{n}", "case.viewed")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=view, args=(n,)) for n in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with any_app.db.session() as session:
        prevs = session.scalars(select(AuditEntry.prev_hash)).all()
        assert len(prevs) == len(set(prevs)), "two entries follow the same one: the chain forked"
        report = audit_mod.check_audit_chain(session)
    assert report.intact, report


def _legacy_database(tmp_path: Path, url: str, clock: FixedClock) -> None:
    """A database as the bot left it before the chain was keyed: schema 0005 and
    three entries hashed with plain SHA-256."""
    from alembic import command

    from mailbot.store.db import Database, _alembic_config

    db = Database(url)
    with db.engine.begin() as connection:
        cfg = _alembic_config(db.engine)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0005_webauth")
    prev = GENESIS
    with Session(db.engine) as session:
        for n in range(3):
            entry = AuditEntry(
                at=clock.now() - timedelta(days=3 - n),
                actor="cli",
                action="case.viewed",
                case_id=None,
                message_id=None,
                detail=f"old {n}",
                prev_hash=prev,
            )
            entry.hash = prev = _plain(prev, entry)
            session.add(entry)
        session.commit()
    db.dispose()


def test_an_older_unkeyed_chain_is_kept_and_where_keying_starts_is_signed(
    tmp_path: Path, database_url: str, clock: FixedClock
) -> None:
    _legacy_database(tmp_path, database_url, clock)
    KeyStore(tmp_path / "var" / "master.key").create()  # the installation's own key file
    app = make_app(tmp_path, database_url, clock)  # migrates with the key file at hand
    try:
        with app.db.session() as session:
            audit_mod.audit(session, datetime.now(UTC), "os:alice", "case.viewed")
        with app.db.session() as session:
            report = audit_mod.check_audit_chain(session)
            assert report.intact and report.entries == 4, report
            keyed_from = session.execute(text("SELECT keyed_from FROM audit_head")).scalar_one()
            assert keyed_from == 4
            # Moving the boundary past every entry, then recomputing plain hashes, is found.
            _rechain_plainly(session)
            session.execute(text("UPDATE audit_head SET keyed_from = 5"))
            report = audit_mod.check_audit_chain(session)
            assert not report.intact and "start of the keyed chain" in report.problem
            session.rollback()
    finally:
        app.close()
