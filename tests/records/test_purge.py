"""Retention, legal hold, purge and erasure: crypto-shredding on SQLite and PostgreSQL,
with canary scans of the database files."""

from __future__ import annotations

import json

import pytest
from helpers.bot import eml
from helpers.records import case_ciphertexts, case_values, holders, readable_text, sqlite_files
from sqlalchemy import func, select

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.cases.editing import close_case
from mailbot.clock import FixedClock
from mailbot.errors import CryptoError, NotFound, UsageError
from mailbot.intake.poller import Poller
from mailbot.records.purge import erase, erasure_log, purge
from mailbot.records.retention import set_legal_hold
from mailbot.store.audit import verify_audit_chain
from mailbot.store.models import (
    Attachment,
    AuditEntry,
    Case,
    DataKey,
    InboundMessage,
    MessageCase,
    ReferralVersion,
    SealedPiece,
)

YEARS = 25


def _deliver(app: App, *names: str) -> list[str]:
    for name in names:
        app.mailbox.append(eml(name))
    Poller(app).cycle()
    with app.db.session() as session:
        return sorted(session.scalars(select(Case.ref)))


def _close(app: App, ref: str) -> None:
    with app.db.session() as session:
        case = case_store.case_by_ref(session, ref)
        close_case(session, app.vault, case, app.clock.now(), user="test", reason="done")


