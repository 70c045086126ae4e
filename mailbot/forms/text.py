"""Small text rules shared by the Word and PDF readers.

Labels are compared by meaning, so a retyped "Your name:" or a label with a
non-breaking space still finds its value.  Values are cleaned the way FIELDS.md says:
trimmed, trailing spaces per line dropped, leader dots removed from the SPRG lines.
"""

from __future__ import annotations

import re
import unicodedata

#: Stand-ins the Word reader writes where a check box control sits, so that one
#: theme parser serves content controls, legacy fields and typed glyphs alike.
CC_ON, CC_OFF = "\ue001", "\ue000"
LEGACY_ON, LEGACY_OFF = "\ue003", "\ue002"
MARKERS = CC_ON + CC_OFF + LEGACY_ON + LEGACY_OFF
TICKED_GLYPHS = "☒☑✔✓✗✘"
EMPTY_BOXES = "☐□❑"
BOXES = MARKERS + TICKED_GLYPHS + EMPTY_BOXES
TICKED = CC_ON + LEGACY_ON + TICKED_GLYPHS

#: A label of this many words may match a cell's start without being asked to (a long
#: label the referrer wrote on after); ``labels.LabelTable`` keeps the same rule.
LONG_LABEL_WORDS = 4

_PUNCT = re.compile(r"[^\w]+")
_LEADER = re.compile(r"(?:…|\.{2,}|_{2,})+")
_SPACES = re.compile(r"[ \t\u00a0\u2002\u2003\u2009\u202f]+")


def normalise_label(text: str) -> str:
    """Lower case, punctuation and whitespace folded to single spaces, accents kept.

    Why: a label retyped as "Your name:" or "YOUR NAME" is still the same label.
    """
    if not text.isascii():  # NFKC leaves ASCII as it is
        text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    return _PUNCT.sub(" ", text.replace("'", "").casefold()).strip()


def collapse(text: str) -> str:
    """Every run of whitespace as one space (how free text is compared)."""
    return " ".join(text.split())


def clean_value(text: str) -> str:
    """Trim a value and drop trailing spaces on each line (FIELDS.md's text rule)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for marker in MARKERS:
        text = text.replace(marker, "")
    lines = [line.rstrip(" \u00a0\u2002\u2003") for line in text.split("\n")]
    return "\n".join(lines).strip(" \n\t\u00a0\u2002\u2003")


def strip_leaders(text: str) -> str:
    """Remove the leader dots (``……`` / ``.....``) a printed line leaves behind."""
    return _LEADER.sub(" ", text).strip()


def label_matches(norm: str, label: str, *, prefix: bool = False) -> bool:
    """Exact match after normalising; long labels and inline ones may be a prefix.

    The readers ask ``labels.LabelTable`` (every label at once); this one-label rule is
    the reference it is tested against (tests/forms/test_labels.py).
    """
    if not label or not norm:
        return False
    if norm == label:
        return True
    if prefix or len(label.split()) >= LONG_LABEL_WORDS:
        return norm.startswith(label + " ")
    return False
