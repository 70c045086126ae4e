"""Reading a Word (.docx) file into the reader-neutral layout (rows of grid cells).

The zip is checked before any XML is parsed (zip bombs, passwords, macros); the XML is
parsed with entities and network access off.  Tables are read by grid columns
(``w:gridBefore``, ``w:gridSpan``) so that ``extract`` can find a value *under* its
label; cell-level content controls that wrap a ``w:tc`` are unwrapped here, and
deleted table rows (tracked changes) are dropped.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator

from lxml import etree

from mailbot.errors import FormRejected
from mailbot.forms.docx_inline import Inline, W, enter_control, first, walk_content, walk_inline
from mailbot.forms.layout import Cell, Document, Row
from mailbot.forms.safezip import DAMAGED, open_checked_zip, read_member

MACROS = (
    "The attachment is a macro-enabled Word document, which we do not open for safety. "
    "Please save the form as a normal Word document (.docx) or PDF and send it again."
)
NOT_WORD = (
    "The attachment is not a Word document we can read. Please send the form as a Word (.docx) or PDF file."
)

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


MAIN_PART = "word/document.xml"
_OFFICE_DOCUMENT = re.compile(rb"/relationships/officeDocument$")
#: "Strict Open XML Document" namespaces -> the transitional ones the reader knows.
_STRICT = (
    (
        b"http://purl.oclc.org/ooxml/wordprocessingml/main",
        b"http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    ),
    (
        b"http://purl.oclc.org/ooxml/officeDocument/relationships",
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    ),
)


def main_part_name(archive: zipfile.ZipFile) -> str:
    """The main document part named by ``_rels/.rels`` (Word calls it word/document.xml,
    other writers need not), else ``word/document.xml``."""
    rels = read_member(archive, "_rels/.rels")
    if rels:
        try:
            root = etree.fromstring(rels, _PARSER)
        except etree.XMLSyntaxError:
            return MAIN_PART
        for rel in root:
            kind = (rel.get("Type") or "").encode()
            target = rel.get("Target") or ""
            if _OFFICE_DOCUMENT.search(kind) and target and rel.get("TargetMode") != "External":
                return target.lstrip("/")
    return MAIN_PART


def load_document_xml(data: bytes) -> etree._Element:
    """The root of the main document part, after the zip and macro checks."""
    with open_checked_zip(data) as archive:
        names = set(archive.namelist())
        types = read_member(archive, "[Content_Types].xml") or b""
        if "word/vbaProject.bin" in names or b"macroEnabled" in types:
            raise FormRejected(MACROS)
        xml = read_member(archive, main_part_name(archive))
    if xml is None:
        raise FormRejected(NOT_WORD)
    for strict, transitional in _STRICT:
        xml = xml.replace(strict, transitional)
    try:
        return etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise FormRejected(DAMAGED) from exc


_TCPR, _GRIDSPAN, _TRPR, _DEL, _GRIDBEFORE = (
    W + "tcPr",
    W + "gridSpan",
    W + "trPr",
    W + "del",
    W + "gridBefore",
)


def _property(element: etree._Element, props: str, name: str) -> etree._Element | None:
    """``element/props/name`` (a direct child lookup: cheaper than an ElementPath)."""
    found = first(element, props)
    return first(found, name) if found is not None else None


def _span(tc: etree._Element) -> int:
    span = _property(tc, _TCPR, _GRIDSPAN)
    try:
        return max(1, int(span.get(W + "val", "1"))) if span is not None else 1
    except ValueError:
        return 1


def _cell(tc: etree._Element, col: int, sdt_pr: etree._Element | None) -> Cell:
    """One cell's visible text; ``sdt_pr`` is a control wrapping the whole cell."""
    ctx = Inline()
    if sdt_pr is None:
        walk_inline(tc, ctx)
    elif enter_control(sdt_pr, ctx):
        walk_content(tc, ctx, sdt_pr)
    text = ctx.text
    return Cell(
        text=text,
        col=col,
        span=_span(tc),
        source=ctx.source,
        picked_date=ctx.picked_date,
        date_format=ctx.date_format,
        placeholder=ctx.placeholders > 0 and not text.strip(),
    )


Wrapped = tuple[etree._Element, etree._Element | None]


def _unwrap(parent: etree._Element, tag: str) -> Iterator[Wrapped]:
    """Children named ``tag``, looking through content controls and custom XML."""
    for child in parent:
        if child.tag == tag:
            yield child, None
        elif child.tag == W + "sdt":
            content = first(child, W + "sdtContent")
            if content is not None:
                for inner, _ in _unwrap(content, tag):
                    yield inner, first(child, W + "sdtPr")
        elif child.tag in (W + "customXml", W + "ins", W + "moveTo"):
            yield from _unwrap(child, tag)


def _row(tr: etree._Element, table: int) -> Row | None:
    if _property(tr, _TRPR, _DEL) is not None:
        return None  # a deleted row (tracked change) is not part of the form
    before = _property(tr, _TRPR, _GRIDBEFORE)
    col = int(before.get(W + "val", "0")) if before is not None else 0
    cells = []
    for tc, sdt_pr in _unwrap(tr, W + "tc"):
        cell = _cell(tc, col, sdt_pr)
        cells.append(cell)
        col = cell.end
    return Row(cells, table)


def _paragraph(p: etree._Element) -> Row:
    ctx = Inline(base="table_cell:paragraph")
    walk_inline(p, ctx)
    cell = Cell(
        text=ctx.text,
        source=ctx.source,
        picked_date=ctx.picked_date,
        date_format=ctx.date_format,
        placeholder=ctx.placeholders > 0 and not ctx.text.strip(),
    )
    return Row([cell])


def _frame_cell(tbl: etree._Element) -> etree._Element | None:
    """The one cell of a 1x1 table that holds tables (a border drawn round the form)."""
    rows = [tr for tr, _ in _unwrap(tbl, W + "tr")]
    if len(rows) != 1:
        return None
    cells = [tc for tc, _ in _unwrap(rows[0], W + "tc")]
    if len(cells) == 1 and first(cells[0], W + "tbl") is not None:
        return cells[0]
    return None


def _blocks(parent: etree._Element, rows: list[Row], tables: list[int]) -> None:
    for child in parent:
        if child.tag == W + "p":
            rows.append(_paragraph(child))
        elif child.tag == W + "tbl" and (frame := _frame_cell(child)) is not None:
            _blocks(frame, rows, tables)  # the whole form drawn inside a 1x1 frame table
        elif child.tag == W + "tbl":
            tables[0] += 1
            number = tables[0]
            for tr, _ in _unwrap(child, W + "tr"):
                row = _row(tr, number)
                if row is not None:
                    rows.append(row)
        elif child.tag in (W + "sdt",):
            content = first(child, W + "sdtContent")
            if content is not None:
                _blocks(content, rows, tables)
        elif child.tag in (W + "customXml", W + "ins", W + "moveTo"):
            _blocks(child, rows, tables)


def read_docx_layout(data: bytes) -> Document:
    """The rows of a .docx in reading order (FormRejected if it must not be opened)."""
    root = load_document_xml(data)
    body = first(root, W + "body")
    if body is None:
        raise FormRejected(NOT_WORD)
    rows: list[Row] = []
    _blocks(body, rows, [0])
    text = "\n".join(cell.text for row in rows for cell in row.cells)
    return Document(rows=rows, text=text, source="docx")
