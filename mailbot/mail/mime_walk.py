"""A message's leaf parts, walked with a stack instead of recursion so that hostile
nesting costs a bounded amount of work: past the depth or part cap the walk stops and
counts a defect, and the message is still read from what was found (issue 13).

Also the small, safe accessors of one part (its type, its file name) that the reader
and the unwrapping of signed, encrypted and forwarded mail share."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.message import Message

from mailbot.safetext import clean_content_type, unsurrogate

#: Containers the walk reports besides the leaves: forwarded messages and signed parts.
CONTAINERS = ("message/rfc822", "multipart/signed")


def mime_leaves(
    msg: Message, *, max_depth: int, max_parts: int, containers: list[Message] | None = None
) -> tuple[list[Message], int]:
    """The leaf parts in order, without recursion, within the depth and part caps.

    ``containers``, when given, receives the ``CONTAINERS`` parts met on the way."""
    leaves: list[Message] = []
    defects = 0
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > max_parts * 4 or len(leaves) >= max_parts:
            defects += 1
            break
        if part.is_multipart():
            if depth >= max_depth:
                defects += 1
                continue
            if containers is not None and ctype_of(part) in CONTAINERS:
                containers.append(part)
            children = part.get_payload()
            if isinstance(children, list):
                defects += int(len(children) > max_parts)
                stack.extend(
                    (child, depth + 1)
                    for child in reversed(children[:max_parts])
                    if isinstance(child, Message)
                )
            continue
        leaves.append(part)
    return leaves, defects


def ctype_of(msg: Message) -> str:
    """The part's content type, well formed and short; ``text/plain`` when broken."""
    try:
        ctype = msg.get_content_type()
    except Exception:  # noqa: BLE001 - broken Content-Type header: RFC 2045 default
        return "text/plain"
    return clean_content_type(ctype)


def decoded(value: object) -> str:
    """A raw header value as text: 8-bit bytes as UTF-8, RFC 2047 words decoded."""
    text = unsurrogate(value if isinstance(value, str) else str(value))
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # noqa: BLE001 - a broken encoded word stays as written
        return text


def filename_of(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - a mangled RFC 2231 name: keep the part, lose the name
        return None
    if not name:
        return None
    return decoded(name)
