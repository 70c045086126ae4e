"""The key store and the database together: make, unwrap and use data keys.

Unwrapped data keys live only in this object's memory for the life of one command or
poll cycle. Field helpers take the ORM row so the associated data (table, column, row
id, key id) always matches where the ciphertext is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.clock import Clock
from mailbot.errors import CryptoError
from mailbot.store import crypto
from mailbot.store.keys import KeyStore
from mailbot.store.models import Base, DataKey, new_id


class Vault:
    def __init__(self, keys: KeyStore, clock: Clock) -> None:
        self.keys = keys
        self.clock = clock
        self._cache: dict[str, bytes] = {}

    # -- data keys -----------------------------------------------------------------
    def new_key(self, session: Session) -> str:
        master = self.keys.load()
        key_id = new_id()
        data_key = crypto.new_data_key()
        wrapped = crypto.wrap_key(master.key(master.current_version), master.current_version,
                                  key_id, data_key)
        session.add(DataKey(id=key_id, wrapped=wrapped, master_version=master.current_version,
                            created_at=self.clock.now()))
        self._cache[key_id] = data_key
        return key_id

    def data_key(self, session: Session, key_id: str) -> bytes:
        if key_id in self._cache:
            return self._cache[key_id]
        row = session.get(DataKey, key_id)
        if row is None or row.wrapped is None:
            raise CryptoError(f"data key {key_id} is missing or destroyed")
        master = self.keys.load()
        key = crypto.unwrap_key(master.key(row.master_version), row.master_version, key_id,
                                row.wrapped)
        self._cache[key_id] = key
        return key

    def rewrap_all(self, session: Session) -> int:
        """Re-wrap every live data key under the current master version (key rotation)."""
        master = self.keys.load()
        count = 0
        for row in session.scalars(select(DataKey).where(DataKey.wrapped.is_not(None))):
            if row.master_version == master.current_version:
                continue
            assert row.wrapped is not None
            key = crypto.unwrap_key(master.key(row.master_version), row.master_version, row.id,
                                    row.wrapped)
            row.wrapped = crypto.wrap_key(master.key(master.current_version),
                                          master.current_version, row.id, key)
            row.master_version = master.current_version
            count += 1
        return count

    # -- fields ----------------------------------------------------------------------
    def seal(self, session: Session, row: Base, column: str, value: bytes, *,
             key_id: str | None = None) -> bytes:
        key_id = key_id or row.key_id  # type: ignore[attr-defined]
        if getattr(row, "id", None) is None:
            row.id = new_id()  # type: ignore[attr-defined]  # the row id is in the AAD
        key = self.data_key(session, key_id)
        return crypto.seal(key, key_id, row.__tablename__, column, row.id, value)  # type: ignore[attr-defined]

    def open(self, session: Session, row: Base, column: str, *,
             key_id: str | None = None) -> bytes:
        key_id = key_id or row.key_id  # type: ignore[attr-defined]
        blob = getattr(row, column)
        key = self.data_key(session, key_id)
        return crypto.unseal(key, key_id, row.__tablename__, column, row.id, blob)  # type: ignore[attr-defined]

    def seal_text(self, session: Session, row: Base, column: str, value: str, **kw: Any) -> bytes:
        return self.seal(session, row, column, value.encode("utf-8"), **kw)

    def open_text(self, session: Session, row: Base, column: str, **kw: Any) -> str:
        return self.open(session, row, column, **kw).decode("utf-8")

    def seal_json(self, session: Session, row: Base, column: str, value: Any, **kw: Any) -> bytes:
        return self.seal(session, row, column,
                         json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8"), **kw)

    def open_json(self, session: Session, row: Base, column: str, **kw: Any) -> Any:
        return json.loads(self.open(session, row, column, **kw))

    def index(self, purpose: str, value: str | bytes) -> str:
        raw = value.encode("utf-8") if isinstance(value, str) else value
        return crypto.blind_index(self.keys.load().index_key, purpose, raw)

    def index_chunks(self, purpose: str, chunks: Iterable[bytes]) -> str:
        """``index`` of the chunks' concatenation, without making it."""
        return crypto.blind_index_chunks(self.keys.load().index_key, purpose, chunks)
