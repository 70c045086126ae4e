"""Threading headers for outbound mail: msg-ids that are never encoded, and Outlook's own.

**Message-ID, In-Reply-To, References.** With ``email.policy.default`` the standard
library treats ``In-Reply-To`` and ``References`` as unstructured text (CPython
gh-100991, not fixed in any release): a value longer than the 78-character line is
RFC 2047-encoded (``In-Reply-To: =?utf-8?q?=3CDB9PR09MB...``), which is no longer a
msg-id, so the referrer's client cannot thread the reply. An Exchange Online Message-ID
is 70-120 characters, so every reply to a Microsoft 365 sender was hit.

:class:`MsgIdHeader` is a header class that writes these fields as msg-id lists (RFC
5322 3.6.4), folding only between ids, never inside one, never encoding: the first id
stays on the field's own line (as Exchange and the standard library's Message-ID do)
and each further id joins the line while it fits in 78 characters, else starts a new
folded line. An id longer than a line is written whole (lines stay under the 998-octet
limit: an id longer than :data:`MAX_ID_LENGTH` is never written). ``Thread-Index`` is a
base64 token with the same problem and gets :class:`TokenHeader`.

Two ways in, both needed because a queued message is serialised twice:

* :func:`set_thread_headers` stores header *objects* on the message; ``as_bytes()``
  asks each object to fold itself, whatever the message's policy, so the outbox row
  (``message.as_bytes()`` under ``policy.default``) is right.
* :data:`OUTBOUND_POLICY` is ``policy.default`` whose header factory knows these
  fields. A message *parsed* from bytes holds plain strings, which the generator
  refolds (long lines) through the policy's factory: the drainer must parse the row
  with this policy, and the senders in this package serialise with it
  (:func:`outbound_bytes`, :func:`with_outbound_policy`); any other sender (Graph's
  ``sendMail`` takes the MIME bytes) must do the same, or inherit it from the drainer.

**Thread-Index and Thread-Topic (Outlook).** Outlook and Exchange group a conversation
by ``PidTagConversationId``. [MS-OXOMSG] 2.2.1.2: when the conversation index
(``Thread-Index``, base64) is at least 22 bytes and starts with 0x01, the id is the
GUID in it; only otherwise is it an MD5 of the conversation topic (``Thread-Topic``).
So the reply's grouping comes from the Thread-Index, and we continue the inbound
message's index (its 22-byte header block, GUID included, plus one 5-byte child block
for our reply) where it has a valid one. Where it has none we start a header block
whose GUID is derived from the thread's root Message-ID, so every reply in one RFC
thread shares one conversation.

The Thread-Topic is the one place where continuing the inbound conversation would
copy the sender's words into our mail: the inbound topic is the inbound subject, and
that often names the child ("Referral - J Smith 03/05/2015"). INTERFACE.md forbids
quoting it. The topic is therefore derived from **our own subject**, which is already
on the message: its case tags (``[COC-2026-0004]``) when it has them, so every message
the bot sends about a case carries one topic, else our own subject. There is no
parameter through which a caller could pass the inbound subject. Cost: where a client
ignores the index and falls back to the topic hash, our reply forms its own
conversation (per case) instead of joining the referrer's; In-Reply-To/References
still thread it in every standards client.

Conversation index layout ([MS-OXOMSG] 2.2.1.3; MAPI "Tracking Conversations"):
header block = 0x01, 5 bytes of FILETIME >> 24 (big-endian), 16-byte GUID. Desktop
Outlook writes an older variant, 6 bytes of FILETIME >> 16 (its first byte is also
0x01 for dates from 1829 to 2057): the second byte tells them apart (0x01 in the 5-byte
form for those dates; in the 6-byte form the next byte of the time, 0xD3 or 0xD4 in 2018, 0xDC
in 2026). A child
block = 1 bit DC, 31 bits of (our time - header time): bits 18-48 when DC=0 (under
about 1.8 years), bits 23-53 when DC=1; then 8 bits random (here: derived from our
Message-ID, so a resend is byte-identical). That is the documented form; the child
blocks Exchange Online writes do not decode that way, so the inbound children are kept
as opaque bytes (grouping uses only the GUID; order within a conversation comes from
the messages' dates).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.policy import Policy
from typing import Any, ClassVar, Literal

#: RFC 5322 2.1.1: no line longer than 998 octets; folding aims at 78.
MAX_LINE = 998
FOLD_AT = 78
#: Longer ids are not written at all ("References: " + id must fit one line).
MAX_ID_LENGTH = 900
#: References keeps the thread's root and the newest ids, RFC 5322 3.6.4 style.
MAX_REFERENCES = 40
#: Child blocks kept from the inbound Thread-Index (each is 5 bytes).
MAX_CHILD_BLOCKS = 50

_CANDIDATE = re.compile(rf"<[^<>\s]{{3,{MAX_ID_LENGTH}}}>")
_PRINTABLE = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+")  # visible ASCII but < and >
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_CASE_TAG = re.compile(r"\[COC-\d{4}-\d{4,}\]", re.IGNORECASE)
_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|sv|vs)\s*:\s*)+", re.IGNORECASE)
#: Scanning stops here: a hostile 1 MB References header costs no more than this.
_SCAN_LIMIT = 64 * 1024

# -- msg-ids ------------------------------------------------------------------------


def is_msg_id(value: str) -> bool:
    """``<left@right>`` in visible ASCII, at most :data:`MAX_ID_LENGTH` characters.

    Looser than RFC 5322's grammar on purpose (odd ids from real servers are kept), but
    never anything that could break a header line: no spaces, controls, 8-bit text or
    angle brackets inside.
    """
    if not (3 < len(value) <= MAX_ID_LENGTH and value[0] == "<" and value[-1] == ">"):
        return False
    inner = value[1:-1]
    left, at, right = inner.rpartition("@")
    return bool(at and left and right and _PRINTABLE.fullmatch(inner))


def msg_ids(values: Iterable[str | None]) -> list[str]:
    """Every usable msg-id in ``values``, in order, duplicates dropped."""
    seen: set[str] = set()
    found: list[str] = []
    for value in values:
        for candidate in _CANDIDATE.findall((value or "")[:_SCAN_LIMIT]):
            if candidate not in seen and is_msg_id(candidate):
                seen.add(candidate)
                found.append(candidate)
    return found


def references_chain(references: Sequence[str], in_reply_to: str | None) -> list[str]:
    """The parent's References plus the parent: the root and the newest ids kept."""
    chain = msg_ids([*references, in_reply_to])
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return chain


