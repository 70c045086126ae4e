"""What the database knows about the master key: each version's fingerprint.

A key file from another installation (or an old copy) must be refused before anything
is written under it: a case wrapped by the wrong key can never be read, and a wrong
index key would not recognise a message already handled, so it would be acknowledged
twice. Each version's fingerprint (an HMAC of a fixed label under it, never the key)
and the index key's (as version 0) are recorded the first time they are used;
afterwards a key file whose fingerprints differ stops every command (exit 2, naming
``store.key_file``).

``claim_version`` is how a data key is written under a version: it holds that
version's row for the rest of the transaction (PostgreSQL ``FOR SHARE``; on SQLite
the write lock), so ``mailbot keys retire`` cannot retire it under a transaction that
is about to commit a data key wrapped by it.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailbot.errors import CryptoError, KeyFileError
from mailbot.store import crypto
from mailbot.store.keys import KeyStore, MasterKeys, fingerprint
from mailbot.store.models import DataKey, MasterKeyRecord

INDEX_VERSION = 0


def fingerprints(keys: MasterKeys) -> dict[int, str]:
    found = {version: fingerprint(key) for version, key in keys.versions.items()}
    found[INDEX_VERSION] = fingerprint(keys.index_key)
    return found


def check_key_file(session: Session, store: KeyStore, keys: MasterKeys, now: datetime) -> None:
    """Refuse a key file that is not this database's; record versions seen first now.

    A version with no record yet (a database from before fingerprints, or a version
    just added by ``keys rotate``) is recorded only once a data key wrapped under it,
    if there is one, opens with it.
    """
    records = {r.version: r for r in session.scalars(select(MasterKeyRecord))}
    mine = fingerprints(keys)
    for version, print_ in sorted(mine.items()):
        record = records.get(version)
        if record is not None and not hmac.compare_digest(record.fingerprint, print_):
            what = "index key" if version == INDEX_VERSION else f"master key version {version}"
            raise KeyFileError(
                store.setting,
                f"{store.label} is not this installation's key file: its "
                f"{what} differs from the one this database was written with; "
                "restore the right key file (nothing was written)",
            )
    for version, record in sorted(records.items()):
        if record.retired_at is None and version not in mine:
            raise KeyFileError(
                store.setting,
                f"the database uses master key version {version}, which "
                f"{store.label} does not hold: restore the newest key file "
                "(nothing was written)",
            )
    for version in sorted(set(mine) - set(records)):
        if version != INDEX_VERSION:
            _prove(session, store, keys, version)
        _record(session, store, version, mine[version], now)


def _record(session: Session, store: KeyStore, version: int, print_: str, now: datetime) -> None:
    """Record a fingerprint; another process recording the same version at the same
    moment (a poller meeting the version a rotation just added) is not an error."""
    values = {"version": version, "fingerprint": print_, "recorded_at": now}
    # Each dialect's insert is imported when used: the PostgreSQL dialect costs start-up time.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(MasterKeyRecord).values(**values)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(MasterKeyRecord).values(**values)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["version"]))
    stored = session.scalar(select(MasterKeyRecord.fingerprint).where(MasterKeyRecord.version == version))
    if stored is None or not hmac.compare_digest(stored, print_):
        raise KeyFileError(
            store.setting,
            f"{store.label} is not this installation's key file: "
            f"master key version {version} was recorded with another key "
            "(nothing was written)",
        )


def _prove(session: Session, store: KeyStore, keys: MasterKeys, version: int) -> None:
    row = session.scalars(
        select(DataKey).where(DataKey.master_version == version, DataKey.wrapped.is_not(None)).limit(1)
    ).first()
    if row is None or row.wrapped is None:
        return
    try:
        crypto.unwrap_key(keys.key(version), version, row.id, row.wrapped)
    except CryptoError:
        raise KeyFileError(
            store.setting,
            f"{store.label} is not this installation's key file: master "
            f"key version {version} does not open this database's data keys "
            "(nothing was written)",
        ) from None


def claim_version(session: Session, version: int, print_: str) -> bool:
    """Hold a live, known version for this transaction; False if it is retired or unknown."""
    where = (
        MasterKeyRecord.version == version,
        MasterKeyRecord.fingerprint == print_,
        MasterKeyRecord.retired_at.is_(None),
    )
    if session.get_bind().dialect.name == "postgresql":
        return (
            session.execute(select(MasterKeyRecord.version).where(*where).with_for_update(read=True)).first()
            is not None
        )
    result: Any = session.execute(
        update(MasterKeyRecord)
        .where(*where)
        .values(version=MasterKeyRecord.version)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def lock_for_retirement(session: Session, version: int) -> MasterKeyRecord | None:
    """Take a version's row for retiring it: waits for every transaction that claimed it."""
    stmt = select(MasterKeyRecord).where(MasterKeyRecord.version == version)
    if session.get_bind().dialect.name == "postgresql":
        return session.scalars(stmt.with_for_update()).one_or_none()
    session.execute(
        update(MasterKeyRecord)
        .where(MasterKeyRecord.version == version)
        .values(version=MasterKeyRecord.version)
        .execution_options(synchronize_session=False)
    )
    return session.scalars(stmt).one_or_none()


def keys_under(session: Session, version: int) -> int:
    """Live data keys still wrapped under a version (destroyed ones do not count)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(DataKey)
            .where(DataKey.master_version == version, DataKey.wrapped.is_not(None))
        )
        or 0
    )
