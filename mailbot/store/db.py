"""Engine, sessions and migrations.

The engine never logs bound parameters (``hide_parameters``) so a failed INSERT cannot
put ciphertext-free values into a log line or an exception message. Schema changes go
through Alembic only; ``migrate`` runs them programmatically so ``mailbot init`` and
the first use of any command bring the database up to date.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailbot.errors import ConfigError, MailbotError

if TYPE_CHECKING:  # Alembic is imported only when a migration is due (start-up time)
    from alembic.config import Config

SETTING = "store.url"

#: A pooled connection idle longer than this is pinged before use (seconds).
IDLE_PING_AFTER = 30.0


class StoreError(MailbotError):
    """The database could not be reached or used."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # owner-only from the start (SQLite's WAL inherits the mode)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    try:
        engine = create_engine(url, hide_parameters=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise ConfigError(SETTING, f"not a usable database URL ({type(exc).__name__})") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle (``IDLE_PING_AFTER``).

    ``pool_pre_ping`` costs a round trip on every checkout: four a message in a backlog,
    where the connection was used a millisecond ago. A connection that waited (a quiet
    night, a database restarted meanwhile) is still checked, and a dead one replaced
    before anyone uses it; one that dies while in steady use fails that one statement,
    which the poller's retry (or the next request) sees to.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: DBAPIConnection, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi: DBAPIConnection, record: Any, _proxy: object) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_AFTER:
            return
        try:
            alive = engine.dialect.do_ping(dbapi)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool opens a fresh one
            raise DisconnectionError() from exc
        if not alive:
            raise DisconnectionError()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Freed pages are zeroed, so deleted ciphertext does not linger in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    folder = resources.files("mailbot.store") / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, audit_key: Callable[[], bytes] | None = None) -> None:
    """Bring the schema to the newest revision (idempotent).

    On SQLite, Alembic's batch mode rebuilds a table (copy, drop, rename) for changes
    ALTER TABLE cannot make; with foreign keys enforced, dropping a table that other
    rows point at fails once there is data (the upgrade from the first schema found
    this). So enforcement is off during the migration, as Alembic's documentation
    advises, and ``PRAGMA foreign_key_check`` must find nothing before the commit.

    ``audit_key`` lets the migration that keys the audit chain sign where the keyed
    part starts (see ``mailbot.store.audit``).
    """
    if at_head(engine):  # the usual case: no Alembic to import, no script folder to read
        return
    from alembic import command

    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:  # see below; a no-op inside a transaction, so before it begins
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    cfg = _alembic_config(engine)
                    cfg.attributes["connection"] = connection
                    cfg.attributes["audit_key"] = audit_key
                    command.upgrade(cfg, "head")
                    if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise StoreError(
                            f"{SETTING}: a migration left rows pointing nowhere; nothing was changed"
                        )
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
    except SQLAlchemyError as exc:
        raise StoreError(f"{SETTING}: cannot open the database ({_cause(exc)})") from exc


def _cause(exc: SQLAlchemyError) -> str:
    """The driver's first line (host, port, file, refusal): what an operator needs."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    first = lines[0] if lines else type(original).__name__
    return first[:200]


def head_revision() -> str:
    """The newest migration's revision, read from the file names: each is
    ``versions/00NN_name.py`` with revision ``"00NN_name"`` (tests/cli/test_startup.py
    checks this is Alembic's own head)."""
    folder = resources.files("mailbot.store") / "migrations" / "versions"
    return max(p.name[:-3] for p in folder.iterdir() if p.name[:4].isdigit() and p.name.endswith(".py"))


def at_head(engine: Engine) -> bool:
    """Whether the schema is already the newest (one SELECT); any doubt says no."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except SQLAlchemyError:  # no table yet, or no database: `migrate` says what is wrong
        return False
    return [r[0] for r in rows] == [head_revision()]


def is_migrated(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")


class Database:
    """The engine plus a session factory; ``session()`` commits or rolls back.

    ``audit_key`` gives the audit chain's key (kept with the master key, never in the
    database); each session carries it in ``session.info`` so ``audit()`` needs no
    extra argument. Without it, a session can read but not append to the audit trail.
    """

    def __init__(self, url: str, audit_key: Callable[[], bytes] | None = None) -> None:
        self.url = url
        self.audit_key = audit_key
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        migrate(self.engine, self.audit_key)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._factory()
        if self.audit_key is not None:
            session.info["audit_key"] = self.audit_key
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
