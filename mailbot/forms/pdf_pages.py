"""A PDF's pages as pdfplumber would see them, read with pdfium (pypdfium2).

pdfminer interprets every page's content in Python: reading a page and finding its
tables cost 0.3-0.45 s with it here, about 30 ms with pdfium, which does it in C (the
figures of ``limits.MAX_PDF_PAGES``).  What the reader needs from a page is small: the
characters with their boxes (grouped into words by pdfplumber's own word rules) and
the straight edges of the ruling lines and cell shading (turned into tables by
pdfplumber's own table finder).  Both are built here from pdfium's text page and path
objects, in pdfminer's coordinates: a character's box is its origin, font size and
advance; an edge is each straight segment of a path, after the object's matrix.

The caps of issue 13 stay where they were: ``pdf_guard.check_pdf`` has walked the pages
to be read (page count, inflated sizes) before this is called, and the reading runs in
the sandbox child under its limits.
"""

from __future__ import annotations

import ctypes
from typing import Any

_LINE_END_HYPHEN = 0x02
#: Above this many segments a path is a drawing, not a table rule (a form's paths have 2-5).
MAX_PATH_SEGMENTS = 10_000


class PdfiumPage:
    """One page: ``chars``, ``edges``, ``bbox``, ``height``, ``extract_words``, ``find_tables``."""

    def __init__(self, page: Any) -> None:
        self.width = float(page.get_width())
        self.height = float(page.get_height())
        self.bbox = (0.0, 0.0, self.width, self.height)
        self.chars = _chars(page, self.height)
        self.edges = _edges(page, self.height)

    def extract_words(self, **settings: Any) -> list[dict[str, Any]]:
        from pdfplumber.utils.text import extract_words

        words: list[dict[str, Any]] = extract_words(self.chars, **settings)
        return words

    def find_tables(self) -> list[Any]:
        from pdfplumber.table import TableFinder, TableSettings

        return list(TableFinder(self, TableSettings.resolve(None)).tables)  # type: ignore[arg-type]


def _chars(page: Any, height: float) -> list[dict[str, Any]]:
    """The page's characters (not the spaces and line ends pdfium adds) in content order."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        x, y = ctypes.c_double(), ctypes.c_double()
        box = pdfium_c.FS_RECTF()
        out: list[dict[str, Any]] = []
        count = pdfium_c.FPDFText_CountChars(textpage)
        # All the text in one call; a character is asked for on its own only where the
        # bulk text cannot be taken as it is (spaces and line ends pdfium may have added,
        # its marks, or text that does not line up one to one).
        text = textpage.get_text_range(0, count) if count > 0 else ""
        aligned = len(text) == count
        for i in range(count):
            char = text[i] if aligned else ""
            if char > " " and char != "\ufffe" and not char.isspace() and not "\ud800" <= char <= "\udfff":
                code = ord(char)
            else:
                if pdfium_c.FPDFText_IsGenerated(textpage, i) == 1:
                    continue
                code = pdfium_c.FPDFText_GetUnicode(textpage, i)
            if code == _LINE_END_HYPHEN:
                code = ord("-")  # pdfium's mark for a hyphen that ends a line
            elif code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                continue
            pdfium_c.FPDFText_GetCharOrigin(textpage, i, x, y)
            pdfium_c.FPDFText_GetLooseCharBox(textpage, i, box)
            size = float(pdfium_c.FPDFText_GetFontSize(textpage, i))
            top, bottom = height - (y.value + size), height - y.value
            out.append(
                {
                    "text": chr(code),
                    "x0": box.left,
                    "x1": box.right,
                    "top": top,
                    "bottom": bottom,
                    "doctop": top,
                    "y0": y.value,
                    "y1": y.value + size,
                    "width": box.right - box.left,
                    "height": size,
                    "size": size,
                    "upright": True,
                }
            )
        return out
    finally:
        textpage.close()


def _subpaths(path: Any, matrix: Matrix) -> list[list[tuple[float, float]]]:
    """The points of each subpath of one path object, in page coordinates."""
    import pypdfium2.raw as pdfium_c

    a, b, c, d, e, f = matrix
    count = pdfium_c.FPDFPath_CountSegments(path.raw)
    if count > MAX_PATH_SEGMENTS:
        return []
    px, py = ctypes.c_float(), ctypes.c_float()
    subpaths: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for k in range(count):
        segment = pdfium_c.FPDFPath_GetPathSegment(path.raw, k)
        pdfium_c.FPDFPathSegment_GetPoint(segment, px, py)
        point = (a * px.value + c * py.value + e, b * px.value + d * py.value + f)
        if pdfium_c.FPDFPathSegment_GetType(segment) == pdfium_c.FPDF_SEGMENT_MOVETO:
            if current:
                subpaths.append(current)
            current = [point]
        else:
            current.append(point)
        if pdfium_c.FPDFPathSegment_GetClose(segment) and current:
            current.append(current[0])
    if current:
        subpaths.append(current)
    return subpaths


Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _compose(inner: Matrix, outer: Matrix) -> Matrix:
    """``inner`` then ``outer`` (PDF matrices, row vectors)."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _paths(page: Any, form: Any, outer: Matrix, depth: int = 0) -> list[tuple[Any, Matrix]]:
    """Path objects with their full matrix, looking into form XObjects (a few deep)."""
    import pypdfium2.raw as pdfium_c

    found: list[tuple[Any, Matrix]] = []
    for obj in page.get_objects(max_depth=0, form=form):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
            found.append((obj, _compose(tuple(obj.get_matrix().get()), outer)))
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_FORM and depth < 8:
            matrix = _compose(tuple(obj.get_matrix().get()), outer)
            found.extend(_paths(page, obj, matrix, depth + 1))
    return found


def _edges(page: Any, height: float) -> list[dict[str, Any]]:
    """Straight edges as pdfplumber makes them: a two-point path is a line (its own edge);
    a longer one (a rectangle, a polygon) gives its horizontal and vertical sides."""
    edges: list[dict[str, Any]] = []
    for path, matrix in _paths(page, None, _IDENTITY):
        for points in _subpaths(path, matrix):
            line = len(points) == 2
            for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
                if not line and (x0 != x1 and y0 != y1 or (x0, y0) == (x1, y1)):
                    continue
                low, high = min(y0, y1), max(y0, y1)
                top, bottom = height - high, height - low
                edges.append(
                    {
                        "x0": min(x0, x1),
                        "x1": max(x0, x1),
                        "top": top,
                        "bottom": bottom,
                        "doctop": top,
                        "y0": low,
                        "y1": high,
                        "width": abs(x1 - x0),
                        "height": bottom - top,
                        "orientation": "h" if top == bottom else "v",
                        "object_type": "line",
                    }
                )
    return edges


def open_pages(data: bytes, limit: int | None) -> list[PdfiumPage]:
    """The first ``limit`` pages, copied out of pdfium (its document is closed here)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        count = len(document) if limit is None else min(limit, len(document))
        pages = []
        for number in range(count):
            page = document[number]
            try:
                pages.append(PdfiumPage(page))
            finally:
                page.close()
        return pages
    finally:
        document.close()
