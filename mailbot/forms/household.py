"""The household table: one member per row under a header row, then the ``Address:`` row.

Separate from ``extract`` because the table has its own rules (FIELDS.md): empty rows
are skipped, a full-width row (the address, or a note such as "No other household
members") is not a member, and a table whose header row was deleted or retyped past
recognition is read in the printed column order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailbot.forms.layout import Cell, Row
from mailbot.forms.model import ParsedForm, Query
from mailbot.forms.text import normalise_label
from mailbot.forms.values import convert

if TYPE_CHECKING:
    from mailbot.forms.extract import Extractor, Located

Member = dict[str, "str | None"]


def read_household(ex: Extractor, found: Located, year: int | None, form: ParsedForm) -> None:
    """Fill ``household`` (and ``household_address`` when its label was overtyped).

    A form pasted twice has two tables: the first that holds a member is used.
    """
    starts = [(r, _header_columns(ex, r)) for r in found.household_headers]
    if not starts:
        starts = [x for x in (_printed_order(ex, r) for r in found.household_headings) if x]
    for start, columns in starts:
        _read_table(ex, start, columns, year, form)
        if form.referral[ex.desc.household.key]:
            return


def _header_columns(ex: Extractor, start: int) -> dict[str, Cell]:
    header = ex.doc.rows[start]
    columns: dict[str, Cell] = {}
    for c, norm in enumerate(ex.norms[start]):
        for key, labels in ex.table.index.columns.items():
            if key not in columns and any(ex.table.matches(norm, x) for x in labels):
                columns[key] = header.cells[c]
    return columns


def _printed_order(ex: Extractor, heading: int) -> tuple[int, dict[str, Cell]] | None:
    """No header row: the first row under the heading with a cell per column, read
    in the form's printed column order (name, relationship, gender, date of birth)."""
    keys = [col.key for col in ex.desc.household.columns]
    table = ex.doc.rows[heading].table
    for r in range(heading + 1, len(ex.doc.rows)):
        row = ex.doc.rows[r]
        if row.table != table or table < 0:
            return None
        if len(row.cells) >= len(keys):
            header = any(ex.table.is_label(n) for n in ex.norms[r])  # a header retyped beyond us
            return (r if header else r - 1), dict(zip(keys, row.cells, strict=False))
    return None


def _read_table(
    ex: Extractor, start: int, columns: dict[str, Cell], year: int | None, form: ParsedForm
) -> None:
    table = ex.doc.rows[start].table
    kinds: dict[str, str] = {col.key: col.kind for col in ex.desc.household.columns}
    stops = tuple(normalise_label(s) for s in ex.desc.household.stop_labels)
    members: list[Member] = []
    wide: Row | None = None  # the last full-width row, while no member row follows it
    for r in range(start + 1, len(ex.doc.rows)):
        row = ex.doc.rows[r]
        if (
            row.table != table
            or any(ex.table.matches(n, s, prefix=True) for n in ex.norms[r][:1] for s in stops)
            or any(ex.table.section(n) for n in ex.norms[r])
        ):
            wide = None if row.table == table else wide
            break
        if _is_wide(row, columns):
            wide = row
            continue
        if _member(ex, row, columns, kinds, year, form, members):
            wide = None
    form.referral[ex.desc.household.key] = members
    if wide is not None:
        _overtyped_address(ex, wide, form)


def _is_wide(row: Row, columns: dict[str, Cell]) -> bool:
    """One filled cell spanning two or more column headings: a note or the address."""
    filled = [c for c in row.cells if c.text.strip()]
    return len(filled) == 1 and sum(filled[0].overlaps(h) for h in columns.values()) >= 2


def _overtyped_address(ex: Extractor, row: Row, form: ParsedForm) -> None:
    """The table's last row, its ``Address:`` label typed over with the address."""
    key = "household_address"
    if form.referral.get(key) is not None:
        return
    cell = next(c for c in row.cells if c.text.strip())
    value = convert(cell, cell.text, "freetext", ex.desc)
    if value.value is not None:
        form.referral[key] = value.value
        form.provenance[key] = value.source


def _member(
    ex: Extractor,
    row: Row,
    columns: dict[str, Cell],
    kinds: dict[str, str],
    year: int | None,
    form: ParsedForm,
    members: list[Member],
) -> bool:
    """Add the row as a member when any of its cells holds something; True if added."""
    index = len(members)
    member: Member = {key: None for key in kinds}
    sources: dict[str, str] = {}
    queries: list[Query] = []
    for key, head in columns.items():
        cell = next((x for x in row.cells if x.overlaps(head)), None)
        if cell is None:
            continue
        value = convert(cell, cell.text, kinds[key], ex.desc, reference_year=year)
        member[key] = value.value
        if value.value is not None:
            sources[key] = value.source
        if value.problem:
            queries.append(Query(f"household.{index}.{key}", value.problem))
    if all(v is None for v in member.values()) and not queries:
        return False
    members.append(member)
    form.queries.extend(queries)
    for key, source in sources.items():
        form.provenance[f"household.{index}.{key}"] = source
    return True
