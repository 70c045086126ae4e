"""``backup``, ``restore`` and ``upgrade``: a consistent copy of the database, never a key.

SQLite is copied with its online backup API (page by page, consistent while the bot
runs); PostgreSQL with ``pg_dump`` in its custom format. Neither copy holds the master
key: every data key inside is wrapped by it, so a stolen backup alone reads nothing, and
a lost key makes every backup useless (escrow it: ``mailbot keys escrow``). A restore
brings the database back, migrates it to this version's schema, checks the key opens
it, and replays the erasure log, so a case destroyed after the backup stays destroyed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess  # noqa: S404 - pg_dump and pg_restore, with argument lists, no shell
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from mailbot.app import App
from mailbot.errors import CryptoError, MailbotError, UsageError
from mailbot.records.purge import replay
from mailbot.records.shred import scrub_files
from mailbot.store.audit import audit
from mailbot.store.models import DataKey

PG_TOOLS_TIMEOUT = 3600


class BackupError(MailbotError):
    """A backup or restore could not be made."""


def _sqlite_path(app: App) -> Path:
    return Path(app.settings.database_url.removeprefix("sqlite:///"))


def _libpq_url(app: App) -> str:
    """The SQLAlchemy URL as libpq reads it (``postgresql://``), password included."""
    url = make_url(app.settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))


def backup(app: App, out: Path, *, audited: bool = True, actor: str = "mailbot") -> Path:
    """Write a consistent copy of the database to ``out`` (mode 0600).

    ``upgrade`` passes ``audited=False``: before migrating, the audit table may not yet
    have the shape this version writes.
    """
    if out.exists() and out.is_dir():
        raise UsageError(f"{out} is a folder: name the backup file")
    _private_file(out)
    if app.db.dialect == "sqlite":
        source = sqlite3.connect(_sqlite_path(app))
        target = sqlite3.connect(out)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
            source.close()
    elif app.db.dialect == "postgresql":
        _pg("pg_dump", "--format=custom", "--no-owner", f"--file={out}", f"--dbname={_libpq_url(app)}")
    else:
        raise BackupError(f"no backup method for {app.db.dialect}")
    if not audited:
        return out
    with app.db.session() as session:
        audit(session, app.clock.now(), actor, "records.backup", detail=f"to {out.name}")
    return out


def restore(app: App, source: Path, *, actor: str = "mailbot") -> list[str]:
    """Replace the database with a backup; the erasures since are applied again."""
    if not source.is_file():
        raise UsageError(f"no backup file at {source}")
    app.keys.load()  # no key, no restore: the restored data would be unreadable
    app.db.dispose()
    if app.db.dialect == "sqlite":
        _restore_sqlite(app, source)
    elif app.db.dialect == "postgresql":
        _pg(
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={_libpq_url(app)}",
            str(source),
        )
    else:
        raise BackupError(f"no restore method for {app.db.dialect}")
    app.db.migrate()
    app.vault._cache.clear()
    with app.db.session() as session:
        _check_key(app, session)
        again = replay(app, session)
        audit(
            session,
            app.clock.now(),
            actor,
            "records.restored",
            detail=f"from {source.name}; {len(again)} erasure(s) applied again",
        )
    scrub_files(app.db)
    return again


def _restore_sqlite(app: App, source: Path) -> None:
    check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{source} is not an SQLite backup") from exc
    finally:
        check.close()
    if "alembic_version" not in tables or "data_key" not in tables:
        raise UsageError(f"{source} is not a mailbot database backup")
    target = sqlite3.connect(_sqlite_path(app))
    backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        backup_db.backup(target)
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        backup_db.close()
        target.close()


def _check_key(app: App, session: object) -> None:
    """One live data key must unwrap, else this key file does not belong to the backup."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    row = session.scalars(select(DataKey).where(DataKey.wrapped.is_not(None)).limit(1)).first()
    if row is None:
        return
    try:
        app.vault.data_key(session, row.id)
    except (CryptoError, MailbotError) as exc:
        raise BackupError(
            "the restored database's data keys do not open with this master "
            f"key file ({app.keys.path}): restore the key it was made with"
        ) from exc


def _pg(tool: str, *args: str) -> None:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"{tool} is not installed (Debian: apt-get install postgresql-client)")
    done = subprocess.run(  # noqa: S603 - pg_dump/pg_restore found on PATH, no shell
        [path, *args], capture_output=True, text=True, timeout=PG_TOOLS_TIMEOUT, check=False
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[0]
        raise BackupError(f"{tool} failed: {first[:200]}")


def upgrade(app: App, backups: Path, *, actor: str = "mailbot") -> Path:
    """Back up first, then migrate: a failed migration leaves a copy to go back to."""
    stamp = app.clock.now().strftime("%Y%m%dT%H%M%SZ")
    suffix = "db" if app.db.dialect == "sqlite" else "dump"
    out = backups / f"pre-upgrade-{stamp}.{suffix}"
    if app.db.dialect == "sqlite" and not _sqlite_path(app).exists():
        app.db.migrate()  # nothing to keep yet
        return out
    backup(app, out, audited=False)
    app.db.migrate()
    with app.db.session() as session:
        audit(session, app.clock.now(), actor, "records.upgraded", detail=f"backup {out.name}")
    return out
