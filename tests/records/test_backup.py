"""Backups, restores that keep erasures, key escrow, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.bot import eml
from helpers.records import case_ciphertexts, case_values, holders, readable_text, sqlite_files
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.errors import NotFound, UsageError
from mailbot.intake.poller import Poller
from mailbot.records.backup import BackupError, backup, restore
from mailbot.records.escrow import key_file_payload, open_escrow, write_escrow
from mailbot.records.purge import erase
from mailbot.store.audit import verify_audit_chain
from mailbot.store.keys import KeyStore
from mailbot.store.models import AuditEntry, Case


def _two_cases(app: App) -> tuple[str, str]:
    app.mailbox.append(eml("mail-01-referral-complete"))
    app.mailbox.append(eml("mail-04-handtyped-dates"))
    Poller(app).cycle()
    with app.db.session() as session:
        first, second = sorted(session.scalars(select(Case.ref)))
    return first, second


def test_backup_then_erase_then_restore_keeps_the_erasure(any_app: App, tmp_path: Path) -> None:
    first, second = _two_cases(any_app)
    values = case_values(any_app, first) - case_values(any_app, second)
    out = backup(any_app, tmp_path / "backups" / "before.bak")
    assert out.stat().st_mode & 0o777 == 0o600
    erase(any_app, first, reason="request upheld", actor="dpo")
    again = restore(any_app, out)
    assert again == [first]
    with any_app.db.session() as session:
        with pytest.raises(NotFound, match="destroyed"):
            case_store.case_by_ref(session, first)
        assert verify_audit_chain(session)
        actions = list(session.scalars(select(AuditEntry.action)))
        assert actions.count("case.erased") == 1 and "records.restored" in actions
    assert case_values(any_app, second)
    assert not [v for v in values if v in readable_text(any_app)]
    # Restoring the same backup again: still erased, nothing new to do twice.
    assert restore(any_app, out) == [first]


def test_a_backup_taken_after_an_erasure_holds_none_of_its_bytes(app: App, tmp_path: Path) -> None:
    first, _second = _two_cases(app)
    slices = case_ciphertexts(app, first)
    before = backup(app, tmp_path / "before.db")
    assert holders([before], slices) == sorted(slices)  # the scan sees them in a backup
    erase(app, first, reason="request upheld", actor="dpo")
    after = backup(app, tmp_path / "after.db")
    assert holders([after, *sqlite_files(app)], slices) == []


def test_restore_refuses_a_key_that_does_not_open_the_backup(app: App, tmp_path: Path) -> None:
    _two_cases(app)
    out = backup(app, tmp_path / "b.db")
    app.keys.path.unlink()
    app.keys._cached = None
    app.keys.create()  # a new, different key
    with pytest.raises(BackupError, match="do not open"):
        restore(app, out)


def test_restore_refuses_what_is_not_a_backup(app: App, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(UsageError):
        restore(app, junk)
    with pytest.raises(UsageError):
        restore(app, tmp_path / "missing.db")


def _rsa_pair(tmp_path: Path, bits: int = 3072) -> tuple[Path, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pub = tmp_path / f"escrow-{bits}.pub.pem"
    pub.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pub, pem


def test_escrow_round_trip_recovers_every_master_version(app: App, tmp_path: Path) -> None:
    app.keys.add_version()
    keys = app.keys.load()
    pub, private_pem = _rsa_pair(tmp_path)
    out = tmp_path / "master-key.escrow"
    document = write_escrow(keys, pub, out, app.clock.now())
    assert document["master_versions"] == [1, 2] and out.stat().st_mode & 0o777 == 0o600
    blob = out.read_bytes()
    for version_key in keys.versions.values():
        assert version_key.hex().encode() not in blob
    recovered = open_escrow(blob, private_pem)
    assert recovered == key_file_payload(keys)
    restored = tmp_path / "recovered" / "master.key"
    restored.parent.mkdir()
    restored.write_bytes(recovered)
    restored.chmod(0o600)
    assert KeyStore(restored).load() == keys
    _other_pub, other_private = _rsa_pair(tmp_path / "..")
    with pytest.raises(ValueError):
        open_escrow(blob, other_private)


def test_escrow_refuses_a_weak_or_wrong_recipient(app: App, tmp_path: Path) -> None:
    weak, _ = _rsa_pair(tmp_path, 1024)
    with pytest.raises(UsageError, match="bits"):
        write_escrow(app.keys.load(), weak, tmp_path / "x", app.clock.now())
    notpem = tmp_path / "not.pem"
    notpem.write_text("hello")
    with pytest.raises(UsageError, match="PEM"):
        write_escrow(app.keys.load(), notpem, tmp_path / "x", app.clock.now())
    assert not (tmp_path / "x").exists()
