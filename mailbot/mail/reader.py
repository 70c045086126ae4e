"""Bytes to an ``InboundMessage``: decoded headers, body text, attachments, sender check.

Real mail is broken in every way (bad encodings, missing headers, malformed MIME), so
every accessor here falls back to a safe empty value instead of raising: a message that
cannot be read still gets an outcome from the handlers.

Hostile mail is bounded before anything costly runs, so reading is linear in the size
of the message (issue 13):

- the header block is cut to ``MAX_HEADER_FIELDS`` fields, each value to
  ``MAX_HEADER_CHARS`` (References keeps its tail, where the newest ids are), and the
  headers are read once, in one pass;
- the From is parsed (``authresults.strict_single_sender``: both of CPython's address
  parsers must find the same one address) only when shorter than
  ``authresults.MAX_FROM_LENGTH`` (1 KB), as the parsers are quadratic on comments;
- MIME is walked without recursion, at most ``MAX_MIME_DEPTH`` deep and
  ``MAX_MIME_PARTS`` parts; at most ``MAX_IDS`` ids (``MAX_REFERENCES`` in References:
  the thread's root and the newest, so a reply still threads) and ``MAX_CASE_TAGS`` case
  tags are kept; HTML is read by a real HTML parser (lxml), never by regular expressions;
- subjects, header values and file names leave with control characters replaced
  (``safetext``), and content types are well formed and short, so every value fits
  its column on PostgreSQL and is harmless on a terminal.

What a file is comes from ``forms.sniff`` (the one sniffer), told here in the coarse
words the handlers use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email._policybase import Compat32
from email.message import Message
from email.parser import BytesParser
from typing import Any

from mailbot.forms.sniff import sniff as sniff_kind
from mailbot.mail import unwrap
from mailbot.mail.authresults import SenderAuth, message_sender_auth
from mailbot.mail.body_text import html_to_text
from mailbot.mail.header_date import header_date
from mailbot.mail.mime_walk import ctype_of
from mailbot.mail.mime_walk import decoded as _decoded
from mailbot.mail.smime import SmimeKey
from mailbot.mail.unwrap import Wrapping
from mailbot.safetext import clean_filename, clean_line, clean_text

_MSGID = re.compile(r"<[^<>\s]+>")
_MSGID_BYTES = re.compile(rb"<[^<>\s]{1,500}>")
_ID_HEADERS = (b"message-id", b"in-reply-to", b"references")
_TAG = re.compile(r"\[(COC-\d{4}-\d{4})\]", re.IGNORECASE)
_BODY_LIMIT = 200_000

#: Header fields of the message kept (the rest are dropped, counted as a defect).
MAX_HEADER_FIELDS = 1000
#: Bytes of the message's header block read.
MAX_HEADER_BYTES = 512 * 1024
#: Characters of one header value kept.
MAX_HEADER_CHARS = 8192
#: Characters of the subject kept.
MAX_SUBJECT_CHARS = 1000
#: Multipart nesting and leaf parts read.
MAX_MIME_DEPTH = 10
MAX_MIME_PARTS = 100
#: Message ids (In-Reply-To, References) and case tags (subject) kept per message.
MAX_IDS = 10
#: References kept: the root and the newest, as many as our own replies carry.
MAX_REFERENCES = 40
MAX_CASE_TAGS = 10
#: Boundary lines, and lines times boundary lines, beyond which MIME is not followed.
MAX_DELIMITERS = 2000
MAX_MIME_WORK = 16_000_000
#: HTML given to the parser.

#: forms.sniff's kinds in the words the handlers use (``docx``, ``pdf``, ``zip``, ...).
_FAMILY = {
    "docx": "docx",
    "docm": "docx",
    "odt": "odt",
    "zip": "zip",
    "damaged": "zip",
    "pdf": "pdf",
    "encrypted_office": "ole",
    "doc": "ole",
    "ole": "ole",
    "image": "image",
    "rtf": "rtf",
}


@dataclass
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes
    #: What the bytes are, whatever the name says: docx, zip, pdf, ole, odt, image, rtf,
    #: unknown (``forms.sniff`` in coarse words).
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
    #: ``COC-YYYY-NNNN`` tags in the subject, upper case, first ``MAX_CASE_TAGS`` distinct.
    case_tags: list[str] = field(default_factory=list)
    #: What the message was wrapped in (S/MIME, TNEF, a forward), opened by the reader.
    wrapping: Wrapping = field(default_factory=Wrapping)
    #: The sandbox stopped reading the message at this limit (cpu, memory, wall, crash):
    #: nothing in it was read, so it is held for a person.
    stopped_at: str | None = None

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def has_header(self, name: str) -> bool:
        return name.lower() in self.headers

    def referenced_ids(self) -> list[str]:
        return [*self.in_reply_to, *self.references]


def attachment_kind(data: bytes) -> str:
    """What an attachment is, in the handlers' words, by ``forms.sniff``."""
    return _FAMILY.get(sniff_kind(data), "unknown")


