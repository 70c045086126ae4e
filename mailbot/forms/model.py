"""What the form reader returns: plain values the core stores and reasons about.

The referral itself is the JSON shape of ``forms/FIELDS.md`` (nested dicts, every key
present, ``None`` for absent) so that it can be stored, compared with the fixtures
and shown with no translation layer in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Referral = dict[str, Any]

VerdictKind = Literal["form", "not_form", "reject", "manual"]


@dataclass
class ParsedForm:
    """One COC form read from one file."""

    referral: Referral
    #: Required keys absent in the form itself (before any e-mail fallback), FIELDS order.
    missing_required: list[str]
    #: Dotted key -> where the value came from (``content_control``, ``table_cell``,
    #: ``glyph``, ``legacy_field``, ``pdf_text``, ``pdf_field``, optionally ``:detail``).
    provenance: dict[str, str] = field(default_factory=dict)
    #: ``docx`` or ``pdf``.
    source: str = "docx"
    #: Values present but not acceptable (e.g. a date that could not be read).
    queries: list[Query] = field(default_factory=list)


@dataclass
class Query:
    """A value that is present but not acceptable, asked of the referrer."""

    field: str
    problem: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


@dataclass
class AttachmentVerdict:
    """What the reader made of one attachment (or one member of a zip)."""

    filename: str
    kind: VerdictKind
    form: ParsedForm | None = None
    #: Plain words for a person when kind is ``reject``, ``manual`` or ``not_form``.
    reason: str | None = None
    content_type: str = "application/octet-stream"
    size: int = 0
    #: The file's bytes (a zip member's own bytes), kept encrypted with the case.  A
    #: member of an archive that is not a form has none: the archive's verdict keeps it.
    data: bytes = field(default=b"", repr=False)
    #: Set when the sandbox stopped reading this file at a hard limit (``cpu``,
    #: ``memory``, ``wall`` or ``crash``); ``kind`` is then ``reject`` with plain words.
    breach: str | None = None
