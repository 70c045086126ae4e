"""A bounded look at a PDF before pdfium (which inflates streams with no cap) reads it.

The PDF reader (pdfium; pdfminer before it) decompresses every stream a page uses,
whole, and interprets a shared content stream once per page: a 32 KB file can ask for
gigabytes (NOTES.md).  So first, with
pypdf (which parses objects without decoding streams), the pages that will be read are
counted and every stream they use (contents, fonts, form XObjects; not images, which the
text reader never decodes) is inflated here with a hard cap, incrementally, so a bomb
stops at the cap instead of at the machine's memory.  Only a PDF that passes is handed
to the reader (``pdf_pages``), and only its first ``MAX_PDF_PAGES`` pages.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import Any

from mailbot.errors import FormRejected
from mailbot.forms.limits import (
    MAX_PDF_CONTENT_BYTES,
    MAX_PDF_OBJECTS,
    MAX_PDF_PAGES,
    MAX_PDF_STREAM_BYTES,
    MAX_PDF_TOTAL_BYTES,
    TOO_COMPLEX,
)
from mailbot.forms.safezip import DAMAGED, LOCKED_FILE

#: Keys that lead away from the page being checked (up the tree, or to things the text
#: reader never opens).
_SKIP_KEYS = frozenset(
    {
        "/Parent",
        "/P",
        "/Annots",
        "/B",
        "/Thumb",
        "/Metadata",
        "/StructParents",
        "/PieceInfo",
        "/Dest",
        "/First",
        "/Last",
        "/Next",
        "/Prev",
    }
)
#: Streams the text reader never decodes.
_SKIP_SUBTYPES = frozenset({"/Image"})
_SKIP_TYPES = frozenset({"/EmbeddedFile", "/Metadata", "/XRef", "/ObjStm"})
#: Encoded sizes beyond which filters without an incremental decoder here are refused.
_SMALL_ENCODED = {
    "/LZWDecode": 16 * 1024,
    "/LZW": 16 * 1024,
    "/RunLengthDecode": 128 * 1024,
    "/RL": 128 * 1024,
}
_IMAGE_CODECS = frozenset({"/DCTDecode", "/DCT", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode", "/CCF"})


class _TooComplex(Exception):
    pass


@dataclass
class PdfPlan:
    """What the guard found: how many pages to read, and pypdf's reader for the fields."""

    pages: int
    total_pages: int
    reader: Any


