"""A reply's wire bytes, written once and directly (issue 18).

``compose()`` builds an ``EmailMessage`` and the outbox serialised it with a generator:
every header went through ``email.headerregistry`` twice (parsed when set, refolded when
written), which cost more than rendering, sealing and storing the reply together. A
reply without attachments always has one shape, so :func:`compose_wire` writes it
directly, byte for byte what ``compose()`` followed by ``outbound_bytes(...,
linesep="\\r\\n")`` writes (``tests/outbound/test_wire.py`` pins that on hostile shapes):

* the headers in the same order; a value that is plain short ASCII (an addr-spec, case
  tags and words, a date) is written as it is, which is what the header registry writes
  for such a value; any other value (a non-ASCII display name, a long subject, ``=?``)
  goes through the standard library's own header class and folding, so RFC 2047 and
  folding stay the standard library's;
* the threading headers by ``mailbot.mail.thread_headers`` (the same values and the same
  folding between ids, never inside one, never encoded);
* ``multipart/alternative`` with the text and HTML parts, quoted-printable by the
  standard library's own encoder, the same part headers, CRLF line ends.

As in ``compose()``, nothing of the message answered reaches the bytes but its ids and
its Thread-Index: there is no parameter for its subject or body (INTERFACE.md), and the
Thread-Topic comes from our own subject. A value with a line break is refused, as
``EmailMessage`` refuses it.

Mail with attachments (the SPRG pack) still takes ``compose()``: it is rare, and its
shape is not fixed.
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email import quoprimime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from mailbot.mail.thread_headers import FOLD_AT, OUTBOUND_POLICY, fold_msg_ids, outbound_bytes, thread_fields

#: The display name of the bot's own address (From).
BOT_NAME = "CSCP referrals"
CRLF = "\r\n"
#: How the outbox's bytes are written: ``OUTBOUND_POLICY`` with CRLF line ends.
WIRE_POLICY = OUTBOUND_POLICY.clone(linesep=CRLF)
#: The header classes ``EmailMessage`` (``policy.default``) gives From, To, Subject...
_FACTORY = email_policy.default.header_factory
#: Visible ASCII words, single spaces between them: written as they are by the registry.
_PLAIN_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
#: A dot-atom addr-spec with a host name: written as it is by the address header class.
_ADDR_SPEC = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")
_NEWLINE = re.compile(r"\r\n|\r|\n")  # what the generator turns into its line end
_PART_HEAD = (
    'Content-Type: text/{subtype}; charset="utf-8"' + CRLF + "Content-Transfer-Encoding: quoted-printable"
)


@dataclass(frozen=True)
class Rendered:
    """A mail template's output (``compose.render``): our subject, text and HTML."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Wire:
    """A message as the outbox stores it: its CRLF bytes, and what the row keeps in
    clear (our Message-ID, the subject, which holds case references only)."""

    raw: bytes
    message_id: str
    subject: str


def wire_of(message: EmailMessage) -> Wire:
    """An ``EmailMessage`` (one with attachments, or a test's) as the outbox stores it."""
    return Wire(outbound_bytes(message, linesep=CRLF), str(message["Message-ID"]), str(message["Subject"]))


def header(name: str, value: str, *, plain: bool) -> tuple[str, str]:
    """The folded header line(s) and the value as the registry reads it (``str`` of the
    header). ``plain``: the caller's check that the value needs no parsing; short plain
    values are written as they are, anything else by the standard library."""
    if plain and "=?" not in value and len(name) + 2 + len(value) <= FOLD_AT:
        return f"{name}: {value}{CRLF}", value
    if len(value.splitlines()) > 1:  # as ``EmailMessage`` refuses it: no header injection
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    parsed = _FACTORY(name, value)
    return parsed.fold(policy=WIRE_POLICY), str(parsed)


def text_header(name: str, value: str) -> tuple[str, str]:
    """An unstructured field (Subject, Thread-Topic, Auto-Submitted...)."""
    return header(name, value, plain=_PLAIN_TEXT.fullmatch(value) is not None)


def address_header(name: str, address: str, display: str | None = None) -> tuple[str, str]:
    """From or To: ``address`` alone, or with a display name made of plain words."""
    plain = _ADDR_SPEC.fullmatch(address) is not None
    if display is None:
        return header(name, address, plain=plain)
    plain = plain and _PLAIN_NAME.fullmatch(display) is not None
    return header(name, formataddr((display, address)), plain=plain)


def quoted_printable(text: str) -> str:
    """A text part's body as ``set_content(text, cte="quoted-printable")`` encodes it
    (``email.contentmanager``) and the generator writes it (CRLF)."""
    lines = text.encode("utf-8").splitlines()
    body = quoprimime.body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), FOLD_AT)
    return _NEWLINE.sub(CRLF, body)


def boundary(*bodies: str) -> str:
    """The generator's kind of boundary, not found in any body (quoted-printable writes
    ``=`` as ``=3D``, so a clash cannot happen; checked all the same)."""
    while True:
        found = "=" * 15 + f"{random.randrange(sys.maxsize):019d}=="
        if not any(found in body for body in bodies):
            return found


def compose_wire(
    *,
    rendered: Rendered,
    sender: str,
    recipient: str,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    thread_index: str | None = None,
    auto: str = "auto-replied",
) -> Wire:
    """``compose()``'s message (same arguments, same headers and rules), as bytes."""
    subject_line, subject = text_header("Subject", rendered.subject)
    fields = thread_fields(
        message_id=message_id,
        date=date,
        in_reply_to=in_reply_to,
        references=references or [],
        parent_thread_index=thread_index,
        subject=subject,
    )
    head = [
        address_header("From", sender, BOT_NAME)[0],
        address_header("To", recipient)[0],
        subject_line,
        f"Date: {format_datetime(date)}{CRLF}",
        fold_msg_ids("Message-ID", [fields.message_id], CRLF),
    ]
    if fields.in_reply_to is not None:
        head.append(fold_msg_ids("In-Reply-To", [fields.in_reply_to], CRLF))
        head.append(fold_msg_ids("References", fields.references, CRLF))
    head.append(f"Thread-Index: {fields.thread_index}{CRLF}")
    if fields.topic:
        head.append(text_header("Thread-Topic", fields.topic)[0])
    head.append(text_header("Auto-Submitted", auto)[0])
    head.append(f"X-Auto-Response-Suppress: All{CRLF}")
    if auto != "no":  # a person's message (``Auto-Submitted: no``) is not bulk mail
        head.append(f"Precedence: {'bulk' if auto == 'auto-generated' else 'auto_reply'}{CRLF}")
    text, html = quoted_printable(rendered.text), quoted_printable(rendered.html)
    mark = boundary(text, html)
    raw = "".join(
        [
            *head,
            f"MIME-Version: 1.0{CRLF}",
            f'Content-Type: multipart/alternative;{CRLF} boundary="{mark}"{CRLF}',
            CRLF,
            f"--{mark}{CRLF}{_PART_HEAD.format(subtype='plain')}{CRLF}{CRLF}{text}",
            # add_alternative() makes the HTML part a message of its own: its MIME-Version
            f"{CRLF}--{mark}{CRLF}{_PART_HEAD.format(subtype='html')}{CRLF}MIME-Version: 1.0{CRLF}",
            f"{CRLF}{html}{CRLF}--{mark}--{CRLF}",
        ]
    )
    # as the generator encodes headers (``fold_binary``); the bodies are ASCII already
    return Wire(raw.encode("ascii", "surrogateescape"), fields.message_id, subject)
