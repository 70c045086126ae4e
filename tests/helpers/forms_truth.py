"""Comparing what the form reader returns with a fixture's ``expected.json``.

Shared by tests/forms/test_fixtures.py and benchmarks/bench_forms.py (which counts
fields right), so both judge a reading by the same rule.
"""

from __future__ import annotations

from typing import Any

#: FIELDS.md: these are compared after collapsing whitespace; all else exactly.
FREE_TEXT = {
    "referrer.role",
    "child.address",
    "household_address",
    "incident_details",
    "anticipated_learning",
    "outcome.single_agency.agencies",
    "outcome.single_agency.grounds",
    "outcome.multi_agency.agencies",
    "outcome.multi_agency.grounds",
    "outcome.methodology",
    "outcome.other_actions",
}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys for nested dicts; lists of dicts are indexed (household.0.dob)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}{key}."))
        return out
    if isinstance(value, list) and value and isinstance(value[0], dict):
        out = {f"{prefix}length": len(value)}
        for i, inner in enumerate(value):
            out.update(flatten(inner, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: value}


def comparable(key: str, value: Any) -> Any:
    """The value as compared with the ground truth (free text: whitespace collapsed)."""
    if key in FREE_TEXT and isinstance(value, str):
        return " ".join(value.split())
    return value
