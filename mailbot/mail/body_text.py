"""A body part's text: decoded by its declared charset (loosely when that is unknown),
and HTML reduced to its visible text by lxml's parser, which stays linear on hostile
markup where regular expressions went quadratic (issue 13)."""

from __future__ import annotations

from email.message import Message

#: HTML beyond this is not read: a covering note is never this long.
_HTML_LIMIT = 2_000_000


def part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
        return payload.decode(charset, "replace")
    except (LookupError, ValueError):  # unknown charset: decode loosely
        return payload.decode("utf-8", "replace")


_BLOCKS = ("p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote")


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, by lxml's HTML parser (linear on any input)."""
    if not html.strip():
        return ""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(html[:_HTML_LIMIT])
    except (etree.ParserError, ValueError):
        return ""
    for element in root.iter("script", "style", "head", "title"):
        element.text = None
        for child in list(element):
            element.remove(child)
    for element in root.iter("br"):
        element.tail = "\n" + (element.tail or "")
    for element in root.iter(*_BLOCKS):
        element.tail = "\n" + (element.tail or "")
    return str(root.text_content()).replace("\xa0", " ")