def _later(clock: FixedClock, years: int) -> None:
    clock.advance(days=365 * years + years // 4 + 2)


def test_a_closed_case_is_shredded_after_its_retention_and_leaves_a_tombstone(
    any_app: App, clock: FixedClock
) -> None:
    first, second = _deliver(any_app, "mail-01-referral-complete", "mail-04-handtyped-dates")
    values = case_values(any_app, first) - case_values(any_app, second)  # a shared dob
    assert len(values) >= 4 and all(v in readable_text(any_app) for v in values)
    _close(any_app, first)
    _later(clock, YEARS - 1)
    assert purge(any_app).cases == []  # not yet due
    _later(clock, 1)
    assert purge(any_app, dry_run=True).cases == [first]
    report = purge(any_app)
    assert report.cases == [first] and report.keys >= 2  # the case's key and its message's
    any_app.vault._cache.clear()
    with any_app.db.session() as session:
        case = session.scalars(select(Case).where(Case.ref == first)).one()
        assert case.shredded_at is not None and case.shred_reason == "retention"
        assert case.tombstone and case.tombstone["agency"]
        assert "full_name" not in json.dumps(case.tombstone)
        key = session.get(DataKey, case.key_id)
        assert key is not None and key.wrapped is None and key.destroyed_at is not None
        with pytest.raises(CryptoError):
            any_app.vault.data_key(session, case.key_id)
        assert (
            session.scalar(
                select(func.count()).select_from(ReferralVersion).where(ReferralVersion.case_id == case.id)
            )
            == 0
        )
        actions = list(session.scalars(select(AuditEntry.action)))
        assert "case.purged" in actions and "records.purged" in actions
        assert verify_audit_chain(session)
        with pytest.raises(NotFound, match="destroyed"):
            case_store.case_by_ref(session, first)
    remaining = readable_text(any_app)
    assert not [v for v in values if v in remaining]
    assert case_values(any_app, second)  # the other case is untouched


def test_purge_leaves_no_ciphertext_in_the_sqlite_file_or_wal(app: App, clock: FixedClock) -> None:
    first, _second = _deliver(app, "mail-01-referral-complete", "mail-04-handtyped-dates")
    slices = case_ciphertexts(app, first)
    assert holders(sqlite_files(app), slices) == sorted(slices)  # the scan can see them
    _close(app, first)
    _later(clock, YEARS + 1)
    assert purge(app).cases == [first]
    assert holders(sqlite_files(app), slices) == []
    wal = sqlite_files(app)[1]
    assert not wal.exists() or wal.stat().st_size == 0


def test_legal_hold_suspends_retention_until_lifted(app: App, clock: FixedClock) -> None:
    (ref,) = _deliver(app, "mail-01-referral-complete")
    _close(app, ref)
    with app.db.session() as session:
        case = case_store.case_by_ref(session, ref)
        set_legal_hold(session, app.vault, case, clock.now(), on=True, why="inquiry", actor="t")
        with pytest.raises(UsageError):
            set_legal_hold(session, app.vault, case, clock.now(), on=True, why=" ", actor="t")
    _later(clock, YEARS + 5)
    assert purge(app).cases == []
    with pytest.raises(UsageError, match="legal hold"):
        erase(app, ref, reason="request 12", actor="dpo")
    with app.db.session() as session:
        case = case_store.case_by_ref(session, ref)
        set_legal_hold(session, app.vault, case, clock.now(), on=False, why="over", actor="t")
        assert [a for a in session.scalars(select(AuditEntry.action)) if "legal_hold" in a] == [
            "case.legal_hold_on",
            "case.legal_hold_off",
        ]
    assert purge(app).cases == [ref]


def test_open_cases_are_never_due_and_dry_run_changes_nothing(app: App, clock: FixedClock) -> None:
    (ref,) = _deliver(app, "mail-01-referral-complete")
    _later(clock, 60)
    assert purge(app, dry_run=True).cases == []
    _close(app, ref)
    _later(clock, YEARS + 1)
    report = purge(app, dry_run=True)
    assert report.cases == [ref] and report.dry_run
    with app.db.session() as session:
        assert case_store.case_by_ref(session, ref).retain_until is None  # nothing written
    assert case_values(app, ref)
    assert erasure_log(app).entries() == []


def test_messages_without_a_case_follow_their_own_periods(app: App, clock: FixedClock) -> None:
    _deliver(app, "mail-19-mailing-list", "mail-17-dmarc-fail")
    with app.db.session() as session:
        actions = {m.action: m.hold_state for m in session.scalars(select(InboundMessage))}
    assert actions == {"ignore_auto": None, "quarantine": "pending"}
    clock.advance(days=app.settings.retention_other_days - 1)
    assert purge(app).other == 0
    clock.advance(days=2)
    report = purge(app)
    assert (report.other, report.held) == (1, 0)  # a pending hold waits for a person
    with app.db.session() as session:
        held = session.scalars(select(InboundMessage)).one()
        held.hold_state = "rejected"
    clock.advance(days=app.settings.retention_held_days)
    assert purge(app).held == 1
    with app.db.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_erase_one_case_is_logged_apart_and_its_reason_sealed(app: App) -> None:
    first, second = _deliver(app, "mail-15-two-forms")
    with app.db.session() as session:
        files = set(
            session.scalars(select(SealedPiece.owner_id).where(SealedPiece.owner_table == "attachment"))
        )
        assert files
    erase(app, first, reason="Art. 17 request upheld, DPO ref 2026-17", actor="dpo")
    with app.db.session() as session:
        case = session.scalars(select(Case).where(Case.ref == first)).one()
        assert case.shred_reason == "erasure" and case.tombstone
        sealed = case.tombstone["erasure_reason_enc"]
        assert "DPO" not in sealed
        # The message fed the other case too: it stays, for that case.
        assert session.scalar(select(func.count()).select_from(MessageCase)) == 1
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.erased")).one()
        assert entry.actor == "dpo" and "DPO" not in entry.detail
    assert [(e.ref, e.reason) for e in erasure_log(app).entries()] == [(first, "erasure")]
    with pytest.raises(UsageError, match="already"):
        erase(app, first, reason="again", actor="dpo")
    with app.db.session() as session:  # the raw message stays (in pieces); no orphan file pieces
        owners = set(session.execute(select(SealedPiece.owner_table, SealedPiece.owner_id)))
        kept = {("attachment", a) for a in session.scalars(select(Attachment.id))}
        assert {o for o in owners if o[0] == "inbound_message"} and {
            o for o in owners if o[0] == "attachment"
        } == kept
    erase(app, second, reason="same request", actor="dpo")
    with app.db.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0
        assert session.scalar(select(func.count()).select_from(SealedPiece)) == 0  # raw and files


def test_shredding_empties_every_table_that_points_at_the_case(app: App) -> None:
    """A table added later with a case_id (and its own ciphertext) must be shredded too."""
    from sqlalchemy import text

    from mailbot.store.models import Base

    first, _second = _deliver(app, "mail-01-referral-complete", "mail-04-handtyped-dates")
    with app.db.session() as session:
        case_id = session.scalars(select(Case.id).where(Case.ref == first)).one()
    erase(app, first, reason="request upheld", actor="dpo")
    tables = [t for t in Base.metadata.sorted_tables if "case_id" in t.columns]
    assert {"referral_version", "attachment", "sprg_decision", "message_case"} <= {t.name for t in tables}
    with app.db.session() as session:
        left = {
            t.name: session.execute(
                text(f'SELECT count(*) FROM "{t.name}" WHERE case_id = :c'), {"c": case_id}
            ).scalar()
            for t in tables
        }
        case = session.get(Case, case_id)
        assert case is not None
        sealed = {c.name: getattr(case, c.name) for c in Case.__table__.columns if c.name.endswith("_enc")}
    assert {name: n for name, n in left.items() if n and name != "audit"} == {}
    assert all(not value for value in sealed.values()), sealed