class _CappedPolicy(Compat32):
    """The legacy policy (plain strings, no lazy header parsing) with bounded values."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        if len(value) > MAX_HEADER_CHARS:
            keep_tail = name.lower() == "references"
            value = value[-MAX_HEADER_CHARS:] if keep_tail else value[:MAX_HEADER_CHARS]
        return name, value


_POLICY = _CappedPolicy()


def _split_head(raw: bytes) -> tuple[bytes, bytes, int]:
    """The header block cut to the caps (fields, bytes, value length), the rest, and how
    many fields were dropped or cut."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    end = min(ends) if ends else len(raw)
    head, rest = raw[:end], raw[end:]
    if len(head) <= MAX_HEADER_CHARS or (
        head.count(b"\n") < MAX_HEADER_FIELDS
        and len(head) <= MAX_HEADER_BYTES
        and max(map(len, head.split(b"\n"))) <= MAX_HEADER_CHARS
    ):
        return head, rest, 0
    fields: list[list[bytes]] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    kept: list[bytes] = []
    size = cut = 0
    for lines in fields[:MAX_HEADER_FIELDS]:
        field_bytes = b"".join(lines)
        if len(field_bytes) > MAX_HEADER_CHARS:
            cut += 1
            name = field_bytes.split(b":", 1)[0]
            key = name.strip().lower()
            if key in _ID_HEADERS:  # keep the ids, drop the comments around them
                ids = _MSGID_BYTES.findall(field_bytes)
                ids = _root_and_newest(ids) if key == b"references" else ids[:MAX_IDS]
                field_bytes = name + b": " + b" ".join(ids)
            else:
                field_bytes = field_bytes[:MAX_HEADER_CHARS]
            field_bytes = field_bytes.rstrip(b"\r\n") + b"\r\n"
        if size + len(field_bytes) > MAX_HEADER_BYTES:
            cut += 1
            continue
        kept.append(field_bytes)
        size += len(field_bytes)
    cut += max(0, len(fields) - MAX_HEADER_FIELDS)
    return b"".join(kept).rstrip(b"\r\n"), rest, max(cut, 1)


def _root_and_newest(ids: list[Any]) -> list[Any]:
    """A References list cut to ``MAX_REFERENCES``: the thread's first id and the newest."""
    return ids if len(ids) <= MAX_REFERENCES else [ids[0], *ids[-(MAX_REFERENCES - 1) :]]


def _tangled(raw: bytes) -> bool:
    """MIME whose boundaries would cost the standard parser too much to follow.

    Python's feedparser tests every line against every open boundary: lines times
    nesting.  Each boundary line starts with ``--``, so their count bounds the nesting
    and the parts; past the budget the message is read for its headers only.
    """
    delimiters = raw.count(b"\n--")
    return delimiters > MAX_DELIMITERS or raw.count(b"\n") * delimiters > MAX_MIME_WORK


def _headers(msg: Message) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        out.setdefault(str(name).lower(), []).append(clean_line(_decoded(value), MAX_HEADER_CHARS))
    return out