def _limit(pol: Policy) -> int:
    return min(pol.max_line_length or MAX_LINE, MAX_LINE)


class MsgIdHeader(BaseHeader):
    """Message-ID, In-Reply-To, References: a msg-id list, folded between ids only.

    The string value is the ids joined by single spaces; anything in the source that is
    not a usable msg-id is dropped (this class is for mail we write, not for reading
    inbound mail, where the reader keeps its own looser view).
    """

    max_count: ClassVar[Literal[1] | None] = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        ids = msg_ids([str(value)])
        kwds["decoded"] = " ".join(ids)
        kwds["parse_tree"] = None  # folding below does not use the parser's tree

    @property
    def ids(self) -> list[str]:
        return str(self).split()

    def fold(self, *, policy: Policy) -> str:
        return fold_msg_ids(self.name, self.ids, policy.linesep, min(FOLD_AT, _limit(policy)))


def fold_msg_ids(name: str, ids: Sequence[str], linesep: str, limit: int = FOLD_AT) -> str:
    """``name: ids`` folded between ids only (the class docstring's rule), for
    :class:`MsgIdHeader` and for writers that make the header text themselves."""
    if not ids:
        return f"{name}:{linesep}"
    lines = [f"{name}: {ids[0]}"]
    for msg_id in ids[1:]:
        if len(lines[-1]) + 1 + len(msg_id) <= limit:
            lines[-1] += " " + msg_id
        else:
            lines.append(" " + msg_id)
    return linesep.join(lines) + linesep


