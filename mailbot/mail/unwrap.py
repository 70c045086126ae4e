"""The message inside the wrapping: S/MIME, TNEF, Outlook items, forwarded mail (issue 14).

Public bodies rarely send a bare ``.docx``. Outlook signs by default (``multipart/signed``
or an opaque ``smime.p7m``), may encrypt (``enveloped-data``), wraps rich text in
``winmail.dat`` (TNEF), and a colleague forwards a referral as an attachment
(``message/rfc822``) or drags in an Outlook item (``.msg``). Each is recognised by its
structure and bytes (never by a file name) and unwrapped here, so the handlers see the
body text and the files as if they had been sent bare.

``walk`` is a pure function of the parsed message and its bytes; what the wrapping was
is kept in ``Wrapping``, in words for the team that carry no personal data (the
forwarders' addresses are kept apart, for the record of the forward).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

from mailbot.mail import outlook, smime
from mailbot.mail.body_text import part_text
from mailbot.mail.mime_walk import ctype_of, filename_of, mime_leaves

#: Wrappings inside wrappings followed (a signed message inside an encrypted one, a
#: forwarded item inside TNEF...); deeper ones are left as files.
MAX_WRAP_DEPTH = 4

_SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_CMS_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_SKIPPED = ("message/delivery-status", "text/rfc822-headers", "message/disposition-notification")


@dataclass
class Wrapping:
    """How the message arrived wrapped: shown to the team, never a reason to refuse."""

    #: Plain words, no personal data ("S/MIME signed message: signature valid ...").
    notes: list[str] = field(default_factory=list)
    #: The signature check's words (``smime.VALID``, ``INVALID``, ``UNCHECKED``); None
    #: when the message was not signed.
    signature: str | None = None
    #: S/MIME encrypted content the bot could not open (no key, or not for our key).
    encrypted: bool = False
    #: Who sent the messages forwarded inside this one (lower-case addresses).
    forwarded_from: list[str] = field(default_factory=list)

    def note(self, words: str) -> None:
        if words not in self.notes and len(self.notes) < 10:
            self.notes.append(words)


def wrapping_from_json(data: object) -> Wrapping:
    """A ``Wrapping`` sent as JSON (``dataclasses.asdict``, from the sandbox), checked."""
    if not isinstance(data, dict):
        raise ValueError("wrapping")
    notes, forwarded = data.get("notes"), data.get("forwarded_from")
    signature, encrypted = data.get("signature"), data.get("encrypted")
    if not (
        isinstance(notes, list)
        and isinstance(forwarded, list)
        and isinstance(encrypted, bool)
        and (signature is None or isinstance(signature, str))
    ):
        raise ValueError("wrapping")
    return Wrapping(
        notes=[str(n) for n in notes][:10],
        signature=signature,
        encrypted=encrypted,
        forwarded_from=[str(a) for a in forwarded][:10],
    )


@dataclass
class Found:
    """One file the walk found, before the reader sniffs it."""

    filename: str | None
    content_type: str
    data: bytes
    disposition: str


@dataclass
class Walked:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[Found] = field(default_factory=list)
    wrapping: Wrapping = field(default_factory=Wrapping)
    defects: int = 0


#: Parses a MIME entity's bytes (with the reader's caps); None when too tangled to read.
Parse = Callable[[bytes], Message | None]


@dataclass
class _Walk:
    parse: Parse
    raw: bytes
    key: smime.SmimeKey | None
    max_depth: int
    max_parts: int
    out: Walked = field(default_factory=Walked)

    def entity(self, msg: Message, level: int, top: bool = False) -> None:
        containers: list[Message] = []
        leaves, defects = mime_leaves(
            msg, max_depth=self.max_depth, max_parts=self.max_parts, containers=containers
        )
        self.out.defects += defects
        for container in containers:
            if ctype_of(container) == "message/rfc822":
                self.forwarded(container)
            else:
                self.detached(container, top and container is msg)
        for part in leaves:
            if len(self.out.files) >= self.max_parts:
                self.out.defects += 1
                return
            self.leaf(part, level)

    def forwarded(self, container: Message) -> None:
        self.out.wrapping.note("forwarded message (attached as a message)")
        inner = container.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            self.forwarder(str(inner[0].get("From") or ""))

    def forwarder(self, value: str) -> None:
        found = [a.lower() for _n, a in getaddresses([value[:1000]]) if "@" in a]
        if found and found[0] not in self.out.wrapping.forwarded_from:
            self.out.wrapping.forwarded_from.append(found[0])

    def detached(self, container: Message, top: bool) -> None:
        """A ``multipart/signed``: its signature checked over its first part's bytes."""
        payload = container.get_payload()
        children = [c for c in payload if isinstance(c, Message)] if isinstance(payload, list) else []
        if len(children) != 2:
            return
        signature = children[1].get_payload(decode=True)
        if not isinstance(signature, bytes) or smime.cms_kind(signature) != "signed-data":
            self.sign(smime.UNCHECKED)
            return
        content = first_part(self.raw, container.get_boundary() or "") if top else None
        if content is None:
            try:
                content = children[0].as_bytes()
            except Exception:  # noqa: BLE001 - a part the generator cannot write back
                self.sign(smime.UNCHECKED)
                return
        verdict = smime.check_detached(signature, [content, _crlf(content)])
        if not top and verdict == smime.INVALID:
            # A nested part is checked over bytes the parser wrote back, which may differ
            # from what was signed: a mismatch there proves nothing either way.
            verdict = smime.UNCHECKED
        self.sign(verdict)

    def sign(self, verdict: str) -> None:
        if self.out.wrapping.signature in (None, smime.VALID):
            self.out.wrapping.signature = verdict
        self.out.wrapping.note(f"S/MIME signed message: {verdict}")

    def leaf(self, part: Message, level: int) -> None:
        ctype = ctype_of(part)
        disposition = (part.get_content_disposition() or "").lower()
        filename = filename_of(part)
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            (self.out.plain if ctype == "text/plain" else self.out.html).append(part_text(part))
            return
        if ctype in _SKIPPED or ctype in _SIGNATURE_TYPES:
            return  # reports, and detached signatures (checked with their container)
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return
        self.file(Found(filename, ctype, payload, disposition), level)

    def file(self, found: Found, level: int) -> None:
        data = found.data
        if level < MAX_WRAP_DEPTH:
            kind = (
                smime.cms_kind(data)
                if found.content_type in _CMS_TYPES
                or (data[:1] == b"\x30" and (found.filename or "").lower().endswith(".p7m"))
                else None
            )
            if kind == "signed-data":
                content, verdict = smime.signed_content(data)
                self.sign(verdict)
                if content is not None and self.inner(content, level):
                    return
            elif kind == "enveloped-data":
                if self.enveloped(data, level):
                    return
            elif outlook.is_tnef(data):
                if self.contained(outlook.read_tnef(data), "winmail.dat (TNEF)", level):
                    return
            elif outlook.is_outlook_item(data):
                contents = outlook.read_outlook_item(data)
                if contents is not None and contents.sender:
                    self.forwarder(contents.sender)
                if self.contained(contents, "Outlook item (.msg)", level):
                    return
        self.out.files.append(found)

    def inner(self, content: bytes, level: int) -> bool:
        inner = self.parse(content)
        if inner is None:
            return False
        self.entity(inner, level + 1)
        return True

    def enveloped(self, data: bytes, level: int) -> bool:
        if self.key is None:
            self.out.wrapping.encrypted = True
            self.out.wrapping.note("S/MIME encrypted message: not opened (no key configured)")
            return False
        content = smime.decrypt(data, self.key)
        if content is None:
            self.out.wrapping.encrypted = True
            self.out.wrapping.note("S/MIME encrypted message: not opened (not for our key)")
            return False
        self.out.wrapping.note("S/MIME encrypted message: opened with the mailbox's key")
        return self.inner(content, level)

    def contained(self, contents: outlook.Contents | None, what: str, level: int) -> bool:
        if contents is None:
            return False
        self.out.wrapping.note(f"{what} opened: {len(contents.files)} file(s) inside")
        if contents.text.strip():
            self.out.plain.append(contents.text)
        for name, data in contents.files:
            self.file(Found(name, "application/octet-stream", data, "attachment"), level + 1)
        return bool(contents.files)  # nothing inside: the container itself stays, for a person


def walk(
    msg: Message, *, raw: bytes, parse: Parse, key: smime.SmimeKey | None, max_depth: int, max_parts: int
) -> Walked:
    """Body text and files of a message, its wrappings opened; never raises for
    broken wrapping (a blob that cannot be opened stays a file)."""
    state = _Walk(parse=parse, raw=raw, key=key, max_depth=max_depth, max_parts=max_parts)
    state.entity(msg, 0, top=True)
    return state.out


def first_part(raw: bytes, boundary: str) -> bytes | None:
    """The first body part of a top-level multipart, exactly as it travelled (the bytes a
    detached signature covers); None when the boundary cannot be found."""
    if not boundary or len(boundary) > 200:
        return None
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    if not ends:
        return None
    delimiter = b"\n--" + boundary.encode("ascii", "replace")
    start = raw.find(delimiter, min(ends))
    if start < 0:
        return None
    line_end = raw.find(b"\n", start + 1)
    stop = raw.find(delimiter, line_end)
    if line_end < 0 or stop < 0:
        return None
    part = raw[line_end + 1 : stop]
    return part[:-1] if part.endswith(b"\r") else part


def _crlf(data: bytes) -> bytes:
    """Canonical MIME line ends (RFC 8551 3.1.1): what the sender signed."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
