"""A person's changes to cases: edit a field, merge two cases, split one, close.

Shared by the command line (``mailbot edit``, ``mailbot close``) and the workspace. Each
change is a new referral version (``cases.add_version``, source ``manual``, made
by the user, with their reason as its note) or a status change, and an audit entry
with the user's name. Nothing here renders pages; the routes call these functions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.referral import get_path, is_blank, missing_required, set_path
from mailbot.clock import london
from mailbot.errors import FormError, NotFound, UsageError
from mailbot.forms import empty_referral, read_form_bytes, validate
from mailbot.forms.dates import parse_uk_date
from mailbot.forms.description import load_description
from mailbot.forms.model import Referral
from mailbot.store.audit import audit
from mailbot.store.models import ActionItem, Attachment, Case, MessageCase
from mailbot.store.sealed_blob import open_pieces
from mailbot.store.vault import Vault

#: More household members than any form holds: a bigger index is a mistake (or an attack).
MAX_HOUSEHOLD = 40
#: Household columns a person may edit, with their labels.
HOUSEHOLD_COLUMNS = {
    "name": "Name",
    "relationship": "Relationship to child",
    "gender": "Gender",
    "dob": "Date of birth",
}
HOUSEHOLD_ADDRESS = "household_address"
THEMES = "themes"
EDIT_SECTIONS = ("referrer", "child", "questions")


@dataclass(frozen=True)
class Editable:
    """What the edit form needs to know about one field."""

    key: str
    label: str
    kind: str  # text, freetext, date, dropdown, email, nhs, themes
    choices: tuple[str, ...] = ()


def editable(key: str) -> Editable:
    """The field behind ``key``, or NotFound for a key a person may not edit here."""
    desc = load_description()
    if key == THEMES:
        return Editable(key, "Do any of the following apply to this case?", "themes", desc.themes)
    if key == HOUSEHOLD_ADDRESS:
        return Editable(key, "Household address", "freetext")
    if key.startswith("household."):
        parts = key.split(".")
        if (
            len(parts) == 3
            and parts[1].isdigit()
            and int(parts[1]) < MAX_HOUSEHOLD
            and parts[2] in HOUSEHOLD_COLUMNS
        ):
            kind = "date" if parts[2] == "dob" else "text"
            return Editable(key, f"Household member {int(parts[1]) + 1}: {HOUSEHOLD_COLUMNS[parts[2]]}", kind)
        raise NotFound(f"no field {key}")
    try:
        spec = desc.field(key)
    except KeyError as exc:
        raise NotFound(f"no field {key}") from exc
    if spec.section not in EDIT_SECTIONS:
        raise NotFound(f"no field {key}")
    return Editable(key, spec.labels[0], spec.kind, spec.choices)


def clean_value(field: Editable, raw: str | list[str], year: int) -> Any:
    """The stored form of what a person typed; UsageError (plain words) when it is wrong."""
    if field.kind == "themes":
        chosen = raw if isinstance(raw, list) else [raw]
        unknown = [t for t in chosen if t not in field.choices]
        if unknown:
            raise UsageError("choose themes from the list")
        return [t for t in field.choices if t in chosen]
    text = (raw if isinstance(raw, str) else " ".join(raw)).strip()
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    if not text:
        return None
    if field.kind == "date":
        result = parse_uk_date(text, year)
        if result.value is None:
            raise UsageError("enter the date as day/month/year, for example 05/10/2026")
        return result.value.isoformat()
    if field.kind == "dropdown" and field.choices and text not in field.choices:
        raise UsageError("choose one of the options")
    if field.kind == "nhs":
        return "".join(text.split())
    return text


def _queries(referral: Referral, now: datetime, case: Case) -> list[dict[str, str]]:
    return [
        q.as_json()
        for q in validate(referral, today=london(now).date(), received_year=london(case.created_at).year)
    ]


def save_version(
    session: Session,
    vault: Vault,
    case: Case,
    now: datetime,
    referral: Referral,
    provenance: dict[str, str],
    fallbacks: list[str],
    user: str,
    note: str,
) -> None:
    missing = missing_required(referral)
    manual = case.status == "manual_entry" and bool(missing)
    case_store.add_version(
        session,
        vault,
        case,
        now,
        case_store.VersionInput(
            referral=referral,
            provenance=provenance,
            source="manual",
            fallbacks=fallbacks,
            missing=missing,
            queries=_queries(referral, now, case),
            created_by=user,
            note=note,
        ),
        manual=manual,
    )


def edit_field(
    session: Session,
    vault: Vault,
    case: Case,
    now: datetime,
    key: str,
    raw: str | list[str],
    *,
    user: str,
    reason: str,
) -> None:
    """A person's correction of one field: a new version with who and why."""
    if not reason.strip():
        raise UsageError("say why you are changing this field")
    if case.status == "closed":
        raise UsageError(f"{case.ref} is closed")
    field = editable(key)
    value = clean_value(field, raw, london(case.created_at).year)
    referral, row = case_store.load_referral(session, vault, case)
    referral = copy.deepcopy(referral)
    if key.startswith("household."):
        index = int(key.split(".")[1])
        members = referral.setdefault("household", [])
        while len(members) <= index:
            members.append({c: None for c in HOUSEHOLD_COLUMNS})
    if get_path(referral, key) == value:
        raise UsageError("the new value is the same as the old one")
    set_path(referral, key, value)
    provenance = vault.open_json(session, row, "provenance_enc", key_id=case.key_id)
    provenance = {k: v for k, v in provenance.items() if k != key and not k.startswith(key + ".")}
    provenance[key] = f"manual:{user}"
    fallbacks = [f for f in row.fallbacks if f != key]
    save_version(session, vault, case, now, referral, provenance, fallbacks, user, reason.strip())
    audit(session, now, user, "case.edited", case_id=case.id, detail=f"{key}; version {case.current_version}")