class TokenHeader(BaseHeader):
    """One base64 token (Thread-Index) written as is: never folded, never encoded."""

    max_count: ClassVar[Literal[1] | None] = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        token = "".join(str(value).split())
        ok = len(token) + 20 <= MAX_LINE and _BASE64.fullmatch(token)
        kwds["decoded"] = token if ok else ""
        kwds["parse_tree"] = None

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in ("message-id", "in-reply-to", "references", "resent-message-id"):
        registry.map_to_type(name, MsgIdHeader)
    registry.map_to_type("thread-index", TokenHeader)
    return registry


#: ``policy.default`` that writes msg-ids and Thread-Index as they must be written. For
#: outbound mail only (it drops anything in those fields that is not a usable id).
OUTBOUND_POLICY: email_policy.EmailPolicy[EmailMessage] = email_policy.default.clone(
    header_factory=_registry()
)


def outbound_bytes(message: Message, *, linesep: str = "\n") -> bytes:
    """The message as it goes on the wire (or into the outbox folder, or to Graph)."""
    pol = OUTBOUND_POLICY if linesep == "\n" else OUTBOUND_POLICY.clone(linesep=linesep)
    return message.as_bytes(policy=pol)


def with_outbound_policy(message: EmailMessage) -> EmailMessage:
    """A shallow copy that serialises under :data:`OUTBOUND_POLICY` (for ``smtplib``)."""
    outgoing = copy.copy(message)
    outgoing.policy = OUTBOUND_POLICY
    return outgoing


# -- Thread-Index --------------------------------------------------------------------

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_HEADER_LEN = 22
_CHILD_LEN = 5


def filetime(moment: datetime) -> int:
    """100-nanosecond ticks since 1601-01-01 UTC (Windows FILETIME)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _FILETIME_EPOCH) // timedelta(microseconds=1) * 10


def from_filetime(ticks: int) -> datetime:
    return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)


@dataclass(frozen=True)
class ConversationIndex:
    """A decoded Thread-Index: the 22-byte header block and its 5-byte child blocks."""

    header: bytes
    children: tuple[bytes, ...] = ()

    @property
    def guid(self) -> bytes:
        return self.header[6:22]

    @property
    def ticks(self) -> int:
        """The header block's time, in FILETIME ticks (both on-the-wire variants)."""
        if self.header[1] == 0x01:  # 0x01 + FILETIME >> 24 (Exchange, OWA, Graph)
            return int.from_bytes(self.header[1:6], "big") << 24
        return int.from_bytes(self.header[0:6], "big") << 16  # desktop Outlook

    def child_times(self) -> list[datetime]:
        """When each reply was made, read as ScCreateConversationIndex writes blocks.

        True for the blocks we write (and desktop Outlook's); Exchange Online writes its
        child blocks another, undocumented way, which we carry on as opaque bytes.
        """
        times = []
        for block in self.children:
            word = int.from_bytes(block[:4], "big")
            shift = 23 if word >> 31 else 18
            times.append(from_filetime(self.ticks + ((word & 0x7FFFFFFF) << shift)))
        return times

    def encode(self) -> str:
        return base64.b64encode(self.header + b"".join(self.children)).decode("ascii")


def parse_thread_index(value: str | None) -> ConversationIndex | None:
    """The index in a Thread-Index header, or None when it is absent or not one."""
    if not value:
        return None
    token = "".join(value.split())
    limit = 4 * (_HEADER_LEN + _CHILD_LEN * 400) // 3 + 4
    if len(token) > limit or not _BASE64.fullmatch(token):
        return None
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < _HEADER_LEN or (len(raw) - _HEADER_LEN) % _CHILD_LEN or raw[0] != 0x01:
        return None
    children = tuple(raw[i : i + _CHILD_LEN] for i in range(_HEADER_LEN, len(raw), _CHILD_LEN))
    return ConversationIndex(raw[:_HEADER_LEN], children)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).digest()


def new_index(moment: datetime, seed: str) -> ConversationIndex:
    """A header block for a new conversation; the GUID is derived from ``seed``."""
    guid = uuid.UUID(bytes=_digest("thread-index", seed)[:16], version=4)
    stamp = (filetime(moment) >> 24) & 0xFF_FFFF_FFFF
    return ConversationIndex(b"\x01" + stamp.to_bytes(5, "big") + guid.bytes)


