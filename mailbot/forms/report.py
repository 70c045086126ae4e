"""What ``mailbot parse FILE`` shows: a person-readable report and INTERFACE.md's JSON.

The report is for the CSCP team (not programmers): each field with the form's own
wording, the value, and where it was read from, then what is missing.  It shows
personal data because the operator asked to see this file; it is never logged.
"""

from __future__ import annotations

from typing import Any

from mailbot.errors import FormError, FormRejected
from mailbot.forms.description import load_description
from mailbot.forms.model import ParsedForm
from mailbot.forms.record import get_path

_SOURCES = {
    "content_control": "form control",
    "legacy_field": "old-style form field",
    "table_cell": "typed in the table",
    "glyph": "tick typed by hand",
    "pdf_text": "printed text of the PDF",
    "pdf_field": "PDF form field",
}


def describe_source(source: str) -> str:
    """``content_control:date`` -> "form control (date)"."""
    base, _, detail = source.partition(":")
    words = _SOURCES.get(base, base)
    return f"{words} ({detail})" if detail else words


def _reason(result: FormError) -> str:
    if isinstance(result, FormRejected):
        return result.reason
    return str(result) or "The file is not a Case of Concern referral form."


def parse_json(result: ParsedForm | FormError) -> dict[str, Any]:
    """``{"referral", "missing_required", "provenance"}`` or ``{"reject": reason}``."""
    if isinstance(result, FormError):
        return {"reject": _reason(result)}
    payload: dict[str, Any] = {
        "referral": result.referral,
        "missing_required": list(result.missing_required),
        "provenance": dict(result.provenance),
    }
    if result.queries:
        payload["queries"] = [q.as_json() for q in result.queries]
    return payload


def _line(label: str, value: Any, source: str | None) -> list[str]:
    if value is None:
        return [f"  {label}: (empty)"]
    text = str(value).split("\n")
    where = f"   [{describe_source(source)}]" if source else ""
    lines = [f"  {label}: {text[0]}{where}"]
    lines.extend(f"      {more}" for more in text[1:])
    return lines


def parse_report(result: ParsedForm | FormError) -> str:
    """The human text of ``mailbot parse FILE``."""
    if isinstance(result, FormError):
        return f"Not read: {_reason(result)}\n"
    desc = load_description()
    out = [f"Case of Concern referral form (read from a {result.source.upper()} file)", ""]
    for spec in desc.fields:
        value = get_path(result.referral, spec.key)
        out.extend(_line(spec.reply[0].upper() + spec.reply[1:], value, result.provenance.get(spec.key)))
    out.append("")
    members = result.referral.get("household", [])
    out.append(f"  Household members: {len(members)}")
    for i, member in enumerate(members):
        for key, value in member.items():
            out.extend(_line(f"    {i + 1}. {key}", value, result.provenance.get(f"household.{i}.{key}")))
    themes = result.referral.get("themes", [])
    out.append(f"  Themes ticked: {', '.join(themes) if themes else '(none)'}")
    out.append("")
    if result.missing_required:
        out.append("Missing required information:")
        out.extend(f"  - {desc.field(k).reply}" for k in result.missing_required)
    else:
        out.append("Every required field is filled in.")
    if result.queries:
        out.append("Needs checking:")
        out.extend(
            f"  - {desc.field(q.field).reply if _known(q.field) else q.field}: {q.problem}"
            for q in result.queries
        )
    return "\n".join(out) + "\n"


def _known(key: str) -> bool:
    try:
        load_description().field(key)
    except KeyError:
        return False
    return True
