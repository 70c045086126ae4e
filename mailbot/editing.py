"""A person's correction of one field: a new referral version, with who and why.

Used by ``mailbot edit`` (and the workspace). The value is read the way the form reader
reads it (UK dates, a comma-separated theme list), so a hand edit and a form give the
same record; completeness and queries are worked out again afterwards.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.orm import Session

from mailbot import cases as case_store
from mailbot.clock import Clock, london
from mailbot.errors import UsageError
from mailbot.forms import THEMES, empty_referral, validate
from mailbot.forms.dates import parse_uk_date
from mailbot.referrals import get_path, missing_required, set_path
from mailbot.store.models import Case
from mailbot.store.vault import Vault

_DATE_KEYS = {"referral_date", "child.dob", "child.dod", "outcome.final_report_date",
              "sprg.meeting_date"}
_HOUSEHOLD_COLUMNS = ("name", "relationship", "gender", "dob")


def _known_key(key: str) -> bool:
    parts = key.split(".")
    if parts[0] == "household":
        return len(parts) == 3 and parts[1].isdigit() and parts[2] in _HOUSEHOLD_COLUMNS
    if key == "themes":
        return True
    template = empty_referral()
    node: Any = template
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, dict)


def parse_value(key: str, text: str, reference_year: int) -> Any:
    text = text.strip()
    if not text:
        return [] if key == "themes" else None
    if key in _DATE_KEYS or key.endswith(".dob"):
        result = parse_uk_date(text, reference_year)
        if result.value is None:
            raise UsageError(f"{key}: not a date (use the UK order, e.g. 05/10/2026)")
        return result.value.isoformat()
    if key == "themes":
        wanted = [t.strip().lower() for t in text.split(",") if t.strip()]
        unknown = [t for t in wanted if t not in {x.lower() for x in THEMES}]
        if unknown:
            raise UsageError("themes: not on the form's list: " + ", ".join(unknown))
        return [t for t in THEMES if t.lower() in wanted]
    if key == "child.nhs_number":
        return "".join(text.split())
    return text


def edit_field(session: Session, vault: Vault, clock: Clock, ref: str, key: str, text: str, *,
               actor: str, why: str | None = None) -> Case:
    if not _known_key(key):
        raise UsageError(f"{key}: not a field of the referral (see forms/FIELDS.md)")
    case = case_store.case_by_ref(session, ref)
    now = clock.now()
    referral, version = case_store.load_referral(session, vault, case)
    updated = copy.deepcopy(referral)
    value = parse_value(key, text, london(now).year)
    if key.startswith("household."):
        index = int(key.split(".")[1])
        while len(updated["household"]) <= index:
            updated["household"].append({c: None for c in _HOUSEHOLD_COLUMNS})
    set_path(updated, key, value)
    provenance = vault.open_json(session, version, "provenance_enc", key_id=case.key_id)
    provenance[key] = f"manual:{actor}"
    today = london(now).date()
    missing = missing_required(updated)
    queries = [q.as_json() for q in validate(updated, today=today, received_year=today.year)]
    note = f"{key} changed by {actor}" + (f": {why}" if why else "")
    case_store.add_version(session, vault, case, now, case_store.VersionInput(
        referral=updated, provenance=provenance, source="manual",
        fallbacks=[f for f in version.fallbacks if f != key], missing=missing, queries=queries,
        created_by=actor, note=note), manual=case.status == "manual_entry" and bool(missing))
    case_store.audit(session, now, actor, "case.edited", case_id=case.id,
                     detail=f"{key}; version {case.current_version}")
    assert get_path(updated, key) == value
    return case
