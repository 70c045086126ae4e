"""Mail as the public sector sends it (issue 14): signed, encrypted, wrapped, forwarded,
secure-portal notices. Built here from scratch, with synthetic people only.

- S/MIME with ``cryptography``: a self-signed certificate, ``PKCS7SignatureBuilder``
  (detached as ``multipart/signed``, opaque as ``application/pkcs7-mime``) and
  ``PKCS7EnvelopeBuilder`` (``enveloped-data``);
- TNEF (``winmail.dat``) by a minimal encoder of its attribute stream (MS-OXTNEF);
- Outlook items (``.msg``) by ``helpers.cfb``;
- password-protected Word files by ``msoffcrypto-tool`` (the bot's own encrypt_docx).
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from email.message import EmailMessage
from email.policy import SMTP
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from helpers.hostile import form_bytes

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#: An Exchange Online-shaped Message-ID (70-120 characters).
EXCHANGE_ID = (
    "<DB9PR09MB{n:04d}E2F1A7C3B5D4E6F8A0B2C4D6E8F0A2B4C6D8E0F2A4B6C8D0E2F4A6B8C0"
    "@DB9PR09MB{n:04d}.eurprd09.prod.outlook.com>"
)


@cache
def identity(
    name: str = "Sam Signer", email: str = "sam.signer@police.example.net"
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed certificate and its key, as a public body's S/MIME identity."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.EMAIL_ADDRESS, email)]
    )
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def identity_pem(name: str = "CSCP mailbox", email: str = "cscp@example.org") -> bytes:
    """The mailbox's own key and certificate in one PEM (``mail.smime_key_file``)."""
    cert, key = identity(name, email)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + cert.public_bytes(serialization.Encoding.PEM)


def referral_entity(
    form: bytes | None = None,
    filename: str = "COC referral form.docx",
    text: str = "Please find attached a case of concern referral.",
) -> bytes:
    """The MIME entity a referrer's client signs: a note and the form, CRLF line ends."""
    entity = EmailMessage()
    entity.set_content(text)
    entity.add_attachment(
        form if form is not None else form_bytes(),
        maintype="application",
        subtype=DOCX.split("/")[1],
        filename=filename,
    )
    del entity["MIME-Version"]
    return entity.as_bytes(policy=SMTP)


def _outer(sender: str, subject: str, n: int) -> list[str]:
    return [
        f"From: Sam Signer <{sender}>",
        "To: cscp@example.org",
        f"Subject: {subject}",
        "Date: Mon, 12 Oct 2026 08:00:00 +0100",
        "Message-ID: " + EXCHANGE_ID.format(n=n),
        "MIME-Version: 1.0",
        "Thread-Index: AdsJ5Vq8AbCdEfGhIjKlMnOpQrStUw==",
        "X-MS-Has-Attach: yes",
    ]


def _sign(data: bytes, *, detached: bool) -> bytes:
    cert, key = identity()
    options = [pkcs7.PKCS7Options.Binary] + ([pkcs7.PKCS7Options.DetachedSignature] if detached else [])
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, options)
    )


def _b64(data: bytes) -> str:
    return "\r\n".join(base64.encodebytes(data).decode().splitlines())


