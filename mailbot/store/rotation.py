"""Master key rotation and retirement, safe while ``poll`` and ``serve`` keep running.

``rotate`` adds a version to the key file (unless an earlier rotation was stopped part
way, which it then finishes), re-wraps every data key under it in batches of
``BATCH``, each committed on its own (a rotation killed at any point loses nothing and
the next run carries on), then retires each older version that no data key uses.
``retire`` refuses a version any data key still uses, and says how many.

Why this is safe under running processes: every process re-reads the key file when it
changes and wraps new data keys only under a version it has claimed in the database
(``key_records.claim_version``); retiring a version locks the same row, so it waits
for every transaction about to commit a data key under it, then counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from mailbot.errors import UsageError
from mailbot.store import crypto, key_records
from mailbot.store.audit import audit
from mailbot.store.db import Database
from mailbot.store.keys import KeyStore
from mailbot.store.models import DataKey

BATCH = 200
#: How often a version still used after re-wrapping (a data key written meanwhile by a
#: process that had read the file just before the rotation) is re-wrapped again.
RETIRE_TRIES = 3


@dataclass
class RotationResult:
    version: int
    added: bool
    rewrapped: int = 0
    retired: list[int] = field(default_factory=list)
    #: Versions kept because data keys still use them: version -> how many.
    still_used: dict[int, int] = field(default_factory=dict)


def waiting(db: Database, target: int) -> dict[int, int]:
    """Live data keys not yet under ``target``, counted by version."""
    with db.session() as session:
        rows = session.execute(
            select(DataKey.master_version, func.count())
            .where(DataKey.wrapped.is_not(None), DataKey.master_version != target)
            .group_by(DataKey.master_version)
        ).all()
    return {int(v): int(n) for v, n in rows}


def rewrap(
    db: Database,
    store: KeyStore,
    target: int,
    *,
    batch: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Re-wrap live data keys under ``target``, one committed batch at a time.

    Each row is updated only if it is still as read (same version and wrapping), so a
    key destroyed or re-wrapped by someone else meanwhile is left as they left it.
    """
    target_key = store.master(target)
    batch = batch or BATCH
    total = 0
    while True:
        with db.session() as session:
            rows = session.execute(
                select(DataKey.id, DataKey.master_version, DataKey.wrapped)
                .where(DataKey.wrapped.is_not(None), DataKey.master_version != target)
                .order_by(DataKey.id)
                .limit(batch)
            ).all()
            if not rows:
                return total
            for key_id, version, wrapped in rows:
                assert wrapped is not None  # selected by wrapped IS NOT NULL
                data_key = crypto.unwrap_key(store.master(version), version, key_id, wrapped)
                result: Any = session.execute(
                    update(DataKey)
                    .where(
                        DataKey.id == key_id, DataKey.master_version == version, DataKey.wrapped == wrapped
                    )
                    .values(
                        wrapped=crypto.wrap_key(target_key, target, key_id, data_key), master_version=target
                    )
                    .execution_options(synchronize_session=False)
                )
                total += int(result.rowcount)
        if on_batch is not None:
            on_batch(total)


def retire(db: Database, store: KeyStore, version: int, now: datetime, actor: str) -> int:
    """Retire a version: 0 when done, else how many data keys still use it (kept)."""
    store.require_writable()
    keys = store.fresh()
    if version == keys.current_version:
        raise UsageError(
            f"version {version} is the current master key version; rotate first (mailbot keys rotate)"
        )
    with db.session() as session:
        record = key_records.lock_for_retirement(session, version)
        if record is None and version not in keys.versions:
            raise UsageError(f"there is no master key version {version}")
        count = key_records.keys_under(session, version)
        if count:
            session.rollback()
            return count
        if record is not None and record.retired_at is None:
            record.retired_at = now
            audit(session, now, actor, "keys.retired", detail=f"version {version}")
    store.retire(version)  # the file changes only after the database says so
    return 0


def rotate(
    db: Database,
    store: KeyStore,
    now: datetime,
    actor: str,
    *,
    batch: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> RotationResult:
    store.require_writable()
    keys = store.fresh()
    with db.session() as session:
        key_records.check_key_file(session, store, keys, now)
    added = not waiting(db, keys.current_version)
    if added:  # nothing left over from an earlier rotation: start a new one
        keys = store.add_version()
        with db.session() as session:
            key_records.check_key_file(session, store, keys, now)
    result = RotationResult(keys.current_version, added)
    result.rewrapped = rewrap(db, store, result.version, batch=batch, on_batch=on_batch)
    with db.session() as session:
        audit(
            session,
            now,
            actor,
            "keys.rotated",
            detail=f"to version {result.version}, {result.rewrapped} data keys re-wrapped"
            + ("" if added else " (an interrupted rotation finished)"),
        )
    for version in sorted(v for v in store.fresh().versions if v != result.version):
        for _ in range(RETIRE_TRIES):
            left = retire(db, store, version, now, actor)
            if not left:
                result.retired.append(version)
                break
            result.rewrapped += rewrap(db, store, result.version, batch=batch)
        else:
            result.still_used[version] = left
    return result
