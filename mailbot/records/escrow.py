"""Key escrow: the master key versions sealed to the council's offline public key.

Losing the key file loses every case, and every backup with it. ``keys escrow`` writes
the key file's content encrypted to an RSA public key whose private half the council
keeps offline (a safe, an HSM): a random AES-256-GCM key seals the content, and RSA-OAEP
(SHA-256) seals that AES key. Only the private key opens the file; the bot never holds
it. ``open_escrow`` is the recovery (run where the private key is), and the tests' round
trip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailbot.errors import UsageError
from mailbot.store.keys import MasterKeys

FORMAT = "mailbot-escrow-1"
MIN_RSA_BITS = 3072
_AAD = FORMAT.encode()


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def load_recipient(pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise UsageError("--recipient: not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise UsageError("--recipient: an RSA public key is needed (RSA-OAEP)")
    if key.key_size < MIN_RSA_BITS:
        raise UsageError(f"--recipient: the RSA key has {key.key_size} bits; use {MIN_RSA_BITS} or more")
    return key


def key_file_payload(keys: MasterKeys) -> bytes:
    """The key file's own format, so a recovered payload is a key file as it stands."""
    return json.dumps(
        {
            "format": "mailbot-keys-1",
            "current": keys.current_version,
            "versions": {str(v): base64.b64encode(k).decode() for v, k in keys.versions.items()},
            "index_key": base64.b64encode(keys.index_key).decode(),
        },
        indent=1,
    ).encode("ascii")


def seal_escrow(keys: MasterKeys, recipient: rsa.RSAPublicKey, now: datetime) -> bytes:
    content_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    sealed = AESGCM(content_key).encrypt(nonce, key_file_payload(keys), _AAD)
    der = recipient.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    document = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "master_versions": sorted(keys.versions),
        "current_version": keys.current_version,
        "recipient_sha256": hashlib.sha256(der).hexdigest(),
        "wrapped_key": base64.b64encode(recipient.encrypt(content_key, _oaep())).decode(),
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    return json.dumps(document, indent=1).encode("ascii")


def write_escrow(keys: MasterKeys, recipient_pem: Path, out: Path, now: datetime) -> dict[str, Any]:
    try:
        recipient = load_recipient(recipient_pem.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read {recipient_pem}: {exc.strerror}") from exc
    blob = seal_escrow(keys, recipient, now)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)
    return dict(json.loads(blob))


def open_escrow(blob: bytes, private_pem: bytes, password: bytes | None = None) -> bytes:
    """The key file's content, from an escrow file and the private key (recovery)."""
    document = json.loads(blob)
    if document.get("format") != FORMAT:
        raise UsageError("not a mailbot escrow file")
    private = serialization.load_pem_private_key(private_pem, password=password)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise UsageError("an RSA private key is needed")
    content_key = private.decrypt(base64.b64decode(document["wrapped_key"]), _oaep())
    return AESGCM(content_key).decrypt(
        base64.b64decode(document["nonce"]), base64.b64decode(document["ciphertext"]), _AAD
    )
