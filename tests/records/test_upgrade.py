"""``mailbot upgrade``: a database with data from the first schema, backed up and then
migrated to the current one, on SQLite and PostgreSQL, still reads."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.bot import make_env
from helpers.first_schema import ATTACHMENT_ID, CHILD, FILE, MESSAGE_ID, RAW, REF, seed_first_schema
from sqlalchemy import create_engine, func, inspect, select, text

from mailbot.cli.main import main
from mailbot.clock import FixedClock
from mailbot.store.db import Database
from mailbot.store.keys import KeyStore
from mailbot.store.models import Attachment, InboundMessage, SealedPiece
from mailbot.store.sealed_blob import open_pieces
from mailbot.store.vault import Vault


def test_upgrade_from_the_first_schema_keeps_every_case(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, database_url).items():
        monkeypatch.setenv(key, value)
    keys = KeyStore(tmp_path / "var" / "master.key")
    keys.create()
    seed_first_schema(database_url, keys)

    assert main(["upgrade"]) == 0
    out = capsys.readouterr().out
    assert "backup before upgrading" in out
    backups = list((tmp_path / "var" / "backups").glob("pre-upgrade-*"))
    assert len(backups) == 1 and backups[0].stat().st_size > 0
    if database_url.startswith("sqlite"):  # the copy was taken before the migration
        with sqlite3.connect(backups[0]) as copy:
            assert copy.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    engine = create_engine(database_url)
    with engine.connect() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert head != "0001"

    assert main(["show", REF, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["referral"]["child"]["full_name"] == CHILD
    assert main(["purge", "--dry-run"]) == 0  # the new columns are there and work
    _old_values_read_from_pieces(database_url, keys)
    assert main(["upgrade"]) == 0  # a second run: nothing to migrate, a fresh backup
    capsys.readouterr()


def _old_values_read_from_pieces(database_url: str, keys: KeyStore) -> None:
    """Migration 0013 moved each whole ciphertext into one piece: the same bytes come
    back, and the rows no longer carry them."""
    db = Database(database_url)
    vault = Vault(keys, FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)))
    try:
        with db.session() as session:
            message = session.get(InboundMessage, MESSAGE_ID)
            attachment = session.get(Attachment, ATTACHMENT_ID)
            assert message is not None and attachment is not None
            assert open_pieces(session, vault, message, "raw_enc") == RAW
            assert open_pieces(session, vault, attachment, "data_enc") == FILE
            assert session.scalar(select(func.count()).select_from(SealedPiece)) == 2
        columns = {c["name"] for c in inspect(db.engine).get_columns("inbound_message")}
        columns |= {c["name"] for c in inspect(db.engine).get_columns("attachment")}
        assert not {"raw_enc", "data_enc"} & columns
    finally:
        db.engine.dispose()
