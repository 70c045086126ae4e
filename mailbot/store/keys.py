"""The master key file: outside the database, mode 0600, versioned.

The file holds the master key versions (which wrap each case's data key) and the
blind-index key (which makes keyed hashes for idempotency and duplicate detection).
The index key is never rotated with the master key: rotating it would orphan every
stored hash. Rotation adds a master version; once every data key is re-wrapped the
old version is dropped from the file.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mailbot.errors import KeyFileError

SETTING = "store.key_file"


@dataclass(frozen=True)
class MasterKeys:
    current_version: int
    versions: dict[int, bytes]
    index_key: bytes

    @property
    def audit_key(self) -> bytes:
        """The audit chain's HMAC key: derived from the index key, so it stays in the
        key file (never in the database) and survives master key rotation."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=b"mailbot audit chain 1").derive(self.index_key)

    def key(self, version: int) -> bytes:
        try:
            return self.versions[version]
        except KeyError:
            raise KeyFileError(SETTING, f"master key version {version} is not in the key file") from None


class KeyStore:
    """Reads and writes the key file; the only code that touches master key bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cached: MasterKeys | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> MasterKeys:
        if self._cached is None:
            self._cached = self._read()
        return self._cached

    def _read(self) -> MasterKeys:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            raise KeyFileError(SETTING, f"no master key file at {self.path}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(SETTING, f"{self.path} must be readable by its owner only (chmod 600)")
        try:
            data = json.loads(self.path.read_text(encoding="ascii"))
            versions = {int(v): base64.b64decode(k) for v, k in data["versions"].items()}
            keys = MasterKeys(int(data["current"]), versions, base64.b64decode(data["index_key"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(SETTING, f"{self.path} is not a mailbot key file") from exc
        if keys.current_version not in versions or any(len(k) != 32 for k in versions.values()):
            raise KeyFileError(SETTING, f"{self.path} is damaged (bad key length or version)")
        return keys

    def create(self) -> MasterKeys:
        """A new key file; refuses to overwrite one (keys are never replaced silently)."""
        keys = MasterKeys(1, {1: secrets.token_bytes(32)}, secrets.token_bytes(32))
        self._write(keys, exclusive=True)
        return keys

    def add_version(self) -> MasterKeys:
        old = self.load()
        new_version = max(old.versions) + 1
        keys = MasterKeys(new_version, {**old.versions, new_version: secrets.token_bytes(32)},
                          old.index_key)
        self._write(keys, exclusive=False)
        return keys

    def retire(self, version: int) -> MasterKeys:
        old = self.load()
        if version == old.current_version:
            raise KeyFileError(SETTING, "the current master key version cannot be retired")
        keys = MasterKeys(old.current_version,
                          {v: k for v, k in old.versions.items() if v != version}, old.index_key)
        self._write(keys, exclusive=False)
        return keys

    def _write(self, keys: MasterKeys, *, exclusive: bool) -> None:
        payload = json.dumps({
            "format": "mailbot-keys-1",
            "current": keys.current_version,
            "versions": {str(v): base64.b64encode(k).decode() for v, k in keys.versions.items()},
            "index_key": base64.b64encode(keys.index_key).decode(),
        }, indent=1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if exclusive:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                raise KeyFileError(SETTING, f"{self.path} exists; it is never overwritten") from None
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        self._cached = keys
