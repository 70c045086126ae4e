"""Turning what a cell shows into a value of the right kind (FIELDS.md's value rules).

Separate from *finding* the cell (``extract``) because the rules are the same whether
the cell came from Word or from a PDF: placeholders mean empty, drop-downs return the
listed item, NHS numbers lose their spaces, dates are read day first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from mailbot.forms.dates import parse_uk_date
from mailbot.forms.description import FormDescription
from mailbot.forms.layout import Cell
from mailbot.forms.text import (
    BOXES,
    CC_ON,
    LEGACY_ON,
    TICKED,
    clean_value,
    collapse,
    normalise_label,
    strip_leaders,
)

UNREADABLE_DATE = "the date could not be read"


@dataclass(frozen=True)
class Value:
    """A converted value, where it came from, and a problem to ask about (if any)."""

    value: str | None
    source: str
    problem: str | None = None


def is_placeholder(text: str, desc: FormDescription) -> bool:
    """Whether ``text`` is a control's placeholder (Word shows it, a PDF prints it)."""
    return normalise_label(text) in desc.placeholder_keys


def _choice(text: str, choices: Iterable[str]) -> str:
    """The listed item matching ``text`` (a wrapped PDF line or odd spacing), else as typed."""
    folded = collapse(text).casefold()
    for choice in choices:
        if collapse(choice).casefold() == folded:
            return choice
    return collapse(text)


_UNBORN = re.compile(r"\bunborn\b|\bEDD\b|expected date of", re.IGNORECASE)
_DATE_IN_TEXT = re.compile(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}")


def _date(cell: Cell, text: str, reference_year: int | None) -> tuple[str | None, str | None]:
    """A date: the shown text read day first; a picker's stored date when no text shows.

    "unborn, EDD 03/2027" is an answer, not an unreadable date: the expected date of
    delivery is kept when it is a full date, otherwise the date is left empty.
    """
    if text and _UNBORN.search(text):
        found = _DATE_IN_TEXT.search(text)
        edd = parse_uk_date(found.group(0), reference_year or 0) if found else None
        return (edd.value.isoformat() if edd and edd.value else None), None
    typed = parse_uk_date(text, reference_year or 0) if text else None
    picked: date | None = cell.picked_date
    if typed is not None and typed.value is not None:
        return typed.value.isoformat(), None
    if typed is not None and typed.unreadable:
        return None, UNREADABLE_DATE  # what the reader sees wins over a stale picker value
    if picked is not None:
        return picked.isoformat(), None
    return None, None


def convert(
    cell: Cell,
    text: str,
    kind: str,
    desc: FormDescription,
    *,
    choices: tuple[str, ...] = (),
    reference_year: int | None = None,
) -> Value:
    """Convert the text shown for one field; ``text`` is the part of the cell that is its."""
    cleaned = clean_value(text)
    if not cleaned or cell.placeholder or is_placeholder(cleaned, desc):
        cleaned = ""
    if kind == "date":
        value, problem = _date(cell, cleaned, reference_year)
        return Value(value, cell.source if value else "", problem)
    if not cleaned:
        return Value(None, "")
    if kind == "dropdown":
        return Value(_choice(cleaned, choices), cell.source)
    if kind in ("nhs", "email"):
        return Value("".join(cleaned.split()), cell.source)
    return Value(cleaned, cell.source)


def inline_remainder(text: str, labels: tuple[str, ...], *, colon: bool = False) -> str | None:
    """The text after a label that starts the cell ("Address:  14 ..."), else None.

    With ``colon`` the label must be followed by a colon: a beside-layout label such as
    "NHS Number (Health only)" is not an inline value of ")".
    """
    sep = r"[ \t\u00a0]*:" if colon else r"[ \t\u00a0]*[:\-–]?"
    for label in labels:
        words = re.findall(r"\w+", label)
        if not words:
            continue
        body = r"[\W_]+".join(re.escape(w) for w in words)
        match = re.match(r"^[\W_]*" + body + r"\b" + sep, text, re.IGNORECASE)
        if match:
            rest = strip_leaders(text[match.end():])
            return rest if not colon or re.search(r"\w", rest) else None
    return None


def _theme_pattern(themes: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(themes, key=len, reverse=True)
    parts = []
    for theme in ordered:
        words = re.findall(r"\w+", theme)
        parts.append(r"[\W_]+".join(re.escape(w) for w in words))
    return re.compile(r"(?<!\w)(" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _theme_for(match: str, themes: tuple[str, ...]) -> str:
    folded = normalise_label(match)
    for theme in themes:
        if normalise_label(theme) == folded:
            return theme
    return match


def ticked_themes(text: str, themes: tuple[str, ...], glyph_source: str) -> list[tuple[str, str]]:
    """``(theme, source)`` for each ticked theme label in one cell's text.

    A theme is ticked by what stands between the previous label (or the cell start)
    and its own label: a ticked box (control, legacy field, or a glyph such as ☒ ☑ ✔ ✓)
    or an ``X``/``x`` typed in place of the box or between the box and the label.
    """
    found: list[tuple[str, str]] = []
    start = 0
    for match in _theme_pattern(themes).finditer(text):
        prefix = text[start:match.start()]
        start = match.end()
        source = _tick_source(prefix, glyph_source)
        if source:
            found.append((_theme_for(match.group(1), themes), source))
    return found


def _tick_source(prefix: str, glyph_source: str) -> str | None:
    if CC_ON in prefix:
        return "content_control:checkbox"
    if LEGACY_ON in prefix:
        return "legacy_field:checkbox"
    if any(ch in TICKED for ch in prefix):
        return glyph_source
    bare = "".join(ch for ch in prefix if ch not in BOXES)
    if re.fullmatch(r"[\W_]*[xX][\W_]*", bare):
        return glyph_source
    return None