def smime_detached(
    entity: bytes | None = None,
    *,
    sender: str = "sam.signer@police.example.net",
    subject: str = "Case of concern referral",
    n: int = 1,
    tamper: bool = False,
) -> bytes:
    """Outlook's default signed mail: ``multipart/signed`` with ``smime.p7s``."""
    entity = entity or referral_entity()
    signature = _sign(entity, detached=True)
    if tamper:  # a gateway that rewrote the content after signing
        entity = entity.replace(b"Please find attached", b"Please find enclosed")
    boundary = "----=_NextPart_000_0012_01DB1C2A.5F3E4D20"
    lines = _outer(sender, subject, n) + [
        f'Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; '
        f'micalg=SHA256; boundary="{boundary}"',
        "",
        "This is a multipart message in MIME format.",
        "",
        f"--{boundary}",
    ]
    tail = [
        "",
        f"--{boundary}",
        'Content-Type: application/pkcs7-signature; name="smime.p7s"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="smime.p7s"',
        "",
        _b64(signature),
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode() + b"\r\n" + entity + "\r\n".join(tail).encode()


def _opaque(blob: bytes, kind: str, sender: str, subject: str, n: int) -> bytes:
    lines = _outer(sender, subject, n) + [
        f'Content-Type: application/pkcs7-mime; smime-type={kind}; name="smime.p7m"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="smime.p7m"',
        "",
        _b64(blob),
        "",
    ]
    return "\r\n".join(lines).encode()


def smime_opaque(
    entity: bytes | None = None,
    *,
    sender: str = "sam.signer@police.example.net",
    subject: str = "Case of concern referral",
    n: int = 2,
) -> bytes:
    """Opaque signed mail: the whole message inside ``signed-data``."""
    return _opaque(_sign(entity or referral_entity(), detached=False), "signed-data", sender, subject, n)


def smime_encrypted(
    entity: bytes | None = None,
    *,
    sender: str = "sam.signer@police.example.net",
    subject: str = "Case of concern referral",
    n: int = 3,
    to: x509.Certificate | None = None,
) -> bytes:
    """Encrypted mail (``enveloped-data``) to the mailbox's certificate."""
    recipient = to or identity("CSCP mailbox", "cscp@example.org")[0]
    blob = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(entity or referral_entity())
        .add_recipient(recipient)
        .encrypt(serialization.Encoding.DER, [])
    )
    return _opaque(blob, "enveloped-data", sender, subject, n)