def merge_cases(
    session: Session, vault: Vault, now: datetime, keep: Case, other: Case, *, user: str, reason: str
) -> None:
    """``other`` joins ``keep``: its messages and files move over, blanks are filled from it,
    and it is closed as merged."""
    if keep.id == other.id:
        raise UsageError("choose two different cases")
    if other.status == "closed" or keep.status == "closed":
        raise UsageError("a closed case cannot be merged")
    if not reason.strip():
        raise UsageError("say why the cases are being merged")
    linked = set(session.scalars(select(MessageCase.message_id).where(MessageCase.case_id == keep.id)))
    for link in session.scalars(select(MessageCase).where(MessageCase.case_id == other.id)):
        if link.message_id not in linked:
            session.add(MessageCase(message_id=link.message_id, case_id=keep.id))
    for att in session.scalars(select(Attachment).where(Attachment.case_id == other.id)):
        att.case_id = keep.id  # its own key_id stays: the ciphertext is bound to it
    referral, row = case_store.load_referral(session, vault, keep)
    theirs, _their_row = case_store.load_referral(session, vault, other)
    merged = copy.deepcopy(referral)
    provenance = vault.open_json(session, row, "provenance_enc", key_id=keep.key_id)
    filled = []
    for key in _leaf_keys(empty_referral()):
        if is_blank(get_path(merged, key)) and not is_blank(get_path(theirs, key)):
            set_path(merged, key, copy.deepcopy(get_path(theirs, key)))
            provenance[key] = f"merged:{other.ref}"
            filled.append(key)
    if is_blank(merged.get("household")) and not is_blank(theirs.get("household")):
        merged["household"] = copy.deepcopy(theirs["household"])
        filled.append("household")
    note = f"merged with {other.ref}: {reason.strip()}"
    if filled:
        save_version(session, vault, keep, now, merged, provenance, list(row.fallbacks), user, note)
    close_case(
        session,
        vault,
        other,
        now,
        user=user,
        reason=f"merged into {keep.ref}: {reason.strip()}",
        action="case.merged_away",
    )
    audit(
        session,
        now,
        user,
        "case.merged",
        case_id=keep.id,
        detail=f"{other.ref} merged in; filled {len(filled)} field(s)",
    )


def _leaf_keys(node: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in node.items():
        if key in ("household", "missing_required"):
            continue
        path = f"{prefix}{key}"
        keys += _leaf_keys(value, path + ".") if isinstance(value, dict) else [path]
    return keys


def split_case(
    session: Session, vault: Vault, now: datetime, case: Case, attachment_id: str, *, user: str, reason: str
) -> Case:
    """A new case from one of this case's files (a second form sent with the first)."""
    if not reason.strip():
        raise UsageError("say why the case is being split")
    att = session.get(Attachment, attachment_id)
    if att is None or att.case_id != case.id:
        raise NotFound("no such file in this case")
    data = open_pieces(session, vault, att, "data_enc")
    filename = vault.open_text(session, att, "filename_enc")
    provenance: dict[str, str] = {}
    manual = False
    try:
        parsed = read_form_bytes(data, filename, reference_year=london(now).year)
        referral, provenance = parsed.referral, dict(parsed.provenance)
    except FormError:
        referral, manual = empty_referral(), True  # a file a person must read and enter
    missing = missing_required(referral)
    sender = vault.open_text(session, case, "sender_enc")
    new = case_store.open_case(
        session,
        vault,
        now,
        sender,
        case_store.VersionInput(
            referral=referral,
            provenance=provenance,
            source="manual",
            fallbacks=[],
            missing=missing,
            queries=_queries(referral, now, case),
            created_by=user,
            note=f"split from {case.ref}: {reason.strip()}",
        ),
        manual=manual,
    )
    att.case_id = new.id
    if att.message_id:
        session.add(MessageCase(message_id=att.message_id, case_id=new.id))
    audit(session, now, user, "case.split", case_id=case.id, detail=f"{new.ref} made from one of its files")
    audit(
        session,
        now,
        user,
        "case.opened",
        case_id=new.id,
        detail=f"split from {case.ref}; status {new.status}",
    )
    return new


def close_case(
    session: Session,
    vault: Vault,
    case: Case,
    now: datetime,
    *,
    user: str,
    reason: str,
    action: str = "case.closed",
) -> None:
    if case.status == "closed":
        raise UsageError(f"{case.ref} is already closed")
    if not reason.strip():
        raise UsageError("say why the case is being closed")
    still_open = [
        row.id[:8]
        for row in session.scalars(
            select(ActionItem).where(
                ActionItem.case_id == case.id,
                ActionItem.done_on.is_(None),
                ActionItem.carried_forward_on.is_(None),
            )
        )
    ]
    if still_open:  # an action plan is followed through, or explicitly carried forward
        raise UsageError(
            f"{case.ref} has {len(still_open)} open action(s) "
            f"({', '.join(still_open)}): record each as done or carry it forward "
            "first (mailbot actions done|carry ID)"
        )
    case.status = "closed"
    case.closed_at = case.updated_at = now
    case.close_reason_enc = vault.seal_text(session, case, "close_reason_enc", reason.strip())
    audit(session, now, user, action, case_id=case.id)
