"""S/MIME (CMS, RFC 5652 and 8551) as public bodies send it: signed and encrypted mail.

Pure functions over bytes, so that the reader (in the bot or in the sandbox) can open
what Outlook wraps a referral in:

- ``signed_content``: the content inside an opaque ``signed-data`` blob (``smime.p7m``)
  and what its signature says;
- ``check_detached``: a ``multipart/signed`` signature (``smime.p7s``) over its content;
- ``decrypt``: ``enveloped-data`` opened with the mailbox's own key and certificate.

A signature is checked against the certificate that came with it (the signed attributes'
message digest, then the signature over them with the certificate's public key). It is
not checked against a trusted authority: the bot has no list of the public sector's
authorities, so "valid" means "not altered since it was signed by that certificate".
The result is recorded for the team; it is never a reason to refuse a referral.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

#: CMS beyond this size is not parsed (a signed referral is a few megabytes at most).
MAX_CMS_BYTES = 64 * 1024 * 1024

#: What a signature check found, in the team's words.
VALID = "signature valid (not checked against a trusted authority)"
INVALID = "signature does not match the content"
UNCHECKED = "signature present, not verified"

_PRIVATE_KEY = re.compile(
    rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.{1,20000}?-----END \1PRIVATE KEY-----", re.DOTALL
)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class SmimeKey:
    """The mailbox's own certificate and private key (``mail.smime_key``, a PEM)."""

    certificate: x509.Certificate
    #: RSA: S/MIME encryption to a mailbox is RSA key transport (cryptography opens no other).
    key: rsa.RSAPrivateKey


