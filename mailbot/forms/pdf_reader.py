"""Reading a printed (flattened) PDF of the form into the reader-neutral layout.

A PDF has no cells, only words at positions and ruling lines.  pdfium reads the pages
(``pdf_pages``) and pdfplumber's table finder finds the tables from the lines; here
each cell's words become text again: a line that ran out of room in its cell is
joined to the next with a space (or with nothing after a hyphen, as in a wrapped
e-mail address), a line that ended early keeps its line break.  A table cut by a page
break is stitched back together (the repeated page header between the pieces is
dropped), and every piece shares one column grid so a value is still found under its
header on the next page.  A PDF with no text at all
(a scan) is not guessed at: it needs a person.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mailbot.errors import FormRejected
from mailbot.forms.layout import Cell, Document, Row
from mailbot.forms.limits import TOO_COMPLEX
from mailbot.forms.safezip import DAMAGED, LOCKED_FILE

SCANNED = "The form is a scanned image with no readable text, so a member of the team will read it by hand."
_LINE_TOLERANCE = 3.0
_CELL_PADDING = 4.0
_MARGIN = 60.0
#: Bullets Word generates for a list, printed as text ("\uf0b7" from Symbol, or "•"):
#: not part of what the referrer wrote (FIELDS.md), so dropped at line starts.
_BULLET = re.compile(r"(?m)^[ \t]*[\uf0b7\uf0a7\uf076\uf0d8\u2022\u25aa\u25cf\u25e6][ \t]*")


class NeedsManualEntry(FormRejected):
    """A form with no text to read (a scan): a person must read it, never guessed at."""


@dataclass
class _Block:
    page: int
    top: float
    x0: float
    x1: float
    text: str = ""
    table: Any = None


def _lines(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    lines: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1][0]["top"] - word["top"]) <= _LINE_TOLERANCE:
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]


def cell_text(words: list[dict[str, Any]], right: float) -> str:
    """Rebuild a cell's text, undoing the line wrapping the printer did."""
    out = ""
    lines = _lines(words)
    for i, line in enumerate(lines):
        text = " ".join(w["text"] for w in line)
        if i == 0:
            out = text
            continue
        prev = lines[i - 1]
        height = prev[0]["bottom"] - prev[0]["top"]
        gap = line[0]["top"] - prev[0]["bottom"]
        first = line[0]["x1"] - line[0]["x0"]
        wrapped = prev[-1]["x1"] + first + height * 0.3 > right - _CELL_PADDING
        if gap > height * 0.9:
            out += "\n\n" + text
        elif wrapped and out.endswith("-") and not out.endswith(" -"):
            out += text
        elif wrapped:
            out += " " + text
        else:
            out += "\n" + text
    return _BULLET.sub("", out)


Centred = list[tuple[float, float, dict[str, Any]]]


def _centred(words: list[dict[str, Any]]) -> Centred:
    """Each word with its centre, worked out once per page rather than once per cell."""
    return [((w["x0"] + w["x1"]) / 2, (w["top"] + w["bottom"]) / 2, w) for w in words]


