"""Finding each value of the form by meaning: its section, its label, where it sits.

Works on the reader-neutral layout (``layout.Document``) so Word and PDF share it.
Labels are matched after normalising; a value is looked for beside its label (the
next cell, unless that is another label), else under it (the next row, the cell that
shares the label's grid columns), inline after it ("Address: ..."), or in a matrix
(row label x column header, the outcome table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailbot.errors import NotACocForm
from mailbot.forms.description import FieldSpec, FormDescription
from mailbot.forms.household import read_household
from mailbot.forms.labels import LabelTable, label_index
from mailbot.forms.layout import Cell, Document
from mailbot.forms.model import ParsedForm, Query
from mailbot.forms.record import empty_referral, missing_required, set_path
from mailbot.forms.text import normalise_label
from mailbot.forms.values import Value, convert, inline_remainder, ticked_themes

NOT_COC = "The document is not the Case of Concern referral form."

Position = tuple[int, int]


@dataclass
class Located:
    """Where each field's label was found (row index, cell index)."""

    #: Every place each label was found, in reading order (a form pasted twice has two).
    labels: dict[str, list[Position]] = field(default_factory=dict)
    household_headers: list[int] = field(default_factory=list)
    #: Rows holding the household heading (for a table whose header row was deleted).
    household_headings: list[int] = field(default_factory=list)
    theme_rows: list[int] = field(default_factory=list)
    sections_seen: set[str] = field(default_factory=set)


class Extractor:
    """One pass over one document with one form description."""

    def __init__(self, doc: Document, desc: FormDescription) -> None:
        self.doc = doc
        self.desc = desc
        self.norms = [[normalise_label(c.text) for c in row.cells] for row in doc.rows]
        #: Every label lookup of this document (it caches per distinct cell text).
        self.table = LabelTable(label_index(desc))
        self._specs = {f.key: f for f in desc.fields}

    # ------------------------------------------------------------------ locating
    def _field_at(self, spec: FieldSpec, norm: str, text: str = "") -> bool:
        """Whether a cell is this field's label, alone or with its value after a colon."""
        hits = self.table.hits(norm)
        if hits.prefix.isdisjoint(self.table.index.field_labels[spec.key]):
            return False
        if not hits.exact.isdisjoint(self.table.index.field_labels[spec.key]) or spec.layout == "inline":
            return True
        return ":" in text and bool(inline_remainder(text, spec.labels, colon=True))

    def locate(self) -> Located:
        """Walk the rows once, tracking the section, noting each label's position."""
        found = Located()
        section = ""
        for r in range(len(self.doc.rows)):
            for c, norm in enumerate(self.norms[r]):
                new = self.table.section(norm)
                if new:
                    section = new
                    found.sections_seen.add(new)
                    if new == self.desc.household.section:
                        found.household_headings.append(r)
                self._note_labels(found, section, norm, (r, c))
            self._note_tables(found, section, r)
        for spec in self.desc.fields:  # fallback: a section whose heading was retyped
            if spec.key in found.labels or spec.section in found.sections_seen:
                continue
            for r, norms in enumerate(self.norms):
                hit = next((c for c, n in enumerate(norms) if self._field_at(spec, n)), None)
                if hit is not None:
                    found.labels[spec.key] = [(r, hit)]
                    break
        return found

    def _note_labels(self, found: Located, section: str, norm: str, pos: Position) -> None:
        keys = self.table.field_keys(norm)
        if not keys:
            return
        text = self.doc.rows[pos[0]].cells[pos[1]].text
        for key in keys:
            spec = self._specs[key]
            if spec.section == section and self._field_at(spec, norm, text):
                found.labels.setdefault(spec.key, []).append(pos)

    def _note_tables(self, found: Located, section: str, r: int) -> None:
        if section == self.desc.household.section:
            hits = sum(len(self.table.column_keys(n)) for n in self.norms[r])
            if hits >= self.desc.household.min_header_labels:
                found.household_headers.append(r)
        if section == self.desc.themes_section:
            found.theme_rows.append(r)

    # ------------------------------------------------------------------ values
    def _below(self, r: int, label: Cell) -> Cell | None:
        row = self.doc.rows[r]
        if r + 1 >= len(self.doc.rows):
            return None
        nxt = self.doc.rows[r + 1]
        if row.table < 0 or nxt.table != row.table:
            return None
        for c, cell in enumerate(nxt.cells):
            if cell.overlaps(label):
                return None if self.table.is_label(self.norms[r + 1][c]) else cell
        return None

    def beside(self, pos: Position) -> Cell | None:
        """The value cell for a label: the next cell, else the one under the label."""
        r, c = pos
        cells = self.doc.rows[r].cells
        if c + 1 < len(cells) and not self.table.is_label(self.norms[r][c + 1]):
            return cells[c + 1]
        return self._below(r, cells[c])

    def matrix(self, spec: FieldSpec, pos: Position) -> Cell | None:
        """The cell in the label's row under the column header named by ``spec.column``."""
        r, c = pos
        wanted = tuple(normalise_label(x) for x in spec.column)
        table = self.doc.rows[r].table
        for up in range(r - 1, -1, -1):
            if self.doc.rows[up].table != table:
                break
            for hc, norm in enumerate(self.norms[up]):
                if any(self.table.matches(norm, w) for w in wanted):
                    header = self.doc.rows[up].cells[hc]
                    return next(
                        (x for i, x in enumerate(self.doc.rows[r].cells) if i != c and x.overlaps(header)),
                        None,
                    )
        return None