def _raw_first(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name:
            return value if isinstance(value, str) else str(value)
    return None


def _message_ids(value: str | None) -> list[str]:
    return _MSGID.findall(value or "")


def case_tags(subject: str) -> list[str]:
    """The distinct case tags of a subject, upper case, at most ``MAX_CASE_TAGS``."""
    found: list[str] = []
    for match in _TAG.finditer(subject):
        tag = match.group(1).upper()
        if tag not in found:
            found.append(tag)
            if len(found) == MAX_CASE_TAGS:
                break
    return found


def _walk(
    msg: Message, source: bytes, key: SmimeKey | None
) -> tuple[str, list[InboundAttachment], int, Wrapping]:
    walked = unwrap.walk(
        msg, raw=source, parse=_parse_entity, key=key, max_depth=MAX_MIME_DEPTH, max_parts=MAX_MIME_PARTS
    )
    attachments: list[InboundAttachment] = []
    for found in walked.files:
        kind = attachment_kind(found.data)
        attachments.append(
            InboundAttachment(
                filename=clean_filename(found.filename),
                content_type=found.content_type,
                data=found.data,
                sniffed=kind,
                inline=found.disposition == "inline" and kind == "image",
            )
        )
    plain, html = walked.plain, walked.html
    text = "\n".join(plain) if plain else html_to_text("\n".join(html))
    return clean_text(text[:_BODY_LIMIT]), attachments, walked.defects, walked.wrapping


def _parse_entity(content: bytes) -> Message | None:
    """A MIME entity found inside a wrapping (signed or decrypted content), with the same
    caps as the message itself; None when it is too tangled to follow."""
    if _tangled(content):
        return None
    try:
        return BytesParser(policy=_POLICY).parsebytes(content)
    except RecursionError:
        return None


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID of a stored message, from its header block only, with the same
    caps as ``read_message`` (linear, whatever the header holds)."""
    head, _rest, _cut = _split_head(raw)
    try:
        msg = BytesParser(policy=_POLICY).parsebytes(head + b"\r\n\r\n", headersonly=True)
    except Exception:  # noqa: BLE001 - an unreadable header block has no id
        return None
    found = _message_ids(_raw_first(msg, "message-id"))
    return found[0] if found else None


def capped_tree(raw: bytes) -> Message | None:
    """The stored message parsed under ``read_message``'s caps, for showing its parts;
    None when its MIME is too tangled to follow (then only the headers are read)."""
    head, rest, cut = _split_head(raw)
    source = head + rest if cut else raw
    try:
        return None if _tangled(source) else BytesParser(policy=_POLICY).parsebytes(source)
    except RecursionError:
        return None


def unreadable(raw: bytes, stopped_at: str | None = None) -> InboundMessage:
    """The reading of a message that could not be read: no usable sender, so the
    handlers hold it for a person."""
    return InboundMessage(
        raw=raw,
        message_id=None,
        subject="",
        sender=None,
        date=None,
        in_reply_to=[],
        references=[],
        return_path=None,
        content_type="text/plain",
        headers={},
        text="",
        defects=1,
        stopped_at=stopped_at,
    )


def auth_from_json(data: dict[str, Any]) -> SenderAuth:
    """A sender check sent as JSON (``dataclasses.asdict``), every field type-checked."""
    flags = {name: data[name] for name in ("aligned", "internal", "authenticated", "quarantine")}
    texts = {name: data[name] for name in ("dmarc", "compauth", "dmarc_policy")}
    if not all(isinstance(value, bool) for value in flags.values()) or not all(
        value is None or isinstance(value, str) for value in texts.values()
    ):
        raise ValueError("auth")
    return SenderAuth(mode=str(data["mode"]), reason=str(data["reason"]), **texts, **flags)


def read_message(
    raw: bytes,
    *,
    sender_auth: str = "none",
    trusted_authserv_id: str | None = None,
    sender_auth_tenant_id: str | None = None,
    smime_key: SmimeKey | None = None,
) -> InboundMessage:
    """Parse raw RFC 5322 bytes; never raises for malformed input.

    ``sender_auth`` (``authserv-id``, ``exchange-online``, ``none``) and the two ids are
    the ``mail.*`` settings that say which Authentication-Results to believe;
    ``smime_key`` (``mail.smime_key``) opens S/MIME encrypted mail sent to the mailbox.
    """
    try:
        return _read(raw, _AuthRule(sender_auth, trusted_authserv_id, sender_auth_tenant_id), smime_key)
    except Exception:  # noqa: BLE001 - a parser bug must not lose the message
        return unreadable(raw)


@dataclass(frozen=True)
class _AuthRule:
    mode: str
    trusted_authserv_id: str | None
    tenant_id: str | None


def _read(raw: bytes, rule: _AuthRule, key: SmimeKey | None) -> InboundMessage:
    head, rest, cut = _split_head(raw)
    source = head + rest if cut else raw
    tangled = _tangled(source)
    try:
        msg = BytesParser(policy=_POLICY).parsebytes(source, headersonly=tangled)
    except RecursionError:
        tangled = True
        msg = BytesParser(policy=_POLICY).parsebytes(source, headersonly=True)
    headers = _headers(msg)
    sender, auth = message_sender_auth(
        msg, mode=rule.mode, trusted_authserv_id=rule.trusted_authserv_id, tenant_id=rule.tenant_id
    )

    def first(name: str) -> str | None:
        values = headers.get(name)
        return values[0] if values else None

    wrapping = Wrapping()
    try:
        text, attachments, mime_defects, wrapping = (
            ("", [], 1, wrapping) if tangled else _walk(msg, source, key)
        )
    except Exception:  # noqa: BLE001 - MIME too broken to walk: no body, no attachments
        text, attachments, mime_defects = "", [], 1
    return_path = first("return-path")
    if return_path is not None:
        return_path = return_path.strip().strip("<>").strip()
    message_ids = _message_ids(first("message-id"))
    subject = clean_line(first("subject") or "", MAX_SUBJECT_CHARS)
    references = _message_ids(" ".join(headers.get("references", [])))
    return InboundMessage(
        raw=raw,
        message_id=message_ids[0] if message_ids else None,
        subject=subject,
        sender=sender,
        date=header_date(first("date")),
        in_reply_to=_message_ids(first("in-reply-to"))[:MAX_IDS],
        references=_root_and_newest(references),
        return_path=return_path,
        content_type=ctype_of(msg),
        headers=headers,
        text=text,
        attachments=attachments,
        auth=auth,
        defects=len(getattr(msg, "defects", [])) + cut + mime_defects,
        case_tags=case_tags(subject),
        wrapping=wrapping,
    )