def _words_in(words: Centred, bbox: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    x0, top, x1, bottom = bbox
    return [w for x, y, w in words if x0 - 1 <= x <= x1 + 1 and top - 1 <= y <= bottom + 1]


def _page_blocks(number: int, page: Any) -> list[_Block]:
    words = page.extract_words(keep_blank_chars=False, use_text_flow=False)
    tables = page.find_tables()
    boxes = [t.bbox for t in tables]  # pdfplumber works a table's box out on every call
    centred = _centred(words)  # shared by every table fragment of the page
    blocks = [
        _Block(number, b[1], b[0], b[2], table=(centred, t)) for t, b in zip(tables, boxes, strict=True)
    ]
    outside = [
        w
        for w in words
        if not any(
            b[0] - 1 <= w["x0"] and w["x1"] <= b[2] + 1 and b[1] - 1 <= w["top"] and w["bottom"] <= b[3] + 1
            for b in boxes
        )
    ]
    for line in _lines(outside):
        text = " ".join(w["text"] for w in line)
        blocks.append(_Block(number, line[0]["top"], line[0]["x0"], line[-1]["x1"], text))
    return sorted(blocks, key=lambda b: b.top)


def _drop_running_heads(blocks: list[_Block], height: float) -> list[_Block]:
    """Lines printed at the top or bottom of two or more pages: a page header/footer."""
    edge = [b.text for b in blocks if b.table is None and (b.top < _MARGIN or b.top > height - _MARGIN)]
    repeated = {text for text, n in Counter(edge).items() if n >= 2}
    return [b for b in blocks if b.table is not None or b.text not in repeated]


def _grid(fragments: list[Any]) -> list[float]:
    edges: list[float] = []
    for _page, table in fragments:
        for row in table.rows:
            for box in row.cells:
                if box is None:
                    continue
                for x in (box[0], box[2]):
                    if all(abs(x - e) > 2.0 for e in edges):
                        edges.append(x)
    return sorted(edges)


def _col(edges: list[float], x: float) -> int:
    return min(range(len(edges)), key=lambda i: abs(edges[i] - x))


def _table_rows(fragments: list[Any], number: int) -> list[Row]:
    edges = _grid(fragments)
    rows: list[Row] = []
    for centred, table in fragments:
        for row in table.rows:
            cells = []
            for box in row.cells:
                if box is None:
                    continue
                start, end = _col(edges, box[0]), _col(edges, box[2])
                text = cell_text(_words_in(centred, box), box[2])
                cells.append(Cell(text, start, max(1, end - start), source="pdf_text"))
            rows.append(Row(cells, number))
    return rows


def _stitch(blocks: list[_Block]) -> list[Row]:
    rows: list[Row] = []
    fragments: list[Any] = []
    last: _Block | None = None
    number = 0
    for block in blocks + [_Block(-1, 0, 0, 0, "")]:
        continues = (
            block.table is not None
            and last is not None
            and last.table is not None
            and block.page == last.page + 1
            and abs(block.x0 - last.x0) < 3
            and abs(block.x1 - last.x1) < 3
        )
        if fragments and not continues:
            number += 1
            rows.extend(_table_rows(fragments, number))
            fragments = []
        if block.table is not None:
            fragments.append(block.table)
        elif block.page >= 0:
            rows.append(Row([Cell(block.text, source="pdf_text")]))
        last = block
    return rows


def read_pdf_layout(data: bytes, pages: int | None = None) -> Document:
    """The rows of a flattened PDF form; NeedsManualEntry when there is no text to read.

    ``pages`` limits the pages read (the first ones); ``pdf_guard.check_pdf`` says how
    many may be read safely and must have passed before this is called on mail.
    """
    import pypdfium2 as pdfium  # here, not at start-up: most mail carries no PDF

    from mailbot.forms.pdf_pages import open_pages

    try:
        read = open_pages(data, pages)
        blocks: list[_Block] = []
        height = 842.0
        for number, page in enumerate(read):
            height = float(page.height)
            blocks.extend(_page_blocks(number, page))
        blocks = _drop_running_heads(blocks, height)
        rows = _stitch(blocks)
    except FormRejected:
        raise
    except (MemoryError, RecursionError) as exc:
        raise FormRejected(TOO_COMPLEX) from exc
    except Exception as exc:  # noqa: BLE001
        # pdfium raises its own error for a damaged or locked file, pdfplumber's table
        # finder may raise on odd geometry; this adapter turns any of them into ours.
        if isinstance(exc, pdfium.PdfiumError) and exc.err_code == pdfium.raw.FPDF_ERR_PASSWORD:
            raise FormRejected(LOCKED_FILE) from exc
        raise FormRejected(DAMAGED) from exc
    text = "\n".join(cell.text for row in rows for cell in row.cells)
    if not text.strip():
        raise NeedsManualEntry(SCANNED)
    return Document(rows=rows, text=text, source="pdf")