def _child_block(parent: ConversationIndex, moment: datetime, salt: str) -> bytes | None:
    delta = max(0, filetime(moment) - parent.ticks)
    if delta < 1 << 49:
        word = (delta >> 18) & 0x7FFFFFFF
    elif delta < 1 << 54:
        word = (1 << 31) | ((delta >> 23) & 0x7FFFFFFF)
    else:
        return None  # a header block from another century: not a conversation to join
    return word.to_bytes(4, "big") + _digest("child", salt)[:1]


def reply_index(parent: str | None, *, moment: datetime, thread_root: str, salt: str) -> ConversationIndex:
    """The index for our message: the parent's plus one child block, else a new one.

    ``thread_root`` seeds the GUID of a new conversation (the thread's first msg-id);
    ``salt`` (our Message-ID) makes the child block's random byte.
    """
    index = parse_thread_index(parent)
    if index is not None:
        child = _child_block(index, moment, salt)
        if child is not None:
            kept = index.children[-(MAX_CHILD_BLOCKS - 1) :] if MAX_CHILD_BLOCKS > 1 else ()
            return ConversationIndex(index.header, (*kept, child))
    return new_index(moment, thread_root)


def thread_topic(our_subject: str) -> str:
    """Our case tags, else our own subject without reply prefixes (never the inbound's)."""
    tags = list(dict.fromkeys(tag.upper() for tag in _CASE_TAG.findall(our_subject)))
    if tags:
        return " ".join(tags)
    return " ".join(_PREFIX.sub("", our_subject).split())[:255]


# -- the one call compose() makes ------------------------------------------------------


@dataclass(frozen=True)
class ThreadFields:
    """The values :func:`set_thread_headers` writes (``in_reply_to`` None: not threaded;
    ``topic`` "": no Thread-Topic)."""

    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    thread_index: str
    topic: str


def thread_fields(
    *,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    parent_thread_index: str | None = None,
    subject: str | None = None,
) -> ThreadFields:
    """What :func:`set_thread_headers` sets, as values (its docstring has the rules);
    ``subject`` is our own subject as decoded text."""
    if not is_msg_id(message_id):
        raise ValueError("our own Message-ID must be a msg-id: <left@right>")
    parent = msg_ids([in_reply_to])
    chain = references_chain(references, in_reply_to) if parent else []
    root = chain[0] if chain else message_id
    index = reply_index(
        parent_thread_index if parent else None, moment=date, thread_root=root, salt=message_id
    )
    return ThreadFields(
        message_id,
        parent[0] if parent else None,
        tuple(chain),
        index.encode(),
        thread_topic(subject) if subject is not None else "",
    )


def set_thread_headers(
    msg: Message,
    *,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    parent_thread_index: str | None = None,
) -> None:
    """Set Message-ID, In-Reply-To, References, Thread-Index and Thread-Topic on ``msg``.

    ``in_reply_to``/``references`` are the Message-ID and References of the message we
    answer; ``parent_thread_index`` its Thread-Index header, if any. Ids that are not
    usable msg-ids (8-bit, spaces, over :data:`MAX_ID_LENGTH`) are left out rather than
    written broken. Set the Subject first: the Thread-Topic is derived from it.
    Replaces any of these headers already present.
    """
    subject = msg.get("Subject")
    fields = thread_fields(
        message_id=message_id,
        date=date,
        in_reply_to=in_reply_to,
        references=references,
        parent_thread_index=parent_thread_index,
        subject=str(subject) if subject is not None else None,
    )
    for name in ("Message-ID", "In-Reply-To", "References", "Thread-Index", "Thread-Topic"):
        del msg[name]
    msg["Message-ID"] = MsgIdHeader("Message-ID", fields.message_id)
    if fields.in_reply_to is not None:
        msg["In-Reply-To"] = MsgIdHeader("In-Reply-To", fields.in_reply_to)
        msg["References"] = MsgIdHeader("References", " ".join(fields.references))
    msg["Thread-Index"] = TokenHeader("Thread-Index", fields.thread_index)
    if fields.topic:
        msg["Thread-Topic"] = fields.topic
