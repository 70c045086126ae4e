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
from functools import cache

from mailbot.forms.dates import month_first_format, parse_uk_date
from mailbot.forms.description import FormDescription
from mailbot.forms.layout import Cell
from mailbot.forms.text import (
    BOXES,
    CC_OFF,
    CC_ON,
    EMPTY_BOXES,
    LEGACY_OFF,
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
#: Written instead of a value, meaning "nothing to give" (normalised): absent, not a query.
NOT_GIVEN = frozenset({"n a", "na", "not applicable", "none", "n k", "nk", "not known", "unknown", "nil", ""})


def _date(cell: Cell, text: str, reference_year: int | None) -> tuple[str | None, str | None]:
    """A date: the shown text read day first (or in the picker's display order).

    A picker's stored date (``w:fullDate``) counts only while it shows text: it wins
    when the text is that same date in another order or cannot be read; an emptied
    picker keeps a stale stored date that nobody sees.  "unborn, EDD 03/2027" is an
    answer, not an unreadable date: the expected date of delivery is kept when it is
    a full date, otherwise the date is left empty.
    """
    if not text or normalise_label(text) in NOT_GIVEN:
        return None, None
    if _UNBORN.search(text):
        found = _DATE_IN_TEXT.search(text)
        edd = parse_uk_date(found.group(0), reference_year or 0) if found else None
        return (edd.value.isoformat() if edd and edd.value else None), None
    typed = parse_uk_date(text, reference_year or 0, month_first=month_first_format(cell.date_format)).value
    picked: date | None = cell.picked_date
    if picked is not None and (_swapped(typed) == picked if typed else _shows_year(text, picked)):
        return picked.isoformat(), None
    if typed is None:
        return None, UNREADABLE_DATE  # what the reader sees wins over a stale picker value
    return typed.isoformat(), None


def _shows_year(text: str, picked: date) -> bool:
    """Unreadable text that is still the picked date in some other format ("3/14/2015");
    words with no year ("sometime in spring") are a query, not the stale stored date."""
    return re.search(rf"(?<!\d)(?:{picked.year}|{picked.year % 100:02d})(?!\d)", text) is not None


def _swapped(day: date) -> date | None:
    """The same digits read the other way round (4 March for 3 April), if a date."""
    try:
        return day.replace(month=day.day, day=day.month)
    except ValueError:
        return None


_NHS_LABEL = re.compile(r"^\s*NHS(?:\s*(?:number|num|no)\.?)?\s*[:#\-]?\s*", re.IGNORECASE)


def _nhs(text: str) -> str | None:
    """An NHS number: a leading label and spaces, dashes and dots dropped."""
    text = _NHS_LABEL.sub("", text)
    if normalise_label(text) in NOT_GIVEN:
        return None
    digits = re.sub(r"[\s.\-\u2013]", "", text)
    if re.fullmatch(r"\d{10}", digits):
        return digits
    return "".join(text.split()) or None


_EMAIL_LABEL = re.compile(r"^\s*(?:your\s+)?e-?mail(?:\s+address)?\s*:\s*", re.IGNORECASE)


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
    if kind == "nhs":
        nhs = _nhs(cleaned)
        return Value(nhs, cell.source if nhs else "")
    if kind == "email":
        email = "".join(_EMAIL_LABEL.sub("", cleaned).split())
        return Value(email or None, cell.source if email else "")
    return Value(cleaned, cell.source)


def inline_remainder(text: str, labels: tuple[str, ...], *, colon: bool = False) -> str | None:
    """The text after a label that starts the cell ("Address:  14 ..."), else None.

    With ``colon`` the label must be followed by a colon: a beside-layout label such as
    "NHS Number (Health only)" is not an inline value of ")".
    """
    for pattern in _label_patterns(labels, colon):
        match = pattern.match(text)
        if match:
            rest = strip_leaders(text[match.end() :])
            return rest if not colon or re.search(r"\w", rest) else None
    return None


@cache
def _label_patterns(labels: tuple[str, ...], colon: bool) -> tuple[re.Pattern[str], ...]:
    """A label at a cell's start (any punctuation between its words), then the separator."""
    sep = r"[ \t\u00a0]*[)\]]?[ \t\u00a0]*:" if colon else r"[ \t\u00a0]*[:\-–]?"
    patterns = []
    for label in labels:
        words = re.findall(r"\w+", label)
        if words:
            body = r"[\W_]+".join(re.escape(w) for w in words)
            patterns.append(re.compile(r"^[\W_]*" + body + r"\b" + sep, re.IGNORECASE))
    return tuple(patterns)


@cache
def _theme_pattern(themes: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(themes, key=len, reverse=True)
    parts = []
    for theme in ordered:
        words = re.findall(r"\w+", theme)
        parts.append(r"[\W_]+".join(re.escape(w) for w in words))
    return re.compile(r"(?<!\w)(" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


@cache
def _themes_by_norm(themes: tuple[str, ...]) -> dict[str, str]:
    by_norm: dict[str, str] = {}
    for theme in themes:
        by_norm.setdefault(normalise_label(theme), theme)
    return by_norm


def _theme_for(match: str, themes: tuple[str, ...]) -> str:
    return _themes_by_norm(themes).get(normalise_label(match), match)


def ticked_themes(text: str, themes: tuple[str, ...], glyph_source: str) -> list[tuple[str, str]]:
    """``(theme, source)`` for each ticked theme label in one cell's text.

    A theme is ticked by what stands between the previous label (or the cell start)
    and its own label: a ticked box (control, legacy field, or a glyph such as ☒ ☑ ✔ ✓)
    or an ``X``/``x`` typed in place of the box or between the box and the label.
    """
    found: list[tuple[str, str]] = []
    matches = list(_theme_pattern(themes).finditer(text))
    for i, match in enumerate(matches):
        prefix = text[matches[i - 1].end() if i else 0 : match.start()]
        if i and "\n" in prefix:  # what follows the previous label's line is its own
            prefix = prefix.rsplit("\n", 1)[1]
        source = _tick_source(prefix, glyph_source)
        if source is None:
            source = _tick_after(text, match, matches[i + 1] if i + 1 < len(matches) else None, glyph_source)
        if source:
            found.append((_theme_for(match.group(1), themes), source))
    return found


def _tick_after(text: str, match: re.Match[str], nxt: re.Match[str] | None, glyph_source: str) -> str | None:
    """A tick typed after the last label of a line ("EHE (...) X", "Neglect - Yes")."""
    end = text.find("\n", match.end())
    end = len(text) if end < 0 else end
    if nxt is not None and nxt.start() < end:
        return None  # another label follows on the same line: the mark is its box
    after = text[match.end() : end]
    if any(ch in after for ch in EMPTY_BOXES + CC_OFF + LEGACY_OFF):
        return None
    if any(ch in TICKED for ch in after):
        return _tick_source(after, glyph_source)
    if re.fullmatch(r"[\W_]*(?:x|yes|y)[\W_]*", after, re.IGNORECASE):
        return glyph_source
    return None


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