# -- TNEF ------------------------------------------------------------------------------
def _tnef_attr(level: int, name: int, kind: int, data: bytes) -> bytes:
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def tnef(files: list[tuple[str, bytes]], body: str = "") -> bytes:
    """A ``winmail.dat`` as Outlook writes it: version, code page, body, attachments."""
    out = struct.pack("<IH", 0x223E9F78, 0x0301)
    out += _tnef_attr(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    out += _tnef_attr(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))
    out += _tnef_attr(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\0")
    if body:
        out += _tnef_attr(1, 0x800C, 0x0002, body.encode("cp1252"))
    for name, data in files:
        out += _tnef_attr(2, 0x9002, 0x0006, struct.pack("<HIIIHI", 1, 0xFFFFFFFF, 0, 0, 0, 0))
        out += _tnef_attr(2, 0x8010, 0x0001, name.encode("cp1252") + b"\0")
        out += _tnef_attr(2, 0x800F, 0x0006, data)
    return out


# -- plain messages around them ---------------------------------------------------------
def message(
    *,
    sender: str = "pat.referrer@school.example.org",
    subject: str = "Referral",
    text: str = "Please find attached.",
    n: int = 10,
    files: list[tuple[str, str, bytes]] = (),
    html: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "cscp@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 12 Oct 2026 08:00:00 +0100"
    msg["Message-ID"] = EXCHANGE_ID.format(n=n)
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, ctype, data in files:
        main, sub = ctype.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg


def with_winmail(n: int = 20) -> bytes:
    """Outlook rich text: the form inside ``winmail.dat``."""
    blob = tnef(
        [("COC referral form.docx", form_bytes())], body="Please find attached a case of concern referral."
    )
    return message(
        text="Please see the attached.", n=n, files=[("winmail.dat", "application/ms-tnef", blob)]
    ).as_bytes()


def with_outlook_item(
    form: bytes | None = None, n: int = 21, inner_sender: str = "pat.original@health.example.nhs.uk"
) -> bytes:
    """A referral dragged into a new message as an Outlook item."""
    item_bytes = outlook_item_bytes(form, inner_sender)
    return message(
        sender="fran.forwarder@council.example.gov.uk",
        subject="FW: referral",
        text="Forwarding this on.",
        n=n,
        files=[("Case of concern.msg", "application/vnd.ms-outlook", item_bytes)],
    ).as_bytes()


def outlook_item_bytes(form: bytes | None, inner_sender: str) -> bytes:
    from helpers.cfb import outlook_item

    return outlook_item(
        sender=inner_sender,
        subject="Case of concern referral",
        body="Please find attached a case of concern referral.",
        files=[("COC referral form.docx", form or form_bytes())],
    )


def forwarded_as_attachment(
    form: bytes | None = None, n: int = 22, inner_sender: str = "pat.original@health.example.nhs.uk"
) -> bytes:
    """Outlook's "forward as attachment": the original message as ``message/rfc822``."""
    inner = message(
        sender=inner_sender,
        subject="Case of concern referral",
        n=n + 100,
        text="Please find attached a case of concern referral.",
        files=[("COC referral form.docx", DOCX, form or form_bytes())],
    )
    outer = message(
        sender="fran.forwarder@council.example.gov.uk",
        subject="FW: referral",
        text="Forwarding the referral below.",
        n=n,
    )
    outer.add_attachment(inner)
    return outer.as_bytes()


# -- secure-portal notices and protected files -----------------------------------------
def egress_notice(n: int = 30) -> bytes:
    """Egress Switch's notice: the referral waits in the sender's portal."""
    return message(
        sender="kim.police@police.example.net",
        subject="Case of concern referral",
        n=n,
        text="Kim Police has sent you a secure email.\n\nYou have received a "
        "secure message. To read it, click the link below and sign in to the "
        "secure portal.\n\nhttps://portal.example.net/read/8f3a1c\n",
        html="<p>You have received a secure message.</p><p><a href='https://"
        "portal.example.net/read/8f3a1c'>Read the secure message</a></p>",
    ).as_bytes()


def nhsmail_secure_notice(n: int = 31) -> bytes:
    """NHSmail's ``[secure]`` mail as an outside mailbox receives it: a portal link."""
    return message(
        sender="lee.nurse@nhs.example.net",
        subject="[secure] Safeguarding - CoC",
        n=n,
        text="This message was sent securely from NHSmail. Open the link "
        "to sign in and read it: https://portal.example.net/nhs/5e21\n",
    ).as_bytes()


def purview_encrypted(n: int = 32) -> bytes:
    """Microsoft Purview Message Encryption: ``message.rpmsg`` and ``message.html``."""
    rpmsg = b"\x76\xe8\x04\x60\xc4\x11\xe3\x86" + bytes(range(256)) * 8
    html = (
        b"<html><body><p>Sam Signer has sent you a protected message.</p><p>Read the "
        b"message</p><p>Message encryption by Microsoft Office 365</p></body></html>"
    )
    return message(
        sender="sam.officer@council.example.gov.uk",
        subject="Referral",
        n=n,
        text="",
        files=[
            ("message.html", "text/html", html),
            ("message.rpmsg", "application/x-microsoft-rpmsg-message", rpmsg),
        ],
    ).as_bytes()


def cjsm_notice(n: int = 33) -> bytes:
    """A CJSM-style notice (criminal justice secure mail)."""
    return message(
        sender="yo.team@yjs.example.net",
        subject="New message",
        n=n,
        text="You have a new message in your CJSM secure mailbox. Sign in to CJSM to read it.\n",
    ).as_bytes()


def password_protected(n: int = 34) -> bytes:
    """The form protected with a password (OOXML agile encryption), as policy requires."""
    from mailbot.sprg.meeting_digest import encrypt_docx

    return message(
        sender="ali.dsl@school.example.org",
        subject="Case of concern referral",
        n=n,
        text="Please find attached a case of concern referral. I will send the password separately.",
        files=[("COC form.docx", DOCX, encrypt_docx(form_bytes(), "Sunflower-27"))],
    ).as_bytes()
