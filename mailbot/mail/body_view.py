"""A stored message as a person reads it: its text, safe HTML, and the files it carried.

The team must be able to read what a referrer wrote (a covering note saying the child
has moved, a referrer's name that the form left out) without Outlook. What is shown is
never the sender's HTML as is: a message with a plain-text part shows that; one with
only HTML shows it reduced by ``nh3`` (the Rust ``ammonia`` sanitiser) to a short list
of text tags, with no images, styles, scripts, forms or frames, and links that cannot
carry a referrer or open in our window. The message is parsed under the reader's caps
(``reader.capped_tree``), so hostile MIME costs what it costs at intake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

import nh3

from mailbot.mail.body_text import part_text
from mailbot.mail.mime_walk import ctype_of, mime_leaves
from mailbot.mail.reader import MAX_MIME_DEPTH, MAX_MIME_PARTS, capped_tree
from mailbot.safetext import clean_filename, clean_text

#: Characters of a body shown; a covering note is never this long.
MAX_SHOWN = 200_000
#: HTML given to the sanitiser.
MAX_HTML = 2_000_000
#: What survives of the sender's HTML: text structure only. No ``img`` (a remote image
#: tells the sender when and where the mail was read), no ``style`` or classes.
SAFE_TAGS = {
    "p",
    "br",
    "div",
    "span",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "small",
    "sub",
    "sup",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "code",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "caption",
    "a",
}
SAFE_ATTRIBUTES = {"a": {"href"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


@dataclass(frozen=True)
class CarriedFile:
    """A file in the message, named as the sender named it (control characters removed)."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageBody:
    #: The plain text to show (empty when only ``html`` is shown).
    text: str
    #: Sanitised HTML, only when the message had no plain-text part.
    html: str | None = None
    files: list[CarriedFile] = field(default_factory=list)
    #: True when the message's structure was too broken or too large to read whole.
    partial: bool = False


def sanitise_html(html: str) -> str:
    """The sender's HTML reduced to safe text markup (``SAFE_TAGS``), links made inert
    towards us (``rel="noopener noreferrer nofollow"``), nothing remote loaded.

    lxml's parser reads it first: it is linear and stops nesting at 256 levels, where
    html5ever (inside nh3) costs the square of the depth (100,000 nested ``div``: 80 s).
    """
    import lxml.html
    from lxml import etree

    if not html.strip():
        return ""
    try:
        root = lxml.html.document_fromstring(html[:MAX_HTML])
    except (etree.ParserError, ValueError):
        return ""
    flat = lxml.html.tostring(root, encoding="unicode")
    return nh3.clean(
        flat,
        tags=SAFE_TAGS,
        attributes=SAFE_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        clean_content_tags={"script", "style", "title", "head"},
    )


def message_body(raw: bytes) -> MessageBody:
    """What a person sees of a stored message; never raises on malformed mail."""
    tree = capped_tree(raw)
    if tree is None:
        return MessageBody(text="", partial=True)
    try:
        return _body(tree)
    except Exception:  # noqa: BLE001 - MIME too broken to walk: show that, never fail the page
        return MessageBody(text="", partial=True)


def _body(tree: Message) -> MessageBody:
    plain: list[str] = []
    html: list[str] = []
    files: list[CarriedFile] = []
    leaves, defects = mime_leaves(tree, max_depth=MAX_MIME_DEPTH, max_parts=MAX_MIME_PARTS)
    for part in leaves:
        ctype = ctype_of(part)
        disposition = (part.get_content_disposition() or "").lower()
        try:
            name = part.get_filename()
        except Exception:  # noqa: BLE001 - a mangled RFC 2231 name: keep the part, lose the name
            name = None
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not name:
            (plain if ctype == "text/plain" else html).append(part_text(part))
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            files.append(CarriedFile(clean_filename(str(name) if name else None), ctype, len(payload)))
    if plain:
        return MessageBody(text=clean_text("\n".join(plain)[:MAX_SHOWN]), files=files, partial=defects > 0)
    if html:
        return MessageBody(text="", html=sanitise_html("\n".join(html)), files=files, partial=defects > 0)
    return MessageBody(text="", files=files, partial=defects > 0)


def own_mail_text(raw: bytes) -> str:
    """The plain-text part of a message the bot composed (our own, well-formed mail)."""
    from email import message_from_bytes
    from email.policy import default

    msg = message_from_bytes(raw, policy=default)
    body = msg.get_body(preferencelist=("plain",))
    return str(body.get_content()).replace("\r\n", "\n") if body is not None else ""  # stored as sent: CRLF