def load_smime_key(pem: str | bytes) -> SmimeKey:
    """The key and certificate from one PEM text; ValueError when either is missing."""
    data = pem.encode() if isinstance(pem, str) else pem
    certificates = x509.load_pem_x509_certificates(data) if b"CERTIFICATE" in data else []
    if not certificates:
        raise ValueError("no certificate in the PEM")
    block = _PRIVATE_KEY.search(data)
    if block is None:
        raise ValueError("no private key in the PEM")
    key = serialization.load_pem_private_key(block.group(0), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the key is not an RSA key")
    return SmimeKey(certificates[0], key)


def cms_kind(der: bytes) -> str | None:
    """``signed-data``, ``enveloped-data``, another CMS type's name, or None (not CMS)."""
    if not der.startswith(b"\x30") or len(der) > MAX_CMS_BYTES:
        return None
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(der)
        name = str(info["content_type"].native)
    except (ValueError, TypeError, KeyError):
        return None
    return {"signed_data": "signed-data", "enveloped_data": "enveloped-data"}.get(name, name)


def signed_content(der: bytes) -> tuple[bytes | None, str]:
    """The content carried inside an opaque signed-data blob, and the check's words."""
    from asn1crypto import cms

    try:
        signed = cms.ContentInfo.load(der)["content"]
        content = signed["encap_content_info"]["content"].native
    except (ValueError, TypeError, KeyError):
        return None, UNCHECKED
    if not isinstance(content, bytes):
        return None, UNCHECKED
    return content, _check(signed, content)


def check_detached(der: bytes, contents: list[bytes]) -> str:
    """A detached signature checked over the content; the content as it travelled and in
    canonical form (CRLF line ends) are both tried, since a Maildir stores LF."""
    from asn1crypto import cms

    try:
        signed = cms.ContentInfo.load(der)["content"]
        signed["signer_infos"].native  # noqa: B018 - parse now, so a broken blob fails here
    except (ValueError, TypeError, KeyError):
        return UNCHECKED
    found = UNCHECKED
    for content in contents:
        found = _check(signed, content)
        if found == VALID:
            return VALID
    return found


def decrypt(der: bytes, key: SmimeKey) -> bytes | None:
    """The content of enveloped-data for our certificate; None when it is not for us or
    cannot be opened (the team then opens it by hand)."""
    try:
        return pkcs7.pkcs7_decrypt_der(der, key.certificate, key.key, [])
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _check(signed: object, content: bytes) -> str:
    """VALID when one signer's signature holds over ``content`` with its certificate."""
    try:
        certificates = [
            x509.load_der_x509_certificate(c.chosen.dump())
            for c in signed["certificates"] or []  # type: ignore[index]
            if c.name == "certificate"
        ]
        signers = list(signed["signer_infos"])  # type: ignore[index]
    except (ValueError, TypeError, KeyError):
        return UNCHECKED
    if not certificates or not signers:
        return UNCHECKED
    result = UNCHECKED
    for signer in signers:
        for certificate in _candidates(signer, certificates):
            verdict = _verify_signer(signer, certificate, content)
            if verdict == VALID:
                return VALID
            if verdict == INVALID:
                result = INVALID
    return result


def _candidates(signer: object, certificates: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificate the signer names (issuer and serial), else every one that came."""
    try:
        sid = signer["sid"]  # type: ignore[index]
        if sid.name == "issuer_and_serial_number":
            serial = sid.chosen["serial_number"].native
            named = [c for c in certificates if c.serial_number == serial]
            return named or certificates
    except (ValueError, TypeError, KeyError):
        pass
    return certificates


def _verify_signer(signer: object, certificate: x509.Certificate, content: bytes) -> str:
    try:
        digest_name = signer["digest_algorithm"]["algorithm"].native  # type: ignore[index]
        algorithm = _HASHES[digest_name]()
        attrs = signer["signed_attrs"]  # type: ignore[index]
        signature = signer["signature"].native  # type: ignore[index]
        scheme = signer["signature_algorithm"].signature_algo  # type: ignore[index]
    except (ValueError, TypeError, KeyError):
        return UNCHECKED
    if attrs:
        digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
        if not digests or digests[0] != hashlib.new(digest_name, content).digest():
            return INVALID
        signed_bytes = b"\x31" + attrs.dump()[1:]  # signed as a SET OF, sent as [0]
    else:
        signed_bytes = content
    public = certificate.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey) and scheme == "rsassa_pkcs1v15":
            public.verify(signature, signed_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(public, rsa.RSAPublicKey) and scheme == "rsassa_pss":
            public.verify(
                signature, signed_bytes, padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO), algorithm
            )
        elif isinstance(public, ec.EllipticCurvePublicKey) and scheme == "ecdsa":
            public.verify(signature, signed_bytes, ec.ECDSA(algorithm))
        else:
            return UNCHECKED
    except InvalidSignature:
        return INVALID
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return UNCHECKED
    return VALID


#: Outer header fields that describe the encrypted body, not the message: dropped when
#: the decrypted entity (which brings its own) takes the body's place.
_BODY_FIELDS = (
    b"content-type",
    b"content-transfer-encoding",
    b"content-disposition",
    b"content-description",
    b"mime-version",
)


def decrypt_message(raw: bytes, key: SmimeKey) -> bytes | None:
    """A message whose whole body is S/MIME ``enveloped-data`` (as Outlook sends
    encrypted mail), rebuilt with the decrypted entity as its body; None when the message
    is not encrypted that way or the content is not for our key.

    Runs in the bot, which holds the key (the sandbox holds no secrets); it only reads the
    header block and decodes one base64 body, and the decrypted message is then read in
    the sandbox like any other.
    """
    import base64
    import binascii

    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    if not ends or len(raw) > MAX_CMS_BYTES * 2:
        return None
    end = min(ends)
    head, body = raw[:end], raw[end:].lstrip(b"\r\n")
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    ctype = b" ".join(
        f.split(b":", 1)[1] for f in fields if f.split(b":", 1)[0].strip().lower() == b"content-type"
    ).lower()
    if not re.search(rb"application/(x-)?pkcs7-mime", ctype) or b"signed-data" in ctype:
        return None
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if cms_kind(der) != "enveloped-data":
        return None
    content = decrypt(der, key)
    if content is None:
        return None
    kept = [f for f in fields if f.split(b":", 1)[0].strip().lower() not in _BODY_FIELDS]
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    return b"".join(f.rstrip(b"\r\n") + newline for f in kept) + b"MIME-Version: 1.0" + newline + content
