"""The COC form reader: Word or PDF bytes in, one canonical referral record out.

Public API (everything else in this package is internal)::

    read_form_bytes(data, filename=None, *, reference_year=None) -> ParsedForm
    read_attachments(parts, *, max_bytes, reference_year) -> list[AttachmentVerdict]
    validate(referral, *, today, received_year) -> list[Query]
    empty_referral() -> dict;  REQUIRED_FIELDS;  THEMES;  field_label(key) -> str
    parse_report(result) -> str;  parse_json(result) -> dict

The form itself is described as data in ``coc_form.toml``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mailbot.forms.description import load_description
from mailbot.forms.model import AttachmentVerdict, ParsedForm, Query, Referral
from mailbot.forms.record import empty_referral as _empty_referral
from mailbot.forms.report import parse_json, parse_report
from mailbot.forms.validate import validate

if TYPE_CHECKING:
    from mailbot.forms.attachments import read_attachments
    from mailbot.forms.pdf_reader import NeedsManualEntry
    from mailbot.forms.reading import read_form_bytes

#: The readers (PDF and Word libraries) load on first use, not with the package: the
#: queue and a case need the form's description, not its readers (start-up time).
_LAZY = {
    "read_attachments": "attachments",
    "NeedsManualEntry": "pdf_reader",
    "read_form_bytes": "reading",
}  # (no name here may be a module's name too: an imported submodule would shadow it)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"mailbot.forms.{_LAZY[name]}"), name)


REQUIRED_FIELDS: tuple[str, ...] = load_description().required
THEMES: tuple[str, ...] = load_description().themes


def empty_referral() -> Referral:
    """A referral with every key present and nothing filled in (FIELDS.md's shape)."""
    return _empty_referral(load_description())


def field_label(key: str) -> str:
    """The form's own wording for a field, for replies ("the child's Date of Birth").

    Household keys (``household.0.dob``) read as the household member's column.
    """
    desc = load_description()
    if key.startswith("household."):
        parts = key.split(".")
        column = next((c for c in desc.household.columns if c.key == parts[-1]), None)
        if column is not None and len(parts) == 3 and parts[1].isdigit():
            return f"the {column.labels[0]} of household member {int(parts[1]) + 1}"
    try:
        return desc.field(key).reply
    except KeyError:
        return key


__all__ = [
    "REQUIRED_FIELDS",
    "THEMES",
    "AttachmentVerdict",
    "NeedsManualEntry",
    "ParsedForm",
    "Query",
    "empty_referral",
    "field_label",
    "parse_json",
    "parse_report",
    "read_attachments",
    "read_form_bytes",
    "validate",
]
