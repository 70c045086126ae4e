"""The store on SQLite and PostgreSQL: encryption, keys, references, audit chain."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.bot import eml
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.errors import CryptoError, KeyFileError
from mailbot.intake.poller import Poller
from mailbot.store import crypto
from mailbot.store.audit import verify_audit_chain
from mailbot.store.keys import KeyStore
from mailbot.store.models import Case, InboundMessage, ReferralVersion


def _two_cases(app: App) -> None:
    app.mailbox.append(eml("mail-01-referral-complete"))
    app.mailbox.append(eml("mail-04-handtyped-dates"))
    Poller(app).cycle()


def test_references_count_up_within_the_year(any_app: App) -> None:
    _two_cases(any_app)
    with any_app.db.session() as session:
        refs = sorted(session.scalars(select(Case.ref)))
    assert refs == ["COC-2026-0001", "COC-2026-0002"]


def test_ciphertext_moved_to_another_row_fails_to_decrypt(any_app: App) -> None:
    _two_cases(any_app)
    with any_app.db.session() as session:
        first, second = session.scalars(select(ReferralVersion).order_by(ReferralVersion.id)).all()[:2]
        case_one = session.get(Case, first.case_id)
        assert case_one is not None
        assert any_app.vault.open_json(session, first, "referral_enc", key_id=case_one.key_id)
        first.referral_enc = second.referral_enc  # an attacker swaps rows
        with pytest.raises(CryptoError):
            any_app.vault.open_json(session, first, "referral_enc", key_id=case_one.key_id)
        session.rollback()


def test_ciphertext_moved_to_another_column_fails(any_app: App) -> None:
    _two_cases(any_app)
    with any_app.db.session() as session:
        row = session.scalars(select(InboundMessage)).first()
        assert row is not None
        row.subject_enc = row.sender_enc
        with pytest.raises(CryptoError):
            any_app.vault.open_text(session, row, "subject_enc")
        session.rollback()


def test_audit_chain_verifies_and_detects_tampering(any_app: App) -> None:
    _two_cases(any_app)
    with any_app.db.session() as session:
        assert verify_audit_chain(session)
        from mailbot.store.models import AuditEntry

        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
        assert entry is not None
        entry.detail = "edited afterwards"
        session.flush()
        assert not verify_audit_chain(session)
        session.rollback()


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "k" / "master.key")
    store.create()
    assert (store.path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(KeyFileError):
        KeyStore(store.path).create()
    os.chmod(store.path, 0o644)
    with pytest.raises(KeyFileError) as info:
        KeyStore(store.path).load()
    assert info.value.setting == "store.key_file"


def test_missing_key_with_wrapped_data_keys_stops(app: App) -> None:
    _two_cases(app)
    app.keys.path.unlink()
    app.keys._cached = None
    with pytest.raises(KeyFileError):
        app.prepare()
    assert not app.keys.path.exists()


def test_key_rotation_rewraps_and_data_still_reads(any_app: App) -> None:
    from mailbot.store import rotation

    _two_cases(any_app)
    result = rotation.rotate(any_app.db, any_app.keys, any_app.clock.now(), "os:tester")
    assert result.rewrapped > 0 and result.retired == [1] and result.version == 2
    assert set(any_app.keys.fresh().versions) == {2}
    any_app.vault._cache.clear()
    with any_app.db.session() as session:
        case = session.scalars(select(Case)).first()
        assert case is not None
        referral, _ = case_store.load_referral(session, any_app.vault, case)
        assert referral["child"]["full_name"]


def test_wrapped_key_needs_its_own_id() -> None:
    master = os.urandom(32)
    blob = crypto.wrap_key(master, 1, "a" * 32, os.urandom(32))
    with pytest.raises(CryptoError):
        crypto.unwrap_key(master, 1, "b" * 32, blob)


def test_migrations_match_the_models(any_app: App) -> None:
    """A model changed without a migration would pass on a fresh test database only."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import mailbot.store.models  # noqa: F401 - the feature tables
    from mailbot.store.models import Base

    with any_app.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
