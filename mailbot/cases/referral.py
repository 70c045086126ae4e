"""Pure rules about a referral record: fallbacks, completeness, duplicates, display."""

from __future__ import annotations

import copy
import re
import unicodedata
from datetime import date, datetime
from typing import Any

from mailbot.clock import london
from mailbot.forms import REQUIRED_FIELDS  # the form's description says which are required
from mailbot.forms.model import Referral
from mailbot.forms.record import get_path, set_path

__all__ = [
    "REQUIRED_FIELDS",
    "get_path",
    "set_path",
    "is_blank",
    "missing_required",
    "apply_fallbacks",
    "child_key",
    "same_child",
    "age_on",
    "age_band",
]


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def missing_required(referral: Referral) -> list[str]:
    return [key for key in REQUIRED_FIELDS if is_blank(get_path(referral, key))]


#: The fields ``apply_fallbacks`` may fill from the message (and only these).
SENDER_KEY = "referrer.email"
DATE_KEY = "referral_date"
FALLBACK_KEYS = frozenset({SENDER_KEY, DATE_KEY})


def apply_fallbacks(
    referral: Referral, sender: str | None, sent: datetime | None
) -> tuple[Referral, list[str]]:
    """Fill ``referrer.email`` from the sender and ``referral_date`` from the Date header.

    Returns the completed copy and the keys that were filled this way, so the team can
    see which values the referrer did not write on the form.
    """
    result = copy.deepcopy(referral)
    used: list[str] = []
    if is_blank(get_path(result, SENDER_KEY)) and sender:
        set_path(result, SENDER_KEY, sender)
        used.append(SENDER_KEY)
    if is_blank(get_path(result, DATE_KEY)) and sent is not None:
        set_path(result, DATE_KEY, london(sent).date().isoformat())
        used.append(DATE_KEY)
    return result, used


def _normal_name(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(sorted(re.findall(r"[a-z]+", folded)))


def child_key(referral: Referral) -> str | None:
    """What identifies the same child across cases: name words and date of birth."""
    name = get_path(referral, "child.full_name")
    dob = get_path(referral, "child.dob")
    if is_blank(name) or is_blank(dob):
        return None
    return f"{_normal_name(str(name))}|{dob}"


def _day(value: Any) -> date | str:
    """A date of birth as a date (ISO, as the form reader gives it), else its bare text."""
    text = " ".join(str(value).split()).lower()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def same_child(case: Referral, form: Referral) -> bool | None:
    """Whether a form is about the case's child: False when the name or the date of
    birth differs, True when what both give agrees, None when neither can be compared.

    Names are compared as their words, case, accents and spacing aside ("ZOË  smith" is
    "Zoe Smith"); dates of birth as dates. A field blank on either side says nothing.
    """
    verdicts = []
    names = [get_path(r, "child.full_name") for r in (case, form)]
    if not any(is_blank(n) for n in names):
        verdicts.append(_normal_name(str(names[0])) == _normal_name(str(names[1])))
    dobs = [get_path(r, "child.dob") for r in (case, form)]
    if not any(is_blank(d) for d in dobs):
        verdicts.append(_day(dobs[0]) == _day(dobs[1]))
    return all(verdicts) if verdicts else None


def age_on(dob: str | None, on: date) -> int | None:
    if not dob:
        return None
    try:
        born = date.fromisoformat(dob)
    except ValueError:
        return None
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return years if years >= 0 else None


def age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    for upper, label in ((0, "under 1"), (4, "1-4"), (10, "5-10"), (15, "11-15")):
        if age <= upper:
            return label
    return "16-17" if age <= 17 else "18+"


#: Sections that are not the referrer's to write (the SPRG's): left out of a resend check.
_NOT_THE_REFERRERS = ("outcome", "sprg")


def leaf_fields(value: Any, path: str = "") -> dict[str, str]:
    """Every leaf of a referral by its dotted key, text with its spacing normalised (a
    Word and a PDF copy of one form differ in line breaks, not in words)."""
    if isinstance(value, dict):
        found: dict[str, str] = {}
        for key, inner in value.items():
            if not path and key in _NOT_THE_REFERRERS:
                continue
            found.update(leaf_fields(inner, f"{path}.{key}" if path else str(key)))
        return found
    if isinstance(value, list):
        found = {}
        for n, inner in enumerate(value):
            found.update(leaf_fields(inner, f"{path}.{n}"))
        return found
    return {} if is_blank(value) else {path: " ".join(str(value).split())}


_SUBJECT_MARKS = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|resend|resent|again|copy)\s*:\s*|\[[^\]]{0,40}\]\s*)+", re.IGNORECASE
)


def subject_key(subject: str) -> str:
    """A subject without reply, forward and resend marks or tags, spacing and case
    folded: "RESEND: Case of concern referral" is "case of concern referral"."""
    return " ".join(_SUBJECT_MARKS.sub("", subject).split()).casefold()


def same_referral(
    first: Referral, first_fallbacks: list[str], again: Referral, again_fallbacks: list[str]
) -> bool:
    """Whether two referrals are the same one sent twice: every field the referrer wrote
    is equal (values the bot filled in itself, such as the date it arrived, aside)."""
    if child_key(first) is None:
        return False  # an empty form is nobody's referral: never "the same one"
    skip = set(first_fallbacks) | set(again_fallbacks)
    ours, theirs = leaf_fields(first), leaf_fields(again)
    for key in skip:
        ours.pop(key, None)
        theirs.pop(key, None)
    return ours == theirs
