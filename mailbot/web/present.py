"""The referral laid out as the paper form, with where each value came from.

Pure functions from ``views.show``'s data to what the case page template shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailbot.cases import views
from mailbot.cases.referral import get_path, is_blank
from mailbot.cases.views import CaseView
from mailbot.forms.description import load_description

SECTIONS = (
    (
        "Referrer Details",
        ("referrer.name", "referrer.role", "referrer.agency", "referrer.email", "referral_date"),
    ),
    (
        "Details of Child/Young Person",
        (
            "child.full_name",
            "child.dob",
            "child.dod",
            "child.address",
            "child.ethnicity",
            "child.gender_at_birth",
            "child.send",
            "child.gender_same_as_birth",
            "child.nhs_number",
            "child.crs_number",
            "child.pnc_number",
        ),
    ),
)
QUESTIONS = ("incident_details", "anticipated_learning")
FALLBACK_WORDS = {
    "referrer.email": "not on the form: taken from the address the e-mail came from",
    "referral_date": "not on the form: taken from the date the e-mail was sent",
}
SOURCE_WORDS = {
    "content_control": "a filled-in box on the form",
    "legacy_field": "an old-style box on the form",
    "table_cell": "typed in the form's table",
    "glyph": "a tick character typed on the form",
    "pdf_text": "text read from a PDF page",
    "pdf_field": "a box in a PDF form",
}
#: Sources whose values a person should look at before relying on them.
DOUBTFUL = ("pdf_text", "glyph")


def provenance_words(source: str | None) -> str:
    if not source:
        return ""
    kind, _, detail = source.partition(":")
    if kind == "manual":
        return f"entered by {detail}" if detail else "entered by hand"
    if kind == "merged":
        return f"taken from {detail} when the cases were merged"
    return SOURCE_WORDS.get(kind, kind)


@dataclass
class Row:
    key: str
    label: str
    value: Any
    source: str = ""
    doubt: list[str] = field(default_factory=list)
    required: bool = False
    missing: bool = False
    long: bool = False
    date: bool = False


def _row(item: CaseView, key: str, label: str, required: set[str], queries: dict[str, list[str]]) -> Row:
    value = get_path(item.referral, key)
    provenance = item.provenance.get(key)
    doubt = list(queries.get(key, []))
    if key in item.fallbacks:
        doubt.append(FALLBACK_WORDS.get(key, "taken from the e-mail, not the form"))
    elif provenance and provenance.split(":")[0] in DOUBTFUL and not is_blank(value):
        doubt.append(f"read from {provenance_words(provenance)}: please check it against the original")
    return Row(
        key=key,
        label=label,
        value=value,
        source=provenance_words(provenance),
        doubt=doubt,
        required=key in required,
        missing=key in item.missing_required,
        long=key in QUESTIONS or key.endswith("address"),
        date=_is_date(key),
    )


def _is_date(key: str) -> bool:
    try:
        return load_description().field(key).kind == "date"
    except KeyError:
        return False


def layout(item: CaseView) -> dict[str, Any]:
    desc = load_description()
    required = set(desc.required)
    queries: dict[str, list[str]] = {}
    for q in item.queries:
        queries.setdefault(q["field"], []).append(q["problem"])
    sections = []
    for title, keys in SECTIONS:
        sections.append((title, [_row(item, k, desc.field(k).labels[0], required, queries) for k in keys]))
    referral = item.referral
    household = []
    for index, member in enumerate(referral.get("household") or []):
        household.append(
            {"index": index, **{k: member.get(k) for k in ("name", "relationship", "gender", "dob")}}
        )
    questions = [_row(item, k, desc.field(k).labels[0], required, queries) for k in QUESTIONS]
    outcome = referral.get("outcome") or {}
    return {
        "sections": sections,
        "household": household,
        "household_address": _row(item, "household_address", "Address", required, queries),
        "questions": questions,
        "themes": [(t, t in (referral.get("themes") or [])) for t in desc.themes],
        "outcome": outcome,
        "sprg": referral.get("sprg") or {},
    }


KIND_WORDS = views.KIND_WORDS
