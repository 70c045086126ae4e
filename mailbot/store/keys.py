"""The master key file: outside the database, mode 0600, versioned.

The file holds the master key versions (which wrap each case's data key) and the
blind-index key (which makes keyed hashes for idempotency and duplicate detection).
The index key is never rotated with the master key: rotating it would orphan every
stored hash. Rotation adds a master version; a version is dropped from the file only
once no data key uses it (``mailbot.store.rotation``). The database keeps each
version's fingerprint (``fingerprint``), so another installation's file is refused.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mailbot.errors import KeyFileError

SETTING = "store.key_file"
FINGERPRINT_LABEL = b"mailbot master key fingerprint 1"


@dataclass(frozen=True)
class MasterKeys:
    current_version: int
    versions: dict[int, bytes]
    index_key: bytes

    @property
    def audit_key(self) -> bytes:
        """The audit chain's HMAC key: derived from the index key, so it stays in the
        key file (never in the database) and survives master key rotation."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mailbot audit chain 1").derive(
            self.index_key
        )

    def key(self, version: int) -> bytes:
        try:
            return self.versions[version]
        except KeyError:
            raise KeyFileError(SETTING, f"master key version {version} is not in the key file") from None


def fingerprint(key: bytes) -> str:
    """What the database records of a key: an HMAC of a fixed label under it, which
    tells keys apart without revealing them."""
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


class KeyStore:
    """Reads and writes the key file; the only code that touches master key bytes.

    A long-running process (``poll``, ``serve``) may outlive a rotation made by
    another process: ``fresh()`` re-reads the file whenever it changed (``os.replace``
    gives it a new inode; an edit in place a new mtime), and ``master(version)``
    re-reads it on meeting a version it does not hold.
    """

    def __init__(
        self,
        path: Path,
        *,
        source: Callable[[], bytes] | None = None,
        setting: str = SETTING,
        label: str | None = None,
    ) -> None:
        self.path = path
        #: A read-only source instead of the file (``mailbot.store.key_sources``).
        self.source = source
        #: The setting an error names, and how messages name where the key came from.
        self.setting = setting
        self.label = label or str(path)
        self._cached: MasterKeys | None = None
        self._stamp: tuple[int, int, int] | None = None

    def exists(self) -> bool:
        return self.source is not None or self.path.exists()

    def load(self) -> MasterKeys:
        if self._cached is None:
            self._cached = self._read()
        return self._cached

    def fresh(self) -> MasterKeys:
        """The key file as it is now (re-read only when it changed since the last read)."""
        if self.source is not None:  # a secret or a command: read at start, and on a miss
            return self.load()
        try:
            now = _stamp(os.stat(self.path))
        except FileNotFoundError:
            raise KeyFileError(SETTING, f"no master key file at {self.path}") from None
        if self._cached is None or now != self._stamp:
            self._cached = self._read()
        return self._cached

    def reload(self) -> MasterKeys:
        self._cached = self._read()
        return self._cached

    def master(self, version: int) -> bytes:
        """A master key version's bytes, reading the file again if it is not held."""
        keys = self.load()
        if version not in keys.versions:
            keys = self.reload()
        return keys.key(version)

    def _read(self) -> MasterKeys:
        if self.source is not None:
            return self._parse(self.source().decode("ascii", errors="replace"))
        try:
            handle = open(self.path, encoding="ascii")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise KeyFileError(SETTING, f"no master key file at {self.path}") from None
        except OSError as exc:
            raise KeyFileError(SETTING, f"{self.path} cannot be read ({exc.strerror})") from exc
        with handle:
            info = os.fstat(handle.fileno())  # the file read, even if replaced meanwhile
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyFileError(SETTING, f"{self.path} must be readable by its owner only (chmod 600)")
            try:
                text = handle.read()
            except (OSError, ValueError) as exc:
                raise KeyFileError(SETTING, f"{self.path} is not a mailbot key file") from exc
        keys = self._parse(text)
        self._stamp = _stamp(info)
        return keys

    def _parse(self, text: str) -> MasterKeys:
        try:
            data = json.loads(text)
            versions = {int(v): base64.b64decode(k) for v, k in data["versions"].items()}
            keys = MasterKeys(int(data["current"]), versions, base64.b64decode(data["index_key"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyFileError(self.setting, f"{self.label} is not a mailbot key file") from exc
        if keys.current_version not in versions or any(len(k) != 32 for k in versions.values()):
            raise KeyFileError(self.setting, f"{self.label} is damaged (bad key length or version)")
        return keys

    def require_writable(self) -> None:
        """Rotation and retirement change the key file: not possible with a secret."""
        if self.source is not None:
            raise KeyFileError(
                self.setting,
                f"{self.label} is read-only here: rotate or retire "
                "keys with a key file (store.key_file), then update the secret",
            )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer of the key file at a time (two rotations must not drop a version)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def create(self) -> MasterKeys:
        """A new key file; refuses to overwrite one (keys are never replaced silently)."""
        self.require_writable()
        keys = MasterKeys(1, {1: secrets.token_bytes(32)}, secrets.token_bytes(32))
        self._write(keys, exclusive=True)
        return keys

    def add_version(self) -> MasterKeys:
        """A new current version, added to the file as it is now (never a cached copy)."""
        self.require_writable()
        with self._locked():
            old = self._read()
            new_version = max(old.versions) + 1
            keys = MasterKeys(
                new_version, {**old.versions, new_version: secrets.token_bytes(32)}, old.index_key
            )
            self._write(keys, exclusive=False)
        return keys

    def retire(self, version: int) -> MasterKeys:
        """Drop a version from the file. Callers first make sure no data key uses it
        (``mailbot.store.rotation.retire``); this only edits the file."""
        self.require_writable()
        with self._locked():
            old = self._read()
            if version == old.current_version:
                raise KeyFileError(SETTING, "the current master key version cannot be retired")
            keys = MasterKeys(
                old.current_version, {v: k for v, k in old.versions.items() if v != version}, old.index_key
            )
            if keys.versions != old.versions:
                self._write(keys, exclusive=False)
        return keys

    def _write(self, keys: MasterKeys, *, exclusive: bool) -> None:
        payload = json.dumps(
            {
                "format": "mailbot-keys-1",
                "current": keys.current_version,
                "versions": {str(v): base64.b64encode(k).decode() for v, k in keys.versions.items()},
                "index_key": base64.b64encode(keys.index_key).decode(),
            },
            indent=1,
        )
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
        self._stamp = _stamp(os.stat(self.path))


def _stamp(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_ino, info.st_mtime_ns, info.st_size)
