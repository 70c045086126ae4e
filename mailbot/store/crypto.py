"""Envelope encryption: one data key per case (or per stand-alone message).

Each field is AES-256-GCM with a fresh 96-bit nonce and associated data binding it to
its table, column, row id and data key id, so a ciphertext copied to another row or
column fails to decrypt instead of showing the wrong child's data. Data keys are
wrapped by the master key with associated data naming the data key and the master
version. Blind indexes are HMAC-SHA256 under a separate index key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailbot.errors import CryptoError

_FORMAT = b"\x01"
_NONCE = 12
_TAG = 16
#: Plaintexts from this size up are encrypted into one buffer (see ``seal``).
_LARGE = 1 << 20


def _aad(*parts: str) -> bytes:
    return "\x1f".join(parts).encode("utf-8")


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_key(master: bytes, master_version: int, key_id: str, data_key: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    aad = _aad("data_key", key_id, str(master_version))
    return _FORMAT + nonce + AESGCM(master).encrypt(nonce, data_key, aad)


def unwrap_key(master: bytes, master_version: int, key_id: str, wrapped: bytes) -> bytes:
    return _open(master, wrapped, _aad("data_key", key_id, str(master_version)))


def seal(data_key: bytes, key_id: str, table: str, column: str, row_id: str, plaintext: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    aad = _aad(table, column, row_id, key_id)
    if len(plaintext) < _LARGE:
        return _FORMAT + nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
    # A large value (a raw message, an attachment) is encrypted in place after its
    # prefix: one copy of the ciphertext instead of two.
    head = _FORMAT + nonce
    out = bytearray(len(head) + len(plaintext) + _TAG)
    out[: len(head)] = head
    AESGCM(data_key).encrypt_into(nonce, plaintext, aad, memoryview(out)[len(head) :])
    return cast(bytes, out)  # bytes-like: SQLite and psycopg store it as they store bytes


def unseal(data_key: bytes, key_id: str, table: str, column: str, row_id: str, ciphertext: bytes) -> bytes:
    return _open(data_key, ciphertext, _aad(table, column, row_id, key_id))


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + _NONCE + 16 or blob[:1] != _FORMAT:
        raise CryptoError("ciphertext is malformed")
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad)
    except InvalidTag:
        raise CryptoError("ciphertext failed authentication (wrong key, row or column)") from None


def blind_index(index_key: bytes, purpose: str, value: bytes) -> str:
    """A keyed hash: equal inputs match, but the value cannot be guessed from the hash."""
    return hmac.new(index_key, purpose.encode() + b"\x00" + value, hashlib.sha256).hexdigest()


def blind_index_chunks(index_key: bytes, purpose: str, chunks: Iterable[bytes]) -> str:
    """``blind_index`` of the chunks joined, fed piece by piece (no copy of a large value)."""
    mac = hmac.new(index_key, purpose.encode() + b"\x00", hashlib.sha256)
    for chunk in chunks:
        mac.update(chunk)
    return mac.hexdigest()
