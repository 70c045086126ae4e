"""The agenda pack's body as WordprocessingML, built directly with lxml.

python-docx's object model re-reads the tree on every call (``add_row`` looks up the
table grid, ``cell.width`` and ``run.bold`` each search their parent), which cost about
0.1 s a case. These functions make the same elements the old python-docx builder made
(``w:p``, ``w:tbl`` with its grid, ``w:tr``/``w:tc`` with their properties) in one pass,
as plain lxml elements; the document (styles, page, header and footer) still comes from
python-docx, which opens the template and saves the result.

Text goes into a run as python-docx puts it there: a tab becomes ``w:tab``, a line break
``w:br``, and ``w:t`` keeps leading or trailing spaces (``xml:space="preserve"``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from copy import deepcopy
from typing import TypeAlias

from docx.shared import Cm
from lxml import etree

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NSMAP = {"w": W_NS}
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_SPECIAL = re.compile(r"([\t\r\n])")

Element: TypeAlias = etree._Element


def w(tag: str) -> str:
    """The Clark name of a WordprocessingML tag (``w("p")``)."""
    return f"{{{W_NS}}}{tag}"


P, R, T, TAB, BR, TC = w("p"), w("r"), w("t"), w("tab"), w("br"), w("tc")
PPR, RPR, VAL = w("pPr"), w("rPr"), w("val")
_W, _TYPE = w("w"), w("type")
_SUB = etree.SubElement


def _leaf(parent: Element, tag: str, val: str | None = None) -> Element:
    node = _SUB(parent, tag)
    if val is not None:
        node.set(VAL, val)
    return node


# -- runs and paragraphs ----------------------------------------------------------------
class Font:
    """A run's direct formatting, in the order Word's schema (and python-docx) writes it."""

    __slots__ = ("bold", "italic", "color", "half_points")

    def __init__(
        self,
        *,
        bold: bool = False,
        italic: bool = False,
        color: object | None = None,
        size: float | None = None,
    ) -> None:
        self.bold, self.italic = bold, italic
        self.color = None if color is None else str(color)  # "1F3864" (or an RGBColor)
        self.half_points = None if size is None else str(round(size * 2))

    def apply(self, run: Element) -> None:
        rpr = _SUB(run, RPR)
        if self.bold:
            _SUB(rpr, w("b"))
        if self.italic:
            _SUB(rpr, w("i"))
        if self.color:
            _leaf(rpr, w("color"), self.color)
        if self.half_points:
            _leaf(rpr, w("sz"), self.half_points)


PLAIN = Font()


def run(paragraph: Element, text: str, font: Font = PLAIN) -> Element:
    r = _SUB(paragraph, R)
    if font is not PLAIN:
        font.apply(r)
    if text:
        _text(r, text)
    return r


def _text(r: Element, text: str) -> None:
    for piece in _SPECIAL.split(text) if _SPECIAL.search(text) else (text,):
        if piece == "\t":
            _SUB(r, TAB)
        elif piece in ("\r", "\n"):
            _SUB(r, BR)
        elif piece:
            t = _SUB(r, T)
            t.text = piece
            if len(piece.strip()) < len(piece):
                t.set(_XML_SPACE, "preserve")


def _ppr(
    p: Element, style: str | None, keep: bool | None, page_break: bool, before: int | None, after: int | None
) -> None:
    if style is None and keep is None and not page_break and before is None and after is None:
        return
    ppr = _SUB(p, PPR)
    if style is not None:
        _leaf(ppr, w("pStyle"), style)
    if keep is not None:
        _leaf(ppr, w("keepNext"), None if keep else "0")
    if page_break:
        _SUB(ppr, w("pageBreakBefore"))
    if before is not None or after is not None:
        spacing = _SUB(ppr, w("spacing"))
        if before is not None:
            spacing.set(w("before"), str(before * 20))
        if after is not None:
            spacing.set(w("after"), str(after * 20))


def paragraph(
    parent: Element | None = None,
    *,
    style: str | None = None,
    keep: bool | None = None,
    page_break: bool = False,
    before: int | None = None,
    after: int | None = None,
) -> Element:
    """A new ``w:p`` (appended to ``parent`` when given); spacing in points."""
    p = etree.Element(P, nsmap=_NSMAP) if parent is None else _SUB(parent, P)
    _ppr(p, style, keep, page_break, before, after)
    return p


# -- tables -----------------------------------------------------------------------------
_LOOK = (
    ("firstColumn", "1"),
    ("firstRow", "1"),
    ("lastColumn", "0"),
    ("lastRow", "0"),
    ("noHBand", "0"),
    ("noVBand", "1"),
    ("val", "04A0"),
)
#: Room between a cell's text and its borders, in twentieths of a point.
_CELL_MARGIN_VERTICAL = 40
_CELL_MARGIN_HORIZONTAL = 100


def twips(cm: float) -> str:
    return str(Cm(cm).twips)


class Table:
    """A fixed-layout, centred ``w:tbl`` on a grid of column widths (cm), in a style.

    Every row has ``w:cantSplit`` (it never breaks across pages); a header row also
    repeats on each page. Each kind of row is built once (``_prototype``) and copied,
    then its text filled in: copying a small tree in lxml costs a fraction of making it.
    """

    #: Shared by every pack (never put in a document: only copies are).
    _tables: dict[tuple[str, tuple[float, ...]], Element] = {}
    _rows: dict[tuple[object, ...], Element] = {}

    def __init__(self, style: str, widths: Sequence[float]) -> None:
        self.cm = tuple(widths)
        self.widths = [twips(cm) for cm in widths]
        shape = self._tables.get((style, self.cm))
        if shape is None:
            shape = self._tables[(style, self.cm)] = self._empty_table(style)
        self.element = deepcopy(shape)

    def _empty_table(self, style: str) -> Element:
        tbl = etree.Element(w("tbl"), nsmap=_NSMAP)
        pr = _SUB(tbl, w("tblPr"))
        _leaf(pr, w("tblStyle"), style)
        width = _SUB(pr, w("tblW"))
        width.set(_TYPE, "auto")
        width.set(_W, "0")
        _leaf(pr, w("jc"), "center")
        _SUB(pr, w("tblLayout")).set(_TYPE, "fixed")
        # The cell margins come before tblLook, as the schema orders them.
        margins = _SUB(pr, w("tblCellMar"))
        vertical, horizontal = _CELL_MARGIN_VERTICAL, _CELL_MARGIN_HORIZONTAL
        sides = (("top", vertical), ("left", horizontal), ("bottom", vertical), ("right", horizontal))
        for side, size in sides:
            node = _SUB(margins, w(side))
            node.set(_W, str(size))
            node.set(_TYPE, "dxa")
        look = _SUB(pr, w("tblLook"))
        for name, value in _LOOK:
            look.set(w(name), value)
        grid = _SUB(tbl, w("tblGrid"))
        for width_twips in self.widths:  # LibreOffice lays out by the grid, not cell widths
            _SUB(grid, w("gridCol")).set(_W, width_twips)
        return tbl

    def row(
        self,
        values: Sequence[str],
        *,
        label_cols: int = 0,
        keep: bool = False,
        header_fill: str | None = None,
        label_fill: str | None = None,
        height_cm: float | None = None,
        span_from: int | None = None,
    ) -> Element:
        """One row of cells, a paragraph per line of each value.

        ``label_cols`` leading cells are bold on ``label_fill``; a header row
        (``header_fill``) is bold white on that fill and repeats on each page;
        ``keep`` keeps every paragraph with the next (the row stays with what follows);
        ``span_from`` merges the cells from that column to the end into one (the
        cells it swallows must be empty; each leaves an empty paragraph, as Word's and
        python-docx's merge do).
        """
        if span_from is not None and any(values[span_from + 1 :]):
            raise ValueError("a merged cell swallows only empty cells")
        kind = (len(values), label_cols, keep, header_fill, label_fill, height_cm, span_from)
        proto = self._rows.get((self.cm, kind))
        if proto is None:
            proto = self._rows[(self.cm, kind)] = self._prototype(*kind)
        tr = deepcopy(proto)
        self.element.append(tr)
        for tc, value in zip(tr.iterchildren(TC), values, strict=False):
            if not value:
                continue  # the prototype's empty run is what an empty cell has
            lines = value.split("\n")
            first = tc[1]
            if lines[0]:
                _text(first[-1], lines[0])
            # Further lines each a paragraph, with a run only when there is text, as
            # python-docx's ``cell.add_paragraph`` makes them.
            for extra in lines[1:]:
                p = paragraph(keep=True if keep else None)
                if extra:
                    run(p, extra)
                first.addnext(p)
                first = p
        return tr

    def _prototype(
        self,
        count: int,
        label_cols: int,
        keep: bool,
        header_fill: str | None,
        label_fill: str | None,
        height_cm: float | None,
        span_from: int | None,
    ) -> Element:
        """A row of ``count`` empty cells: properties, and one paragraph with an empty run."""
        tr = etree.Element(w("tr"), nsmap=_NSMAP)
        trpr = _SUB(tr, w("trPr"))
        _SUB(trpr, w("cantSplit"))
        if height_cm is not None:
            _leaf(trpr, w("trHeight"), twips(height_cm))
        if header_fill is not None:
            _SUB(trpr, w("tblHeader"))
        head = Font(bold=True, color="FFFFFF")
        label = Font(bold=True)
        last = count if span_from is None else span_from + 1
        for i in range(last):
            tc = _SUB(tr, TC)
            tcpr = _SUB(tc, w("tcPr"))
            width = _SUB(tcpr, w("tcW"))
            width.set(_TYPE, "dxa")
            if i == span_from:
                width.set(_W, twips(sum(self.cm[i:])))
                _leaf(tcpr, w("gridSpan"), str(count - i))
            else:
                width.set(_W, self.widths[i])
            fill = header_fill or (label_fill if i < label_cols else None)
            if fill:
                shd = _SUB(tcpr, w("shd"))
                shd.set(VAL, "clear")
                shd.set(w("color"), "auto")
                shd.set(w("fill"), fill)
            font = head if header_fill else label if i < label_cols else PLAIN
            run(paragraph(tc, keep=True if keep else None), "", font)
            if i == span_from:
                for _ in range(i + 1, count):
                    run(paragraph(tc, keep=True if keep else None), "")
        return tr
