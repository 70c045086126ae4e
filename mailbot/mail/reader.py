"""Bytes to an ``InboundMessage``: decoded headers, body text, attachments, sender check.

Built on the standard library's ``email`` with ``policy.default``. Real mail is broken
in every way (bad encodings, missing headers, malformed MIME), so every accessor here
falls back to a safe empty value instead of raising: a message that cannot be read
still gets an outcome from the handlers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from mailbot.mail.authresults import SenderAuth, message_sender_auth

_MSGID = re.compile(r"<[^<>\s]+>")
_BODY_LIMIT = 200_000


@dataclass
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes
    #: What the bytes are, whatever the name says: docx, zip, pdf, ole, odt, image, text, unknown.
    sniffed: str
    inline: bool = False


@dataclass
class InboundMessage:
    raw: bytes
    message_id: str | None
    subject: str
    #: The one address in the one From header, lower-case; None when that is in doubt
    #: (several addresses, parsers disagreeing: ``authresults.strict_single_sender``).
    sender: str | None
    date: datetime | None
    in_reply_to: list[str]
    references: list[str]
    return_path: str | None  # "" for the null reverse path <>
    content_type: str
    headers: dict[str, list[str]]
    text: str
    attachments: list[InboundAttachment] = field(default_factory=list)
    #: What our own receiving side said about the sender (``mail.sender_auth``).
    auth: SenderAuth = field(default_factory=lambda: SenderAuth("none"))
    defects: int = 0

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def has_header(self, name: str) -> bool:
        return name.lower() in self.headers

    def referenced_ids(self) -> list[str]:
        return [*self.in_reply_to, *self.references]


def sniff(data: bytes) -> str:
    head = data[:8]
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        window = data[:4096] + data[-65536:]
        if b"word/document.xml" in window or b"word/" in window:
            return "docx"
        if b"application/vnd.oasis.opendocument" in data[:200]:
            return "odt"
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head[:3] == b"\xff\xd8\xff" or head.startswith(b"\x89PNG") or head[:4] in (b"GIF8",):
        return "image"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    return "unknown"


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a header object that cannot render is just empty
        return ""


def _headers(msg: Message) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in msg.keys():
        key = name.lower()
        if key in out:
            continue
        try:
            values = msg.get_all(name) or []
        except Exception:  # noqa: BLE001 - a header the parser cannot decode counts as present
            values = [""]
        out[key] = [" ".join(_safe_str(v).split()) for v in values]
    return out


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 31 Dec 9999 at -12:00: past the end of time in UTC
        return None


def _message_ids(value: str | None) -> list[str]:
    return _MSGID.findall(value or "")


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - unknown charset or broken encoding: decode loosely
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _html_to_text(html: str) -> str:
    text = re.sub(r"(?is)<(script|style).*?</\1>", " ", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>", "\n", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"&nbsp;|&#160;", " ", text)


def _walk(msg: Message) -> tuple[str, str, list[InboundAttachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[InboundAttachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        try:
            filename = part.get_filename()
        except Exception:  # noqa: BLE001 - a mangled RFC 2231 name: keep the part, lose the name
            filename = None
        is_body_text = ctype in ("text/plain", "text/html") and disposition != "attachment" \
            and not filename
        if is_body_text:
            (plain if ctype == "text/plain" else html).append(_part_text(part))
            continue
        if ctype in ("message/delivery-status", "text/rfc822-headers",
                     "message/disposition-notification"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        kind = sniff(payload)
        attachments.append(InboundAttachment(
            filename=filename or "attachment", content_type=ctype, data=payload, sniffed=kind,
            inline=disposition == "inline" and kind == "image"))
    text = "\n".join(plain) if plain else _html_to_text("\n".join(html))
    return text[:_BODY_LIMIT], ctype_of(msg), attachments


def ctype_of(msg: Message) -> str:
    try:
        return msg.get_content_type()
    except Exception:  # noqa: BLE001 - broken Content-Type header: RFC 2045 default
        return "text/plain"


def read_message(raw: bytes, *, sender_auth: str = "none", trusted_authserv_id: str | None = None,
                 sender_auth_tenant_id: str | None = None) -> InboundMessage:
    """Parse raw RFC 5322 bytes; never raises for malformed input.

    ``sender_auth`` (``authserv-id``, ``exchange-online``, ``none``) and the two ids are
    the ``mail.*`` settings that say which Authentication-Results to believe.
    """
    try:
        return _read(raw, _AuthRule(sender_auth, trusted_authserv_id, sender_auth_tenant_id))
    except Exception:  # noqa: BLE001 - a parser bug must not lose the message: an empty
        # reading has no usable sender, so the handlers hold it for a person.
        return InboundMessage(raw=raw, message_id=None, subject="", sender=None, date=None,
                              in_reply_to=[], references=[], return_path=None,
                              content_type="text/plain", headers={}, text="", defects=1)


@dataclass(frozen=True)
class _AuthRule:
    mode: str
    trusted_authserv_id: str | None
    tenant_id: str | None


def _read(raw: bytes, rule: _AuthRule) -> InboundMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    headers = _headers(msg)
    sender, auth = message_sender_auth(msg, mode=rule.mode,
                                       trusted_authserv_id=rule.trusted_authserv_id,
                                       tenant_id=rule.tenant_id)

    def first(name: str) -> str | None:
        values = headers.get(name)
        return values[0] if values else None

    try:
        text, ctype, attachments = _walk(msg)
    except Exception:  # noqa: BLE001 - MIME too broken to walk: no body, no attachments
        text, ctype, attachments = "", ctype_of(msg), []
    return_path = first("return-path")
    if return_path is not None:
        return_path = return_path.strip().strip("<>").strip()
    message_ids = _message_ids(first("message-id"))
    return InboundMessage(
        raw=raw,
        message_id=message_ids[0] if message_ids else None,
        subject=first("subject") or "",
        sender=sender,
        date=_date(first("date")),
        in_reply_to=_message_ids(first("in-reply-to")),
        references=_message_ids(" ".join(headers.get("references", []))),
        return_path=return_path,
        content_type=ctype,
        headers=headers,
        text=text,
        attachments=attachments,
        auth=auth,
        defects=len(getattr(msg, "defects", [])),
    )
