"""The key store and the database together: make, unwrap and use data keys.

Unwrapped data keys live only in this object's memory for the life of one command or
poll cycle. Field helpers take the ORM row so the associated data (table, column, row
id, key id) always matches where the ciphertext is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from mailbot.clock import Clock
from mailbot.errors import CryptoError, KeyFileError
from mailbot.store import crypto, key_records
from mailbot.store.keys import KeyStore, MasterKeys, fingerprint
from mailbot.store.models import Base, DataKey, new_id

#: ``session.info`` entry: the master version this session's transaction holds.
_HELD = "vault.held_version"


class Vault:
    def __init__(self, keys: KeyStore, clock: Clock) -> None:
        self.keys = keys
        self.clock = clock
        self._cache: dict[str, bytes] = {}

    # -- data keys -----------------------------------------------------------------
    def new_key(self, session: Session) -> str:
        """A new data key, wrapped under the newest master version in the key file now.

        The version is claimed in the database first (see ``key_records``): a version
        retired meanwhile, or a key file that is not this database's, is never used.
        """
        master = self._current_master(session)
        version = master.current_version
        key_id = new_id()
        data_key = crypto.new_data_key()
        wrapped = crypto.wrap_key(master.key(version), version, key_id, data_key)
        session.add(DataKey(id=key_id, wrapped=wrapped, master_version=version, created_at=self.clock.now()))
        self._cache[key_id] = data_key
        return key_id

    def hold_version(self, session: Session) -> None:
        """Claim the current master version for the whole of this transaction now.

        Every intake transaction calls this first (``Intake.begin_writes``), outside any
        savepoint, so the claim, taken once, covers every data key the transaction makes;
        a claim made inside a savepoint is made again each time (a savepoint's rollback
        may release it).
        """
        self._current_master(session)

    def _current_master(self, session: Session) -> MasterKeys:
        master = self.keys.fresh()
        version = master.current_version
        held: tuple[object, MasterKeys] | None = session.info.get(_HELD)
        if held is not None and held[0] is session.get_transaction() and held[1] is master:
            return master  # claimed earlier in this same transaction, outside any savepoint
        if key_records.claim_version(session, version, fingerprint(master.key(version))):
            self._held(session, master)
            return master
        # Unknown to the database: a version just added (record it, once it proves to be
        # this installation's), or a file that is not ours (refused, nothing written).
        master = self.keys.reload()
        key_records.check_key_file(session, self.keys, master, self.clock.now())
        version = master.current_version
        if key_records.claim_version(session, version, fingerprint(master.key(version))):
            self._held(session, master)
            return master
        raise KeyFileError(
            self.keys.setting,
            f"master key version {version} of {self.keys.label} is retired "
            "in the database; restore the newest key file (nothing was written)",
        )

    @staticmethod
    def _held(session: Session, master: MasterKeys) -> None:
        if not session.in_nested_transaction():
            session.info[_HELD] = (session.get_transaction(), master)

    def data_key(self, session: Session, key_id: str) -> bytes:
        if key_id in self._cache:
            return self._cache[key_id]
        row = session.get(DataKey, key_id)
        for attempt in range(2):
            if row is None or row.wrapped is None:
                raise CryptoError(f"data key {key_id} is missing or destroyed")
            try:
                master = self.keys.master(row.master_version)
            except KeyFileError:
                if attempt:
                    raise
                # Re-wrapped and its old version retired since this row was read: read again.
                session.refresh(row)
                continue
            key = crypto.unwrap_key(master, row.master_version, key_id, row.wrapped)
            self._cache[key_id] = key
            return key
        raise CryptoError(f"data key {key_id} could not be opened")  # pragma: no cover

    # -- fields ----------------------------------------------------------------------
    def seal(
        self, session: Session, row: Base, column: str, value: bytes, *, key_id: str | None = None
    ) -> bytes:
        key_id = key_id or row.key_id  # type: ignore[attr-defined]
        if getattr(row, "id", None) is None:
            row.id = new_id()  # type: ignore[attr-defined]  # the row id is in the AAD
        key = self.data_key(session, key_id)
        return crypto.seal(key, key_id, row.__tablename__, column, row.id, value)  # type: ignore[attr-defined]

    def open(self, session: Session, row: Base, column: str, *, key_id: str | None = None) -> bytes:
        key_id = key_id or row.key_id  # type: ignore[attr-defined]
        blob = getattr(row, column)
        key = self.data_key(session, key_id)
        return crypto.unseal(key, key_id, row.__tablename__, column, row.id, blob)  # type: ignore[attr-defined]

    def seal_text(self, session: Session, row: Base, column: str, value: str, **kw: Any) -> bytes:
        return self.seal(session, row, column, value.encode("utf-8"), **kw)

    def open_text(self, session: Session, row: Base, column: str, **kw: Any) -> str:
        return self.open(session, row, column, **kw).decode("utf-8")

    def seal_json(self, session: Session, row: Base, column: str, value: Any, **kw: Any) -> bytes:
        return self.seal(
            session, row, column, json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8"), **kw
        )

    def open_json(self, session: Session, row: Base, column: str, **kw: Any) -> Any:
        return json.loads(self.open(session, row, column, **kw))

    def index(self, purpose: str, value: str | bytes) -> str:
        raw = value.encode("utf-8") if isinstance(value, str) else value
        return crypto.blind_index(self.keys.load().index_key, purpose, raw)

    def index_chunks(self, purpose: str, chunks: Iterable[bytes]) -> str:
        """``index`` of the chunks' concatenation, without making it."""
        return crypto.blind_index_chunks(self.keys.load().index_key, purpose, chunks)