def _value_for(ex: Extractor, spec: FieldSpec, pos: Position, year: int | None) -> Value:
    label_cell = ex.doc.rows[pos[0]].cells[pos[1]]
    cell: Cell | None
    text: str
    if spec.layout == "matrix":
        cell = ex.matrix(spec, pos)
        text = cell.text if cell else ""
    else:
        rest = inline_remainder(label_cell.text, spec.labels, colon=spec.layout != "inline")
        if rest and rest.strip():
            cell, text = label_cell, rest
        else:
            cell = ex.beside(pos)
            text = cell.text if cell else ""
    if cell is None:
        return Value(None, "")
    return convert(cell, text, spec.kind, ex.desc, choices=spec.choices, reference_year=year)


def _first_value(ex: Extractor, spec: FieldSpec, positions: list[Position], year: int | None) -> Value:
    """The value at the first place its label appears that has one (else the first).

    Another place counts only in another table (the form pasted twice), so a value
    that reads like a label ("Organisation") never lends its neighbour's value.
    """
    first: Value | None = None
    tables: set[int] = set()
    for pos in positions:
        table = ex.doc.rows[pos[0]].table
        if table in tables and table >= 0:
            continue
        tables.add(table)
        value = _value_for(ex, spec, pos, year)
        if value.value is not None:
            return value
        first = first or value
    return first or Value(None, "")


def _themes(ex: Extractor, rows: list[int], form: ParsedForm) -> None:
    glyph = "pdf_text:glyph" if ex.doc.source == "pdf" else "glyph"
    ticked: dict[str, str] = {}
    for r in rows:
        for cell in ex.doc.rows[r].cells:
            for theme, source in ticked_themes(cell.text, ex.desc.themes, glyph):
                ticked.setdefault(theme, source)
    ordered = [t for t in ex.desc.themes if t in ticked]
    form.referral["themes"] = ordered
    for i, theme in enumerate(ordered):
        form.provenance[f"themes.{i}"] = ticked[theme]


def choose_reference_year(ex: Extractor, found: Located, fallback: int | None = None) -> int | None:
    """The referral year, for reading two-digit years (FIELDS.md), else ``fallback``.

    A two-digit referral year is read against ``fallback`` when given, else as 20xx.
    """
    spec = ex.desc.field("referral_date")
    value = _first_value(ex, spec, found.labels.get("referral_date", []), fallback or 2099)
    if value.value is not None:
        return int(value.value[:4])
    return fallback


def _recognised(ex: Extractor, found: Located) -> bool:
    labels = len(found.labels) + (1 if found.household_headers else 0)
    if labels < ex.desc.min_labels or labels >= 2 * ex.desc.min_labels:
        return labels >= ex.desc.min_labels  # the title need not be looked for
    text = normalise_label(ex.doc.text)
    return any(normalise_label(t) in text for t in ex.desc.title_words)


def extract(doc: Document, desc: FormDescription, reference_year: int | None) -> ParsedForm:
    """The referral in ``doc``; NotACocForm when the document is not the form."""
    ex = Extractor(doc, desc)
    found = ex.locate()
    if not _recognised(ex, found):
        raise NotACocForm(NOT_COC)
    form = ParsedForm(referral=empty_referral(desc), missing_required=[], source=doc.source)
    year = choose_reference_year(ex, found, reference_year)
    for spec in desc.fields:
        positions = found.labels.get(spec.key)
        if not positions:
            continue
        value = _first_value(ex, spec, positions, year)
        if value.value is not None:
            set_path(form.referral, spec.key, value.value)
            form.provenance[spec.key] = value.source
        if value.problem:
            form.queries.append(Query(spec.key, value.problem))
    read_household(ex, found, year, form)
    _themes(ex, found.theme_rows, form)
    form.missing_required = missing_required(form.referral, desc)
    return form
