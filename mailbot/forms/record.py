"""The referral record: FIELDS.md's nested shape, built from the form description."""

from __future__ import annotations

from typing import Any

from mailbot.forms.description import FormDescription
from mailbot.forms.model import Referral


def set_path(record: Referral, key: str, value: Any) -> None:
    """Set ``a.b.c`` (or ``household.0.dob``), creating dict levels on the way."""
    *parents, last = key.split(".")
    node: Any = record
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def get_path(record: Referral, key: str) -> Any:
    """The value at ``a.b.c`` (or ``household.0.dob``), None when any level is absent."""
    node: Any = record
    for part in key.split("."):
        if isinstance(node, list):
            node = node[int(part)] if part.isdigit() and int(part) < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def empty_referral(desc: FormDescription) -> Referral:
    """Every key present, ``None`` for values and ``[]`` for lists (FIELDS.md's shape)."""
    record: Referral = {}
    for spec in desc.fields:
        set_path(record, spec.key, None)
    set_path(record, desc.household.key, [])
    set_path(record, "themes", [])
    order = [
        "referrer",
        "referral_date",
        "child",
        "household",
        "household_address",
        "incident_details",
        "anticipated_learning",
        "themes",
        "outcome",
        "sprg",
    ]
    return {k: record[k] for k in order if k in record} | record


def missing_required(record: Referral, desc: FormDescription) -> list[str]:
    """Required keys with no value, in the form's order."""
    return [key for key in desc.required if get_path(record, key) in (None, "", [])]
