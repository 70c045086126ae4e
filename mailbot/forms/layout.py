"""The document as the extractor sees it: paragraphs and tables of cells on a grid.

Both readers (Word and PDF) turn their file into this one shape, so finding a value
by its label is written once.  A cell knows its grid columns (``col``, ``span``) so a
value can be found *under* its label whatever the widths of the cells around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(slots=True)
class Cell:
    """What a reader sees in one table cell (or one paragraph outside a table)."""

    text: str
    col: int = 0
    span: int = 1
    #: Where the text came from: ``table_cell``, ``content_control:date``, ...
    source: str = "table_cell"
    #: A date picker's stored date (``w:fullDate``), when there is one.
    picked_date: date | None = None
    #: The picker's display format (``w:dateFormat``, e.g. ``dd/MM/yyyy``), when there is one.
    date_format: str | None = None
    #: True when every control in the cell still shows its placeholder.
    placeholder: bool = False

    @property
    def end(self) -> int:
        """The first grid column after this cell."""
        return self.col + self.span

    def overlaps(self, other: Cell) -> bool:
        """Whether the two cells share at least one grid column."""
        return self.col < other.end and other.col < self.end


@dataclass(slots=True)
class Row:
    """One table row (or one paragraph, as a row of a single cell)."""

    cells: list[Cell] = field(default_factory=list)
    #: Index of the table the row belongs to (-1 for a paragraph).
    table: int = -1


@dataclass
class Document:
    """Rows in reading order; ``text`` is all visible text, for recognising the form."""

    rows: list[Row]
    text: str
    source: str = "docx"