def _inflate(data: bytes, cap: int) -> bytes:
    """zlib data inflated to at most ``cap`` bytes; _TooComplex past it."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error:
        # pdfium (as pdfminer did) reads on past a damaged tail: count what came out before it.
        try:
            inflater = zlib.decompressobj()
            out = b""
            for start in range(0, len(data), 4096):
                out += inflater.decompress(data[start : start + 4096], cap + 1 - len(out))
                if len(out) > cap:
                    break
        except zlib.error:
            pass
    if len(out) > cap:
        raise _TooComplex
    return out


def _filters(stream: Any) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def decoded_size(stream: Any, cap: int = MAX_PDF_STREAM_BYTES) -> int:
    """The decoded size of one stream (at most ``cap``), decoding with caps throughout."""
    from pypdf.filters import ASCII85Decode, ASCIIHexDecode, LZWDecode, RunLengthDecode

    data: bytes = getattr(stream, "_data", b"") or b""
    filters = _filters(stream)
    if len(filters) > 4:
        raise _TooComplex
    for name in filters:
        if name in _IMAGE_CODECS:
            return len(data)
        if name in ("/FlateDecode", "/Fl"):
            data = _inflate(data, cap)
        elif name in ("/ASCIIHexDecode", "/AHx"):
            data = ASCIIHexDecode.decode(data)
        elif name in ("/ASCII85Decode", "/A85"):
            data = ASCII85Decode.decode(data)
        elif name in _SMALL_ENCODED:
            if len(data) > _SMALL_ENCODED[name]:
                raise _TooComplex
            decoder = LZWDecode if "LZW" in name else RunLengthDecode
            data = decoder.decode(data)
        else:
            raise _TooComplex  # an unknown or crypt filter on page content: not a form
        if len(data) > cap:
            raise _TooComplex
    return len(data)


class _Walk:
    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.visited: set[tuple[int, int]] = set()
        self.total = 0

    def stream_size(self, obj: Any) -> int:
        key = id(obj)
        if key not in self.sizes:
            size = decoded_size(obj)
            self.total += size
            if self.total > MAX_PDF_TOTAL_BYTES:
                raise _TooComplex
            self.sizes[key] = size
        return self.sizes[key]

    def visit(self, value: Any, depth: int = 0) -> None:
        from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

        if depth > 32:
            raise _TooComplex
        if isinstance(value, IndirectObject):
            key = (value.idnum, value.generation)
            if key in self.visited:
                return
            self.visited.add(key)
            if len(self.visited) > MAX_PDF_OBJECTS:
                raise _TooComplex
            value = value.get_object()
        if isinstance(value, StreamObject):
            if str(value.get("/Subtype")) in _SKIP_SUBTYPES or str(value.get("/Type")) in _SKIP_TYPES:
                return
            self.stream_size(value)
        if isinstance(value, DictionaryObject):
            for name, item in value.items():
                if str(name) not in _SKIP_KEYS:
                    self.visit(item, depth + 1)
        elif isinstance(value, ArrayObject):
            if len(value) > 100_000:
                raise _TooComplex
            for item in value:
                self.visit(item, depth + 1)


def _content_bytes(page: Any, walk: _Walk) -> int:
    from pypdf.generic import ArrayObject, StreamObject

    contents = page.get("/Contents")
    if contents is None:
        return 0
    contents = contents.get_object()
    items = contents if isinstance(contents, ArrayObject) else [contents]
    total = 0
    for item in items:
        item = item.get_object()
        if isinstance(item, StreamObject):
            total += walk.stream_size(item)
    return total


def _first_pages(reader: Any, limit: int) -> tuple[list[tuple[Any, Any]], int]:
    """The first ``limit`` pages (with the resources they inherit) by walking the page
    tree lazily, and the page count the tree declares: never the whole tree."""
    from pypdf.generic import ArrayObject, DictionaryObject

    root = reader.trailer["/Root"].get_object()
    top = root["/Pages"].get_object()
    declared = top.get("/Count")
    pages: list[tuple[Any, Any]] = []
    stack: list[tuple[Any, Any]] = [(iter([top]), None)]
    visited = 0
    while stack and len(pages) < limit:
        kids, inherited = stack[-1]
        try:
            node = next(kids).get_object()
        except StopIteration:
            stack.pop()
            continue
        visited += 1
        if visited > MAX_PDF_OBJECTS or len(stack) > 64:
            raise _TooComplex
        if not isinstance(node, DictionaryObject):
            continue
        resources = node.get("/Resources", inherited)
        children = node.get("/Kids")
        if children is not None:
            children = children.get_object()
            if isinstance(children, ArrayObject):
                stack.append((iter(children), resources))
            continue
        pages.append((node, resources))
    total = int(declared) if isinstance(declared, int) and declared >= len(pages) else len(pages)
    return pages, total


def check_pdf(data: bytes) -> PdfPlan:
    """How much of this PDF may be read; FormRejected (plain words) when none of it."""
    try:
        from pypdf import PdfReader  # loaded only when a PDF arrives
        from pypdf.errors import FileNotDecryptedError

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise FormRejected(LOCKED_FILE)
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise FormRejected(LOCKED_FILE) from exc
        first, total_pages = _first_pages(reader, MAX_PDF_PAGES)
        walk = _Walk()
        content = 0
        for page, resources in first:
            content += _content_bytes(page, walk)
            if content > MAX_PDF_CONTENT_BYTES:
                raise _TooComplex
            walk.visit(resources)
        pages = len(first)
    except (_TooComplex, RecursionError, MemoryError) as exc:
        raise FormRejected(TOO_COMPLEX) from exc
    except FormRejected:
        raise
    except Exception as exc:  # noqa: BLE001
        # pypdf raises many types on broken files (LimitReachedError for its own caps
        # among them); a PDF it cannot walk is not one we read.
        from pypdf.errors import LimitReachedError

        if isinstance(exc, LimitReachedError):
            raise FormRejected(TOO_COMPLEX) from exc
        raise FormRejected(DAMAGED) from exc
    return PdfPlan(pages=pages, total_pages=total_pages, reader=reader)
